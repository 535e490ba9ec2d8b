/* CPU kernel of DROPOUT (see vkft/ops.h and ops/dropout.h for the mask). */
#include <string.h>

#include "cpu/kernels.h"
#include "ops/dropout.h"

typedef struct {
    const float *x;
    float *y;
    uint32_t threshold, stream, step, seed;
    float scale;
} dropout_job;

static void dropout_range(void *ctx, int64_t b, int64_t e) {
    const dropout_job *j = ctx;
    for (int64_t i = b; i < e; i++) {
        uint32_t h = vkft_dropout_hash((uint64_t)i, j->stream, j->step, j->seed);
        j->y[i] = h >= j->threshold ? j->x[i] * j->scale : 0.0f;
    }
}

VKFT_CPU_KERNEL(dropout) {
    (void)err;
    const vkft_dropout_params *p = call->params;
    const vkft_tensor *x = call->in[0], *y = call->out[0];
    const int32_t *s = vkft_cpu_i32(call->in[1]);
    if (p->p == 0.0f || s[1] < 0) {  /* an exact copy (p = 0, or evaluation) */
        if (x != y) memcpy(y->host, x->host, x->bytes);
        return VKFT_OK;
    }
    dropout_job j = {vkft_cpu_f32(x), vkft_cpu_f32(y), vkft_dropout_threshold(p->p), p->stream,
                     (uint32_t)s[1], (uint32_t)s[0], vkft_dropout_scale(p->p)};
    vkft_parallel_for(cpu->pool, vkft_desc_numel(&x->desc), 1 << 14, dropout_range, &j);
    return VKFT_OK;
}
