#version 450
// Norm backward, dw and db partials on CPU-shaped drivers (lavapipe): norm_dw.comp's sums in the
// same order (block k of `block` rows, rows in order) with 4 columns per lane: workgroup
// (strip s, block k) is 8 lanes, lane l owns texel 8s + l of every row (dy and x read as RGBA32F
// texels, partials stored as vec4). m and r of 8 rows are loaded one per lane, then handed to
// every lane by constant-index shuffles (register permutes; a loop-varying storage-buffer load
// would be a scalar loop over the lanes per row). norm_dw_reduce.comp adds the blocks in order.
// The recorder guarantees h % 4 == 0 and dy, x starting on 16 bytes.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint LAYER = 0u;   // 1: layernorm (xh = (x - m) r), 0: rmsnorm
layout(constant_id = 1) const uint HAS_B = 0u;   // also db
layout(set = 0, binding = 0) uniform samplerBuffer DY;
layout(set = 0, binding = 1) uniform samplerBuffer X;
layout(set = 0, binding = 2) readonly buffer M { float mean[]; };   // rstd again for rmsnorm
layout(set = 0, binding = 3) readonly buffer R { float rstd[]; };
layout(set = 0, binding = 4) writeonly buffer PW { vec4 pw4[]; };
layout(set = 0, binding = 5) writeonly buffer PB { vec4 pb4[]; };   // pw again when HAS_B == 0
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h4;        // texels per row
    uint block;     // rows per block, a multiple of 8
    uint strips;    // (h4 + 7) / 8
    uint rs;        // element shift of row 0 in the mean and rstd bindings
} p;

void main() {
    uint gid = vkft_group_id(), s = gid % p.strips, k = gid / p.strips;
    uint lane = gl_LocalInvocationID.x, t = s * 8u + lane, tc = min(t, p.h4 - 1u);
    uint r0 = k * p.block, r1 = min(r0 + p.block, p.rows);
    if (r0 >= p.rows) return;   // the whole workgroup leaves together
    vec4 aw = vec4(0.0), ab = vec4(0.0);
    for (uint rb = r0; rb < r1; rb += 8u) {
        uint mine = p.rs + min(rb + lane, r1 - 1u);
        float rl = rstd[mine], ml = LAYER != 0u ? mean[mine] : 0.0;
        [[unroll]] for (uint j = 0u; j < 8u; j++) {
            // rows past r1 (the block's last group) fetch row r1 - 1 and add nothing
            uint row = min(rb + j, r1 - 1u), e = row * p.h4 + tc;
            float r = subgroupShuffle(rl, j), m = subgroupShuffle(ml, j);
            vec4 g = texelFetch(DY, int(e));
            vec4 cw = g * ((texelFetch(X, int(e)) - m) * r);
            bool keep = rb + j < r1;
            aw += keep ? cw : vec4(0.0);
            if (HAS_B != 0u) ab += keep ? g : vec4(0.0);
        }
    }
    if (t < p.h4) {
        pw4[k * p.h4 + t] = aw;
        if (HAS_B != 0u) pb4[k * p.h4 + t] = ab;
    }
}
