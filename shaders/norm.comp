#version 450
// RMSNORM and LAYERNORM forward: one workgroup per row. Each lane sums a strided part of the row,
// then the workgroup adds the lanes' sums in a fixed tree (deterministic, no atomics).
//   rmsnorm:   y = w * (x * r),          r = 1 / sqrt(mean(x^2) + eps)
//   layernorm: y = (x - m) * r * w + b,  m = mean(x), r = 1 / sqrt(mean((x - m)^2) + eps)
// A split dispatch binds a chunk of rows; xs / rs are the element shifts of the chunk inside its
// 16-byte aligned bindings.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;   // a power of two
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer W { float w[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };   // w again when has_b == 0
layout(set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 4) writeonly buffer M { float mean_out[]; };  // layernorm only
layout(set = 0, binding = 5) writeonly buffer R { float rstd_out[]; };
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h;
    float eps;
    uint layer;     // 1: layernorm, 0: rmsnorm
    uint has_b;
    uint xs;        // element shift of row 0 in the x and y bindings
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
    float m = 0.0;
    if (p.layer != 0u) {
        float acc = 0.0;
        for (uint i = lid; i < p.h; i += n) acc += x[base + i];
        m = wg_sum(acc) / float(p.h);
    }
    float acc = 0.0;
    for (uint i = lid; i < p.h; i += n) {
        float d = x[base + i] - m;
        acc += d * d;
    }
    float r = 1.0 / sqrt(wg_sum(acc) / float(p.h) + p.eps);
    if (lid == 0u) {
        rstd_out[p.rs + row] = r;
        if (p.layer != 0u) mean_out[p.rs + row] = m;
    }
    if (p.layer != 0u) {
        for (uint i = lid; i < p.h; i += n)
            y[base + i] = (x[base + i] - m) * r * w[i] + (p.has_b != 0u ? b[i] : 0.0);
    } else {
        for (uint i = lid; i < p.h; i += n) y[base + i] = w[i] * (x[base + i] * r);
    }
}
