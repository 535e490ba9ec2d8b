/*
 * CPU kernels of the attention ops (see ops/attention.c), flash-attention style: the T x S
 * score matrix is never formed; work goes block by block, QB queries x KB keys at a time.
 *
 * Keys of (batch b, kv head g) come in blocks of at most KB keys, all of one kind: first the P
 * prefix keys (seen by every query), then the S keys of the sequence (key s is seen by query t
 * iff it is not masked and, when causal, s <= t + q_pos_offset). The products of a block (Q Kᵀ,
 * P V, dO Vᵀ, dS K, Pᵀ dO, dSᵀ Q) are cblas_sgemm calls reading the strided q/k/v rows in place;
 * the softmax between them runs four floats at a time (vmath.h).
 *
 * Forward: tasks (b, h, query block); online softmax per row in f32 over the key blocks in
 * order; saves lse = m + log(l) (+INF for a row that sees no key, whose o is 0).
 * Backward, two passes, each task owning its outputs (no atomics, results independent of the
 * thread count), P recomputed from lse:
 *   1. tasks (b, h, query block): Dsum_t = dO_t . O_t, then dq = scale sum_blocks dS K,
 *      dS = P (dO Vᵀ - Dsum);
 *   2. tasks (b, g, key block) and (g, prefix key block): dv = sum Pᵀ dO and dk = scale sum
 *      dSᵀ Q over (b for the prefix,) the heads h of group g and the query blocks, in order.
 *
 * Threads: our pool splits the tasks; each sgemm is at most QB x KB x D = 2^18 multiply-adds,
 * which OpenBLAS runs on the calling thread (its threshold for threading), so its own threads
 * stay out of the way. Larger D lowers KB to keep that (KB = 4096 / D, at least 16).
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/vmath.h"

#define QB 64   /* queries per task */

typedef struct {
    const float *q, *k, *v, *pk, *pv, *mask, *dout, *o, *lse;
    float *out, *out_lse, *dq, *dk, *dv, *dpk, *dpv, *dsum;
    int64_t B, T, S, P, nh, nkv, d, off, kb;
    int64_t qblocks, kblocks, pblocks;   /* tasks per (b, h) / per (b, g) / per g */
    float scale;
    bool causal;
    atomic_int failed;                   /* a worker could not allocate its workspace */
} att_job;

/* One block of keys: rows k0 .. k0 + n - 1 of the prefix or of batch b's sequence. */
typedef struct {
    bool prefix;
    int64_t b, g, k0, n;
} key_block;

/* Keys of the sequence seen by query t (causal bound only; masks are checked per key). */
static int64_t seq_keys(const att_job *j, int64_t t) {
    if (!j->causal) return j->S;
    int64_t n = t + j->off + 1;
    return n < 0 ? 0 : n > j->S ? j->S : n;
}

static int64_t ld_q(const att_job *j) { return j->nh * j->d; }
static int64_t ld_kv(const att_job *j) { return j->nkv * j->d; }
/* Offset of query t's row of head h in q, o, dO, dq. */
static int64_t q_row(const att_job *j, int64_t b, int64_t h, int64_t t) {
    return ((b * j->T + t) * j->nh + h) * j->d;
}
/* Offset of the block's first key row in k / v (or prefix_k / prefix_v, dk, dv, ...). */
static int64_t kv_row(const att_job *j, const key_block *kb) {
    return kb->prefix ? (kb->k0 * j->nkv + kb->g) * j->d
                      : ((kb->b * j->S + kb->k0) * j->nkv + kb->g) * j->d;
}
static const float *kblk(const att_job *j, const key_block *kb) {
    return (kb->prefix ? j->pk : j->k) + kv_row(j, kb);
}
static const float *vblk(const att_job *j, const key_block *kb) {
    return (kb->prefix ? j->pv : j->v) + kv_row(j, kb);
}

/* C[m, n] = alpha op(A) op(B) + beta C, row-major. */
static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* Sets the columns of row (query t) that t cannot see in block kb to -INFINITY. */
static void mask_row(const att_job *j, const key_block *kb, int64_t t, float *row) {
    if (kb->prefix) return;
    int64_t vis = seq_keys(j, t) - kb->k0;
    vis = vis < 0 ? 0 : vis > kb->n ? kb->n : vis;
    for (int64_t c = vis; c < kb->n; c++) row[c] = -INFINITY;
    if (!j->mask) return;
    const float *m = j->mask + kb->b * j->S + kb->k0;
    for (int64_t c = 0; c < vis; c++)
        if (m[c] == 0.0f) row[c] = -INFINITY;
}

