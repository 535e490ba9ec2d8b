#version 450
// ADD / SUB / MUL / DIV with numpy broadcasting over up to 4 dims (shapes left-padded to 4).
// One invocation per output element of this dispatch; out may alias a.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) buffer O { float o[]; };
layout(push_constant) uniform P {
    uint n;          // elements in this dispatch
    uint e0;         // first output element (global index) of this dispatch
    uint kind;       // 0 add, 1 sub, 2 mul, 3 div
    uint flat_;      // 1: a, b, o have the same shape (no index math)
    uint a0, b0;     // element offset at which the a / b bindings start
    uint shape[4];
    uint sa[4];
    uint sb[4];
} p;

void main() {
    uint i = vkft_group_id() * 256u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    uint e = p.e0 + i, ia = e, ib = e;
    if (p.flat_ == 0u) {
        uint r = e;
        ia = 0u;
        ib = 0u;
        for (int d = 3; d >= 0; d--) {
            uint c = r % p.shape[d];
            r /= p.shape[d];
            ia += c * p.sa[d];
            ib += c * p.sb[d];
        }
    }
    float x = a[ia - p.a0], y = b[ib - p.b0], z;
    if (p.kind == 0u) z = x + y;
    else if (p.kind == 1u) z = x - y;
    else if (p.kind == 2u) z = x * y;
    else z = x / y;
    o[i] = z;
}
