#version 450
// Norm backward, dw and db partials: invocation (h, k) sums block k of `block` rows of this
// dispatch's chunk in row order: pw[k][h] = sum dy * xh, pb[k][h] = sum dy, where
// xh = x * r (rmsnorm) or (x - m) * r (layernorm). norm_dw_reduce.comp adds the blocks in order.
// No atomics: every partial has one writer, so the result is deterministic.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) readonly buffer M { float mean[]; };   // rstd again for rmsnorm
layout(set = 0, binding = 3) readonly buffer R { float rstd[]; };
layout(set = 0, binding = 4) writeonly buffer PW { float pw[]; };
layout(set = 0, binding = 5) writeonly buffer PB { float pb[]; };   // pw again when has_b == 0
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h;
    uint block;     // rows per block
    uint nb;        // blocks in this dispatch
    uint layer;
    uint has_b;
    uint xs;        // element shift of row 0 in the dy and x bindings
    uint rs;        // element shift of row 0 in the mean and rstd bindings
} p;

void main() {
    uint gid = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (gid >= p.h * p.nb) return;
    uint c = gid % p.h, k = gid / p.h;
    uint r0 = k * p.block, r1 = min(r0 + p.block, p.rows);
    float aw = 0.0, ab = 0.0;
    for (uint r = r0; r < r1; r++) {
        uint i = p.xs + r * p.h + c;
        float m = p.layer != 0u ? mean[p.rs + r] : 0.0;
        float g = dy[i];
        aw += g * ((x[i] - m) * rstd[p.rs + r]);
        ab += g;
    }
    pw[gid] = aw;
    if (p.has_b != 0u) pb[gid] = ab;
}
