/*
 * CPU kernels of the attention ops (see ops/attention.c), flash-attention style: no T x S
 * matrix is ever formed.
 *
 * Keys of (batch b, kv head g) are numbered j = 0..P+S-1: the P prefix keys first (seen by every
 * query), then the S keys of the sequence (key s = j - P is seen by query t iff it is not
 * masked and, when causal, s <= t + q_pos_offset). Keys are processed in blocks of KB, packed
 * transposed ([D][KB]) so the score loops run over keys and vectorise; value / gradient updates
 * run over D and vectorise too.
 *
 * Forward: tasks (b, h, block of QB queries), online softmax per query row in f32, keys in
 * increasing j; saves lse = m + log(l) (+INF for a row that sees no key, whose o is 0).
 * Backward, two passes, each task owning its outputs (no atomics, results independent of the
 * thread count):
 *   1. tasks (b, h, query block): Dsum_t = sum_d dO_t O_t, then
 *      dq_t = scale * sum_j ds_tj k_j (j increasing), ds_tj = p_tj (dO_t . v_j - Dsum_t),
 *      p_tj = exp(scale q_t . k_j - lse_t) recomputed;
 *   2. tasks (b, g, key block) and (g, prefix key block): dv_j = sum p_tj dO_t and
 *      dk_j = scale * sum ds_tj q_t, summed over (b for the prefix,) the heads h of group g and
 *      the queries t, each in increasing order.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"

#define QB 16   /* queries per task */
#define KB 64   /* keys per block: a transposed K (and V) block of D x KB floats stays in L1/L2 */

typedef struct {
    const float *q, *k, *v, *pk, *pv, *mask, *dout, *o, *lse;
    float *out, *out_lse, *dq, *dk, *dv, *dpk, *dpv, *dsum;
    int64_t B, T, S, P, nh, nkv, d, off;
    int64_t qblocks, kblocks, pblocks;   /* tasks per (b, h) / per (b, g) / per g */
    float scale;
    bool causal;
    atomic_int failed;                   /* a worker could not allocate its workspace */
} att_job;

/* Keys of the sequence seen by query t (causal bound only; masks are checked per key). */
static int64_t seq_keys(const att_job *j, int64_t t) {
    if (!j->causal) return j->S;
    int64_t n = t + j->off + 1;
    return n < 0 ? 0 : n > j->S ? j->S : n;
}

/* Row of key j (prefix first) of batch b, kv head g, in k (or v with vals). */
static const float *key_row(const att_job *j, int64_t b, int64_t g, int64_t key, bool vals) {
    if (key < j->P) return (vals ? j->pv : j->pk) + (key * j->nkv + g) * j->d;
    return (vals ? j->v : j->k) + ((b * j->S + key - j->P) * j->nkv + g) * j->d;
}

static bool key_kept(const att_job *j, int64_t b, int64_t key) {
    return key < j->P || !j->mask || j->mask[b * j->S + key - j->P] != 0.0f;
}

/* Packs keys [j0, j0 + n) transposed into kt[d * KB + i] (and vt from v when vt != NULL). */
static void pack_block(const att_job *j, int64_t b, int64_t g, int64_t j0, int64_t n, float *kt,
                       float *vt) {
    for (int64_t i = 0; i < n; i++) {
        const float *kr = key_row(j, b, g, j0 + i, false);
        for (int64_t d = 0; d < j->d; d++) kt[d * KB + i] = kr[d];
        if (!vt) continue;
        const float *vr = key_row(j, b, g, j0 + i, true);
        for (int64_t d = 0; d < j->d; d++) vt[d * KB + i] = vr[d];
    }
}

/* s[i] = x . (column i of the packed block), i < n, summed over d in increasing order. */
static void block_dots(const float *x, const float *kt, int64_t dim, int64_t n, float *s) {
    for (int64_t i = 0; i < n; i++) s[i] = 0.0f;
    for (int64_t d = 0; d < dim; d++) {
        float xd = x[d];
        const float *col = kt + d * KB;
        for (int64_t i = 0; i < n; i++) s[i] += xd * col[i];
    }
}