/*
 * Queries q0 .. q0 + nq - 1 of head h against block kb, for the backward: s = scale Q Kᵀ
 * becomes P = exp(s - lse) (0 where not seen), dp = dO Vᵀ becomes dS = P (dp - Dsum).
 * Both have row stride j->kb.
 */
static void block_grads(const att_job *j, const key_block *kb, int64_t b, int64_t h,
                        int64_t q0, int64_t nq, float *s, float *dp) {
    const float *q = j->q + q_row(j, b, h, q0), *dout = j->dout + q_row(j, b, h, q0);
    gemm(false, true, nq, kb->n, j->d, j->scale, q, ld_q(j), kblk(j, kb), ld_kv(j), 0.0f, s,
         j->kb);
    gemm(false, true, nq, kb->n, j->d, 1.0f, dout, ld_q(j), vblk(j, kb), ld_kv(j), 0.0f, dp,
         j->kb);
    for (int64_t i = 0; i < nq; i++) {
        int64_t t = q0 + i, bt = (b * j->nh + h) * j->T + t;
        float *p = s + i * j->kb, *ds = dp + i * j->kb, lse = j->lse[bt], dsum = j->dsum[bt];
        if (lse == INFINITY) {       /* the row sees no key at all */
            memset(p, 0, sizeof(float) * (size_t)kb->n);
            memset(ds, 0, sizeof(float) * (size_t)kb->n);
            continue;
        }
        mask_row(j, kb, t, p);
        vkft_exp_shift_sum(p, lse, p, kb->n);
        vkft_f4 d4 = vkft_f4_splat(dsum);
        int64_t c = 0;
        for (; c + 4 <= kb->n; c += 4)
            vkft_f4_store(ds + c, vkft_f4_load(p + c) * (vkft_f4_load(ds + c) - d4));
        for (; c < kb->n; c++) ds[c] = p[c] * (ds[c] - dsum);
    }
}

/* The query block of a task (b, h, block) and the number of sequence keys its rows see. */
static void task_rows(const att_job *j, int64_t task, int64_t *b, int64_t *h, int64_t *q0,
                      int64_t *nq, int64_t *nseq) {
    int64_t bh = task / j->qblocks;
    *b = bh / j->nh, *h = bh % j->nh;
    *q0 = task % j->qblocks * QB;
    *nq = j->T - *q0 < QB ? j->T - *q0 : QB;
    *nseq = seq_keys(j, *q0 + *nq - 1);
}

/* Key block i of the task's keys: the prefix blocks first, then the sequence's. */
static key_block task_block(const att_job *j, int64_t b, int64_t g, int64_t i) {
    key_block kb = {.b = b, .g = g};
    if (i < j->pblocks) {
        kb.prefix = true, kb.k0 = i * j->kb;
        kb.n = j->P - kb.k0 < j->kb ? j->P - kb.k0 : j->kb;
    } else {
        kb.k0 = (i - j->pblocks) * j->kb;
        kb.n = j->S - kb.k0 < j->kb ? j->S - kb.k0 : j->kb;
    }
    return kb;
}

