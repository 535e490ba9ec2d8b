#version 450
// ATTENTION_BACKWARD pass 2 (see backend/vulkan/ops_attention.c): lanes over keys of kv head g;
// an invocation owns R keys (j = block * WG * R + r * WG + lane) and sums, in a fixed order,
//   dv_j = sum p_tj dO_t,   dk_j = scale * sum ds_tj q_t
// over the batch elements it covers, the query heads of group g and the queries t (increasing),
// every lane reading the same q / dO row. Sequence keys (prefix == 0): workgroup z is the batch
// element. Prefix keys (prefix == 1): one invocation loops over the nb batch elements of the
// chunk and, with accumulate, adds to what earlier chunks wrote (chunks run in batch order).
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
layout(set = 0, binding = 2) readonly buffer K { float k[]; };     // k, or prefix_k
layout(set = 0, binding = 3) readonly buffer V { float v[]; };     // v, or prefix_v
layout(set = 0, binding = 4) readonly buffer M { float mask[]; };  // q when there is no mask
layout(set = 0, binding = 5) readonly buffer L { float lse[]; };
layout(set = 0, binding = 6) readonly buffer DS { float dsum[]; };
layout(set = 0, binding = 7) buffer DK { float dk[]; };
layout(set = 0, binding = 8) buffer DV { float dv[]; };
layout(push_constant) uniform P {
    uint T, S, P, nh, nkv;
    int off;
    float scale;
    uint causal, has_mask;
    uint qs, ks, ms, ls;
    uint prefix, nb, accumulate, nkeys;   // nkeys: S, or P for the prefix
} p;

#define LD(buf, base, e) ((e) < HD ? buf[(base) + min((e), HD - 1u)] : 0.0)
#define LOAD4(buf, base, i) vec4(LD(buf, base, 4u * (i)), LD(buf, base, 4u * (i) + 1u), \
                                 LD(buf, base, 4u * (i) + 2u), LD(buf, base, 4u * (i) + 3u))

vec4 kr[R * HD4], vr[R * HD4], dka[R * HD4], dva[R * HD4], qrow[HD4], drow[HD4];
bool kept[R];

// Element base of key j's row in the k / v (or prefix) bindings.
uint key_base(uint b, uint j, uint g) {
    return p.prefix != 0u ? (j * p.nkv + g) * HD : p.ks + ((b * p.S + j) * p.nkv + g) * HD;
}

void main() {
    uint lane = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint g = gl_WorkGroupID.y, rep = p.nh / p.nkv;
    uint j0 = gl_WorkGroupID.x * wg * R;
    uint b0 = p.prefix != 0u ? 0u : gl_WorkGroupID.z, b1 = p.prefix != 0u ? p.nb : b0 + 1u;
    for (uint r = 0u; r < R; r++) {
        uint j = min(j0 + r * wg + lane, p.nkeys - 1u);
        uint base = key_base(b0, j, g);
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
            kr[r * HD4 + i] = LOAD4(k, base, i);
            vr[r * HD4 + i] = LOAD4(v, base, i);
            dka[r * HD4 + i] = vec4(0.0);
            dva[r * HD4 + i] = vec4(0.0);
        }
        kept[r] = p.prefix != 0u || p.has_mask == 0u || mask[p.ms + b0 * p.S + j] != 0.0;
    }
    // the first query that sees key j0 (every query sees a prefix key)
    uint tmin = 0u;
    if (p.prefix == 0u && p.causal != 0u) tmin = uint(max(int(j0) - p.off, 0));
    for (uint b = b0; b < b1; b++) {
        for (uint h = g * rep; h < (g + 1u) * rep; h++) {
            for (uint t = tmin; t < p.T; t++) {
                uint lrow = p.ls + (b * p.nh + h) * p.T + t;
                float lt = lse[lrow], dt = dsum[lrow];
                if (isinf(lt)) continue;   // the row saw no key
                uint base = p.qs + ((b * p.T + t) * p.nh + h) * HD;
                [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
                    qrow[i] = LOAD4(q, base, i);
                    drow[i] = LOAD4(dout, base, i);
                }
                for (uint r = 0u; r < R; r++) {
                    int j = int(j0 + r * wg + lane);
                    bool vis = kept[r] && (p.prefix != 0u || p.causal == 0u || j <= int(t) + p.off);
                    float s = 0.0, dp = 0.0;
                    [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
                        s += dot(qrow[i], kr[r * HD4 + i]);
                        dp += dot(drow[i], vr[r * HD4 + i]);
                    }
                    float pr = vis ? exp(s * p.scale - lt) : 0.0;
                    float ds = pr * (dp - dt);
                    [[dont_unroll]] for (uint i = 0u; i < HD4; i++) {
                        dva[r * HD4 + i] += pr * drow[i];
                        dka[r * HD4 + i] += ds * qrow[i];
                    }
                }
            }
        }
    }
    for (uint r = 0u; r < R; r++) {
        uint j = j0 + r * wg + lane;
        if (j >= p.nkeys) break;
        uint base = key_base(b0, j, g);
        [[dont_unroll]] for (uint i = 0u; i < HD4; i++)
            for (uint c = 0u; c < 4u; c++) {
                uint e = 4u * i + c;
                if (e >= HD) continue;
                float a = dka[r * HD4 + i][c] * p.scale, w = dva[r * HD4 + i][c];
                dk[base + e] = p.accumulate != 0u ? dk[base + e] + a : a;
                dv[base + e] = p.accumulate != 0u ? dv[base + e] + w : w;
            }
    }
}