/* Forward, tasks [t0, t1): task = (b * nh + h) * qblocks + query block. */
static void forward_tasks(void *ctx, int64_t t0, int64_t t1) {
    att_job *j = ctx;
    int64_t dim = j->d, rep = j->nh / j->nkv;
    float *ws = malloc(sizeof(float) * (size_t)(dim * KB + QB * dim + KB));
    if (!ws) {
        atomic_store(&j->failed, 1);
        return;
    }
    float *kt = ws, *acc = kt + dim * KB, *s = acc + QB * dim;
    for (int64_t task = t0; task < t1; task++) {
        int64_t bh = task / j->qblocks, b = bh / j->nh, h = bh % j->nh, g = h / rep;
        int64_t q0 = task % j->qblocks * QB, nq = j->T - q0 < QB ? j->T - q0 : QB;
        float m[QB], l[QB];
        for (int64_t i = 0; i < nq; i++) m[i] = -INFINITY, l[i] = 0.0f;
        memset(acc, 0, sizeof(float) * (size_t)(QB * dim));
        int64_t nkeys = j->P + seq_keys(j, q0 + nq - 1);
        for (int64_t j0 = 0; j0 < nkeys; j0 += KB) {
            int64_t nb = nkeys - j0 < KB ? nkeys - j0 : KB;
            pack_block(j, b, g, j0, nb, kt, NULL);
            for (int64_t i = 0; i < nq; i++) {
                int64_t t = q0 + i, ne = j->P + seq_keys(j, t) - j0;
                if (ne <= 0) continue;
                if (ne > nb) ne = nb;
                block_dots(j->q + ((b * j->T + t) * j->nh + h) * dim, kt, dim, ne, s);
                float mx = -INFINITY;
                for (int64_t c = 0; c < ne; c++) {
                    s[c] = key_kept(j, b, j0 + c) ? s[c] * j->scale : -INFINITY;
                    mx = s[c] > mx ? s[c] : mx;
                }
                if (mx == -INFINITY) continue;
                float mn = m[i] > mx ? m[i] : mx, corr = expf(m[i] - mn);
                float *a = acc + i * dim;
                l[i] *= corr;
                for (int64_t d = 0; d < dim; d++) a[d] *= corr;
                for (int64_t c = 0; c < ne; c++) {
                    if (s[c] == -INFINITY) continue;
                    float p = expf(s[c] - mn);
                    const float *vr = key_row(j, b, g, j0 + c, true);
                    l[i] += p;
                    for (int64_t d = 0; d < dim; d++) a[d] += p * vr[d];
                }
                m[i] = mn;
            }
        }
        for (int64_t i = 0; i < nq; i++) {
            int64_t t = q0 + i;
            float *o = j->out + ((b * j->T + t) * j->nh + h) * dim;
            float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;   /* no visible key: o = 0 */
            for (int64_t d = 0; d < dim; d++) o[d] = acc[i * dim + d] * inv;
            j->out_lse[bh * j->T + t] = l[i] > 0.0f ? m[i] + logf(l[i]) : INFINITY;
        }
    }
    free(ws);
}

