#version 450
// ATTENTION_BACKWARD pass 2, CPU-shaped (see backend/vulkan/ops_attention.c and
// attention_cpu.glsl): R keys of kv head g per workgroup (rows j = j0 + r), summing in a fixed
// order (batch element, query head of group g, query ascending)
//   dv_j = sum p_tj dO_t,   dk_j = scale sum ds_tj q_t.
// Queries come in blocks of 32: per block lane l computes s and dO . v for its 4 queries
// 4l .. 4l + 3 against every row (column blocks of Q and dO, k and v broadcast by shuffle), then
// dv_r += p_rt dO_t and dk_r += ds_rt q_t over the block's queries in increasing order.
// Sequence keys (prefix == 0): workgroup z is the batch element. Prefix keys (prefix == 1): a
// workgroup loops over the nb batch elements of the chunk and, with accumulate, adds to what
// earlier chunks wrote (chunks run in batch order).
// With lds != 0, ds is also stored in the scratch [nb, nH, T, lds] (prefix keys at column 0,
// sequence keys at ds_pre) for attention_cpu_dq's MODE 2; entries of queries a workgroup skips
// (causally invisible) are not written.
#extension GL_GOOGLE_include_directive : require
#include "attention_cpu.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer DO;
layout(set = 0, binding = 1) uniform samplerBuffer Q;
layout(set = 0, binding = 2) uniform samplerBuffer K;     // k, or prefix_k
layout(set = 0, binding = 3) uniform samplerBuffer V;     // v, or prefix_v
layout(set = 0, binding = 4) readonly buffer M { float mask[]; };  // q when there is no mask
layout(set = 0, binding = 5) readonly buffer L { float lse[]; };
layout(set = 0, binding = 6) readonly buffer DS { float dsum[]; };
// dk, dv rows start on a texel (ks % 4 == 0): vec4 accesses, one load/store loop per 4 floats
// on lavapipe instead of four
layout(set = 0, binding = 7) buffer DK { vec4 dk4[]; };
layout(set = 0, binding = 8) buffer DV { vec4 dv4[]; };
layout(set = 0, binding = 9) writeonly buffer DSC { vec4 dsc4[]; };   // q when lds == 0

vec4 kv[R * NT], vv[R * NT], dka[R * NT], dva[R * NT], sc[R], dp[R];
bool kept[R];
uint g, j0;

// Element base of key j's row in the k / v (or prefix) bindings.
uint key_elem(uint b, uint j) {
    return p.prefix != 0u ? (j * p.nkv + g) * HD : p.ks + ((b * p.S + j) * p.nkv + g) * HD;
}
uint q_texel(uint b, uint h, uint t) { return p.qs / 4u + ((b * p.T + t) * p.nh + h) * D4; }

