#version 450
// ATTENTION forward (see backend/vulkan/ops_attention.c). Lanes over queries: an invocation owns
// R query rows of head h (t = block * WG * R + r * WG + lane) and runs an online softmax over the
// keys in increasing order (the P prefix keys, then the sequence), keeping its q rows and output
// accumulators as vec4 arrays (D padded to a multiple of 4 with zeros). Every lane of the
// workgroup reads the same key row, so K/V traffic is shared by WG * R queries and no shared
// memory or optional feature is needed. Per key and row, one exp: with e = exp(-|s - m|), the
// larger of s and the running max m gets weight 1 and the other e.
// Bindings hold one chunk of whole batch elements (workgroup z = batch inside the chunk); qs, ks,
// ms, ls are the element shifts of the chunk inside its 16-byte aligned bindings.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Loops over D are kept rolled ([[dont_unroll]]): unrolled, lavapipe's LLVM took 107 s to compile
// the three kernels for D = 64 (thousands of live vector registers); rolled, about 1 s.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD = 64;     // head dim D
layout(constant_id = 2) const uint R = 1;       // query rows per invocation
const uint HD4 = (HD + 3u) / 4u;

layout(set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) readonly buffer K { float k[]; };
layout(set = 0, binding = 2) readonly buffer V { float v[]; };
layout(set = 0, binding = 3) readonly buffer PK { float pk[]; };   // q when there is no prefix
layout(set = 0, binding = 4) readonly buffer PV { float pv[]; };
layout(set = 0, binding = 5) readonly buffer M { float mask[]; };  // q when there is no mask
layout(set = 0, binding = 6) writeonly buffer O { float o[]; };
layout(set = 0, binding = 7) writeonly buffer L { float lse[]; };
layout(push_constant) uniform P {
    uint T, S, P, nh, nkv;
    int off;        // q_pos_offset
    float scale;
    uint causal, has_mask;
    uint qs, ks, ms, ls;
} p;

// Element e of a D-row at base, 0 past D (the index is clamped so no read leaves the row).
#define LD(buf, base, e) ((e) < HD ? buf[(base) + min((e), HD - 1u)] : 0.0)
#define LOAD4(buf, base, i) vec4(LD(buf, base, 4u * (i)), LD(buf, base, 4u * (i) + 1u), \
                                 LD(buf, base, 4u * (i) + 2u), LD(buf, base, 4u * (i) + 3u))

vec4 qv[R * HD4], acc[R * HD4], kr[HD4], vr[HD4];
float m[R], l[R];

// Adds the key row held in kr / vr to row r when vis.
void consume(uint r, bool vis) {
    float s = 0.0;
    [[dont_unroll]] for (uint i = 0u; i < HD4; i++) s += dot(qv[r * HD4 + i], kr[i]);
    s *= p.scale;
    float e = exp(-abs(s - m[r]));   // m = -inf: e = 0
    bool up = s > m[r];
    float corr = vis ? (up ? e : 1.0) : 1.0, w = vis ? (up ? 1.0 : e) : 0.0;
    m[r] = vis && up ? s : m[r];
    l[r] = l[r] * corr + w;
    [[dont_unroll]] for (uint i = 0u; i < HD4; i++)
        acc[r * HD4 + i] = acc[r * HD4 + i] * corr + w * vr[i];
}

void main() {
    uint lane = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z, g = h / (p.nh / p.nkv);
    uint t0 = gl_WorkGroupID.x * wg * R;
    for (uint r = 0u; r < R; r++) {
        uint t = min(t0 + r * wg + lane, p.T - 1u);
        uint base = p.qs + ((b * p.T + t) * p.nh + h) * HD;
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
            qv[r * HD4 + i] = LOAD4(q, base, i);
            acc[r * HD4 + i] = vec4(0.0);
        }
        m[r] = uintBitsToFloat(0xff800000u);
        l[r] = 0.0;
    }
    for (uint j = 0u; j < p.P; j++) {
        uint base = (j * p.nkv + g) * HD;
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
            kr[i] = LOAD4(pk, base, i);
            vr[i] = LOAD4(pv, base, i);
        }
        for (uint r = 0u; r < R; r++) consume(r, true);
    }
    // keys of the sequence: up to what the last query of the workgroup sees
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
        float inv = l[r] > 0.0 ? 1.0 / l[r] : 0.0;   // no visible key: o = 0
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++)
            for (uint c = 0u; c < 4u; c++)
                if (4u * i + c < HD) o[base + 4u * i + c] = acc[r * HD4 + i][c] * inv;
        lse[p.ls + (b * p.nh + h) * p.T + t] =
            l[r] > 0.0 ? m[r] + log(l[r]) : uintBitsToFloat(0x7f800000u);
    }
}
