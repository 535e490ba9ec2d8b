/*
 * Rows of the layout ops: COPY (a reshape), CAST (f32 <-> f16/bf16), TRANSPOSE, SLICE, PAD and
 * CONCAT. Every op but CAST takes any dtype and moves elements without looking at them.
 * Axes and permutations are 0-based and non-negative (the backward rules index shapes with
 * them directly); anything else is VKFT_ERR_SHAPE with a message naming the op.
 */
#include <string.h>

#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status copy_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                              vkft_err *err) {
    const vkft_shape_params *p = params;
    if (p->ndim < 1 || p->ndim > VKFT_MAX_DIMS)
        return vkft_fail(err, VKFT_ERR_SHAPE, "copy: target shape has %d dims; 1..%d allowed",
                         p->ndim, VKFT_MAX_DIMS);
    out[0] = (vkft_desc){.dtype = in[0]->dtype, .ndim = p->ndim};
    memcpy(out[0].shape, p->shape, sizeof(int64_t) * (size_t)p->ndim);
    vkft_status st = vkft_desc_check(&out[0], err);
    char a[96], b[96];
    if (st)
        return vkft_fail(err, VKFT_ERR_SHAPE, "copy: bad target shape %s",
                         vkft_desc_str(&out[0], b, sizeof b));
    if (vkft_desc_numel(&out[0]) != vkft_desc_numel(in[0]))
        return vkft_fail(err, VKFT_ERR_SHAPE, "copy: %s and %s have different element counts",
                         vkft_desc_str(in[0], a, sizeof a), vkft_desc_str(&out[0], b, sizeof b));
    return VKFT_OK;
}

const vkft_op_def vkft_op_copy_def = {
    .name = "copy", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_shape_params),
    .out_alias = VKFT_NO_ALIAS, .infer = copy_infer, .cpu = vkft_cpu_copy, .vk = vkft_vk_copy,
    .backward = vkft_grad_copy,
};

static bool is_float(vkft_dtype d) { return d == VKFT_F32 || d == VKFT_F16 || d == VKFT_BF16; }

/* Any of f32, f16, bf16 to any of them (same dtype: a copy; f16 <-> bf16 goes through f32,
 * which is exact from either, so it rounds once). */
static vkft_status cast_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                              vkft_err *err) {
    const vkft_cast_params *p = params;
    if (!is_float(in[0]->dtype) || (unsigned)p->dtype >= VKFT_DTYPE_COUNT || !is_float(p->dtype))
        return vkft_fail(err, VKFT_ERR_DTYPE, "cast: %s to %s is not supported (f32, f16, bf16)",
                         vkft_dtype_name(in[0]->dtype),
                         (unsigned)p->dtype < VKFT_DTYPE_COUNT ? vkft_dtype_name(p->dtype) : "?");
    out[0] = *in[0];
    out[0].dtype = p->dtype;
    return VKFT_OK;
}

const vkft_op_def vkft_op_cast_def = {
    .name = "cast", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_cast_params),
    .out_alias = VKFT_NO_ALIAS, .infer = cast_infer, .cpu = vkft_cpu_cast, .vk = vkft_vk_cast,
    .backward = vkft_grad_cast,
};

static vkft_status transpose_infer(const void *params, const vkft_desc *const *in,
                                   vkft_desc *out, vkft_err *err) {
    const vkft_transpose_params *p = params;
    int nd = in[0]->ndim;
    bool seen[VKFT_MAX_DIMS] = {false};
    for (int i = 0; i < nd; i++) {
        if (p->perm[i] < 0 || p->perm[i] >= nd || seen[p->perm[i]]) {
            char a[96];
            return vkft_fail(err, VKFT_ERR_SHAPE,
                             "transpose: perm[%d] = %d does not make a permutation of the %d dims "
                             "of %s", i, p->perm[i], nd, vkft_desc_str(in[0], a, sizeof a));
        }
        seen[p->perm[i]] = true;
    }
    out[0] = *in[0];
    for (int i = 0; i < nd; i++) out[0].shape[i] = in[0]->shape[p->perm[i]];
    return VKFT_OK;
}

