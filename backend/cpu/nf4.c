/*
 * CPU kernels of the NF4 ops (rows in ops/nf4.c, rules in ops/nf4_codebook.h). Quantisation is
 * deterministic whatever the thread count: blocks are independent, and the offset's sum runs
 * in fixed runs of 256 combined in order. MATMUL_NF4 dequantises one panel of W at a time into
 * a buffer allocated once per call and multiplies it with cblas_sgemm; W is never dequantised
 * whole.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "ops/nf4_codebook.h"

typedef struct {
    const float *w;
    int64_t n, nb;
    uint8_t *codes, *absmax_q;
    float *absmax, *absmax2, *run_sums, offset;
} quant_job;

/* A block's scale: absmax below FLT_MIN counts as 0 (see nf4_codebook.h). */
static float flush(float a) { return a < FLT_MIN ? 0.0f : a; }

/* The 4-bit codes of blocks [b, e) and their absmax. */
static void quantize_blocks(void *ctx, int64_t b, int64_t e) {
    quant_job *j = ctx;
    for (int64_t blk = b; blk < e; blk++) {
        int64_t e0 = blk * VKFT_NF4_BLOCK;
        int64_t len = j->n - e0 < VKFT_NF4_BLOCK ? j->n - e0 : VKFT_NF4_BLOCK;
        const float *x = j->w + e0;
        float a = 0.0f;
        for (int64_t i = 0; i < len; i++) a = fmaxf(a, fabsf(x[i]));
        a = flush(a);
        j->absmax[blk] = a;
        int zero = vkft_nf4_nearest(0.0f);
        for (int64_t i = 0; i < len; i += 2) {  /* len is even: n is even, e0 a multiple of 64 */
            int q0 = a == 0.0f ? zero : vkft_nf4_nearest(vkft_nf4_scaled(x[i], a, len < 64));
            int q1 = a == 0.0f ? zero : vkft_nf4_nearest(vkft_nf4_scaled(x[i + 1], a, len < 64));
            j->codes[(e0 + i) / 2] = (uint8_t)(q0 << 4 | q1);
        }
    }
}

/* Sums of runs [b, e) of 256 absmax values, each left to right. */
static void sum_runs(void *ctx, int64_t b, int64_t e) {
    quant_job *j = ctx;
    for (int64_t r = b; r < e; r++) {
        int64_t j0 = r * VKFT_NF4_BLOCK2, j1 = j0 + VKFT_NF4_BLOCK2 < j->nb ? j0 + 256 : j->nb;
        float s = 0.0f;
        for (int64_t i = j0; i < j1; i++) s += j->absmax[i];
        j->run_sums[r] = s;
    }
}

/* The second level: absmax - offset of runs [b, e) to the dynamic map. */
static void quantize_runs(void *ctx, int64_t b, int64_t e) {
    quant_job *j = ctx;
    for (int64_t r = b; r < e; r++) {
        int64_t j0 = r * VKFT_NF4_BLOCK2, j1 = j0 + VKFT_NF4_BLOCK2 < j->nb ? j0 + 256 : j->nb;
        float a2 = 0.0f;
        for (int64_t i = j0; i < j1; i++) a2 = fmaxf(a2, fabsf(j->absmax[i] - j->offset));
        a2 = flush(a2);
        j->absmax2[r] = a2;
        int partial = j1 - j0 < VKFT_NF4_BLOCK2, zero = vkft_nf4_dyn_nearest(0.0f);
        for (int64_t i = j0; i < j1; i++) {
            float d = j->absmax[i] - j->offset;
            int q = a2 == 0.0f ? zero : vkft_nf4_dyn_nearest(vkft_nf4_scaled(d, a2, partial));
            j->absmax_q[i] = (uint8_t)q;
        }
    }
}

VKFT_CPU_KERNEL(nf4_quantize) {
    quant_job j = {.w = vkft_cpu_f32(call->in[0]), .n = vkft_desc_numel(&call->in[0]->desc),
                   .codes = vkft_cpu_u8(call->out[0]), .absmax_q = vkft_cpu_u8(call->out[1]),
                   .absmax2 = vkft_cpu_f32(call->out[2])};
    j.nb = vkft_nf4_nb(j.n);
    int64_t nb2 = vkft_nf4_nb2(j.n);
    j.absmax = malloc((size_t)(j.nb + nb2) * sizeof(float));
    if (!j.absmax) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "nf4_quantize: out of host memory");
    j.run_sums = j.absmax + j.nb;
    vkft_parallel_for(cpu->pool, j.nb, 256, quantize_blocks, &j);
    vkft_parallel_for(cpu->pool, nb2, 16, sum_runs, &j);
    float total = 0.0f;
    for (int64_t r = 0; r < nb2; r++) total += j.run_sums[r];
    j.offset = total / (float)j.nb;
    vkft_cpu_f32(call->out[3])[0] = j.offset;
    vkft_parallel_for(cpu->pool, nb2, 16, quantize_runs, &j);
    free(j.absmax);
    return VKFT_OK;
}

