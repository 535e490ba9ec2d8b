#version 450
// ADD / SUB / MUL / DIV of same-shaped operands on CPU-shaped drivers (lavapipe): a and b read
// as RGBA32F texels (4 floats in ~1.2 instructions there, where storage-buffer loads with
// lane-varying addresses cost 10-12 per float; LAVAPIPE.md), 4 consecutive elements per
// invocation, the same operation per element as binary.comp. n4 texels per dispatch (the
// recorder sends a remainder to binary.comp). out may alias a: each element is read before the
// same invocation writes it.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
layout(set = 0, binding = 2) writeonly buffer O { vec4 o4[]; };
layout(push_constant) uniform P {
    uint n4;         // texels in this dispatch
    uint kind;       // 0 add, 1 sub, 2 mul, 3 div
} p;

void main() {
    uint i = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (i >= p.n4) return;
    vec4 x = texelFetch(A, int(i)), y = texelFetch(B, int(i)), z;
    if (p.kind == 0u) z = x + y;
    else if (p.kind == 1u) z = x - y;
    else if (p.kind == 2u) z = x * y;
    else z = x / y;
    o4[i] = z;   // one store loop over the lanes for 4 floats on lavapipe, not four
}
