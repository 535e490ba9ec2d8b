/*
 * The row of DROPOUT (see vkft/ops.h): inverted dropout whose mask is a hash of the element
 * index, a per-site stream, and a {seed, step} INPUT; its gradient is the same op on dy.
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status dropout_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                 vkft_err *err) {
    const vkft_dropout_params *p = params;
    if (!(p->p >= 0.0f && p->p < 1.0f))
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "dropout: p must be in [0, 1), got %g",
                         (double)p->p);
    vkft_status st = vkft_infer_expect_dtype("dropout", "x", in[0], VKFT_F32, err);
    if (!st) st = vkft_infer_expect_dtype("dropout", "seed", in[1], VKFT_I32, err);
    if (st) return st;
    if (vkft_desc_numel(in[1]) != 2) {
        char d[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "dropout: seed must be i32 [2] = {seed, step}, "
                         "got %s", vkft_desc_str(in[1], d, sizeof d));
    }
    out[0] = *in[0];
    return VKFT_OK;
}

const vkft_op_def vkft_op_dropout_def = {
    .name = "dropout", .n_in = 2, .n_out = 1, .params_size = sizeof(vkft_dropout_params),
    .out_alias = {0, -1, -1, -1, -1}, .infer = dropout_infer, .cpu = vkft_cpu_dropout,
    .vk = vkft_vk_dropout, .backward = vkft_grad_dropout,
};
