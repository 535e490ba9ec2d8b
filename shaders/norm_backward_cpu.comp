#version 450
// RMSNORM_BACKWARD and LAYERNORM_BACKWARD, the dx part, on CPU-shaped drivers (lavapipe): the
// same formulas as norm_backward.comp, the layout of norm_cpu.comp (8 lanes per row, RGBA32F
// texel fetches, vec4 stores of dx, row sums per lane in texel order then an xor butterfly:
// deterministic). dw and db are norm_dw_cpu.comp and norm_dw_reduce.comp.
//   rmsnorm:   dx = r * (dy w) - x * r^3 * mean(dy w x)
//   layernorm: xh = (x - m) r, g = dy w:  dx = r * (g - mean(g) - xh * mean(g xh))
// Rows of at most 8 * 32 texels that fill every lane (h4 == 8 * NT) keep the lane's texels of
// g = dy w and x in registers between the two passes (CACHE): 2 fetches per texel instead of 6
// (w is then fetched once per workgroup of ROWS rows).
// The recorder guarantees h % 4 == 0 and dy, x, w, dx starting on 16 bytes.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint LAYER = 0u;   // 1: layernorm, 0: rmsnorm
layout(constant_id = 1) const uint CACHE = 0u;   // 1: h4 == 8 * NT, g and x kept in gs, xs
layout(constant_id = 2) const uint NT = 1u;      // texels per lane when CACHE
layout(constant_id = 3) const uint ROWS = 1u;    // rows per workgroup
layout(set = 0, binding = 0) uniform samplerBuffer DY;
layout(set = 0, binding = 1) uniform samplerBuffer X;
layout(set = 0, binding = 2) uniform samplerBuffer W;
layout(set = 0, binding = 3) readonly buffer M { float mean[]; };   // rstd again for rmsnorm
layout(set = 0, binding = 4) readonly buffer R { float rstd[]; };
layout(set = 0, binding = 5) writeonly buffer DX { vec4 dx4[]; };
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h4;        // texels per row
    uint rs;        // element shift of row 0 in the mean and rstd bindings
} p;

float lane_sum(float v) {
    v += subgroupShuffleXor(v, 1u);
    v += subgroupShuffleXor(v, 2u);
    return v + subgroupShuffleXor(v, 4u);
}

float hsum(vec4 v) { return (v.x + v.y) + (v.z + v.w); }

vec4 gs[NT], xs[NT], ws[NT];
uint lane, base;

// The lane's texel k of the row (texel lane + 8k) of g = dy w and of x: kept, or fetched.
vec4 gt(uint k) {
    uint i = lane + 8u * k;
    return CACHE != 0u ? gs[k] : texelFetch(DY, int(base + i)) * texelFetch(W, int(i));
}
vec4 xt(uint k) { return CACHE != 0u ? xs[k] : texelFetch(X, int(base + lane + 8u * k)); }

// Loops over the lane's texels k: NT of them (unrolled: gs, xs stay in registers) or to the end.
#define FOR_TEXELS(k) \
    [[unroll]] for (uint k = 0u; CACHE != 0u ? k < NT : lane + 8u * k < p.h4; k++)

void dx_row(uint row) {
    base = row * p.h4;
    float r = rstd[p.rs + row], hf = float(p.h4 * 4u);
    if (CACHE != 0u) {
        FOR_TEXELS(k) {
            uint i = lane + 8u * k;
            gs[k] = texelFetch(DY, int(base + i)) * ws[k];
            xs[k] = texelFetch(X, int(base + i));
        }
    }
    if (LAYER != 0u) {
        float m = mean[p.rs + row];
        vec4 s1 = vec4(0.0), s2 = vec4(0.0);
        FOR_TEXELS(k) {
            vec4 g = gt(k);
            s1 += g;
            s2 += g * ((xt(k) - m) * r);
        }
        float a = lane_sum(hsum(s1)) / hf, c = lane_sum(hsum(s2)) / hf;
        FOR_TEXELS(k) dx4[base + lane + 8u * k] = r * (gt(k) - a - (xt(k) - m) * r * c);
    } else {
        vec4 s = vec4(0.0);
        FOR_TEXELS(k) s += gt(k) * xt(k);
        float c = lane_sum(hsum(s)) / hf * r * r * r;
        FOR_TEXELS(k) dx4[base + lane + 8u * k] = r * gt(k) - xt(k) * c;
    }
}

void main() {
    uint row0 = vkft_group_id() * ROWS;
    if (row0 >= p.rows) return;   // the whole workgroup leaves together
    lane = gl_LocalInvocationID.x;
    if (CACHE != 0u) FOR_TEXELS(k) ws[k] = texelFetch(W, int(lane + 8u * k));
    for (uint j = 0u; j < ROWS && row0 + j < p.rows; j++) dx_row(row0 + j);
}