/* Forward, tasks [t0, t1): task = (b * nh + h) * qblocks + query block. */
static void forward_tasks(void *ctx, int64_t t0, int64_t t1) {
    att_job *j = ctx;
    int64_t dim = j->d, rep = j->nh / j->nkv;
    float *ws = malloc(sizeof(float) * (size_t)(QB * j->kb + QB * dim));
    if (!ws) {
        atomic_store(&j->failed, 1);
        return;
    }
    float *s = ws, *acc = s + QB * j->kb;
    for (int64_t task = t0; task < t1; task++) {
        int64_t b, h, q0, nq, nseq;
        task_rows(j, task, &b, &h, &q0, &nq, &nseq);
        float m[QB], l[QB];
        for (int64_t i = 0; i < nq; i++) m[i] = -INFINITY, l[i] = 0.0f;
        memset(acc, 0, sizeof(float) * (size_t)(QB * dim));
        int64_t nblocks = j->pblocks + (nseq + j->kb - 1) / j->kb;
        for (int64_t bi = 0; bi < nblocks; bi++) {
            key_block kb = task_block(j, b, h / rep, bi);
            gemm(false, true, nq, kb.n, dim, j->scale, j->q + q_row(j, b, h, q0), ld_q(j),
                 kblk(j, &kb), ld_kv(j), 0.0f, s, j->kb);
            for (int64_t i = 0; i < nq; i++) {
                float *row = s + i * j->kb;
                mask_row(j, &kb, q0 + i, row);
                float mx = vkft_max_f32(row, kb.n);
                if (mx == -INFINITY) {     /* sees nothing here: adds nothing */
                    memset(row, 0, sizeof(float) * (size_t)kb.n);
                    continue;
                }
                float mn = m[i] > mx ? m[i] : mx;
                if (mn != m[i]) {          /* rescale what is accumulated to the new max */
                    float corr = vkft_expf(m[i] - mn);
                    l[i] *= corr;
                    for (int64_t d = 0; d < dim; d++) acc[i * dim + d] *= corr;
                    m[i] = mn;
                }
                l[i] += vkft_exp_shift_sum(row, mn, row, kb.n);
            }
            gemm(false, false, nq, dim, kb.n, 1.0f, s, j->kb, vblk(j, &kb), ld_kv(j), 1.0f, acc,
                 dim);
        }
        for (int64_t i = 0; i < nq; i++) {
            float *o = j->out + q_row(j, b, h, q0 + i);
            float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;   /* no visible key: o = 0 */
            for (int64_t d = 0; d < dim; d++) o[d] = acc[i * dim + d] * inv;
            j->out_lse[(b * j->nh + h) * j->T + q0 + i] = l[i] > 0.0f ? m[i] + logf(l[i])
                                                                      : INFINITY;
        }
    }
    free(ws);
}

/* Backward pass 1, tasks as in the forward: Dsum and dq. */
static void dq_tasks(void *ctx, int64_t t0, int64_t t1) {
    att_job *j = ctx;
    int64_t dim = j->d, rep = j->nh / j->nkv;
    float *ws = malloc(sizeof(float) * (size_t)(2 * QB * j->kb + QB * dim));
    if (!ws) {
        atomic_store(&j->failed, 1);
        return;
    }
    float *s = ws, *dp = s + QB * j->kb, *acc = dp + QB * j->kb;
    for (int64_t task = t0; task < t1; task++) {
        int64_t b, h, q0, nq, nseq;
        task_rows(j, task, &b, &h, &q0, &nq, &nseq);
        for (int64_t i = 0; i < nq; i++) {
            int64_t row = q_row(j, b, h, q0 + i);
            float sum = 0.0f;
            for (int64_t d = 0; d < dim; d++) sum += j->dout[row + d] * j->o[row + d];
            j->dsum[(b * j->nh + h) * j->T + q0 + i] = sum;
        }
        memset(acc, 0, sizeof(float) * (size_t)(QB * dim));
        int64_t nblocks = j->pblocks + (nseq + j->kb - 1) / j->kb;
        for (int64_t bi = 0; bi < nblocks; bi++) {
            key_block kb = task_block(j, b, h / rep, bi);
            block_grads(j, &kb, b, h, q0, nq, s, dp);
            gemm(false, false, nq, dim, kb.n, 1.0f, dp, j->kb, kblk(j, &kb), ld_kv(j), 1.0f, acc,
                 dim);
        }
        for (int64_t i = 0; i < nq; i++) {
            float *dq = j->dq + q_row(j, b, h, q0 + i);
            for (int64_t d = 0; d < dim; d++) dq[d] = acc[i * dim + d] * j->scale;
        }
    }
    free(ws);
}

/* Backward pass 2: tasks [0, B * nkv * kblocks) are key blocks of the sequence, the next
 * nkv * pblocks are prefix key blocks (summed over the batch). */