const vkft_op_def vkft_op_transpose_def = {
    .name = "transpose", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_transpose_params),
    .out_alias = VKFT_NO_ALIAS, .infer = transpose_infer, .cpu = vkft_cpu_transpose,
    .vk = vkft_vk_transpose, .backward = vkft_grad_transpose,
};

static vkft_status check_axis(const char *op, int axis, const vkft_desc *d, vkft_err *err) {
    if (axis >= 0 && axis < d->ndim) return VKFT_OK;
    char a[96];
    return vkft_fail(err, VKFT_ERR_SHAPE, "%s: axis %d is not a dim of %s", op, axis,
                     vkft_desc_str(d, a, sizeof a));
}

static vkft_status slice_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    const vkft_slice_params *p = params;
    vkft_status st = check_axis("slice", p->axis, in[0], err);
    if (st) return st;
    int64_t dim = in[0]->shape[p->axis];
    if (p->start < 0 || p->len < 1 || p->start > dim || p->len > dim - p->start) {
        char a[96];
        return vkft_fail(err, VKFT_ERR_SHAPE,
                         "slice: [%lld, %lld + %lld) is not inside dim %d of %s",
                         (long long)p->start, (long long)p->start, (long long)p->len, p->axis,
                         vkft_desc_str(in[0], a, sizeof a));
    }
    out[0] = *in[0];
    out[0].shape[p->axis] = p->len;
    return VKFT_OK;
}

const vkft_op_def vkft_op_slice_def = {
    .name = "slice", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_slice_params),
    .out_alias = VKFT_NO_ALIAS, .infer = slice_infer, .cpu = vkft_cpu_slice,
    .vk = vkft_vk_slice, .backward = vkft_grad_slice,
};

static vkft_status pad_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                             vkft_err *err) {
    const vkft_pad_params *p = params;
    vkft_status st = check_axis("pad", p->axis, in[0], err);
    if (st) return st;
    if (p->before < 0 || p->after < 0 || p->before > INT64_MAX / 4 || p->after > INT64_MAX / 4)
        return vkft_fail(err, VKFT_ERR_SHAPE, "pad: before %lld and after %lld must be >= 0",
                         (long long)p->before, (long long)p->after);
    out[0] = *in[0];
    out[0].shape[p->axis] += p->before + p->after;
    if ((st = vkft_desc_check(&out[0], err)))
        return vkft_fail(err, VKFT_ERR_SHAPE, "pad: the padded tensor is too large");
    return VKFT_OK;
}

const vkft_op_def vkft_op_pad_def = {
    .name = "pad", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_pad_params),
    .out_alias = VKFT_NO_ALIAS, .infer = pad_infer, .cpu = vkft_cpu_pad, .vk = vkft_vk_pad,
    .backward = vkft_grad_pad,
};

static vkft_status concat_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                vkft_err *err) {
    const vkft_concat_params *p = params;
    const vkft_desc *a = in[0], *b = in[1];
    char sa[96], sb[96];
    if (a->dtype != b->dtype)
        return vkft_fail(err, VKFT_ERR_DTYPE, "concat: a is %s but b is %s",
                         vkft_dtype_name(a->dtype), vkft_dtype_name(b->dtype));
    vkft_status st = check_axis("concat", p->axis, a, err);
    if (st) return st;
    bool ok = a->ndim == b->ndim;
    for (int i = 0; ok && i < a->ndim; i++) ok = i == p->axis || a->shape[i] == b->shape[i];
    if (!ok)
        return vkft_fail(err, VKFT_ERR_SHAPE, "concat: %s and %s differ outside axis %d",
                         vkft_desc_str(a, sa, sizeof sa), vkft_desc_str(b, sb, sizeof sb),
                         p->axis);
    out[0] = *a;
    out[0].shape[p->axis] += b->shape[p->axis];
    if ((st = vkft_desc_check(&out[0], err)))
        return vkft_fail(err, VKFT_ERR_SHAPE, "concat: the result is too large");
    return VKFT_OK;
}

const vkft_op_def vkft_op_concat_def = {
    .name = "concat", .n_in = 2, .n_out = 1, .params_size = sizeof(vkft_concat_params),
    .out_alias = VKFT_NO_ALIAS, .infer = concat_infer, .cpu = vkft_cpu_concat,
    .vk = vkft_vk_concat, .backward = vkft_grad_concat,
};
