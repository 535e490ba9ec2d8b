/* Rows of the activation ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status gelu_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "gelu: not implemented yet");
}

const vkft_op_def vkft_op_gelu_def = {
    .name = "gelu", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = gelu_infer, .cpu = vkft_cpu_gelu, .vk = vkft_vk_gelu,
};

static vkft_status gelu_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "gelu_backward: not implemented yet");
}

const vkft_op_def vkft_op_gelu_backward_def = {
    .name = "gelu_backward", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = gelu_backward_infer, .cpu = vkft_cpu_gelu_backward, .vk = vkft_vk_gelu_backward,
};

static vkft_status silu_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "silu: not implemented yet");
}

const vkft_op_def vkft_op_silu_def = {
    .name = "silu", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = silu_infer, .cpu = vkft_cpu_silu, .vk = vkft_vk_silu,
};

static vkft_status silu_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "silu_backward: not implemented yet");
}

const vkft_op_def vkft_op_silu_backward_def = {
    .name = "silu_backward", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = silu_backward_infer, .cpu = vkft_cpu_silu_backward, .vk = vkft_vk_silu_backward,
};

static vkft_status swiglu_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "swiglu: not implemented yet");
}

const vkft_op_def vkft_op_swiglu_def = {
    .name = "swiglu", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = swiglu_infer, .cpu = vkft_cpu_swiglu, .vk = vkft_vk_swiglu,
};

static vkft_status swiglu_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "swiglu_backward: not implemented yet");
}

const vkft_op_def vkft_op_swiglu_backward_def = {
    .name = "swiglu_backward", .n_in = 3, .n_out = 2, .out_alias = VKFT_NO_ALIAS,
    .infer = swiglu_backward_infer, .cpu = vkft_cpu_swiglu_backward, .vk = vkft_vk_swiglu_backward,
};

static vkft_status softmax_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "softmax: not implemented yet");
}

const vkft_op_def vkft_op_softmax_def = {
    .name = "softmax", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = softmax_infer, .cpu = vkft_cpu_softmax, .vk = vkft_vk_softmax,
};

static vkft_status softmax_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "softmax_backward: not implemented yet");
}

const vkft_op_def vkft_op_softmax_backward_def = {
    .name = "softmax_backward", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = softmax_backward_infer, .cpu = vkft_cpu_softmax_backward, .vk = vkft_vk_softmax_backward,
};

