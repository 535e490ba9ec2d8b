/* The op table: vkft_op -> its row. Adding an op adds one line here and one row in its file. */
#include "ops/op_def.h"

#include <assert.h>

static const vkft_op_def *const op_table[] = {
    [VKFT_OP_FILL] = &vkft_op_fill_def,
    [VKFT_OP_COPY] = &vkft_op_copy_def,
    [VKFT_OP_CAST] = &vkft_op_cast_def,
    [VKFT_OP_SCALE] = &vkft_op_scale_def,
    [VKFT_OP_ADD] = &vkft_op_add_def,
    [VKFT_OP_SUB] = &vkft_op_sub_def,
    [VKFT_OP_MUL] = &vkft_op_mul_def,
    [VKFT_OP_DIV] = &vkft_op_div_def,
    [VKFT_OP_SUM_TO] = &vkft_op_sum_to_def,
    [VKFT_OP_TRANSPOSE] = &vkft_op_transpose_def,
    [VKFT_OP_SLICE] = &vkft_op_slice_def,
    [VKFT_OP_PAD] = &vkft_op_pad_def,
    [VKFT_OP_CONCAT] = &vkft_op_concat_def,
    [VKFT_OP_MATMUL] = &vkft_op_matmul_def,
    [VKFT_OP_RMSNORM] = &vkft_op_rmsnorm_def,
    [VKFT_OP_RMSNORM_BACKWARD] = &vkft_op_rmsnorm_backward_def,
    [VKFT_OP_LAYERNORM] = &vkft_op_layernorm_def,
    [VKFT_OP_LAYERNORM_BACKWARD] = &vkft_op_layernorm_backward_def,
    [VKFT_OP_GELU] = &vkft_op_gelu_def,
    [VKFT_OP_GELU_BACKWARD] = &vkft_op_gelu_backward_def,
    [VKFT_OP_SILU] = &vkft_op_silu_def,
    [VKFT_OP_SILU_BACKWARD] = &vkft_op_silu_backward_def,
    [VKFT_OP_SWIGLU] = &vkft_op_swiglu_def,
    [VKFT_OP_SWIGLU_BACKWARD] = &vkft_op_swiglu_backward_def,
    [VKFT_OP_SOFTMAX] = &vkft_op_softmax_def,
    [VKFT_OP_SOFTMAX_BACKWARD] = &vkft_op_softmax_backward_def,
    [VKFT_OP_ROPE] = &vkft_op_rope_def,
    [VKFT_OP_ROPE_BACKWARD] = &vkft_op_rope_backward_def,
    [VKFT_OP_EMBEDDING] = &vkft_op_embedding_def,
    [VKFT_OP_EMBEDDING_BACKWARD] = &vkft_op_embedding_backward_def,
    [VKFT_OP_ATTENTION] = &vkft_op_attention_def,
    [VKFT_OP_ATTENTION_BACKWARD] = &vkft_op_attention_backward_def,
    [VKFT_OP_CROSS_ENTROPY] = &vkft_op_cross_entropy_def,
    [VKFT_OP_CROSS_ENTROPY_BACKWARD] = &vkft_op_cross_entropy_backward_def,
    [VKFT_OP_SUM_SQUARES] = &vkft_op_sum_squares_def,
    [VKFT_OP_ADAMW] = &vkft_op_adamw_def,
    [VKFT_OP_NF4_QUANTIZE] = &vkft_op_nf4_quantize_def,
    [VKFT_OP_NF4_DEQUANTIZE] = &vkft_op_nf4_dequantize_def,
    [VKFT_OP_MATMUL_NF4] = &vkft_op_matmul_nf4_def,
    [VKFT_OP_GRAD_CLIP] = &vkft_op_grad_clip_def,
    [VKFT_OP_DROPOUT] = &vkft_op_dropout_def,
    [VKFT_OP_RELU] = &vkft_op_relu_def,
    [VKFT_OP_RELU_BACKWARD] = &vkft_op_relu_backward_def,
    [VKFT_OP_TANH] = &vkft_op_tanh_def,
    [VKFT_OP_TANH_BACKWARD] = &vkft_op_tanh_backward_def,
    [VKFT_OP_GELU_ERF] = &vkft_op_gelu_erf_def,
    [VKFT_OP_GELU_ERF_BACKWARD] = &vkft_op_gelu_erf_backward_def,
};

static_assert(sizeof op_table / sizeof op_table[0] == VKFT_OP_COUNT,
              "every vkft_op needs a row in op_table");

const vkft_op_def *vkft_op_def_get(vkft_op op) {
    if ((int)op < 0 || op >= VKFT_OP_COUNT) return NULL;
    return op_table[op];
}

const char *vkft_op_name(vkft_op op) {
    const vkft_op_def *def = vkft_op_def_get(op);
    return def ? def->name : "(unknown op)";
}
