/* Rows of the rope ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status rope_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rope: not implemented yet");
}

const vkft_op_def vkft_op_rope_def = {
    .name = "rope", .n_in = 3, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = rope_infer, .cpu = vkft_cpu_rope, .vk = vkft_vk_rope,
};

static vkft_status rope_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rope_backward: not implemented yet");
}

const vkft_op_def vkft_op_rope_backward_def = {
    .name = "rope_backward", .n_in = 3, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = rope_backward_infer, .cpu = vkft_cpu_rope_backward, .vk = vkft_vk_rope_backward,
};

