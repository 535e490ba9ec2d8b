/*
 * CPU kernels of the rope ops (see ops/rope.c), computed like PyTorch / Hugging Face:
 * angle = float(pos) * inv_freq[j] in f32, cos and sin of that f32 value (libm, < 1 ulp),
 * each times attention_scaling; then y = x * cos + rotate_half(x) * sin on the first R dims.
 * The backward op rotates by -angle. Parallel over tokens; each token's cos/sin are computed
 * once and applied to every head.
 */
#include <math.h>

#include "cpu/kernels.h"

typedef struct {
    const float *x, *inv_freq;
    const int32_t *pos;
    float *y;
    int64_t t_len, heads, d, half, pos_offset;
    float scaling, sign;
} rope_job;

static void rope_tokens(void *ctx, int64_t t0, int64_t t1) {
    const rope_job *j = ctx;
    float cs[2 * 512];   /* cos, sin of up to 512 frequencies; longer ones in pieces */
    for (int64_t t = t0; t < t1; t++) {
        int64_t pos = j->pos ? j->pos[t] : j->pos_offset + t % j->t_len;
        float pf = (float)pos;
        const float *x = j->x + t * j->heads * j->d;
        float *y = j->y + t * j->heads * j->d;
        for (int64_t f0 = 0; f0 < j->half; f0 += 512) {
            int64_t nf = j->half - f0 < 512 ? j->half - f0 : 512;
            for (int64_t k = 0; k < nf; k++) {
                float a = pf * j->inv_freq[f0 + k];
                cs[2 * k] = cosf(a) * j->scaling;
                cs[2 * k + 1] = sinf(a) * j->scaling * j->sign;
            }
            for (int64_t hd = 0; hd < j->heads; hd++) {
                const float *xh = x + hd * j->d + f0;
                float *yh = y + hd * j->d + f0;
                for (int64_t k = 0; k < nf; k++) {
                    float a = xh[k], b = xh[k + j->half], c = cs[2 * k], s = cs[2 * k + 1];
                    yh[k] = a * c + (-b) * s;
                    yh[k + j->half] = b * c + a * s;
                }
            }
        }
        for (int64_t hd = 0; hd < j->heads; hd++)
            for (int64_t i = 2 * j->half; i < j->d; i++) y[hd * j->d + i] = x[hd * j->d + i];
    }
}

static void rope(vkft_cpu *cpu, const vkft_op_call *call, float sign) {
    const vkft_desc *xd = &call->in[0]->desc;
    const vkft_rope_params *p = call->params;
    rope_job j = {.x = vkft_cpu_f32(call->in[0]), .inv_freq = vkft_cpu_f32(call->in[1]),
                  .pos = vkft_cpu_i32(call->in[2]), .y = vkft_cpu_f32(call->out[0]),
                  .t_len = xd->shape[1], .heads = xd->shape[2], .d = xd->shape[3],
                  .half = call->in[1]->desc.shape[0], .pos_offset = p->pos_offset,
                  .scaling = p->attention_scaling, .sign = sign};
    int64_t tokens = xd->shape[0] * xd->shape[1];
    vkft_parallel_for(cpu->pool, tokens, 1 + (1 << 14) / (j.heads * j.d), rope_tokens, &j);
}

VKFT_CPU_KERNEL(rope) {
    (void)err;
    rope(cpu, call, 1.0f);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(rope_backward) {
    (void)err;
    rope(cpu, call, -1.0f);
    return VKFT_OK;
}
