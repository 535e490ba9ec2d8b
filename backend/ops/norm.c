/* Rows of the norm ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status rmsnorm_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rmsnorm: not implemented yet");
}

const vkft_op_def vkft_op_rmsnorm_def = {
    .name = "rmsnorm", .n_in = 2, .n_out = 2, .out_alias = VKFT_NO_ALIAS,
    .infer = rmsnorm_infer, .cpu = vkft_cpu_rmsnorm, .vk = vkft_vk_rmsnorm,
};

static vkft_status rmsnorm_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rmsnorm_backward: not implemented yet");
}

const vkft_op_def vkft_op_rmsnorm_backward_def = {
    .name = "rmsnorm_backward", .n_in = 4, .n_out = 2, .out_alias = VKFT_NO_ALIAS,
    .infer = rmsnorm_backward_infer, .cpu = vkft_cpu_rmsnorm_backward, .vk = vkft_vk_rmsnorm_backward,
};

static vkft_status layernorm_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "layernorm: not implemented yet");
}

const vkft_op_def vkft_op_layernorm_def = {
    .name = "layernorm", .n_in = 3, .n_out = 3, .out_alias = VKFT_NO_ALIAS,
    .infer = layernorm_infer, .cpu = vkft_cpu_layernorm, .vk = vkft_vk_layernorm,
};

static vkft_status layernorm_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "layernorm_backward: not implemented yet");
}

const vkft_op_def vkft_op_layernorm_backward_def = {
    .name = "layernorm_backward", .n_in = 5, .n_out = 3, .out_alias = VKFT_NO_ALIAS,
    .infer = layernorm_backward_infer, .cpu = vkft_cpu_layernorm_backward, .vk = vkft_vk_layernorm_backward,
};

