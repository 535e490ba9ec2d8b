/* Rows of the attention ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status attention_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "attention: not implemented yet");
}

const vkft_op_def vkft_op_attention_def = {
    .name = "attention", .n_in = 6, .n_out = 2, .out_alias = VKFT_NO_ALIAS,
    .infer = attention_infer, .cpu = vkft_cpu_attention, .vk = vkft_vk_attention,
};

static vkft_status attention_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "attention_backward: not implemented yet");
}

const vkft_op_def vkft_op_attention_backward_def = {
    .name = "attention_backward", .n_in = 9, .n_out = 5, .out_alias = VKFT_NO_ALIAS,
    .infer = attention_backward_infer, .cpu = vkft_cpu_attention_backward, .vk = vkft_vk_attention_backward,
};

