#version 450
// NF4_DEQUANTIZE: one invocation per codes word (8 elements, all in one 64-block):
// w = NF4[code] * absmax, absmax dequantised beforehand by nf4_absmax.comp (mode 4) with the
// CPU kernel's operations in its order, so the result agrees bit for bit.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "nf4.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Codes { uint codes[]; };
layout(set = 0, binding = 1) readonly buffer Absmax { float absmax[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };
layout(push_constant) uniform P {
    uint n;         // elements in this chunk
    uint e0;        // the chunk's first element (a multiple of 64)
    uint codes_base, abs_base;  // the first word / float of those bindings
} p;

void main() {
    uint wd = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (wd * 8u >= p.n) return;
    uint e = p.e0 + wd * 8u;
    float a = absmax[(e >> 6) - p.abs_base];
    uint word = codes[(e >> 3) - p.codes_base];
    uint cnt = min(8u, p.n - wd * 8u);
    for (uint j = 0u; j < cnt; j++) {
        uint c = (word >> ((j >> 1) * 8u + ((j & 1u) == 0u ? 4u : 0u))) & 15u;
        o[wd * 8u + j] = nf4_code(c) * a;
    }
}
