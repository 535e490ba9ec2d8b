#version 450
// Norm backward, dw and db: dw[h] (+)= sum over blocks k in order of pw[k][h] (same for db).
// A split reduction runs once per chunk of rows, in order, the later ones accumulating, so the
// sum order is fixed (deterministic).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer PW { float pw[]; };
layout(set = 0, binding = 1) readonly buffer PB { float pb[]; };   // pw again when has_b == 0
layout(set = 0, binding = 2) buffer DW { float dw[]; };
layout(set = 0, binding = 3) buffer DB { float db[]; };            // dw again when has_b == 0
layout(push_constant) uniform P {
    uint h;
    uint nb;
    uint accumulate;
    uint has_b;
} p;

void main() {
    uint c = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (c >= p.h) return;
    float sw = 0.0, sb = 0.0;
    for (uint k = 0u; k < p.nb; k++) {
        sw += pw[k * p.h + c];
        if (p.has_b != 0u) sb += pb[k * p.h + c];
    }
    dw[c] = p.accumulate != 0u ? dw[c] + sw : sw;
    if (p.has_b != 0u) db[c] = p.accumulate != 0u ? db[c] + sb : sb;
}
