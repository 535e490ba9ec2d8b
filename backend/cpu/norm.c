/*
 * CPU kernels of the norm ops (see ops/norm.c). Row statistics are summed in double, so these
 * are the accurate reference the Vulkan kernels are tested against. Forward and dx run in
 * parallel over rows; dw and db run in parallel over columns, each column summing its rows in
 * row order, so every result is independent of the thread count.
 *
 *   rmsnorm:   y = w * (x * r),             r = 1 / sqrt(mean(x^2) + eps)
 *   dx = r * (dy w) - x * r^3 * mean(dy w x)        dw = sum_rows dy * x * r
 *   layernorm: y = (x - m) * r * w + b,     m = mean(x), r = 1 / sqrt(mean((x - m)^2) + eps)
 *   xh = (x - m) r, g = dy w:  dx = r * (g - mean(g) - xh * mean(g xh))
 *   dw = sum_rows dy * xh,  db = sum_rows dy
 */
#include <math.h>
#include <string.h>

#include "cpu/kernels.h"

typedef struct {
    const float *x, *w, *b, *dy, *mean, *rstd;
    float *y, *dx, *mean_out, *rstd_out, *dw, *db;
    int64_t h, rows;
    float eps;
    bool layer;     /* layernorm, else rmsnorm */
} norm_job;

static void forward_rows(void *ctx, int64_t r0, int64_t r1) {
    const norm_job *j = ctx;
    int64_t h = j->h;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * h;
        float *y = j->y + r * h;
        double s = 0.0;
        float m = 0.0f;
        if (j->layer) {
            for (int64_t i = 0; i < h; i++) s += x[i];
            m = (float)(s / (double)h);
            s = 0.0;
        }
        for (int64_t i = 0; i < h; i++) {
            double d = (double)x[i] - (double)m;
            s += d * d;
        }
        float rs = 1.0f / sqrtf((float)(s / (double)h) + j->eps);
        j->rstd_out[r] = rs;
        if (j->layer) {
            j->mean_out[r] = m;
            for (int64_t i = 0; i < h; i++)
                y[i] = (x[i] - m) * rs * j->w[i] + (j->b ? j->b[i] : 0.0f);
        } else {
            for (int64_t i = 0; i < h; i++) y[i] = j->w[i] * (x[i] * rs);
        }
    }
}

static void forward(vkft_cpu *cpu, const vkft_op_call *call, bool layer) {
    const vkft_desc *xd = &call->in[0]->desc;
    const vkft_norm_params *p = call->params;
    norm_job j = {.x = vkft_cpu_f32(call->in[0]), .w = vkft_cpu_f32(call->in[1]),
                  .y = vkft_cpu_f32(call->out[0]), .h = xd->shape[xd->ndim - 1],
                  .rows = vkft_desc_rows(xd), .eps = p->eps, .layer = layer};
    if (layer) {
        j.b = vkft_cpu_f32(call->in[2]);
        j.mean_out = vkft_cpu_f32(call->out[1]);
        j.rstd_out = vkft_cpu_f32(call->out[2]);
    } else {
        j.rstd_out = vkft_cpu_f32(call->out[1]);
    }
    vkft_parallel_for(cpu->pool, j.rows, 1 + (1 << 14) / j.h, forward_rows, &j);
}

VKFT_CPU_KERNEL(rmsnorm) {
    (void)err;
    forward(cpu, call, false);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(layernorm) {
    (void)err;
    forward(cpu, call, true);
    return VKFT_OK;
}

static void backward_dx_rows(void *ctx, int64_t r0, int64_t r1) {
    const norm_job *j = ctx;
    int64_t h = j->h;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * h, *dy = j->dy + r * h;
        float *dx = j->dx + r * h, rs = j->rstd[r];
        if (j->layer) {
            float m = j->mean[r];
            double s1 = 0.0, s2 = 0.0;
            for (int64_t i = 0; i < h; i++) {
                float g = dy[i] * j->w[i];
                s1 += g;
                s2 += (double)g * (double)((x[i] - m) * rs);
            }
            float a = (float)(s1 / (double)h), c = (float)(s2 / (double)h);
            for (int64_t i = 0; i < h; i++)
                dx[i] = rs * (dy[i] * j->w[i] - a - (x[i] - m) * rs * c);
        } else {
            double s = 0.0;
            for (int64_t i = 0; i < h; i++) s += (double)(dy[i] * j->w[i]) * (double)x[i];
            float c = (float)(s / (double)h) * rs * rs * rs;
            for (int64_t i = 0; i < h; i++) dx[i] = rs * (dy[i] * j->w[i]) - x[i] * c;
        }
    }
}

/* Columns [c0, c1): dw (and db) summed over every row in row order, in f32. */
static void backward_dw_cols(void *ctx, int64_t c0, int64_t c1) {
    const norm_job *j = ctx;
    int64_t h = j->h;
    for (int64_t c = c0; c < c1; c++) j->dw[c] = 0.0f;
    if (j->db)
        for (int64_t c = c0; c < c1; c++) j->db[c] = 0.0f;
    for (int64_t r = 0; r < j->rows; r++) {
        const float *x = j->x + r * h, *dy = j->dy + r * h;
        float rs = j->rstd[r], m = j->layer ? j->mean[r] : 0.0f;
        if (j->layer) {
            for (int64_t c = c0; c < c1; c++) j->dw[c] += dy[c] * ((x[c] - m) * rs);
        } else {
            for (int64_t c = c0; c < c1; c++) j->dw[c] += dy[c] * (x[c] * rs);
        }
        if (j->db)
            for (int64_t c = c0; c < c1; c++) j->db[c] += dy[c];
    }
}

static void backward(vkft_cpu *cpu, const vkft_op_call *call, bool layer) {
    const vkft_desc *xd = &call->in[1]->desc;
    norm_job j = {.dy = vkft_cpu_f32(call->in[0]), .x = vkft_cpu_f32(call->in[1]),
                  .w = vkft_cpu_f32(call->in[2]), .dx = vkft_cpu_f32(call->out[0]),
                  .dw = vkft_cpu_f32(call->out[1]), .h = xd->shape[xd->ndim - 1],
                  .rows = vkft_desc_rows(xd), .layer = layer};
    if (layer) {
        j.mean = vkft_cpu_f32(call->in[3]);
        j.rstd = vkft_cpu_f32(call->in[4]);
        j.db = vkft_cpu_f32(call->out[2]);
    } else {
        j.rstd = vkft_cpu_f32(call->in[3]);
    }
    vkft_parallel_for(cpu->pool, j.rows, 1 + (1 << 14) / j.h, backward_dx_rows, &j);
    /* columns: at least 64 per thread and enough rows of work to pay for a thread */
    if (j.dw) vkft_parallel_for(cpu->pool, j.h, 64 + (1 << 16) / j.rows, backward_dw_cols, &j);
}

VKFT_CPU_KERNEL(rmsnorm_backward) {
    (void)err;
    backward(cpu, call, false);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(layernorm_backward) {
    (void)err;
    backward(cpu, call, true);
    return VKFT_OK;
}