// Adds queries t0 .. min(t0 + 32, T) - 1 of head h, batch element b to every row.
void query_block(uint b, uint h, uint t0) {
    uint qb[4];
    vec4 l4, d4;
    bvec4 valid;
    [[unroll]] for (uint c = 0u; c < 4u; c++) {
        uint t = t0 + 4u * lane + c, tc = min(t, p.T - 1u);
        qb[c] = q_texel(b, h, tc);
        uint li = p.ls + (b * p.nh + h) * p.T + tc;
        l4[c] = lse[li];
        d4[c] = dsum[li];
        valid[c] = t < p.T && !isinf(l4[c]);   // lse = +INF: the query saw no key
    }
    [[unroll]] for (uint r = 0u; r < R; r++) sc[r] = dp[r] = vec4(0.0);
    [[dont_unroll]] for (uint src = 0u; src < min(8u, D4); src++) {   // see attention_cpu.glsl
        vec4 qc[4u * NT], oc[4u * NT];
        [[unroll]] for (uint s = 0u; s < NT; s++)
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                uint i = min(8u * s + src, D4 - 1u);
                qc[4u * s + c] = texelFetch(Q, int(qb[c] + i));
                oc[4u * s + c] = texelFetch(DO, int(qb[c] + i));
            }
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            bool in_row = src_slot_in_row(s, src);
            [[unroll]] for (uint r = 0u; r < R; r++) {
                vec4 k4 = kv[r * NT + s], v4 = vv[r * NT + s];
                vec4 ds = subgroupShuffle(k4.x, src) * COL4_AT(qc, 4u * s, 0) +
                          subgroupShuffle(k4.y, src) * COL4_AT(qc, 4u * s, 1) +
                          subgroupShuffle(k4.z, src) * COL4_AT(qc, 4u * s, 2) +
                          subgroupShuffle(k4.w, src) * COL4_AT(qc, 4u * s, 3);
                vec4 dd = subgroupShuffle(v4.x, src) * COL4_AT(oc, 4u * s, 0) +
                          subgroupShuffle(v4.y, src) * COL4_AT(oc, 4u * s, 1) +
                          subgroupShuffle(v4.z, src) * COL4_AT(oc, 4u * s, 2) +
                          subgroupShuffle(v4.w, src) * COL4_AT(oc, 4u * s, 3);
                sc[r] += in_row ? ds : vec4(0.0);
                dp[r] += in_row ? dd : vec4(0.0);
            }
        }
    }
    [[unroll]] for (uint r = 0u; r < R; r++) {
        int j = int(j0 + r);
        vec4 pr = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            bool vis = valid[c] && kept[r] &&
                       (p.prefix != 0u || p.causal == 0u || j <= int(t0 + 4u * lane + c) + p.off);
            pr[c] = vis ? exp(sc[r][c] * p.scale - l4[c]) : 0.0;
        }
        sc[r] = pr;
        dp[r] = pr * (dp[r] - d4);
    }
    // dS into the scratch, 4 keys per store (one store loop on lavapipe instead of 4): the
    // scratch rows are padded to whole texels (lds, ds_pre multiples of 4, j0 of R), keys past
    // nkeys get zeros there (attention_cpu_dq masks them anyway)
    if (p.lds != 0u) {
        uint col0 = (p.prefix != 0u ? 0u : p.ds_pre) + j0;
        [[unroll]] for (uint r0 = 0u; r0 < R; r0 += 4u) {
            if (j0 + r0 >= p.nkeys) break;
            [[unroll]] for (uint c = 0u; c < 4u; c++) {
                uint t = t0 + 4u * lane + c;
                vec4 v;
                [[unroll]] for (uint i = 0u; i < 4u; i++)
                    v[i] = j0 + r0 + i < p.nkeys ? dp[r0 + i][c] : 0.0;
                if (t < p.T) dsc4[(((b * p.nh + h) * p.T + t) * p.lds + col0 + r0) >> 2] = v;
            }
        }
    }
    uint nsrc = min(8u, (p.T - t0 + 3u) / 4u);
    [[dont_unroll]] for (uint src = 0u; src < nsrc; src++) {
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            uint qr = q_texel(b, h, min(t0 + 4u * src + c, p.T - 1u));
            vec4 qt[NT], ot[NT];
            [[unroll]] for (uint s = 0u; s < NT; s++) {
                qt[s] = texelFetch(Q, slot_texel(qr, s));
                ot[s] = texelFetch(DO, slot_texel(qr, s));
            }
            [[unroll]] for (uint r = 0u; r < R; r++) {
                float wp = subgroupShuffle(sc[r][c], src), wd = subgroupShuffle(dp[r][c], src);
                [[unroll]] for (uint s = 0u; s < NT; s++) {
                    dva[r * NT + s] += wp * ot[s];
                    dka[r * NT + s] += wd * qt[s];
                }
            }
        }
    }
}

void main() {
    lane = gl_SubgroupInvocationID;   // the shuffles' lane numbering (0..7 here)
    g = gl_WorkGroupID.y;
    j0 = gl_WorkGroupID.x * R;
    uint rep = p.nh / p.nkv;
    uint b0 = p.prefix != 0u ? 0u : gl_WorkGroupID.z, b1 = p.prefix != 0u ? p.nb : b0 + 1u;
    [[unroll]] for (uint r = 0u; r < R; r++) {
        uint j = min(j0 + r, p.nkeys - 1u), base = key_elem(b0, j) / 4u;
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            kv[r * NT + s] = texelFetch(K, slot_texel(base, s));
            vv[r * NT + s] = texelFetch(V, slot_texel(base, s));
            dka[r * NT + s] = dva[r * NT + s] = vec4(0.0);
        }
        kept[r] = p.prefix != 0u || p.has_mask == 0u || mask[p.ms + b0 * p.S + j] != 0.0;
    }
    // the first query that sees key j0 (every query sees a prefix key)
    uint tmin = 0u;
    if (p.prefix == 0u && p.causal != 0u) tmin = uint(max(int(j0) - p.off, 0));
    for (uint b = b0; b < b1; b++)
        for (uint h = g * rep; h < (g + 1u) * rep; h++)
            for (uint t0 = tmin; t0 < p.T; t0 += KB) query_block(b, h, t0);
    [[unroll]] for (uint r = 0u; r < R; r++) {
        uint j = j0 + r;
        if (j >= p.nkeys) break;
        uint base = key_elem(b0, j);
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            if (!slot_valid(s)) continue;
            uint e = base + 4u * (lane + 8u * s);
            vec4 a = dka[r * NT + s] * p.scale, w = dva[r * NT + s];
            if (p.accumulate != 0u) {
                a += dk4[e >> 2];
                w += dv4[e >> 2];
            }
            dk4[e >> 2] = a;
            dv4[e >> 2] = w;
        }
    }
}
