// MATMUL_NF4's kernel (included by nf4_matmul.comp and nf4_matmul_plain.comp), laid out for
// lavapipe like matmul_cpu.glsl (LAVAPIPE.md): y[m, c] (+)= alpha sum_t A[m, t] W'[t, c], with
// W' = W^T (W [n, k] stored as NF4, TRANS false: c runs over W's rows) or W (TRANS true: c over
// W's columns, t over its rows), dequantised on the fly in registers, never stored.
//   - an invocation owns 4 consecutive output columns and ROWS rows (ROWS vec4 accumulators):
//     every dequantised weight is used ROWS times;
//   - the reduction runs in steps of 8 (one codes word holds 8 consecutive elements). With
//     USE_SHUFFLE, lane l of each group of 8 loads A[row, t0 + l] for its ROWS rows and step tt
//     broadcasts lane tt's value with a constant-index subgroupShuffle; without it every lane
//     loads the A value itself;
//   - absmax is dequantised per use from absmax_q, absmax2, offset and the dynamic map (a
//     buffer), so no per-call workspace grows with W; the NF4 code comes from selects (no table
//     indexed by a variable: see nf4.glsl);
//   - FAST (k % 8 == 0): a codes word never straddles W's rows or a 64-block, so TRANS false
//     reads one word and one absmax per column per step, TRANS true one word (4 columns: half
//     of it) and one absmax per step. Otherwise (blocks and bytes straddle rows) every weight
//     is read on its own: slower, correct, rare (LLM dims are multiples of 64).
//   - edges: rows and columns past the chunk are clamped on load and skipped on store; reduction
//     steps past the end multiply a clamped weight by A = 0. The order over t is fixed:
//     deterministic.
//   - CD (bitsandbytes' compute_dtype, 1 bf16, 2 f16; 0 f32): A and the dequantised weights are
//     rounded to it as loaded, products and sums stay f32, and alpha sum is rounded once before
//     it is stored (C0 is added after). When the reduction is split (TRANS, W rows in chunks),
//     no partial sum is rounded: p.partial 1 stores the chunk's sums unrounded into Y (a
//     scratch), 2 adds binding 7's sums before the rounding (the last chunk).
#extension GL_GOOGLE_include_directive : require
#include "nf4.glsl"

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const int ROWS = 16;
layout(constant_id = 1) const int WG = 16;
layout(constant_id = 2) const bool TRANS = false;
layout(constant_id = 3) const bool FAST = true;
layout(constant_id = 4) const int CD = 0;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer Codes { uint codes[]; };
layout(set = 0, binding = 2) readonly buffer AbsmaxQ { uint absmax_q[]; };
layout(set = 0, binding = 3) readonly buffer Absmax2 { float absmax2[]; };
layout(set = 0, binding = 4) readonly buffer Offset { float offset[]; };
layout(set = 0, binding = 5) readonly buffer Table { uint table[]; };   // the dynamic map
layout(set = 0, binding = 6) buffer Y { float y[]; };
layout(set = 0, binding = 7) readonly buffer Part { float part[]; };  // p.partial 2: y's layout
layout(push_constant) uniform P {
    uint m, cols, red;      // this chunk: rows of A, output columns, reduction length
    uint k;                 // W's row length
    uint lda, a_off;        // A (r, t) of the chunk = a[a_off + r lda + t]
    uint ldy, y_off;        // y (r, c) of the chunk = y[y_off + r ldy + c]
    uint w_row0;            // the chunk's first W row (TRANS false: column 0; true: t = 0)
    uint codes_base, absq_base, abs2_base;  // first word / byte / float of those bindings
    uint accumulate;        // 1: y += alpha ...; 0: y = alpha ...
    float alpha;
    uint partial;           // CD != 0: 0 whole sums, 1 store a partial sum, 2 add part[] first
} p;

