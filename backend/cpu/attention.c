/*
 * CPU kernels of the attention ops (see ops/attention.c). The products run through OpenBLAS
 * (cblas_sgemm reads the strided q/k/v rows in place: nothing is packed), the softmax rows in
 * between through vmath.h. The T x S score matrix exists one block of QB queries at a time
 * (QB x (P + the keys the block sees) floats), never whole.
 *
 * Keys of (batch b, kv head g) are columns c = 0..P+S-1: the P prefix keys first (seen by every
 * query), then the S keys of the sequence (key s = c - P is seen by query t iff it is not
 * masked and, when causal, s <= t + q_pos_offset). A block of queries works on the columns
 * [0, ncols) its last query can see; a column a row cannot see has probability 0.
 *
 * Forward, per (b, h, block): S = scale Q Kᵀ (prefix columns, then sequence columns: two
 * sgemms); per row: m = max, p = exp(s - m), l = sum p, P = p / l, lse = m + log l (a row that
 * sees no key: o = 0, lse = +INF); O = P V (two sgemms, the second adding).
 * Backward, per (b, h, block), from the saved lse:
 *   P = exp(scale Q Kᵀ - lse), dP = dO Vᵀ, Dsum_t = dO_t . O_t, dS = P (dP - Dsum),
 *   dQ = scale dS K,  dK += scale dSᵀ Q,  dV += Pᵀ dO  (dprefix: the same, summed over b too).
 *
 * Determinism: blocks run one after another in (b, h, block) order, so dK and dV (summed over
 * the heads of a group and the query blocks, the prefix over the batch too) are added in one
 * fixed order. The parallelism is inside a block: OpenBLAS's threads split each sgemm's output
 * (never its K, so an element is one dot product whatever the thread count) and the pool splits
 * the softmax rows, each row computed by one thread.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/vmath.h"

#define QB 64   /* queries per block: with causal masking, blocks skip the keys they cannot see */

typedef struct {
    const float *q, *k, *v, *pk, *pv, *mask, *dout, *o, *lse;
    float *out, *out_lse, *dq, *dk, *dv, *dpk, *dpv;
    int64_t B, T, S, P, nh, nkv, d, off;
    float scale;
    bool causal;
    /* the current block */
    int64_t b, h, g, q0, nq, ncols;
    float *s, *dp;                       /* [nq, ncols] scores / probabilities, dP / dS */
} att_job;

/* Keys of the sequence seen by query t (causal bound only; masks are checked per key). */
static int64_t seq_keys(const att_job *j, int64_t t) {
    if (!j->causal) return j->S;
    int64_t n = t + j->off + 1;
    return n < 0 ? 0 : n > j->S ? j->S : n;
}

/* Offset of query t's row of head h (q, o, dO, dq) / of key 0 of kv head g (k, v, dk, dv). */
static int64_t q_row(const att_job *j, int64_t t) {
    return ((j->b * j->T + t) * j->nh + j->h) * j->d;
}
static int64_t kv_row0(const att_job *j) { return (j->b * j->S * j->nkv + j->g) * j->d; }

/* C[m, n] = alpha A B (+ C when beta is 1), row-major; tb: B is [n, k]. */
static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* S = scale Q Kᵀ for the block (prefix columns, then sequence columns). */
static void block_scores(att_job *j) {
    int64_t ld_q = j->nh * j->d, ld_kv = j->nkv * j->d, ns = j->ncols - j->P;
    const float *q = j->q + q_row(j, j->q0);
    gemm(false, true, j->nq, j->P, j->d, j->scale, q, ld_q,
         j->pk + j->g * j->d, ld_kv, 0.0f, j->s, j->ncols);
    gemm(false, true, j->nq, ns, j->d, j->scale, q, ld_q, j->k + kv_row0(j), ld_kv, 0.0f,
         j->s + j->P, j->ncols);
}

/* Columns of row t that it can see: [0, n); masked keys among them are -INF / 0. */
static int64_t row_visible(const att_job *j, int64_t t) {
    int64_t n = j->P + seq_keys(j, t);
    return n < j->ncols ? n : j->ncols;
}

/* Sets the masked sequence keys of row (visible columns [0, n)) to v. */
static void row_mask(const att_job *j, float *row, int64_t n, float v) {
    if (!j->mask) return;
    const float *m = j->mask + j->b * j->S;
    for (int64_t c = j->P; c < n; c++)
        if (m[c - j->P] == 0.0f) row[c] = v;
}

