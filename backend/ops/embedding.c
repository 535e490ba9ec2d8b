/* Rows of the embedding ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status embedding_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "embedding: not implemented yet");
}

const vkft_op_def vkft_op_embedding_def = {
    .name = "embedding", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = embedding_infer, .cpu = vkft_cpu_embedding, .vk = vkft_vk_embedding,
};

static vkft_status embedding_backward_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "embedding_backward: not implemented yet");
}

const vkft_op_def vkft_op_embedding_backward_def = {
    .name = "embedding_backward", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = embedding_backward_infer, .cpu = vkft_cpu_embedding_backward, .vk = vkft_vk_embedding_backward,
};

