/*
 * Rows of the norm ops: RMSNORM (Hugging Face Llama: y = w * (x * rstd)), LAYERNORM (GPT-2:
 * y = (x - mean) * rstd * w + b, biased variance) and their backward ops. Every op normalises
 * over the last dim H; the rows are the other dims flattened. The forward ops also return the
 * per-row statistics (rstd, and mean for LAYERNORM) the backward ops take.
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

/* d must be f32 [H]. */
static vkft_status expect_vec(const char *op, const char *what, const vkft_desc *d, int64_t h,
                              vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(op, what, d, VKFT_F32, err);
    if (st) return st;
    if (d->ndim != 1 || d->shape[0] != h) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: %s must be [%lld], got %s", op, what,
                         (long long)h, vkft_desc_str(d, s, sizeof s));
    }
    return VKFT_OK;
}

/* x f32 [..., H] and w f32 [H]; sets *rows_desc to f32 [rows]. */
static vkft_status expect_xw(const char *op, const vkft_desc *x, const vkft_desc *w,
                             vkft_desc *rows_desc, vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(op, "x", x, VKFT_F32, err);
    if (!st) st = expect_vec(op, "w", w, x->shape[x->ndim - 1], err);
    if (!st) *rows_desc = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {vkft_desc_rows(x)}};
    return st;
}

static vkft_status rmsnorm_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                 vkft_err *err) {
    (void)params;
    vkft_status st = expect_xw("rmsnorm", in[0], in[1], &out[1], err);
    if (!st) out[0] = *in[0];
    return st;
}

const vkft_op_def vkft_op_rmsnorm_def = {
    .name = "rmsnorm", .n_in = 2, .n_out = 2, .params_size = sizeof(vkft_norm_params),
    .out_alias = VKFT_NO_ALIAS, .infer = rmsnorm_infer, .cpu = vkft_cpu_rmsnorm,
    .vk = vkft_vk_rmsnorm, .backward = vkft_grad_rmsnorm,
};

/* in: dy, x, w, rstd. out: dx, dw (optional: wanted when out[1].ndim != 0; a frozen norm
 * weight needs none). The params (the forward's) are optional: eps is not needed. */
static vkft_status rmsnorm_backward_infer(const void *params, const vkft_desc *const *in,
                                          vkft_desc *out, vkft_err *err) {
    (void)params;
    vkft_desc rows;
    vkft_status st = expect_xw("rmsnorm_backward", in[1], in[2], &rows, err);
    if (!st) st = vkft_infer_expect_same("rmsnorm_backward", "dy", in[0], "x", in[1], err);
    if (!st) st = vkft_infer_expect_same("rmsnorm_backward", "rstd", in[3], "[rows]", &rows, err);
    if (st) return st;
    bool want_dw = out[1].ndim != 0;
    out[0] = *in[1];
    if (want_dw) out[1] = *in[2];
    return VKFT_OK;
}

const vkft_op_def vkft_op_rmsnorm_backward_def = {
    .name = "rmsnorm_backward", .n_in = 4, .n_out = 2, .optional_out = 1u << 1,
    .out_alias = VKFT_NO_ALIAS,
    .infer = rmsnorm_backward_infer, .cpu = vkft_cpu_rmsnorm_backward,
    .vk = vkft_vk_rmsnorm_backward,
};

static vkft_status layernorm_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                   vkft_err *err) {
    (void)params;
    vkft_status st = expect_xw("layernorm", in[0], in[1], &out[1], err);
    if (!st && in[2]) st = expect_vec("layernorm", "b", in[2], in[0]->shape[in[0]->ndim - 1], err);
    if (st) return st;
    out[0] = *in[0];
    out[2] = out[1];
    return VKFT_OK;
}

const vkft_op_def vkft_op_layernorm_def = {
    .name = "layernorm", .n_in = 3, .n_out = 3, .optional_in = 1u << 2,
    .params_size = sizeof(vkft_norm_params), .out_alias = VKFT_NO_ALIAS,
    .infer = layernorm_infer, .cpu = vkft_cpu_layernorm, .vk = vkft_vk_layernorm,
    .backward = vkft_grad_layernorm,
};

/* in: dy, x, w, mean, rstd. out: dx, dw, db (optional: wanted when out[i].ndim != 0; db only
 * with dw). */
static vkft_status layernorm_backward_infer(const void *params, const vkft_desc *const *in,
                                            vkft_desc *out, vkft_err *err) {
    (void)params;
    const char *op = "layernorm_backward";
    vkft_desc rows;
    vkft_status st = expect_xw(op, in[1], in[2], &rows, err);
    if (!st) st = vkft_infer_expect_same(op, "dy", in[0], "x", in[1], err);
    if (!st) st = vkft_infer_expect_same(op, "mean", in[3], "[rows]", &rows, err);
    if (!st) st = vkft_infer_expect_same(op, "rstd", in[4], "[rows]", &rows, err);
    if (st) return st;
    bool want_dw = out[1].ndim != 0, want_db = out[2].ndim != 0;
    if (want_db && !want_dw)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: db is computed only with dw", op);
    out[0] = *in[1];
    if (want_dw) out[1] = *in[2];
    if (want_db) out[2] = *in[2];
    return VKFT_OK;
}

const vkft_op_def vkft_op_layernorm_backward_def = {
    .name = "layernorm_backward", .n_in = 5, .n_out = 3, .optional_out = 3u << 1,
    .out_alias = VKFT_NO_ALIAS, .infer = layernorm_backward_infer,
    .cpu = vkft_cpu_layernorm_backward, .vk = vkft_vk_layernorm_backward,
};
