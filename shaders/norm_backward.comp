#version 450
// RMSNORM_BACKWARD and LAYERNORM_BACKWARD, the dx part: one workgroup per row, row sums in a
// fixed tree (deterministic). dw and db are norm_dw.comp and norm_dw_reduce.comp.
//   rmsnorm:   dx = r * (dy w) - x * r^3 * mean(dy w x)
//   layernorm: xh = (x - m) r, g = dy w:  dx = r * (g - mean(g) - xh * mean(g xh))
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;   // a power of two
layout(set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) readonly buffer W { float w[]; };
layout(set = 0, binding = 3) readonly buffer M { float mean[]; };   // rstd again for rmsnorm
layout(set = 0, binding = 4) readonly buffer R { float rstd[]; };
layout(set = 0, binding = 5) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h;
    uint layer;     // 1: layernorm, 0: rmsnorm
    uint xs;        // element shift of row 0 in the dy, x and dx bindings
    uint rs;        // element shift of row 0 in the mean and rstd bindings
} p;

shared float sh[gl_WorkGroupSize.x];

float wg_sum(float v) {
    uint lid = gl_LocalInvocationID.x;
    sh[lid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (lid < s) sh[lid] += sh[lid + s];
        barrier();
    }
    float t = sh[0];
    barrier();
    return t;
}

void main() {
    uint row = vkft_group_id();
    if (row >= p.rows) return;   // the whole workgroup leaves together
    uint lid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    uint base = p.xs + row * p.h;
    float r = rstd[p.rs + row];
    float hf = float(p.h);
    if (p.layer != 0u) {
        float m = mean[p.rs + row];
        float s1 = 0.0, s2 = 0.0;
        for (uint i = lid; i < p.h; i += n) {
            float g = dy[base + i] * w[i];
            s1 += g;
            s2 += g * ((x[base + i] - m) * r);
        }
        float a = wg_sum(s1) / hf;
        float c = wg_sum(s2) / hf;
        for (uint i = lid; i < p.h; i += n)
            dx[base + i] = r * (dy[base + i] * w[i] - a - (x[base + i] - m) * r * c);
    } else {
        float s = 0.0;
        for (uint i = lid; i < p.h; i += n) s += (dy[base + i] * w[i]) * x[base + i];
        float c = wg_sum(s) / hf * r * r * r;
        for (uint i = lid; i < p.h; i += n)
            dx[base + i] = r * (dy[base + i] * w[i]) - x[base + i] * c;
    }
}
