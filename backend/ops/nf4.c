/* Rows of the nf4 ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status nf4_quantize_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "nf4_quantize: not implemented yet");
}

const vkft_op_def vkft_op_nf4_quantize_def = {
    .name = "nf4_quantize", .n_in = 1, .n_out = 4, .out_alias = VKFT_NO_ALIAS,
    .infer = nf4_quantize_infer, .cpu = vkft_cpu_nf4_quantize, .vk = vkft_vk_nf4_quantize,
};

static vkft_status nf4_dequantize_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "nf4_dequantize: not implemented yet");
}

const vkft_op_def vkft_op_nf4_dequantize_def = {
    .name = "nf4_dequantize", .n_in = 4, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = nf4_dequantize_infer, .cpu = vkft_cpu_nf4_dequantize, .vk = vkft_vk_nf4_dequantize,
};

static vkft_status matmul_nf4_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "matmul_nf4: not implemented yet");
}

const vkft_op_def vkft_op_matmul_nf4_def = {
    .name = "matmul_nf4", .n_in = 6, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = matmul_nf4_infer, .cpu = vkft_cpu_matmul_nf4, .vk = vkft_vk_matmul_nf4,
};

