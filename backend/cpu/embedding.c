/*
 * CPU kernels of the embedding ops (see ops/embedding.c). The backward op is deterministic:
 * tokens are grouped by id with a stable counting sort (so each group is in token order), then
 * table rows are processed in parallel, each summing its group's dy rows in token order (or
 * zero-filled when no token names it). Every row has one writer: independent of thread count.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"

typedef struct {
    const vkft_tensor *table;
    const int32_t *ids;
    float *out;
    int64_t h, vocab;
} embed_job;

static void embed_tokens(void *ctx, int64_t t0, int64_t t1) {
    const embed_job *j = ctx;
    for (int64_t t = t0; t < t1; t++) {
        int32_t id = j->ids[t];
        float *o = j->out + t * j->h;
        if (id < 0 || id >= j->vocab)
            memset(o, 0, (size_t)j->h * sizeof(float));
        else
            vkft_cpu_load_row(j->table, (int64_t)id * j->h, j->h, o);
    }
}

VKFT_CPU_KERNEL(embedding) {
    (void)err;
    const vkft_tensor *tab = call->in[1];
    embed_job j = {.table = tab, .ids = vkft_cpu_i32(call->in[0]),
                   .out = vkft_cpu_f32(call->out[0]), .h = tab->desc.shape[1],
                   .vocab = tab->desc.shape[0]};
    vkft_parallel_for(cpu->pool, vkft_desc_numel(&call->in[0]->desc), 1 + (1 << 14) / j.h,
                      embed_tokens, &j);
    return VKFT_OK;
}

typedef struct {
    const float *dy;
    const int64_t *start;    /* [vocab + 1]: row v's tokens are order[start[v] .. start[v+1]) */
    const int64_t *order;
    float *dt;
    int64_t h;
} embed_back_job;

static void embed_back_rows(void *ctx, int64_t v0, int64_t v1) {
    const embed_back_job *j = ctx;
    int64_t h = j->h;
    for (int64_t v = v0; v < v1; v++) {
        float *row = j->dt + v * h;
        memset(row, 0, (size_t)h * sizeof(float));
        for (int64_t k = j->start[v]; k < j->start[v + 1]; k++) {
            const float *d = j->dy + j->order[k] * h;
            for (int64_t c = 0; c < h; c++) row[c] += d[c];
        }
    }
}

VKFT_CPU_KERNEL(embedding_backward) {
    const vkft_embedding_backward_params *p = call->params;
    const int32_t *ids = vkft_cpu_i32(call->in[1]);
    int64_t n = vkft_desc_numel(&call->in[1]->desc), vocab = p->vocab;
    int64_t *start = calloc((size_t)vocab + 2, sizeof *start);
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!start || !order) {
        free(start);
        free(order);
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "embedding_backward: out of host memory");
    }
    /* stable counting sort of the in-range tokens by id */
    for (int64_t t = 0; t < n; t++)
        if (ids[t] >= 0 && ids[t] < vocab) start[ids[t] + 2]++;
    for (int64_t v = 0; v < vocab; v++) start[v + 2] += start[v + 1];
    for (int64_t t = 0; t < n; t++)
        if (ids[t] >= 0 && ids[t] < vocab) order[start[ids[t] + 1]++] = t;
    embed_back_job j = {.dy = vkft_cpu_f32(call->in[0]), .start = start, .order = order,
                        .dt = vkft_cpu_f32(call->out[0]), .h = call->in[0]->desc.shape[
                            call->in[0]->desc.ndim - 1]};
    vkft_parallel_for(cpu->pool, vocab, 1 + (1 << 14) / j.h, embed_back_rows, &j);
    free(start);
    free(order);
    return VKFT_OK;
}
