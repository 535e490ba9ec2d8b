#version 450
// SUM_SQUARES, first level: workgroup g sums x^2 over its block of block = iters * wg elements
// [g * block, (g + 1) * block) of this dispatch (lane l takes l, l + wg, ... in order, then a
// fixed tree adds the lanes) and writes part[p0 + g]. sum_partials.comp adds the blocks in order.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;            // a power of two
layout(constant_id = 1) const uint ITERS = 16u;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Q { float part[]; };
layout(push_constant) uniform P {
    uint n;      // elements in this dispatch
    uint p0;     // index of this dispatch's first block among all partials
} p;

shared float sh[gl_WorkGroupSize.x];

void main() {
    uint g = vkft_group_id(), lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint base = g * ITERS * wg;
    if (base >= p.n) return;
    float acc = 0.0;
    for (uint k = 0u; k < ITERS; k++) {
        uint i = base + k * wg + lid;
        if (i < p.n) {
            float v = x[i];
            acc += v * v;
        }
    }
    sh[lid] = acc;
    barrier();
    for (uint h = wg / 2u; h > 0u; h >>= 1) {
        if (lid < h) sh[lid] += sh[lid + h];
        barrier();
    }
    if (lid == 0u) part[p.p0 + g] = sh[0];
}
