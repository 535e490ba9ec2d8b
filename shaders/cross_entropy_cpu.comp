#version 450
// CROSS_ENTROPY forward on CPU-shaped drivers (lavapipe): cross_entropy.comp's results with the
// logits read as RGBA32F texels (4 floats in ~1.2 instructions there, where a storage-buffer load
// with a lane-varying address costs 10-12 per float; LAVAPIPE.md) and no shared memory or
// barriers. A workgroup is 8 lanes (one lavapipe subgroup; on a wider subgroup its first 8 lanes)
// on one row; lane l runs an online max / sum of exponentials over texels l, l + 8, ... of the
// row, U = 8 texels (32 logits) per rescale (fetched first, one call each: lavapipe's texel
// fetch is an out-of-line call; a one-texel tail loop after), then the lanes merge their
// (max, sum) pairs by xor butterflies (a fixed order: two runs give identical bits; the sums
// were ~25% faster than with 4 texels per rescale). Every lane computes lse and the
// row's partials {w * (lse - z[label]), w} (0, 0 for an ignored row); lane 0 stores them, and
// sum_partials.comp adds the partials in order.
// The recorder takes this path when V % 4 == 0 and the logits start on 16 bytes: a chunk's logits
// binding is a texel view starting at its first row; rs / ps are the element shifts of the
// chunk's first row in the labels, weights and lse bindings and in the partials binding.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

const uint U = 8u;   // texels per lane per step

layout(local_size_x = 8) in;
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) readonly buffer L { int labels[]; };
layout(set = 0, binding = 2) readonly buffer W { float w[]; };     // labels when has_w == 0
layout(set = 0, binding = 3) writeonly buffer S { float lse_out[]; };
layout(set = 0, binding = 4) writeonly buffer Q { float part[]; };  // 2 per row
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint v;         // vocabulary (row length), a multiple of 4
    uint rs;        // element shift of row 0 in the labels, weights and lse bindings
    uint ps;        // element shift of row 0's partials
    uint has_w;
    int ignore_index;
} p;

// Below every finite logit, and exp(NEG - z) is 0 without the inf - inf of -INFINITY.
const float NEG = -3.0e38;

float max4(vec4 a) { return max(max(a.x, a.y), max(a.z, a.w)); }
float sum4(vec4 a) { return (a.x + a.y) + (a.z + a.w); }

void main() {
    uint row = vkft_group_id();
    if (row >= p.rows) return;   // the whole workgroup leaves together
    uint lane = gl_LocalInvocationID.x, v4 = p.v / 4u;
    int base = int(row * v4);
    float m = NEG, s = 0.0;
    uint t = lane;
    // U texels per step, one rescale per step
    for (; t + 8u * (U - 1u) < v4; t += 8u * U) {
        vec4 a[U];
        [[unroll]] for (uint k = 0u; k < U; k++) a[k] = texelFetch(X, base + int(t + 8u * k));
        vec4 mv = a[0];
        [[unroll]] for (uint k = 1u; k < U; k++) mv = max(mv, a[k]);
        float mn = max(max4(mv), m);
        vec4 e = vec4(0.0);
        [[unroll]] for (uint k = 0u; k < U; k++) e += exp(a[k] - mn);
        s = s * exp(m - mn) + sum4(e);
        m = mn;
    }
    for (; t < v4; t += 8u) {
        vec4 a = texelFetch(X, base + int(t));
        float mn = max(max4(a), m);
        s = s * exp(m - mn) + sum4(exp(a - mn));
        m = mn;
    }
    // lanes 0..7 merge in a fixed butterfly; every lane ends with the same (mx, s)
    float mx = max(m, subgroupShuffleXor(m, 1u));
    mx = max(mx, subgroupShuffleXor(mx, 2u));
    mx = max(mx, subgroupShuffleXor(mx, 4u));
    s *= exp(m - mx);
    s += subgroupShuffleXor(s, 1u);
    s += subgroupShuffleXor(s, 2u);
    s += subgroupShuffleXor(s, 4u);
    float lse = mx + log(s);
    uint r = p.rs + row;
    int y = labels[r];
    bool ok = y != p.ignore_index && y >= 0 && uint(y) < p.v;
    uint yc = ok ? uint(y) : 0u;   // every lane fetches the label's texel (uniform, no branch)
    float zy = texelFetch(X, base + int(yc / 4u))[yc % 4u];
    float wr = ok ? (p.has_w != 0u ? w[r] : 1.0) : 0.0;
    if (lane == 0u) {
        lse_out[r] = lse;
        part[p.ps + 2u * row] = ok ? wr * (lse - zy) : 0.0;
        part[p.ps + 2u * row + 1u] = wr;
    }
}
