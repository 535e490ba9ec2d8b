/*
 * Rows of the optimizer ops (vkft/ops.h): SUM_SQUARES (the squared global gradient norm, summed
 * in a fixed order) and ADAMW (one PyTorch AdamW step over a parameter tensor and its moments).
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status sum_squares_infer(const void *params, const vkft_desc *const *in,
                                     vkft_desc *out, vkft_err *err) {
    (void)params;
    vkft_status st = vkft_infer_expect_dtype("sum_squares", "x", in[0], VKFT_F32, err);
    if (!st) out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
    return st;
}

const vkft_op_def vkft_op_sum_squares_def = {
    .name = "sum_squares", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = sum_squares_infer, .cpu = vkft_cpu_sum_squares, .vk = vkft_vk_sum_squares,
    .backward = vkft_grad_sum_squares,
};

/* in: p, g, m, v (f32, one shape), hyper f32 [4]. out: p, m, v. */
static vkft_status adamw_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    const vkft_adamw_params *a = params;
    if (!(a->beta1 >= 0.0f && a->beta1 < 1.0f && a->beta2 >= 0.0f && a->beta2 < 1.0f &&
          a->eps >= 0.0f && a->weight_decay >= 0.0f))
        return vkft_fail(err, VKFT_ERR_INVALID_ARG,
                         "adamw: need 0 <= beta1, beta2 < 1 and eps, weight_decay >= 0; got "
                         "beta1 %g beta2 %g eps %g weight_decay %g", (double)a->beta1,
                         (double)a->beta2, (double)a->eps, (double)a->weight_decay);
    vkft_status st = vkft_infer_expect_dtype("adamw", "p", in[0], VKFT_F32, err);
    if (!st) st = vkft_infer_expect_same("adamw", "g", in[1], "p", in[0], err);
    if (!st) st = vkft_infer_expect_same("adamw", "m", in[2], "p", in[0], err);
    if (!st) st = vkft_infer_expect_same("adamw", "v", in[3], "p", in[0], err);
    if (!st) st = vkft_infer_expect_dtype("adamw", "hyper", in[4], VKFT_F32, err);
    if (st) return st;
    if (in[4]->ndim != 1 || in[4]->shape[0] != 4) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "adamw: hyper must be [4], got %s",
                         vkft_desc_str(in[4], s, sizeof s));
    }
    out[0] = out[1] = out[2] = *in[0];
    return VKFT_OK;
}

const vkft_op_def vkft_op_adamw_def = {
    .name = "adamw", .n_in = 5, .n_out = 3, .params_size = sizeof(vkft_adamw_params),
    .out_alias = {0, 2, 3, -1, -1}, .infer = adamw_infer, .cpu = vkft_cpu_adamw,
    .vk = vkft_vk_adamw,
};
