#version 450
// SUM_TO: each output element sums its inputs in row-major order of the reduced coordinates
// (a fixed order, so the result is deterministic). A split reduction over leading rows runs one
// dispatch per chunk of rows, in order, the later ones accumulating.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer O { float o[]; };
layout(push_constant) uniform P {
    uint n;             // output elements
    uint red;           // input elements summed into each output
    uint accumulate;    // 1: add to o (a later chunk of a split reduction)
    uint in_shape[4];
    uint out_shape[4];
} p;

void main() {
    uint oi = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (oi >= p.n) return;
    uint strides[4];
    uint s = 1u;
    for (int d = 3; d >= 0; d--) {
        strides[d] = s;
        s *= p.in_shape[d];
    }
    uint base = 0u, r = oi;
    for (int d = 3; d >= 0; d--) {
        base += (r % p.out_shape[d]) * strides[d];
        r /= p.out_shape[d];
    }
    float acc = 0.0;
    for (uint k = 0u; k < p.red; k++) {
        uint idx = base, rk = k;
        for (int d = 3; d >= 0; d--) {
            if (p.out_shape[d] != 1u) continue;
            idx += (rk % p.in_shape[d]) * strides[d];
            rk /= p.in_shape[d];
        }
        acc += x[idx];
    }
    o[oi] = p.accumulate != 0u ? o[oi] + acc : acc;
}
