#version 450
// ATTENTION_BACKWARD pass 1, CPU-shaped (see backend/vulkan/ops_attention.c and
// attention_cpu.glsl): Dsum_t = dO_t . O_t (kept in dsum for pass 2) and
// dq_t = scale sum_j ds_tj k_j, with p_tj = exp(scale q_t . k_j - lse_t) recomputed and
// ds_tj = p_tj (dO_t . v_j - Dsum_t). Laid out like attention_cpu.comp: R query rows per
// workgroup, keys in blocks of 32 (prefix first), per block the scores and dO . v of lane l's 4
// keys (column blocks of K and V), then dq_r += ds_rj k_j over the block's keys in increasing
// order. A row with lse = +INF saw no key: its dq is 0.
// MODE (specialization constant 2) splits the work when the dS scratch is used:
//   0: everything above; 1: Dsum only; 2: dq only, ds read from the scratch [nb, nH, T, lds]
//   that attention_cpu_dkv wrote (prefix keys at column 0, sequence keys at ds_pre), which
//   saves recomputing s, p and dO . v (2 of the 3 products).
#extension GL_GOOGLE_include_directive : require
#include "attention_cpu.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer DO;
layout(set = 0, binding = 1) uniform samplerBuffer Q;
layout(set = 0, binding = 2) uniform samplerBuffer K;
layout(set = 0, binding = 3) uniform samplerBuffer V;
layout(set = 0, binding = 4) uniform samplerBuffer PK;     // q when there is no prefix
layout(set = 0, binding = 5) uniform samplerBuffer PV;
layout(set = 0, binding = 6) readonly buffer M { float mask[]; };  // q when there is no mask
layout(set = 0, binding = 7) uniform samplerBuffer O;
layout(set = 0, binding = 8) readonly buffer L { float lse[]; };
layout(set = 0, binding = 9) writeonly buffer DQ { vec4 dq4[]; };  // rows start on a texel
layout(set = 0, binding = 10) writeonly buffer DS { float dsum[]; };
layout(set = 0, binding = 11) uniform samplerBuffer DSC;   // MODE 2: the dS scratch
layout(constant_id = 2) const uint MODE = 0;

vec4 qv[R * NT], dov[R * NT], acc[R * NT], sc[R], dp[R];
float lrow[R], drow[R];
uint b, h, g, t0;

// MODE 2: this lane's 4 ds values of keys j0 + 4 lane .. of row r from the scratch.
vec4 ds_scratch(uint r, bool pre, uint j0) {
    uint t = min(t0 + r, p.T - 1u);
    return texelFetch(DSC, int((((b * p.nh + h) * p.T + t) * p.lds + (pre ? 0u : p.ds_pre) + j0) /
                               4u + lane));
}

uint key_base(bool pre, uint j) {
    return pre ? (j * p.nkv + g) * D4 : p.ks / 4u + ((b * p.S + j) * p.nkv + g) * D4;
}