/* Forward softmax of rows [r0, r1) of the block: s becomes P; lse written. */
static void forward_rows(void *ctx, int64_t r0, int64_t r1) {
    att_job *j = ctx;
    for (int64_t i = r0; i < r1; i++) {
        int64_t t = j->q0 + i, n = row_visible(j, t);
        float *row = j->s + i * j->ncols, *lse = j->out_lse + (j->b * j->nh + j->h) * j->T + t;
        row_mask(j, row, n, -INFINITY);
        float m = vkft_max_f32(row, n);
        if (m == -INFINITY) {              /* sees no key */
            memset(row, 0, sizeof(float) * (size_t)j->ncols);
            *lse = INFINITY;
            continue;
        }
        float l = vkft_exp_shift_sum(row, m, row, n), inv = 1.0f / l;
        for (int64_t c = 0; c < n; c++) row[c] *= inv;
        memset(row + n, 0, sizeof(float) * (size_t)(j->ncols - n));
        *lse = m + logf(l);
    }
}

/* Backward rows [r0, r1): s (scores) becomes P, dp (dO Vᵀ) becomes dS. */
static void backward_rows(void *ctx, int64_t r0, int64_t r1) {
    att_job *j = ctx;
    for (int64_t i = r0; i < r1; i++) {
        int64_t t = j->q0 + i, n = row_visible(j, t), row_off = q_row(j, t);
        float *p = j->s + i * j->ncols, *ds = j->dp + i * j->ncols;
        float lse = j->lse[(j->b * j->nh + j->h) * j->T + t];
        if (lse == INFINITY) n = 0;
        float dsum = 0.0f;
        for (int64_t d = 0; d < j->d; d++) dsum += j->dout[row_off + d] * j->o[row_off + d];
        row_mask(j, p, n, -INFINITY);
        vkft_exp_shift_sum(p, lse, p, n);
        vkft_f4 ds4 = vkft_f4_splat(dsum);
        int64_t c = 0;
        for (; c + 4 <= n; c += 4)
            vkft_f4_store(ds + c, vkft_f4_load(p + c) * (vkft_f4_load(ds + c) - ds4));
        for (; c < n; c++) ds[c] = p[c] * (ds[c] - dsum);
        memset(p + n, 0, sizeof(float) * (size_t)(j->ncols - n));
        memset(ds + n, 0, sizeof(float) * (size_t)(j->ncols - n));
    }
}

/* Fills the job's shapes and the inputs shared by both ops (q, k, v, prefix, mask at in0..). */
static void job_init(att_job *j, const vkft_op_call *call, int in0) {
    const vkft_attention_params *p = call->params;
    const vkft_desc *q = &call->in[in0]->desc, *k = &call->in[in0 + 1]->desc;
    const vkft_tensor *pk = call->in[in0 + 3];
    memset(j, 0, sizeof *j);
    j->q = vkft_cpu_f32(call->in[in0]);
    j->k = vkft_cpu_f32(call->in[in0 + 1]);
    j->v = vkft_cpu_f32(call->in[in0 + 2]);
    j->pk = vkft_cpu_f32(pk);
    j->pv = vkft_cpu_f32(call->in[in0 + 4]);
    j->mask = vkft_cpu_f32(call->in[in0 + 5]);
    j->B = q->shape[0], j->T = q->shape[1], j->nh = q->shape[2], j->d = q->shape[3];
    j->S = k->shape[1], j->nkv = k->shape[2], j->P = pk ? pk->desc.shape[0] : 0;
    j->off = p->q_pos_offset, j->scale = p->scale, j->causal = p->causal;
}

/* The block's place and width; allocates nothing. */
static void block_set(att_job *j, int64_t b, int64_t h, int64_t q0) {
    j->b = b, j->h = h, j->g = h / (j->nh / j->nkv), j->q0 = q0;
    j->nq = j->T - q0 < QB ? j->T - q0 : QB;
    j->ncols = j->P + seq_keys(j, q0 + j->nq - 1);
}

/* cblas takes int sizes and leading dimensions. */
static vkft_status check_dims(const att_job *j, const char *op, vkft_err *err) {
    if (j->P + j->S > INT_MAX / QB || j->nh * j->d > INT_MAX || j->B * j->S * j->nkv > INT_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: %lld keys x %lld heads exceed cblas's int",
                         op, (long long)(j->P + j->S), (long long)j->nh);
    return VKFT_OK;
}

static int64_t rows_chunk(const att_job *j) { return 1 + (1 << 14) / (j->P + j->S + j->d); }

