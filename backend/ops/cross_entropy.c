/* Rows of the cross_entropy ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status cross_entropy_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cross_entropy: not implemented yet");
}

const vkft_op_def vkft_op_cross_entropy_def = {
    .name = "cross_entropy", .n_in = 3, .n_out = 3, .out_alias = VKFT_NO_ALIAS,
    .infer = cross_entropy_infer, .cpu = vkft_cpu_cross_entropy, .vk = vkft_vk_cross_entropy,
};

static vkft_status cross_entropy_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cross_entropy_backward: not implemented yet");
}

const vkft_op_def vkft_op_cross_entropy_backward_def = {
    .name = "cross_entropy_backward", .n_in = 5, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = cross_entropy_backward_infer, .cpu = vkft_cpu_cross_entropy_backward, .vk = vkft_vk_cross_entropy_backward,
};