static void dkv_tasks(void *ctx, int64_t t0, int64_t t1) {
    att_job *j = ctx;
    int64_t dim = j->d, rep = j->nh / j->nkv;
    float *ws = malloc(sizeof(float) * (size_t)(2 * QB * j->kb + 2 * j->kb * dim));
    if (!ws) {
        atomic_store(&j->failed, 1);
        return;
    }
    float *s = ws, *dp = s + QB * j->kb, *dk = dp + QB * j->kb, *dv = dk + j->kb * dim;
    int64_t nseq = j->B * j->nkv * j->kblocks;
    for (int64_t task = t0; task < t1; task++) {
        key_block kb;
        int64_t b0, b1;
        if (task >= nseq) {
            int64_t pt = task - nseq;
            kb = task_block(j, 0, pt / j->pblocks, pt % j->pblocks);
            b0 = 0, b1 = j->B;
        } else {
            int64_t bg = task / j->kblocks;
            b0 = bg / j->nkv, b1 = b0 + 1;
            kb = task_block(j, b0, bg % j->nkv, j->pblocks + task % j->kblocks);
        }
        memset(dk, 0, sizeof(float) * (size_t)(2 * j->kb * dim));
        /* the first query that sees key k0 (all see a prefix key) */
        int64_t tmin = kb.prefix || !j->causal ? 0 : kb.k0 - j->off;
        if (tmin < 0) tmin = 0;
        for (int64_t b = b0; b < b1; b++) {
            kb.b = b;
            for (int64_t h = kb.g * rep; h < (kb.g + 1) * rep; h++)
                for (int64_t q0 = tmin / QB * QB; q0 < j->T; q0 += QB) {
                    int64_t nq = j->T - q0 < QB ? j->T - q0 : QB;
                    int64_t row = q_row(j, b, h, q0);
                    block_grads(j, &kb, b, h, q0, nq, s, dp);
                    gemm(true, false, kb.n, dim, nq, 1.0f, s, j->kb, j->dout + row, ld_q(j),
                         1.0f, dv, dim);
                    gemm(true, false, kb.n, dim, nq, 1.0f, dp, j->kb, j->q + row, ld_q(j), 1.0f,
                         dk, dim);
                }
        }
        kb.b = b0;
        float *dko = (kb.prefix ? j->dpk : j->dk) + kv_row(j, &kb);
        float *dvo = (kb.prefix ? j->dpv : j->dv) + kv_row(j, &kb);
        for (int64_t c = 0; c < kb.n; c++) {
            for (int64_t d = 0; d < dim; d++) dko[c * ld_kv(j) + d] = dk[c * dim + d] * j->scale;
            memcpy(dvo + c * ld_kv(j), dv + c * dim, sizeof(float) * (size_t)dim);
        }
    }
    free(ws);
}

/* Fills the job's shapes and the inputs shared by both ops (q, k, v, prefix, mask at in0..).
 * Fails when a size does not fit cblas's int. */
static vkft_status job_init(att_job *j, const vkft_op_call *call, int in0, const char *op,
                            vkft_err *err) {
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
    j->kb = 4096 / j->d < 16 ? 16 : 4096 / j->d > 64 ? 64 : 4096 / j->d;
    j->qblocks = (j->T + QB - 1) / QB;
    j->kblocks = (j->S + j->kb - 1) / j->kb;
    j->pblocks = (j->P + j->kb - 1) / j->kb;
    atomic_init(&j->failed, 0);
    if (j->nh * j->d > INT_MAX || j->nkv * j->d > INT_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: %lld heads x %lld exceed cblas's int", op,
                         (long long)j->nh, (long long)j->d);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(attention) {
    att_job j;
    vkft_status st = job_init(&j, call, 0, "attention", err);
    if (st) return st;
    j.out = vkft_cpu_f32(call->out[0]);
    j.out_lse = vkft_cpu_f32(call->out[1]);
    vkft_parallel_for(cpu->pool, j.B * j.nh * j.qblocks, 1, forward_tasks, &j);
    if (atomic_load(&j.failed))
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention: out of host memory");
    return VKFT_OK;
}

VKFT_CPU_KERNEL(attention_backward) {
    att_job j;
    vkft_status st = job_init(&j, call, 1, "attention_backward", err);
    if (st) return st;
    j.dout = vkft_cpu_f32(call->in[0]);
    j.o = vkft_cpu_f32(call->in[7]);
    j.lse = vkft_cpu_f32(call->in[8]);
    j.dq = vkft_cpu_f32(call->out[0]);
    j.dk = vkft_cpu_f32(call->out[1]);
    j.dv = vkft_cpu_f32(call->out[2]);
    j.dpk = vkft_cpu_f32(call->out[3]);
    j.dpv = vkft_cpu_f32(call->out[4]);
    j.dsum = malloc(sizeof(float) * (size_t)(j.B * j.nh * j.T));
    if (!j.dsum) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention_backward: out of memory");
    vkft_parallel_for(cpu->pool, j.B * j.nh * j.qblocks, 1, dq_tasks, &j);
    int64_t n2 = j.B * j.nkv * j.kblocks + j.nkv * j.pblocks;
    if (!atomic_load(&j.failed)) vkft_parallel_for(cpu->pool, n2, 1, dkv_tasks, &j);
    free(j.dsum);
    if (atomic_load(&j.failed))
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention_backward: out of host memory");
    return VKFT_OK;
}
