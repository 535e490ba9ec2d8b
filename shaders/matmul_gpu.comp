#version 450
// GPU-shaped matmul: C[m,n] (+)= alpha op(A)[m,k] op(B)[k,n] with shared-memory tiles (BM x BK
// of A, BK x BN of B, loaded cooperatively and coalesced along the stored rows) and a TM x TN
// register tile per invocation. Any strides (transposes are index math) and B as f32, f16 or
// bf16 (packed words, converted on load). Tile sizes are specialization constants; the sum over
// k runs in a fixed order, so results are deterministic.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;   // (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { uint b[]; };
layout(set = 0, binding = 2) buffer C { float c[]; };
layout(push_constant) uniform P {
    uint m, n, k;
    uint a_base, sam, sak, a_bstride;       // A element (i, l) = a_base + i sam + l sak
    uint b_base, sbk, sbn, b_bstride, b_kind; // B element (l, j); kind 0 f32, 1 f16, 2 bf16
    uint c_base, ldc, c_bstride;
    uint accumulate;
    float alpha;
} p;

shared float As[BK * BM];
shared float Bs[BK * BN];

float load_b(uint e) {
    return p.b_kind == 0u ? uintBitsToFloat(b[e]) : vkft_load16(b[e >> 1], e, p.b_kind);
}

void main() {
    uint tid = gl_LocalInvocationID.x, tx = tid % (BN / TN), ty = tid / (BN / TN);
    uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN, z = gl_WorkGroupID.z;
    uint abase = p.a_base + z * p.a_bstride, bbase = p.b_base + z * p.b_bstride;
    float acc[TM * TN];
    for (uint i = 0u; i < TM * TN; i++) acc[i] = 0.0;
    for (uint k0 = 0u; k0 < p.k; k0 += BK) {
        for (uint i = tid; i < BM * BK; i += WG) {
            uint r, l;  // consecutive invocations read consecutive stored elements
            if (p.sak == 1u) { r = i / BK; l = i % BK; } else { l = i / BM; r = i % BM; }
            uint gm = m0 + r, gk = k0 + l;
            As[l * BM + r] = gm < p.m && gk < p.k ? a[abase + gm * p.sam + gk * p.sak] : 0.0;
        }
        for (uint i = tid; i < BK * BN; i += WG) {
            uint l, j;
            if (p.sbn == 1u) { l = i / BN; j = i % BN; } else { j = i / BK; l = i % BK; }
            uint gk = k0 + l, gn = n0 + j;
            Bs[l * BN + j] = gk < p.k && gn < p.n ? load_b(bbase + gk * p.sbk + gn * p.sbn) : 0.0;
        }
        barrier();
        for (uint l = 0u; l < BK; l++) {
            float av[TM], bv[TN];
            for (uint i = 0u; i < TM; i++) av[i] = As[l * BM + ty * TM + i];
            for (uint j = 0u; j < TN; j++) bv[j] = Bs[l * BN + tx * TN + j];
            for (uint i = 0u; i < TM; i++)
                for (uint j = 0u; j < TN; j++) acc[i * TN + j] += av[i] * bv[j];
        }
        barrier();
    }
    for (uint i = 0u; i < TM; i++) {
        uint gm = m0 + ty * TM + i;
        if (gm >= p.m) break;
        for (uint j = 0u; j < TN; j++) {
            uint gn = n0 + tx * TN + j;
            if (gn >= p.n) break;
            uint e = p.c_base + z * p.c_bstride + gm * p.ldc + gn;
            float v = p.alpha * acc[i * TN + j];
            c[e] = p.accumulate != 0u ? c[e] + v : v;
        }
    }
}
