#version 450
// CROSS_ENTROPY_BACKWARD, one workgroup per row: dz[k] = dloss * w * (exp(z[k] - lse) - [k == y]),
// 0 for an ignored row. The row's scalars are read once per invocation (uniform addresses).
// A split dispatch binds a chunk of rows; xs / rs are the element shifts of the chunk's first row
// inside its 16-byte aligned bindings (logits and dlogits share xs).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer L { int labels[]; };
layout(set = 0, binding = 2) readonly buffer W { float w[]; };     // labels when has_w == 0
layout(set = 0, binding = 3) readonly buffer S { float lse[]; };
layout(set = 0, binding = 4) readonly buffer D { float dloss[]; };
layout(set = 0, binding = 5) writeonly buffer G { float dz[]; };
layout(push_constant) uniform P {
    uint rows;
    uint v;
    uint xs;
    uint rs;
    uint has_w;
    int ignore_index;
} p;

void main() {
    uint row = vkft_group_id();
    if (row >= p.rows) return;
    uint lid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    uint base = p.xs + row * p.v, r = p.rs + row;
    int y = labels[r];
    bool ok = y != p.ignore_index && y >= 0 && uint(y) < p.v;
    if (!ok) {
        for (uint i = lid; i < p.v; i += n) dz[base + i] = 0.0;
        return;
    }
    float coef = dloss[0] * (p.has_w != 0u ? w[r] : 1.0), l = lse[r];
    for (uint i = lid; i < p.v; i += n) {
        float e = exp(x[base + i] - l);
        dz[base + i] = coef * (i == uint(y) ? e - 1.0 : e);
    }
}
