#version 450
// ATTENTION forward, CPU-shaped (see backend/vulkan/ops_attention.c and attention_cpu.glsl).
// Workgroup (x: R consecutive queries, y: head h, z: batch element of the chunk). Keys come in
// blocks of 32 (the P prefix keys, then the sequence up to what the last query sees); per block:
//   1. scores: lane l computes the 4 scores of keys 4l .. 4l + 3 for each of the R rows (column
//      block of K, q broadcast by shuffle);
//   2. online softmax per row over the block (max and sum by xor butterflies), rescaling the
//      output accumulators once per block;
//   3. o_r += p_rj v_j over the block's keys in increasing order, lanes over the row's texels
//      (p broadcast by shuffle from the lane that owns key j).
// A row that sees no key gets o = 0 and lse = +INF.
#extension GL_GOOGLE_include_directive : require
#include "attention_cpu.glsl"

layout(set = 0, binding = 0) uniform samplerBuffer Q;
layout(set = 0, binding = 1) uniform samplerBuffer K;
layout(set = 0, binding = 2) uniform samplerBuffer V;
layout(set = 0, binding = 3) uniform samplerBuffer PK;     // q when there is no prefix
layout(set = 0, binding = 4) uniform samplerBuffer PV;
layout(set = 0, binding = 5) readonly buffer M { float mask[]; };  // q when there is no mask
layout(set = 0, binding = 6) writeonly buffer O { vec4 o4[]; };  // rows start on a texel (qs % 4 == 0)
layout(set = 0, binding = 7) writeonly buffer L { float lse[]; };

vec4 qv[R * NT], acc[R * NT], sc[R];
float mrow[R], lrow[R];
uint b, h, g, t0;

// Texel base of key j's row: prefix row j, or row j of batch element b.
uint key_base(bool pre, uint j) {
    return pre ? (j * p.nkv + g) * D4 : p.ks / 4u + ((b * p.S + j) * p.nkv + g) * D4;
}

// Adds keys j0 .. min(j0 + 32, jn) - 1 (prefix or sequence) to every row.
void key_block(samplerBuffer kt, samplerBuffer vt, bool pre, uint j0, uint jn) {
    uint kb[4];
    bool keep[4];
    [[unroll]] for (uint c = 0u; c < 4u; c++) {
        uint j = j0 + 4u * lane + c, jc = min(j, jn - 1u);
        kb[c] = key_base(pre, jc);
        keep[c] = j < jn && (pre || p.has_mask == 0u || mask[p.ms + b * p.S + jc] != 0.0);
    }
    [[unroll]] for (uint r = 0u; r < R; r++) sc[r] = vec4(0.0);
    [[dont_unroll]] for (uint src = 0u; src < min(8u, D4); src++) {   // see attention_cpu.glsl
        vec4 kc[4u * NT];
        [[unroll]] for (uint s = 0u; s < NT; s++)
            [[unroll]] for (uint c = 0u; c < 4u; c++)
                kc[4u * s + c] = texelFetch(kt, int(kb[c] + min(8u * s + src, D4 - 1u)));
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            bool in_row = src_slot_in_row(s, src);
            [[unroll]] for (uint r = 0u; r < R; r++) {
                vec4 q4 = qv[r * NT + s];
                vec4 d = subgroupShuffle(q4.x, src) * COL4_AT(kc, 4u * s, 0) +
                         subgroupShuffle(q4.y, src) * COL4_AT(kc, 4u * s, 1) +
                         subgroupShuffle(q4.z, src) * COL4_AT(kc, 4u * s, 2) +
                         subgroupShuffle(q4.w, src) * COL4_AT(kc, 4u * s, 3);
                sc[r] += in_row ? d : vec4(0.0);
            }
        }
    }
    [[unroll]] for (uint r = 0u; r < R; r++) {
        int last = int(t0 + r) + p.off;    // the last key a causal row sees
        vec4 s4 = sc[r] * p.scale;
        bvec4 vis;
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            vis[c] = keep[c] && (pre || p.causal == 0u || int(j0 + 4u * lane + c) <= last);
            s4[c] = vis[c] ? s4[c] : NEG_INF;
        }
        float mn = max(mrow[r], max8(max(max(s4.x, s4.y), max(s4.z, s4.w))));
        vec4 pr = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < 4u; c++) pr[c] = vis[c] ? exp(s4[c] - mn) : 0.0;
        float corr = mrow[r] == NEG_INF ? 0.0 : exp(mrow[r] - mn);
        lrow[r] = lrow[r] * corr + sum8((pr.x + pr.y) + (pr.z + pr.w));
        mrow[r] = mn;
        sc[r] = pr;
        [[unroll]] for (uint s = 0u; s < NT; s++) acc[r * NT + s] *= corr;
    }
    uint nsrc = min(8u, (jn - j0 + 3u) / 4u);
    [[dont_unroll]] for (uint src = 0u; src < nsrc; src++) {
        [[unroll]] for (uint c = 0u; c < 4u; c++) {
            uint vb = key_base(pre, min(j0 + 4u * src + c, jn - 1u));
            vec4 vr[NT];
            [[unroll]] for (uint s = 0u; s < NT; s++) vr[s] = texelFetch(vt, slot_texel(vb, s));
            [[unroll]] for (uint r = 0u; r < R; r++) {
                float w = subgroupShuffle(sc[r][c], src);
                [[unroll]] for (uint s = 0u; s < NT; s++) acc[r * NT + s] += w * vr[s];
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
        uint base = p.qs / 4u + ((b * p.T + min(t0 + r, p.T - 1u)) * p.nh + h) * D4;
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            qv[r * NT + s] = texelFetch(Q, slot_texel(base, s));
            acc[r * NT + s] = vec4(0.0);
        }
        mrow[r] = NEG_INF;
        lrow[r] = 0.0;
    }
    for (uint j0 = 0u; j0 < p.P; j0 += KB) key_block(PK, PV, true, j0, p.P);
    // keys of the sequence: up to what the last query of the workgroup sees
    uint kend = p.S;
    if (p.causal != 0u) kend = uint(clamp(int(min(t0 + R, p.T)) - 1 + p.off + 1, 0, int(p.S)));
    for (uint j0 = 0u; j0 < kend; j0 += KB) key_block(K, V, false, j0, kend);
    [[unroll]] for (uint r = 0u; r < R; r++) {
        uint t = t0 + r;
        if (t >= p.T) break;
        uint base = p.qs + ((b * p.T + t) * p.nh + h) * HD;
        float inv = lrow[r] > 0.0 ? 1.0 / lrow[r] : 0.0;   // no visible key: o = 0
        [[unroll]] for (uint s = 0u; s < NT; s++) {
            if (!slot_valid(s)) continue;
            uint e = base + 4u * (lane + 8u * s);
            o4[e >> 2] = acc[r * NT + s] * inv;   // one store loop for 4 floats on lavapipe
        }
        if (lane == 0u)
            lse[p.ls + (b * p.nh + h) * p.T + t] =
                lrow[r] > 0.0 ? mrow[r] + log(lrow[r]) : uintBitsToFloat(0x7f800000u);
    }
}