typedef struct {
    const uint8_t *codes, *absmax_q;
    const float *absmax2;
    float offset;
} nf4_weight;

static nf4_weight weight_of(const vkft_op_call *call, int i0) {
    return (nf4_weight){vkft_cpu_u8(call->in[i0]), vkft_cpu_u8(call->in[i0 + 1]),
                        vkft_cpu_f32(call->in[i0 + 2]), vkft_cpu_f32(call->in[i0 + 3])[0]};
}

/* Elements [e0, e0 + count) of the flattened weight, dequantised into dst. */
static void dequant_range(const nf4_weight *w, int64_t e0, int64_t count, float *dst) {
    int64_t blk = -1;
    float a = 0.0f;
    for (int64_t i = 0; i < count; i++) {
        int64_t e = e0 + i;
        if (e / VKFT_NF4_BLOCK != blk) {
            blk = e / VKFT_NF4_BLOCK;
            a = vkft_nf4_absmax(w->absmax_q[blk], w->absmax2[blk / VKFT_NF4_BLOCK2], w->offset);
        }
        uint8_t byte = w->codes[e >> 1];
        dst[i] = vkft_nf4_code(e & 1 ? byte & 15 : byte >> 4) * a;
    }
}

/* x rounded to the nearest bf16, ties to even (torch's .to(torch.bfloat16)); NaN stays NaN.
 * The same bit operations as nf4_matmul.glsl's round_bf16. */
static float round_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

/* x rounded to the nearest f16 value, ties to even, as an f32 (torch's .to(torch.float16)):
 * |x| >= 65520 (the midpoint above the largest f16, 65504) -> inf; below 2^-14 to a multiple of
 * 2^-24 (subnormals), counted in integers so no f32 subnormal is ever made. As
 * nf4_matmul.glsl's round_f16. */
static float round_f16(float x) {
    uint32_t u, a;
    memcpy(&u, &x, 4);
    a = u & 0x7fffffffu;
    uint32_t sign = u & 0x80000000u;
    if (a > 0x7f800000u) return x;
    if (a >= 0x477ff000u) {
        a = 0x7f800000u;
    } else if (a >= 0x38800000u) {  /* normal f16: keep 10 of the 23 mantissa bits */
        a = (a + 0xfffu + ((a >> 13) & 1u)) & 0xffffe000u;
    } else if (a < 0x33000000u) {   /* |x| < 2^-25: nearer to 0 (2^-25 itself: tie, to 0) */
        a = 0;
    } else {                        /* 2^-25 <= |x| < 2^-14: q 2^-24, q = m 2^(e-126) rounded */
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, sh = 126u - e;
        uint32_t q = (m + (1u << (sh - 1)) - 1u + ((m >> sh) & 1u)) >> sh;
        float v = (float)q * 0x1p-24f;
        memcpy(&a, &v, 4);
    }
    u = sign | a;
    memcpy(&x, &u, 4);
    return x;
}

static float round_cd(float x, vkft_dtype cd) {
    return cd == VKFT_BF16 ? round_bf16(x) : cd == VKFT_F16 ? round_f16(x) : x;
}

typedef struct {
    nf4_weight w;
    float *dst;
    int64_t src0, src_ld, row_len;  /* row r: row_len elements from src0 + r src_ld */
    vkft_dtype cd;                  /* rounds the dequantised values (F32: not at all) */
} dequant_job;

static void dequant_rows(void *ctx, int64_t b, int64_t e) {
    dequant_job *j = ctx;
    for (int64_t r = b; r < e; r++) {
        float *d = j->dst + r * j->row_len;
        dequant_range(&j->w, j->src0 + r * j->src_ld, j->row_len, d);
        if (j->cd != VKFT_F32)
            for (int64_t i = 0; i < j->row_len; i++) d[i] = round_cd(d[i], j->cd);
    }
}