// x to the nearest bf16, ties to even; NaN kept (backend/cpu/nf4.c's round_bf16, bit for bit).
float round_bf16(float x) {
    uint u = floatBitsToUint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    return uintBitsToFloat((u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u);
}

// x to the nearest f16 value, ties to even, overflow to inf, subnormals as integer multiples
// of 2^-24 (no f32 subnormal is made: a device may flush them). As round_f16 in cpu/nf4.c.
float round_f16(float x) {
    uint u = floatBitsToUint(x), a = u & 0x7fffffffu, sign = u & 0x80000000u;
    if (a > 0x7f800000u) return x;
    if (a >= 0x477ff000u) {
        a = 0x7f800000u;
    } else if (a >= 0x38800000u) {
        a = (a + 0xfffu + ((a >> 13) & 1u)) & 0xffffe000u;
    } else if (a < 0x33000000u) {
        a = 0u;
    } else {
        uint e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, sh = 126u - e;
        uint q = (m + (1u << (sh - 1u)) - 1u + ((m >> sh) & 1u)) >> sh;
        a = floatBitsToUint(float(q) * 5.9604644775390625e-8);  // 2^-24: exact
    }
    return uintBitsToFloat(sign | a);
}

float rnd(float x) { return CD == 1 ? round_bf16(x) : CD == 2 ? round_f16(x) : x; }
vec4 rnd4(vec4 v) { return CD == 0 ? v : vec4(rnd(v.x), rnd(v.y), rnd(v.z), rnd(v.w)); }

float off;  // offset[0], loaded once

// The block's dequantised absmax: nf4_absmax.comp mode 4's operations (bit-identical), with the
// dynamic map read from a buffer (a const array indexed by a variable is copied per use).
float absmax_at(uint blk) {
    uint qb = blk - p.absq_base;
    precise float prod = uintBitsToFloat(table[nf4_byte(absmax_q[qb >> 2], qb)]) *
                         absmax2[(blk >> 8) - p.abs2_base];
    precise float a = prod + off;
    return a;
}

// The weight at flattened index e (the slow path).
float w_at(uint e) {
    uint word = codes[(e >> 3) - p.codes_base];
    uint c = (word >> (((e >> 1) & 3u) * 8u + ((e & 1u) == 0u ? 4u : 0u))) & 15u;
    return nf4_code(c) * absmax_at(e >> 6);
}

#if USE_SHUFFLE
#define A_VAL(r, tt) subgroupShuffle(av[r], uint(tt))
#else
#define A_VAL(r, tt) (t0 + (tt) < red ? rnd(a[arow[r] + t0 + (tt)]) : 0.0)
#endif

void main() {
    int cols = int(p.cols), m = int(p.m), red = int(p.red);
    uint k = p.k;
    int col4 = (int(gl_WorkGroupID.x) * WG + int(gl_LocalInvocationID.x)) * 4;
    int row0 = int(gl_WorkGroupID.y) * ROWS;
    off = offset[0];
    int arow[ROWS];
    for (int r = 0; r < ROWS; r++) arow[r] = int(p.a_off) + min(row0 + r, m - 1) * int(p.lda);
    vec4 acc[ROWS];
    for (int r = 0; r < ROWS; r++) acc[r] = vec4(0.0);
    uint wrow[4];   // TRANS false: the W rows of the 4 columns
    for (int j = 0; j < 4; j++) wrow[j] = p.w_row0 + uint(min(col4 + j, cols - 1));
    uint colc = uint(min(col4, (cols - 1) & ~3));  // TRANS and FAST: the 4 columns, clamped
#if USE_SHUFFLE
    int lane = int(gl_SubgroupInvocationID & 7u);
    float av[ROWS];
#endif
    vec4 am = vec4(0.0);  // TRANS false and FAST: the 4 columns' current absmax
    for (int t0 = 0; t0 < red; t0 += 8) {
#if USE_SHUFFLE
        for (int r = 0; r < ROWS; r++)
            av[r] = t0 + lane < red ? rnd(a[arow[r] + t0 + lane]) : 0.0;
#endif
        if (!TRANS && FAST) {
            uint wd[4];
            for (int j = 0; j < 4; j++) {
                uint e = wrow[j] * k + uint(t0);
                wd[j] = codes[(e >> 3) - p.codes_base];
                // a new block every 64 elements (for all lanes at once when k % 64 == 0)
                if (t0 == 0 || (e & 63u) == 0u) am[j] = absmax_at(e >> 6);
            }
            for (int tt = 0; tt < 8; tt++) {
                uint sh = uint(tt >> 1) * 8u + ((tt & 1) == 0 ? 4u : 0u);
                vec4 wv = vec4(nf4_code((wd[0] >> sh) & 15u), nf4_code((wd[1] >> sh) & 15u),
                               nf4_code((wd[2] >> sh) & 15u), nf4_code((wd[3] >> sh) & 15u));
                wv = rnd4(wv * am);
                for (int r = 0; r < ROWS; r++) acc[r] += A_VAL(r, tt) * wv;
            }
        } else {
            for (int tt = 0; tt < 8; tt++) {
                uint t = uint(min(t0 + tt, red - 1));
                vec4 wv;
                if (!TRANS) {
                    for (int j = 0; j < 4; j++) wv[j] = w_at(wrow[j] * k + t);
                } else if (FAST) {
                    uint e = (p.w_row0 + t) * k + colc;
                    uint b = codes[(e >> 3) - p.codes_base] >> ((e & 4u) != 0u ? 16u : 0u);
                    wv = vec4(nf4_code((b >> 4) & 15u), nf4_code(b & 15u),
                              nf4_code((b >> 12) & 15u), nf4_code((b >> 8) & 15u));
                    wv *= absmax_at(e >> 6);
                } else {
                    for (int j = 0; j < 4; j++)
                        wv[j] = w_at((p.w_row0 + t) * k + uint(min(col4 + j, cols - 1)));
                }
                wv = rnd4(wv);
                for (int r = 0; r < ROWS; r++) acc[r] += A_VAL(r, tt) * wv;
            }
        }
    }
    if (col4 >= cols) return;
    for (int r = 0; r < ROWS; r++) {
        if (row0 + r >= m) break;
        uint base = p.y_off + uint(row0 + r) * p.ldy + uint(col4);
        for (int j = 0; j < 4; j++) {
            if (col4 + j >= cols) break;
            float v = p.alpha * acc[r][j];
            if (CD != 0 && p.partial == 2u) v += part[base + uint(j)];
            if (CD != 0 && p.partial != 1u) v = rnd(v);
            y[base + uint(j)] = p.accumulate != 0u ? y[base + uint(j)] + v : v;
        }
    }
}
