/*
 * CPU kernels of the cross-entropy ops (rows in ops/cross_entropy.c): the reference the Vulkan
 * kernels are tested against. Rows are independent (threaded over rows). A row's log-sum-exp
 * takes one pass over the logits, a block of EXP_BLOCK columns at a time (online: the block's
 * max, the sum so far rescaled in double when the max grows, then the block's exp(z - max)
 * four at a time with vmath.h's exp (<= 2 ulp) summed in f32 lanes and added in double). The
 * row's loss is double too, and loss_sum / count add the rows in row order after the threads
 * join, so results do not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>

#include "cpu/kernels.h"
#include "cpu/vmath.h"

enum { EXP_BLOCK = 256 };   /* f32 partial sums of 64 terms per lane: ~1e-7 relative */

/* log(sum over k < n of exp(z[k])), in one pass and a fixed order. */
static double log_sum_exp(const float *z, int64_t n) {
    double s = 0.0;
    float m = -INFINITY;
    for (int64_t k = 0; k < n; k += EXP_BLOCK) {
        int64_t e = n - k < EXP_BLOCK ? n : k + EXP_BLOCK, i = k;
        float bm = vkft_max_f32(z + k, e - k);
        if (bm == -INFINITY) continue;          /* adds nothing */
        if (bm > m) {
            s *= exp((double)m - (double)bm);
            m = bm;
        }
        vkft_f4 acc = vkft_f4_splat(0.0f), mv = vkft_f4_splat(m);
        for (; i + 4 <= e; i += 4) acc += vkft_f4_exp(vkft_f4_load(z + i) - mv);
        float t = vkft_f4_sum(acc);
        for (; i < e; i++) t += vkft_expf(z[i] - m);
        s += (double)t;
    }
    return (double)m + log(s);
}

/* A row takes part in the loss iff its label names a column (see ops/cross_entropy.c). */
static inline bool label_ok(int32_t label, int32_t ignore, int64_t v) {
    return label != ignore && label >= 0 && label < v;
}

typedef struct {
    const float *z, *w;
    const int32_t *labels;
    float *lse;
    double *row_loss, *row_w;   /* per row, summed in order afterwards */
    int64_t v;
    int32_t ignore;
} ce_job;

static void ce_rows(void *ctx, int64_t begin, int64_t end) {
    const ce_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        const float *z = j->z + r * j->v;
        double lse = log_sum_exp(z, j->v);
        j->lse[r] = (float)lse;
        int32_t y = j->labels[r];
        bool ok = label_ok(y, j->ignore, j->v);
        double w = ok ? (j->w ? (double)j->w[r] : 1.0) : 0.0;
        j->row_loss[r] = ok ? w * (lse - (double)z[y]) : 0.0;
        j->row_w[r] = w;
    }
}

VKFT_CPU_KERNEL(cross_entropy) {
    const vkft_cross_entropy_params *p = call->params;
    const vkft_desc *d = &call->in[0]->desc;
    int64_t n = d->shape[0];
    double *tmp = malloc(sizeof(double) * 2 * (size_t)n);
    if (!tmp) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "cross_entropy: out of host memory");
    ce_job j = {.z = vkft_cpu_f32(call->in[0]), .labels = vkft_cpu_i32(call->in[1]),
                .w = vkft_cpu_f32(call->in[2]), .lse = vkft_cpu_f32(call->out[2]),
                .row_loss = tmp, .row_w = tmp + n, .v = d->shape[1], .ignore = p->ignore_index};
    /* about 4096 logits per task keeps tiny problems inline */
    int64_t min_rows = 4096 / j.v + 1;
    vkft_parallel_for(cpu->pool, n, min_rows, ce_rows, &j);
    double loss = 0.0, count = 0.0;
    for (int64_t r = 0; r < n; r++) {
        loss += j.row_loss[r];
        count += j.row_w[r];
    }
    vkft_cpu_f32(call->out[0])[0] = (float)loss;
    vkft_cpu_f32(call->out[1])[0] = (float)count;
    free(tmp);
    return VKFT_OK;
}

typedef struct {
    const float *z, *w, *lse;
    const int32_t *labels;
    float *dz;
    float dloss;
    int64_t v;
    int32_t ignore;
} ce_bwd_job;

/* dz[r, k] = dloss * w_r * (exp(z[r, k] - lse_r) - [k == label_r]); ignored rows 0. */
static void ce_bwd_rows(void *ctx, int64_t begin, int64_t end) {
    const ce_bwd_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        const float *z = j->z + r * j->v;
        float *dz = j->dz + r * j->v;
        int32_t y = j->labels[r];
        if (!label_ok(y, j->ignore, j->v)) {
            for (int64_t k = 0; k < j->v; k++) dz[k] = 0.0f;
            continue;
        }
        float coef = j->dloss * (j->w ? j->w[r] : 1.0f), lse = j->lse[r];
        vkft_f4 c4 = vkft_f4_splat(coef), l4 = vkft_f4_splat(lse);
        int64_t k = 0;
        for (; k + 4 <= j->v; k += 4)
            vkft_f4_store(dz + k, c4 * vkft_f4_exp(vkft_f4_load(z + k) - l4));
        for (; k < j->v; k++) dz[k] = coef * vkft_expf(z[k] - lse);
        dz[y] = coef * (vkft_expf(z[y] - lse) - 1.0f);
    }
}

VKFT_CPU_KERNEL(cross_entropy_backward) {
    (void)err;
    const vkft_cross_entropy_params *p = call->params;
    const vkft_desc *d = &call->in[0]->desc;
    ce_bwd_job j = {.z = vkft_cpu_f32(call->in[0]), .labels = vkft_cpu_i32(call->in[1]),
                    .w = vkft_cpu_f32(call->in[2]), .lse = vkft_cpu_f32(call->in[3]),
                    .dloss = vkft_cpu_f32(call->in[4])[0], .dz = vkft_cpu_f32(call->out[0]),
                    .v = d->shape[1], .ignore = p->ignore_index};
    vkft_parallel_for(cpu->pool, d->shape[0], 4096 / j.v + 1, ce_bwd_rows, &j);
    return VKFT_OK;
}
