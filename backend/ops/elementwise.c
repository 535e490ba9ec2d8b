/*
 * Rows of the elementwise ops: FILL, SCALE, the broadcasting binaries (ADD, SUB, MUL, DIV) and
 * SUM_TO, their adjoint reduction. Broadcasting is numpy's: shapes right-aligned, each pair of
 * dims equal or one of them 1.
 */
#include "cpu/kernels.h"
#include "ops/elementwise.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

void vkft_bcast_pad(const vkft_desc *d, int ndim, int64_t *shape) {
    int lead = ndim - d->ndim;
    for (int i = 0; i < ndim; i++) shape[i] = i < lead ? 1 : d->shape[i - lead];
}

void vkft_bcast_strides(const vkft_desc *d, const vkft_desc *out, int64_t *strides) {
    int64_t shape[VKFT_MAX_DIMS], s = 1;
    vkft_bcast_pad(d, out->ndim, shape);
    for (int i = out->ndim - 1; i >= 0; i--) {
        strides[i] = shape[i] == 1 ? 0 : s;
        s *= shape[i];
    }
}

static vkft_status fill_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                              vkft_err *err) {
    (void)params;
    (void)in;
    if (out[0].ndim == 0)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "fill: the output desc must be given");
    if (out[0].dtype != VKFT_F32 && out[0].dtype != VKFT_I32)
        return vkft_fail(err, VKFT_ERR_DTYPE, "fill: output must be f32 or i32, got %s",
                         vkft_dtype_name(out[0].dtype));
    return vkft_desc_check(&out[0], err);
}

const vkft_op_def vkft_op_fill_def = {
    .name = "fill", .n_in = 0, .n_out = 1, .params_size = sizeof(vkft_fill_params),
    .out_alias = VKFT_NO_ALIAS, .infer = fill_infer, .cpu = vkft_cpu_fill, .vk = vkft_vk_fill_op,
};

static vkft_status scale_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                               vkft_err *err) {
    (void)params;
    vkft_status st = vkft_infer_expect_dtype("scale", "x", in[0], VKFT_F32, err);
    if (!st) out[0] = *in[0];
    return st;
}

const vkft_op_def vkft_op_scale_def = {
    .name = "scale", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_scale_params),
    .out_alias = {0, -1, -1, -1, -1}, .infer = scale_infer, .cpu = vkft_cpu_scale,
    .vk = vkft_vk_scale, .backward = vkft_grad_scale,
};

static vkft_status binary_infer(const char *name, const vkft_desc *const *in, vkft_desc *out,
                                vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(name, "a", in[0], VKFT_F32, err);
    if (!st) st = vkft_infer_expect_dtype(name, "b", in[1], VKFT_F32, err);
    if (st) return st;
    int nd = in[0]->ndim > in[1]->ndim ? in[0]->ndim : in[1]->ndim;
    int64_t sa[VKFT_MAX_DIMS], sb[VKFT_MAX_DIMS];
    vkft_bcast_pad(in[0], nd, sa);
    vkft_bcast_pad(in[1], nd, sb);
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = nd};
    for (int i = 0; i < nd; i++) {
        if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1) {
            char da[96], db[96];
            return vkft_fail(err, VKFT_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", name,
                             vkft_desc_str(in[0], da, sizeof da),
                             vkft_desc_str(in[1], db, sizeof db));
        }
        out[0].shape[i] = sa[i] > sb[i] ? sa[i] : sb[i];
    }
    return VKFT_OK;
}

#define BINARY_ROW(op)                                                                         \
    static vkft_status op##_infer(const void *params, const vkft_desc *const *in,             \
                                  vkft_desc *out, vkft_err *err) {                            \
        (void)params;                                                                          \
        return binary_infer(#op, in, out, err);                                                \
    }                                                                                          \
    const vkft_op_def vkft_op_##op##_def = {                                                   \
        .name = #op, .n_in = 2, .n_out = 1, .out_alias = {0, -1, -1, -1, -1},                  \
        .infer = op##_infer, .cpu = vkft_cpu_##op, .vk = vkft_vk_##op,                         \
        .backward = vkft_grad_##op,                                                            \
    };
BINARY_ROW(add)
BINARY_ROW(sub)
BINARY_ROW(mul)
BINARY_ROW(div)

static vkft_status sum_to_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                vkft_err *err) {
    const vkft_shape_params *p = params;
    vkft_status st = vkft_infer_expect_dtype("sum_to", "x", in[0], VKFT_F32, err);
    if (st) return st;
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = p->ndim};
    for (int i = 0; i < p->ndim && i < VKFT_MAX_DIMS; i++) out[0].shape[i] = p->shape[i];
    if ((st = vkft_desc_check(&out[0], err))) return st;
    int64_t s[VKFT_MAX_DIMS];
    bool ok = p->ndim <= in[0]->ndim;
    if (ok) vkft_bcast_pad(&out[0], in[0]->ndim, s);
    for (int i = 0; ok && i < in[0]->ndim; i++) ok = s[i] == in[0]->shape[i] || s[i] == 1;
    if (!ok) {
        char dx[96], dt[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "sum_to: %s does not broadcast to %s",
                         vkft_desc_str(&out[0], dt, sizeof dt),
                         vkft_desc_str(in[0], dx, sizeof dx));
    }
    return VKFT_OK;
}

const vkft_op_def vkft_op_sum_to_def = {
    .name = "sum_to", .n_in = 1, .n_out = 1, .params_size = sizeof(vkft_shape_params),
    .out_alias = VKFT_NO_ALIAS, .infer = sum_to_infer, .cpu = vkft_cpu_sum_to,
    .vk = vkft_vk_sum_to, .backward = vkft_grad_sum_to,
};
