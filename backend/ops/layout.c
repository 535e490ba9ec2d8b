/* Rows of the layout ops: arity, shape/dtype inference, kernels. (stub: to be written) */
#include "cpu/kernels.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status copy_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "copy: not implemented yet");
}

const vkft_op_def vkft_op_copy_def = {
    .name = "copy", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = copy_infer, .cpu = vkft_cpu_copy, .vk = vkft_vk_copy,
};

static vkft_status cast_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cast: not implemented yet");
}

const vkft_op_def vkft_op_cast_def = {
    .name = "cast", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = cast_infer, .cpu = vkft_cpu_cast, .vk = vkft_vk_cast,
};

static vkft_status transpose_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "transpose: not implemented yet");
}

const vkft_op_def vkft_op_transpose_def = {
    .name = "transpose", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = transpose_infer, .cpu = vkft_cpu_transpose, .vk = vkft_vk_transpose,
};

static vkft_status slice_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "slice: not implemented yet");
}

const vkft_op_def vkft_op_slice_def = {
    .name = "slice", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = slice_infer, .cpu = vkft_cpu_slice, .vk = vkft_vk_slice,
};

static vkft_status pad_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "pad: not implemented yet");
}

const vkft_op_def vkft_op_pad_def = {
    .name = "pad", .n_in = 1, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = pad_infer, .cpu = vkft_cpu_pad, .vk = vkft_vk_pad,
};

static vkft_status concat_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params; (void)in; (void)out;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "concat: not implemented yet");
}

const vkft_op_def vkft_op_concat_def = {
    .name = "concat", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = concat_infer, .cpu = vkft_cpu_concat, .vk = vkft_vk_concat,
};