// Adds the keys j0 .. min(j0 + 32, jn) - 1 (prefix or sequence) to every row's dq.
void key_block(samplerBuffer kt, samplerBuffer vt, bool pre, uint j0, uint jn) {
    uint kb[4];
    bool keep[4];
    [[unroll]] for (uint c = 0u; c < 4u; c++) {
        uint j = j0 + 4u * lane + c, jc = min(j, jn - 1u);
        kb[c] = key_base(pre, jc);
        keep[c] = j < jn && (pre || p.has_mask == 0u || mask[p.ms + b * p.S + jc] != 0.0);
    }
    if (MODE == 2u) {
        [[unroll]] for (uint r = 0u; r < R; r++) sc[r] = ds_scratch(r, pre, j0);
    } else {
        [[unroll]] for (uint r = 0u; r < R; r++) sc[r] = dp[r] = vec4(0.0);
        [[dont_unroll]] for (uint src = 0u; src < min(8u, D4); src++) {  // see attention_cpu.glsl
            vec4 kc[4u * NT], vc[4u * NT];
            [[unroll]] for (uint s = 0u; s < NT; s++)
                [[unroll]] for (uint c = 0u; c < 4u; c++) {
                    uint i = min(8u * s + src, D4 - 1u);
                    kc[4u * s + c] = texelFetch(kt, int(kb[c] + i));
                    vc[4u * s + c] = texelFetch(vt, int(kb[c] + i));
                }
            [[unroll]] for (uint s = 0u; s < NT; s++) {
                bool in_row = src_slot_in_row(s, src);
                [[unroll]] for (uint r = 0u; r < R; r++) {
                    vec4 q4 = qv[r * NT + s], d4 = dov[r * NT + s];
                    vec4 ds = subgroupShuffle(q4.x, src) * COL4_AT(kc, 4u * s, 0) +
                              subgroupShuffle(q4.y, src) * COL4_AT(kc, 4u * s, 1) +
                              subgroupShuffle(q4.z, src) * COL4_AT(kc, 4u * s, 2) +
                              subgroupShuffle(q4.w, src) * COL4_AT(kc, 4u * s, 3);
                    vec4 dd = subgroupShuffle(d4.x, src) * COL4_AT(vc, 4u * s, 0) +
                              subgroupShuffle(d4.y, src) * COL4_AT(vc, 4u * s, 1) +
                              subgroupShuffle(d4.z, src) * COL4_AT(vc, 4u * s, 2) +
                              subgroupShuffle(d4.w, src) * COL4_AT(vc, 4u * s, 3);
                    sc[r] += in_row ? ds : vec4(0.0);
                    dp[r] += in_row ? dd : vec4(0.0);
                }
            }
        }
    }
    [[unroll]] for (uint r = 0u; r < R; r++) {
        int last = int(t0 + r) + p.off;
        bool seen = !isinf(lrow[r]);   // lse = +INF: the row saw no key
        vec4 ds = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            bool vis = seen && keep[c] &&
                       (pre || p.causal == 0u || int(j0 + 4u * lane + c) <= last);
            if (MODE == 2u) {
                ds[c] = vis ? sc[r][c] : 0.0;   // entries the dkv pass skipped are not written
            } else {
                float pr = vis ? exp(sc[r][c] * p.scale - lrow[r]) : 0.0;
                ds[c] = pr * (dp[r][c] - drow[r]);
            }
        }
        sc[r] = ds;
    }
    uint nsrc = min(8u, (jn - j0 + 3u) / 4u);
    [[dont_unroll]] for (uint src = 0u; src < nsrc; src++) {
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            uint kr = key_base(pre, min(j0 + 4u * src + c, jn - 1u));
            vec4 kt4[NT];
            [[unroll]] for (uint s = 0u; s < NT; s++) kt4[s] = texelFetch(kt, slot_texel(kr, s));
            [[unroll]] for (uint r = 0u; r < R; r++) {
                float w = subgroupShuffle(sc[r][c], src);
                [[unroll]] for (uint s = 0u; s < NT; s++) acc[r * NT + s] += w * kt4[s];
            }
        }
    }
}

void main() {
    lane = gl_SubgroupInvocationID;   // the shuffles' lane numbering (0..7 here)
    h = gl_WorkGroupID.y;
    b = gl_WorkGroupID.z;
    g = h / (p.nh / p.nkv);
    t0 = gl_WorkGroupID.x * R;
    [[unroll]] for (uint r = 0u; r < R; r++) {
        uint t = min(t0 + r, p.T - 1u);
        uint base = p.qs / 4u + ((b * p.T + t) * p.nh + h) * D4;
        float part = 0.0;
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            int tx = slot_texel(base, s);
            acc[r * NT + s] = vec4(0.0);
            if (MODE == 2u) continue;
            qv[r * NT + s] = texelFetch(Q, tx);
            dov[r * NT + s] = texelFetch(DO, tx);
            if (slot_valid(s)) part += dot(dov[r * NT + s], texelFetch(O, tx));
        }
        uint li = p.ls + (b * p.nh + h) * p.T + t;
        lrow[r] = lse[li];
        if (MODE == 2u) continue;
        drow[r] = sum8(part);
        if (lane == 0u && t0 + r < p.T) dsum[li] = drow[r];
    }
    if (MODE == 1u) return;
    for (uint j0 = 0u; j0 < p.P; j0 += KB) key_block(PK, PV, true, j0, p.P);
    uint kend = p.S;
    if (p.causal != 0u) kend = uint(clamp(int(min(t0 + R, p.T)) - 1 + p.off + 1, 0, int(p.S)));
    for (uint j0 = 0u; j0 < kend; j0 += KB) key_block(K, V, false, j0, kend);
    [[unroll]] for (uint r = 0u; r < R; r++) {
        uint t = t0 + r;
        if (t >= p.T) break;
        uint base = p.qs + ((b * p.T + t) * p.nh + h) * HD;
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            if (!slot_valid(s)) continue;
            uint e = base + 4u * (lane + 8u * s);
            dq4[e >> 2] = acc[r * NT + s] * p.scale;   // one store loop for 4 floats on lavapipe
        }
    }
}
