/* Rows of the matmul ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status matmul_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "matmul: not implemented yet");
}

const vkft_op_def vkft_op_matmul_def = {
    .name = "matmul", .n_in = 3, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = matmul_infer, .cpu = vkft_cpu_matmul, .vk = vkft_vk_matmul,
};

