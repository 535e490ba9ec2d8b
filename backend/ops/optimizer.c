/* Rows of the optimizer ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status sum_squares_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "sum_squares: not implemented yet");
}

const vkft_op_def vkft_op_sum_squares_def = {
    .name = "sum_squares", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = sum_squares_infer, .cpu = vkft_cpu_sum_squares, .vk = vkft_vk_sum_squares,
};

static vkft_status adamw_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "adamw: not implemented yet");
}

const vkft_op_def vkft_op_adamw_def = {
    .name = "adamw", .n_in = 5, .n_out = 3, .out_alias = VKFT_NO_ALIAS,
    .infer = adamw_infer, .cpu = vkft_cpu_adamw, .vk = vkft_vk_adamw,
};