/* Backward pass 1, tasks as in the forward: Dsum and dq. */
static void dq_tasks(void *ctx, int64_t t0, int64_t t1) {
    att_job *j = ctx;
    int64_t dim = j->d, rep = j->nh / j->nkv;
    float *ws = malloc(sizeof(float) * (size_t)(2 * dim * KB + QB * dim + 2 * KB));
    if (!ws) {
        atomic_store(&j->failed, 1);
        return;
    }
    float *kt = ws, *vt = kt + dim * KB, *acc = vt + dim * KB, *s = acc + QB * dim, *dp = s + KB;
    for (int64_t task = t0; task < t1; task++) {
        int64_t bh = task / j->qblocks, b = bh / j->nh, h = bh % j->nh, g = h / rep;
        int64_t q0 = task % j->qblocks * QB, nq = j->T - q0 < QB ? j->T - q0 : QB;
        for (int64_t i = 0; i < nq; i++) {
            int64_t row = ((b * j->T + q0 + i) * j->nh + h) * dim;
            float sum = 0.0f;
            for (int64_t d = 0; d < dim; d++) sum += j->dout[row + d] * j->o[row + d];
            j->dsum[bh * j->T + q0 + i] = sum;
        }
        memset(acc, 0, sizeof(float) * (size_t)(QB * dim));
        int64_t nkeys = j->P + seq_keys(j, q0 + nq - 1);
        for (int64_t j0 = 0; j0 < nkeys; j0 += KB) {
            int64_t nb = nkeys - j0 < KB ? nkeys - j0 : KB;
            pack_block(j, b, g, j0, nb, kt, vt);
            for (int64_t i = 0; i < nq; i++) {
                int64_t t = q0 + i, ne = j->P + seq_keys(j, t) - j0;
                float lse = j->lse[bh * j->T + t], dt = j->dsum[bh * j->T + t];
                if (ne <= 0 || lse == INFINITY) continue;
                if (ne > nb) ne = nb;
                int64_t row = ((b * j->T + t) * j->nh + h) * dim;
                block_dots(j->q + row, kt, dim, ne, s);
                block_dots(j->dout + row, vt, dim, ne, dp);
                float *a = acc + i * dim;
                for (int64_t c = 0; c < ne; c++) {
                    if (!key_kept(j, b, j0 + c)) continue;
                    float ds = expf(s[c] * j->scale - lse) * (dp[c] - dt);
                    const float *kr = key_row(j, b, g, j0 + c, false);
                    for (int64_t d = 0; d < dim; d++) a[d] += ds * kr[d];
                }
            }
        }
        for (int64_t i = 0; i < nq; i++) {
            float *dq = j->dq + ((b * j->T + q0 + i) * j->nh + h) * dim;
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
    float *ws = malloc(sizeof(float) * (size_t)(4 * dim * KB + 2 * KB));
    if (!ws) {
        atomic_store(&j->failed, 1);
        return;
    }
    float *kt = ws, *vt = kt + dim * KB, *dk = vt + dim * KB, *dv = dk + dim * KB;
    float *s = dv + dim * KB, *dp = s + KB;
    int64_t nseq = j->B * j->nkv * j->kblocks;
    for (int64_t task = t0; task < t1; task++) {
        bool prefix = task >= nseq;
        int64_t b0, b1, g, k0, nk;   /* batches [b0, b1), keys [k0, k0 + nk) (prefix first) */
        if (prefix) {
            int64_t pt = task - nseq;
            g = pt / j->pblocks;
            k0 = pt % j->pblocks * KB;
            nk = j->P - k0 < KB ? j->P - k0 : KB;
            b0 = 0, b1 = j->B;
        } else {
            int64_t bg = task / j->kblocks;
            b0 = bg / j->nkv, b1 = b0 + 1, g = bg % j->nkv;
            k0 = j->P + task % j->kblocks * KB;
            nk = j->P + j->S - k0 < KB ? j->P + j->S - k0 : KB;
        }
        memset(dk, 0, sizeof(float) * (size_t)(2 * dim * KB));
        /* the first query that sees key k0 (all see a prefix key) */
        int64_t tmin = prefix || !j->causal ? 0 : k0 - j->P - j->off;
        if (tmin < 0) tmin = 0;
        for (int64_t b = b0; b < b1; b++) {
            pack_block(j, b, g, k0, nk, kt, vt);
            for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
                int64_t bh = b * j->nh + h;
                for (int64_t t = tmin; t < j->T; t++) {
                    float lse = j->lse[bh * j->T + t], dt = j->dsum[bh * j->T + t];
                    int64_t ne = j->P + seq_keys(j, t) - k0;
                    if (ne <= 0 || lse == INFINITY) continue;
                    if (ne > nk) ne = nk;
                    int64_t row = ((b * j->T + t) * j->nh + h) * dim;
                    const float *qr = j->q + row, *dor = j->dout + row;
                    block_dots(qr, kt, dim, ne, s);
                    block_dots(dor, vt, dim, ne, dp);
                    for (int64_t c = 0; c < ne; c++) {
                        if (!key_kept(j, b, k0 + c)) continue;
                        float p = expf(s[c] * j->scale - lse), ds = p * (dp[c] - dt);
                        float *dkr = dk + c * dim, *dvr = dv + c * dim;
                        for (int64_t d = 0; d < dim; d++) dvr[d] += p * dor[d];
                        for (int64_t d = 0; d < dim; d++) dkr[d] += ds * qr[d];
                    }
                }
            }
        }
        for (int64_t c = 0; c < nk; c++) {
            int64_t key = k0 + c;
            float *dko, *dvo;
            if (prefix) {
                dko = j->dpk + (key * j->nkv + g) * dim;
                dvo = j->dpv + (key * j->nkv + g) * dim;
            } else {
                dko = j->dk + ((b0 * j->S + key - j->P) * j->nkv + g) * dim;
                dvo = j->dv + ((b0 * j->S + key - j->P) * j->nkv + g) * dim;
            }
            for (int64_t d = 0; d < dim; d++) dko[d] = dk[c * dim + d] * j->scale;
            memcpy(dvo, dv + c * dim, sizeof(float) * (size_t)dim);
        }
    }
    free(ws);
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
    j->qblocks = (j->T + QB - 1) / QB;
    j->kblocks = (j->S + KB - 1) / KB;
    j->pblocks = (j->P + KB - 1) / KB;
    atomic_init(&j->failed, 0);
}

/* Tasks per thread chunk: enough work per chunk to pay for the fork (~64k multiply-adds). */
static int64_t min_chunk(const att_job *j) {
    int64_t work = QB * (j->P + j->S) * j->d;
    return 1 + (1 << 16) / (work ? work : 1);
}

VKFT_CPU_KERNEL(attention) {
    att_job j;
    job_init(&j, call, 0);
    j.out = vkft_cpu_f32(call->out[0]);
    j.out_lse = vkft_cpu_f32(call->out[1]);
    vkft_parallel_for(cpu->pool, j.B * j.nh * j.qblocks, min_chunk(&j), forward_tasks, &j);
    if (atomic_load(&j.failed))
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention: out of host memory");
    return VKFT_OK;
}

VKFT_CPU_KERNEL(attention_backward) {
    att_job j;
    job_init(&j, call, 1);
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
    vkft_parallel_for(cpu->pool, j.B * j.nh * j.qblocks, min_chunk(&j), dq_tasks, &j);
    int64_t n2 = j.B * j.nkv * j.kblocks + j.nkv * j.pblocks;
    if (!atomic_load(&j.failed))
        vkft_parallel_for(cpu->pool, n2, 1 + (1 << 16) / (KB * j.T * j.d), dkv_tasks, &j);
    free(j.dsum);
    if (atomic_load(&j.failed))
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "attention_backward: out of host memory");
    return VKFT_OK;
}
