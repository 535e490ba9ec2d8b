/*
 * Rows of the cross-entropy ops (vkft/ops.h): CROSS_ENTROPY (summed loss, weight count and
 * per-row log-sum-exp of logits [N, V]) and CROSS_ENTROPY_BACKWARD (dlogits from the saved lse).
 *
 * A row is ignored when its label is params.ignore_index or lies outside [0, V): it adds nothing
 * to loss_sum or count and its dlogits row is 0. (PyTorch raises on an out-of-range label; a
 * kernel cannot, so such a label counts as ignored rather than reading outside the row.)
 * lse is written for every row, ignored ones included.
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status expect_shape(const char *op, const char *what, const vkft_desc *d,
                                vkft_dtype dtype, int ndim, const int64_t *shape, vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(op, what, d, dtype, err);
    if (st) return st;
    bool ok = d->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = d->shape[i] == shape[i];
    if (ok) return VKFT_OK;
    vkft_desc want = {.dtype = dtype, .ndim = ndim};
    for (int i = 0; i < ndim; i++) want.shape[i] = shape[i];
    char sg[96], sw[96];
    return vkft_fail(err, VKFT_ERR_SHAPE, "%s: %s must be %s, got %s", op, what,
                     vkft_desc_str(&want, sw, sizeof sw), vkft_desc_str(d, sg, sizeof sg));
}

/* logits f32 [N, V], labels i32 [N], weights (opt) f32 [N]; sets *n. */
static vkft_status expect_logits(const char *op, const vkft_desc *const *in, int64_t *n,
                                 vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(op, "logits", in[0], VKFT_F32, err);
    if (st) return st;
    if (in[0]->ndim != 2) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: logits must be [N, V], got %s", op,
                         vkft_desc_str(in[0], s, sizeof s));
    }
    *n = in[0]->shape[0];
    st = expect_shape(op, "labels", in[1], VKFT_I32, 1, n, err);
    if (!st && in[2]) st = expect_shape(op, "weights", in[2], VKFT_F32, 1, n, err);
    return st;
}

static vkft_status cross_entropy_infer(const void *params, const vkft_desc *const *in,
                                       vkft_desc *out, vkft_err *err) {
    (void)params;
    int64_t n;
    vkft_status st = expect_logits("cross_entropy", in, &n, err);
    if (st) return st;
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
    out[1] = out[0];
    out[2] = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {n}};
    return VKFT_OK;
}

const vkft_op_def vkft_op_cross_entropy_def = {
    .name = "cross_entropy", .n_in = 3, .n_out = 3, .optional_in = 1u << 2,
    .params_size = sizeof(vkft_cross_entropy_params), .out_alias = VKFT_NO_ALIAS,
    .infer = cross_entropy_infer, .cpu = vkft_cpu_cross_entropy, .vk = vkft_vk_cross_entropy,
    .backward = vkft_grad_cross_entropy,
};

/* in: logits, labels, weights (opt), lse [N], dloss [1]. out: dlogits [N, V]. */
static vkft_status cross_entropy_backward_infer(const void *params, const vkft_desc *const *in,
                                                vkft_desc *out, vkft_err *err) {
    (void)params;
    const char *op = "cross_entropy_backward";
    int64_t n, one = 1;
    vkft_status st = expect_logits(op, in, &n, err);
    if (!st) st = expect_shape(op, "lse", in[3], VKFT_F32, 1, &n, err);
    if (!st) st = expect_shape(op, "dloss", in[4], VKFT_F32, 1, &one, err);
    if (!st) out[0] = *in[0];
    return st;
}

const vkft_op_def vkft_op_cross_entropy_backward_def = {
    .name = "cross_entropy_backward", .n_in = 5, .n_out = 1, .optional_in = 1u << 2,
    .params_size = sizeof(vkft_cross_entropy_params), .out_alias = VKFT_NO_ALIAS,
    .infer = cross_entropy_backward_infer, .cpu = vkft_cpu_cross_entropy_backward,
    .vk = vkft_vk_cross_entropy_backward,
};