VKFT_CPU_KERNEL(attention) {
    att_job j;
    job_init(&j, call, 0);
    vkft_status st = check_dims(&j, "attention", err);
    if (st) return st;
    j.out = vkft_cpu_f32(call->out[0]);
    j.out_lse = vkft_cpu_f32(call->out[1]);
    j.s = malloc(sizeof(float) * (size_t)(QB * (j.P + j.S) + 1));
    if (!j.s) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention: out of host memory");
    int64_t ld_q = j.nh * j.d, ld_kv = j.nkv * j.d;
    for (int64_t b = 0; b < j.B; b++)
        for (int64_t h = 0; h < j.nh; h++)
            for (int64_t q0 = 0; q0 < j.T; q0 += QB) {
                block_set(&j, b, h, q0);
                float *o = j.out + q_row(&j, q0);
                if (j.ncols == 0) {        /* no query of the block sees a key */
                    for (int64_t i = 0; i < j.nq; i++) {
                        memset(o + i * ld_q, 0, sizeof(float) * (size_t)j.d);
                        j.out_lse[(b * j.nh + h) * j.T + q0 + i] = INFINITY;
                    }
                    continue;
                }
                block_scores(&j);
                vkft_parallel_for(cpu->pool, j.nq, rows_chunk(&j), forward_rows, &j);
                int64_t np = j.P;
                gemm(false, false, j.nq, j.d, np, 1.0f, j.s, j.ncols, j.pv + j.g * j.d, ld_kv,
                     0.0f, o, ld_q);
                gemm(false, false, j.nq, j.d, j.ncols - j.P, 1.0f, j.s + j.P, j.ncols,
                     j.v + kv_row0(&j), ld_kv, np ? 1.0f : 0.0f, o, ld_q);
            }
    free(j.s);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(attention_backward) {
    att_job j;
    job_init(&j, call, 1);
    vkft_status st = check_dims(&j, "attention_backward", err);
    if (st) return st;
    j.dout = vkft_cpu_f32(call->in[0]);
    j.o = vkft_cpu_f32(call->in[7]);
    j.lse = vkft_cpu_f32(call->in[8]);
    j.dq = vkft_cpu_f32(call->out[0]);
    j.dk = vkft_cpu_f32(call->out[1]);
    j.dv = vkft_cpu_f32(call->out[2]);
    j.dpk = vkft_cpu_f32(call->out[3]);
    j.dpv = vkft_cpu_f32(call->out[4]);
    size_t kv_bytes = sizeof(float) * (size_t)(j.B * j.S * j.nkv * j.d);
    memset(j.dk, 0, kv_bytes);
    memset(j.dv, 0, kv_bytes);
    if (j.dpk) memset(j.dpk, 0, sizeof(float) * (size_t)(j.P * j.nkv * j.d));
    if (j.dpv) memset(j.dpv, 0, sizeof(float) * (size_t)(j.P * j.nkv * j.d));
    j.s = malloc(sizeof(float) * (size_t)(2 * QB * (j.P + j.S) + 1));
    if (!j.s) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention_backward: out of memory");
    j.dp = j.s + QB * (j.P + j.S);
    int64_t ld_q = j.nh * j.d, ld_kv = j.nkv * j.d;
    for (int64_t b = 0; b < j.B; b++)
        for (int64_t h = 0; h < j.nh; h++)
            for (int64_t q0 = 0; q0 < j.T; q0 += QB) {
                block_set(&j, b, h, q0);
                int64_t np = j.P, ns = j.ncols - np;   /* ncols >= P always */
                const float *q = j.q + q_row(&j, q0), *dout = j.dout + q_row(&j, q0);
                float *dq = j.dq + q_row(&j, q0);
                if (j.ncols == 0) {
                    for (int64_t i = 0; i < j.nq; i++)
                        memset(dq + i * ld_q, 0, sizeof(float) * (size_t)j.d);
                    continue;
                }
                block_scores(&j);
                /* dP = dO Vᵀ */
                gemm(false, true, j.nq, np, j.d, 1.0f, dout, ld_q, j.pv + j.g * j.d, ld_kv, 0.0f,
                     j.dp, j.ncols);
                gemm(false, true, j.nq, ns, j.d, 1.0f, dout, ld_q, j.v + kv_row0(&j), ld_kv, 0.0f,
                     j.dp + np, j.ncols);
                vkft_parallel_for(cpu->pool, j.nq, rows_chunk(&j), backward_rows, &j);
                /* dQ = scale dS K */
                gemm(false, false, j.nq, j.d, np, j.scale, j.dp, j.ncols, j.pk + j.g * j.d, ld_kv,
                     0.0f, dq, ld_q);
                gemm(false, false, j.nq, j.d, ns, j.scale, j.dp + np, j.ncols, j.k + kv_row0(&j),
                     ld_kv, np ? 1.0f : 0.0f, dq, ld_q);
                /* dK += scale dSᵀ Q, dV += Pᵀ dO */
                gemm(true, false, ns, j.d, j.nq, j.scale, j.dp + np, j.ncols, q, ld_q, 1.0f,
                     j.dk + kv_row0(&j), ld_kv);
                gemm(true, false, ns, j.d, j.nq, 1.0f, j.s + np, j.ncols, dout, ld_q, 1.0f,
                     j.dv + kv_row0(&j), ld_kv);
                if (!np) continue;
                gemm(true, false, np, j.d, j.nq, j.scale, j.dp, j.ncols, q, ld_q, 1.0f,
                     j.dpk + j.g * j.d, ld_kv);
                gemm(true, false, np, j.d, j.nq, 1.0f, j.s, j.ncols, dout, ld_q, 1.0f,
                     j.dpv + j.g * j.d, ld_kv);
            }
    free(j.s);
    return VKFT_OK;
}
