#version 450
// SUM_SQUARES, first level, on CPU-shaped drivers (lavapipe): workgroup g (8 lanes, one
// subgroup: no shared memory, no barriers) sums x^2 over texels [g * BT, (g + 1) * BT) of this
// dispatch (BT = SUMSQ_BLOCK / 4), read as RGBA32F texels (4 floats per fetch, where a
// lane-varying storage-buffer load is a scalar loop over the lanes per float). Lane l takes
// texels l, l + 8, ... in order, 4 fetched ahead per step, into a vec4; then its components,
// then an xor butterfly over the 8 lanes (fixed order: deterministic), and lane 0 writes
// part[p0 + g]. sum_partials.comp adds the blocks in order, as after sum_squares.comp.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint BT = 1024u;   // texels per block
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) writeonly buffer Q { float part[]; };
layout(push_constant) uniform P {
    uint n4;     // texels in this dispatch
    uint p0;     // index of this dispatch's first block among all partials
} p;

void main() {
    uint g = vkft_group_id(), lane = gl_LocalInvocationID.x;
    uint base = g * BT;
    if (base >= p.n4) return;   // the whole workgroup leaves together
    uint end = min(base + BT, p.n4);
    vec4 acc = vec4(0.0);
    for (uint i0 = base; i0 < end; i0 += 32u) {
        vec4 v[4];
        [[unroll]] for (uint u = 0u; u < 4u; u++) {
            uint i = i0 + 8u * u + lane;
            vec4 t = texelFetch(X, int(min(i, end - 1u)));
            v[u] = i < end ? t : vec4(0.0);
        }
        [[unroll]] for (uint u = 0u; u < 4u; u++) acc += v[u] * v[u];
    }
    float s = (acc.x + acc.y) + (acc.z + acc.w);
    s += subgroupShuffleXor(s, 1u);
    s += subgroupShuffleXor(s, 2u);
    s += subgroupShuffleXor(s, 4u);
    if (lane == 0u) part[p.p0 + g] = s;
}
