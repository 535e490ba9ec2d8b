#version 450
// ATTENTION_BACKWARD pass 1 (see backend/vulkan/ops_attention.c): Dsum_t = sum_d dO_t O_t (kept in
// dsum for pass 2) and dq_t = scale * sum_j ds_tj k_j over the keys in increasing order (prefix
// first), with p_tj = exp(scale q_t . k_j - lse_t) recomputed and ds_tj = p_tj (dO_t . v_j -
// Dsum_t). Laid out like the forward: lanes over queries, R rows per invocation, every lane reads
// the same key row. A row with lse = +INF saw no key: its dq is 0.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// D loops stay rolled: see attention.comp.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint R = 1;
const uint HD4 = (HD + 3u) / 4u;

layout(set = 0, binding = 0) readonly buffer DO { float dout[]; };
layout(set = 0, binding = 1) readonly buffer Q { float q[]; };
layout(set = 0, binding = 2) readonly buffer K { float k[]; };
layout(set = 0, binding = 3) readonly buffer V { float v[]; };
layout(set = 0, binding = 4) readonly buffer PK { float pk[]; };
layout(set = 0, binding = 5) readonly buffer PV { float pv[]; };
layout(set = 0, binding = 6) readonly buffer M { float mask[]; };
layout(set = 0, binding = 7) readonly buffer O { float o[]; };
layout(set = 0, binding = 8) readonly buffer L { float lse[]; };
layout(set = 0, binding = 9) writeonly buffer DQ { float dq[]; };
layout(set = 0, binding = 10) writeonly buffer DS { float dsum[]; };
layout(push_constant) uniform P {
    uint T, S, P, nh, nkv;
    int off;
    float scale;
    uint causal, has_mask;
    uint qs, ks, ms, ls;
} p;

#define LD(buf, base, e) ((e) < HD ? buf[(base) + min((e), HD - 1u)] : 0.0)
#define LOAD4(buf, base, i) vec4(LD(buf, base, 4u * (i)), LD(buf, base, 4u * (i) + 1u), \
                                 LD(buf, base, 4u * (i) + 2u), LD(buf, base, 4u * (i) + 3u))

vec4 qv[R * HD4], dov[R * HD4], acc[R * HD4], kr[HD4], vr[HD4];
float lrow[R], drow[R];

void consume(uint r, bool vis) {
    float s = 0.0, dp = 0.0;
    [[dont_unroll]] for (uint i = 0u; i < HD4; i++) s += dot(qv[r * HD4 + i], kr[i]);
    [[dont_unroll]] for (uint i = 0u; i < HD4; i++) dp += dot(dov[r * HD4 + i], vr[i]);
    float pr = vis ? exp(s * p.scale - lrow[r]) : 0.0;   // lse = +INF: 0
    float ds = pr * (dp - drow[r]);
    [[dont_unroll]] for (uint i = 0u; i < HD4; i++) acc[r * HD4 + i] += ds * kr[i];
}

void main() {
    uint lane = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z, g = h / (p.nh / p.nkv);
    uint t0 = gl_WorkGroupID.x * wg * R;
    for (uint r = 0u; r < R; r++) {
        uint t = min(t0 + r * wg + lane, p.T - 1u);
        uint base = p.qs + ((b * p.T + t) * p.nh + h) * HD;
        float dsm = 0.0;
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
            qv[r * HD4 + i] = LOAD4(q, base, i);
            dov[r * HD4 + i] = LOAD4(dout, base, i);
            acc[r * HD4 + i] = vec4(0.0);
        }
        // in increasing d, as the CPU does
        [[dont_unroll]] for (uint i = 0u; i < HD; i++) dsm += dout[base + i] * o[base + i];
        drow[r] = dsm;
        lrow[r] = lse[p.ls + (b * p.nh + h) * p.T + t];
        if (t0 + r * wg + lane < p.T) dsum[p.ls + (b * p.nh + h) * p.T + t] = dsm;
    }
    for (uint j = 0u; j < p.P; j++) {
        uint base = (j * p.nkv + g) * HD;
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
            kr[i] = LOAD4(pk, base, i);
            vr[i] = LOAD4(pv, base, i);
        }
        for (uint r = 0u; r < R; r++) consume(r, true);
    }
    uint tlast = min(t0 + wg * R, p.T) - 1u, kend = p.S;
    if (p.causal != 0u) kend = uint(clamp(int(tlast) + p.off + 1, 0, int(p.S)));
    for (uint s = 0u; s < kend; s++) {
        uint base = p.ks + ((b * p.S + s) * p.nkv + g) * HD;
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
            kr[i] = LOAD4(k, base, i);
            vr[i] = LOAD4(v, base, i);
        }
        bool kept = p.has_mask == 0u || mask[p.ms + b * p.S + s] != 0.0;
        for (uint r = 0u; r < R; r++) {
            int t = int(t0 + r * wg + lane);
            consume(r, kept && (p.causal == 0u || int(s) <= t + p.off));
        }
    }
    for (uint r = 0u; r < R; r++) {
        uint t = t0 + r * wg + lane;
        if (t >= p.T) break;
        uint base = p.qs + ((b * p.T + t) * p.nh + h) * HD;
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++)
            for (uint c = 0u; c < 4u; c++)
                if (4u * i + c < HD) dq[base + 4u * i + c] = acc[r * HD4 + i][c] * p.scale;
    }
}