VKFT_CPU_KERNEL(nf4_dequantize) {
    (void)err;
    dequant_job j = {weight_of(call, 0), vkft_cpu_f32(call->out[0]), 0, VKFT_NF4_BLOCK,
                     VKFT_NF4_BLOCK, VKFT_F32};
    int64_t n = vkft_desc_numel(&call->out[0]->desc), full = n / VKFT_NF4_BLOCK;
    vkft_parallel_for(cpu->pool, full, 1024, dequant_rows, &j);
    if (n % VKFT_NF4_BLOCK) dequant_range(&j.w, full * 64, n % 64, j.dst + full * 64);
    return VKFT_OK;
}

/* A panel holds at most PANEL_ELEMS floats (4 MiB): reused from the heap on every call, unlike
 * a buffer for the whole of W (fresh pages each time), and a tenth of the memory NF4 saves on
 * a 4096 x 11008 weight. Panels split the output's columns, never the reduction. */
enum { PANEL_ELEMS = 1 << 20 };

/* A copy of A [m, red] rounded to the compute dtype (NULL and no error when it is F32). */
static vkft_status rounded_a(const float *a, int64_t count, vkft_dtype cd, float **out,
                             vkft_err *err) {
    *out = NULL;
    if (cd == VKFT_F32) return VKFT_OK;
    *out = malloc((size_t)count * sizeof(float));
    if (!*out) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "matmul_nf4: out of host memory");
    for (int64_t i = 0; i < count; i++) (*out)[i] = round_cd(a[i], cd);
    return VKFT_OK;
}

/* y[:, c0:c0+w] (+)= rnd(t): the panel's products rounded once, after the whole reduction. */
static void add_rounded(float *y, int64_t ldy, const float *t, int64_t m, int64_t w,
                        bool accumulate, vkft_dtype cd) {
    for (int64_t r = 0; r < m; r++)
        for (int64_t c = 0; c < w; c++) {
            float v = round_cd(t[r * w + c], cd);
            y[r * ldy + c] = accumulate ? y[r * ldy + c] + v : v;
        }
}

VKFT_CPU_KERNEL(matmul_nf4) {
    const vkft_matmul_nf4_params *p = call->params;
    const vkft_tensor *ta = call->in[0], *tc0 = call->in[5], *ty = call->out[0];
    int64_t n = p->n, k = p->k, red = p->trans ? n : k, cols = p->trans ? k : n;
    int64_t m = vkft_desc_numel(&ta->desc) / red;
    if (m > INT_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "matmul_nf4: %lld rows of A exceed cblas's int",
                         (long long)m);
    float *y = vkft_cpu_f32(ty);
    const float *a = vkft_cpu_f32(ta);
    float beta = 0.0f;
    if (tc0) {
        beta = 1.0f;
        if (tc0->host != ty->host) memcpy(y, tc0->host, ty->bytes);
    }
    /* panel width: W rows (A W^T) or W columns (A W), whole rows of the panel */
    int64_t pw = PANEL_ELEMS / red;
    pw = pw < 1 ? 1 : pw > cols ? cols : pw;
    /* bf16 / f16: rounded A, and the panel's sums in a buffer (rounded, then added to y) */
    bool cd = p->compute != VKFT_F32;
    float *ar = NULL, *buf = NULL, *t = NULL;
    vkft_status st = rounded_a(a, m * red, p->compute, &ar, err);
    if (st) return st;
    buf = malloc((size_t)(pw * red + (cd ? m * pw : 0)) * sizeof(float));
    if (!buf) {
        free(ar);
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "matmul_nf4: out of host memory");
    }
    if (cd) t = buf + pw * red, a = ar;
    for (int64_t c0 = 0; c0 < cols; c0 += pw) {
        int64_t w = cols - c0 < pw ? cols - c0 : pw;
        dequant_job j = {.w = weight_of(call, 1), .dst = buf, .cd = p->compute};
        if (p->trans)  /* buf [n, w] = W[:, c0:c0+w] */
            j.src0 = c0, j.src_ld = k, j.row_len = w;
        else           /* buf [w, k] = W[c0:c0+w, :] */
            j.src0 = c0 * k, j.src_ld = k, j.row_len = k;
        vkft_parallel_for(cpu->pool, p->trans ? n : w, 16, dequant_rows, &j);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, p->trans ? CblasNoTrans : CblasTrans, (int)m,
                    (int)w, (int)red, p->alpha, a, (int)red, buf, p->trans ? (int)w : (int)k,
                    cd ? 0.0f : beta, cd ? t : y + c0, cd ? (int)w : (int)cols);
        if (cd) add_rounded(y + c0, cols, t, m, w, tc0 != NULL, p->compute);
    }
    free(buf);
    free(ar);
    return VKFT_OK;
}
