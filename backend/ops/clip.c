/* The row of GRAD_CLIP: global-norm clipping folded into AdamW's hyper vector. */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status grad_clip_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                   vkft_err *err) {
    const vkft_grad_clip_params *p = params;
    if (!(p->max_norm >= 0.0f))
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "grad_clip: max_norm must be >= 0, got %g",
                         (double)p->max_norm);
    if (in[0]->dtype != VKFT_F32 || vkft_desc_numel(in[0]) != 1 || in[1]->dtype != VKFT_F32 ||
        vkft_desc_numel(in[1]) != 2) {
        char a[96], b[96];
        return vkft_fail(err, VKFT_ERR_SHAPE,
                         "grad_clip: sumsq must be f32[1] and hyper f32[2], got %s and %s",
                         vkft_desc_str(in[0], a, sizeof a), vkft_desc_str(in[1], b, sizeof b));
    }
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {4}};
    return VKFT_OK;
}

const vkft_op_def vkft_op_grad_clip_def = {
    .name = "grad_clip", .n_in = 2, .n_out = 1, .params_size = sizeof(vkft_grad_clip_params),
    .out_alias = VKFT_NO_ALIAS, .infer = grad_clip_infer, .cpu = vkft_cpu_grad_clip,
    .vk = vkft_vk_grad_clip,
};
