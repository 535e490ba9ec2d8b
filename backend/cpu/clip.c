/* CPU kernel of GRAD_CLIP (see vkft/ops.h): the same f32 arithmetic as shaders/grad_clip.comp. */
#include <math.h>

#include "cpu/kernels.h"

VKFT_CPU_KERNEL(grad_clip) {
    (void)cpu;
    (void)err;
    const vkft_grad_clip_params *p = call->params;
    const float *ss = vkft_cpu_f32(call->in[0]), *hy = vkft_cpu_f32(call->in[1]);
    float *out = vkft_cpu_f32(call->out[0]);
    float norm = sqrtf(ss[0]);
    float coef = 1.0f;
    if (p->max_norm > 0.0f) {
        coef = p->max_norm / (norm + 1e-6f);
        if (!(coef < 1.0f)) coef = 1.0f;  /* NaN norm: leave the gradients (loss check stops) */
    }
    out[0] = hy[0];
    out[1] = hy[1];
    out[2] = coef;
    out[3] = norm;
    return VKFT_OK;
}
