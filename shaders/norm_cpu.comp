#version 450
// RMSNORM and LAYERNORM forward on CPU-shaped drivers (lavapipe), the same formulas as norm.comp:
//   rmsnorm:   y = w * (x * r),          r = 1 / sqrt(mean(x^2) + eps)
//   layernorm: y = (x - m) * r * w + b,  m = mean(x), r = 1 / sqrt(mean((x - m)^2) + eps)
// A workgroup is 8 lanes (one lavapipe subgroup: no shared memory, no barriers) and one row; lane
// l covers texels l, l + 8, ... of the row, read as RGBA32F texels (4 floats per fetch, where a
// lane-varying storage-buffer load is a scalar loop over the lanes per float; LAVAPIPE.md), and
// y is stored 4 floats at a time through a vec4 view. Row sums: per lane in texel order, then an
// xor butterfly over the 8 lanes (fixed order, the same bits in every lane: deterministic).
// Rows of at most 8 * 32 texels that fill every lane (h4 == 8 * NT) keep the lane's texels of x
// in registers (CACHE): one fetch of x per element instead of 2 (rmsnorm) or 3 (layernorm); w
// (and b) are then fetched once per workgroup of ROWS rows.
// The recorder guarantees h % 4 == 0 and x, w, b, y starting on 16 bytes (else norm.comp runs).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint LAYER = 0u;   // 1: layernorm, 0: rmsnorm
layout(constant_id = 1) const uint HAS_B = 0u;   // layernorm with a bias
layout(constant_id = 2) const uint CACHE = 0u;   // 1: h4 == 8 * NT, x kept in xs
layout(constant_id = 3) const uint NT = 1u;      // texels per lane when CACHE
layout(constant_id = 4) const uint ROWS = 1u;    // rows per workgroup
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) uniform samplerBuffer W;
layout(set = 0, binding = 2) uniform samplerBuffer B;   // w again when HAS_B == 0
layout(set = 0, binding = 3) writeonly buffer Y { vec4 y4[]; };
layout(set = 0, binding = 4) writeonly buffer M { float mean_out[]; };  // layernorm only
layout(set = 0, binding = 5) writeonly buffer R { float rstd_out[]; };
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h4;        // texels per row
    float eps;
    uint rs;        // element shift of row 0 in the mean and rstd bindings
} p;

// Sum over the 8 lanes: pairs, then quads, then all (the same bits in every lane).
float lane_sum(float v) {
    v += subgroupShuffleXor(v, 1u);
    v += subgroupShuffleXor(v, 2u);
    return v + subgroupShuffleXor(v, 4u);
}

float hsum(vec4 v) { return (v.x + v.y) + (v.z + v.w); }

vec4 xs[NT], ws[NT], bs[NT];
uint lane, base;

// The lane's texel k (texel lane + 8k) of the row of x, of w, of b: kept, or fetched.
vec4 xt(uint k) { return CACHE != 0u ? xs[k] : texelFetch(X, int(base + lane + 8u * k)); }
vec4 wt(uint k) { return CACHE != 0u ? ws[k] : texelFetch(W, int(lane + 8u * k)); }
vec4 bt(uint k) { return CACHE != 0u ? bs[k] : texelFetch(B, int(lane + 8u * k)); }

// Loops over the lane's texels k: NT of them (unrolled: xs stays in registers) or up to the end.
#define FOR_TEXELS(k) \
    [[unroll]] for (uint k = 0u; CACHE != 0u ? k < NT : lane + 8u * k < p.h4; k++)

void norm_row(uint row) {
    base = row * p.h4;
    float hf = float(p.h4 * 4u), m = 0.0;
    if (CACHE != 0u) FOR_TEXELS(k) xs[k] = texelFetch(X, int(base + lane + 8u * k));
    if (LAYER != 0u) {
        vec4 acc = vec4(0.0);
        FOR_TEXELS(k) acc += xt(k);
        m = lane_sum(hsum(acc)) / hf;
    }
    vec4 acc = vec4(0.0);
    FOR_TEXELS(k) {
        vec4 d = xt(k) - m;
        acc += d * d;
    }
    float r = 1.0 / sqrt(lane_sum(hsum(acc)) / hf + p.eps);
    if (lane == 0u) {
        rstd_out[p.rs + row] = r;
        if (LAYER != 0u) mean_out[p.rs + row] = m;
    }
    FOR_TEXELS(k) {
        uint i = lane + 8u * k;
        vec4 xv = xt(k), wv = wt(k);
        if (LAYER != 0u)
            y4[base + i] = (xv - m) * r * wv + (HAS_B != 0u ? bt(k) : vec4(0.0));
        else
            y4[base + i] = wv * (xv * r);
    }
}

void main() {
    uint row0 = vkft_group_id() * ROWS;
    if (row0 >= p.rows) return;   // the whole workgroup leaves together
    lane = gl_LocalInvocationID.x;
    if (CACHE != 0u) {
        FOR_TEXELS(k) {
            ws[k] = texelFetch(W, int(lane + 8u * k));
            if (HAS_B != 0u) bs[k] = texelFetch(B, int(lane + 8u * k));
        }
    }
    for (uint j = 0u; j < ROWS && row0 + j < p.rows; j++) norm_row(row0 + j);
}
