/*
 * The MATMUL row: C = alpha op(A) op(B) [+ C0] (contract in vkft/ops.h), its shape and dtype
 * inference, and the geometry (ops/matmul.h) its CPU and Vulkan kernels share.
 */
#include "ops/matmul.h"

#include <stdio.h>

#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

void vkft_matmul_dims_get(const vkft_desc *a, const vkft_desc *b, const vkft_matmul_params *p,
                          vkft_matmul_dims *d) {
    int na = a->ndim, nb = b->ndim;
    d->trans_a = p->trans_a;
    d->trans_b = p->trans_b;
    d->lda = a->shape[na - 1];
    d->ldb = b->shape[nb - 1];
    d->m = p->trans_a ? a->shape[na - 1] : a->shape[na - 2];
    d->k = p->trans_a ? a->shape[na - 2] : a->shape[na - 1];
    d->n = p->trans_b ? b->shape[nb - 2] : b->shape[nb - 1];
    d->batch = 1;
    for (int i = 0; i < na - 2; i++) d->batch *= a->shape[i];
    bool shared = nb == 2;
    if (shared && !p->trans_a) {  /* the linear layer: rows of every batch are rows of A */
        d->m *= d->batch;
        d->batch = 1;
    }
    d->a_bstride = d->m * d->k;
    d->b_bstride = shared ? 0 : d->k * d->n;
    d->c_bstride = d->m * d->n;
}

static vkft_status shape_error(const vkft_desc *const *in, const vkft_matmul_params *p,
                               const char *why, vkft_err *err) {
    char sa[96], sb[96], sc[96];
    return vkft_fail(err, VKFT_ERR_SHAPE, "matmul: A %s%s and B %s%s%s%s: %s",
                     vkft_desc_str(in[0], sa, sizeof sa), p->trans_a ? " (transposed)" : "",
                     vkft_desc_str(in[1], sb, sizeof sb), p->trans_b ? " (transposed)" : "",
                     in[2] ? ", C0 " : "", in[2] ? vkft_desc_str(in[2], sc, sizeof sc) : "", why);
}

static vkft_status matmul_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                vkft_err *err) {
    const vkft_matmul_params *p = params;
    const vkft_desc *a = in[0], *b = in[1];
    vkft_status st = vkft_infer_expect_dtype("matmul", "A", a, VKFT_F32, err);
    if (st) return st;
    if (b->dtype != VKFT_F32 && b->dtype != VKFT_F16 && b->dtype != VKFT_BF16)
        return vkft_fail(err, VKFT_ERR_DTYPE, "matmul: B must be f32, f16 or bf16, not %s",
                         vkft_dtype_name(b->dtype));
    if (in[2] && (st = vkft_infer_expect_dtype("matmul", "C0", in[2], VKFT_F32, err))) return st;
    int na = a->ndim, nb = b->ndim;
    if (na < 2 || nb < 2) return shape_error(in, p, "A and B need at least 2 dims", err);
    if (nb > 2) {
        if (nb != na) return shape_error(in, p, "a batched B needs A's batch dims", err);
        for (int i = 0; i < na - 2; i++)
            if (a->shape[i] != b->shape[i])
                return shape_error(in, p, "batch dims differ", err);
    }
    int64_t m = p->trans_a ? a->shape[na - 1] : a->shape[na - 2];
    int64_t ka = p->trans_a ? a->shape[na - 2] : a->shape[na - 1];
    int64_t kb = p->trans_b ? b->shape[nb - 1] : b->shape[nb - 2];
    int64_t n = p->trans_b ? b->shape[nb - 2] : b->shape[nb - 1];
    if (ka != kb) return shape_error(in, p, "the inner dims (K) differ", err);
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = na};
    for (int i = 0; i < na - 2; i++) out[0].shape[i] = a->shape[i];
    out[0].shape[na - 2] = m;
    out[0].shape[na - 1] = n;
    if (in[2] && !vkft_desc_equal(in[2], &out[0])) {
        char so[96], why[160];
        snprintf(why, sizeof why, "C0 must have the output's shape %s",
                 vkft_desc_str(&out[0], so, sizeof so));
        return shape_error(in, p, why, err);
    }
    return VKFT_OK;
}

const vkft_op_def vkft_op_matmul_def = {
    .name = "matmul", .n_in = 3, .n_out = 1, .optional_in = 1u << 2,
    .params_size = sizeof(vkft_matmul_params), .out_alias = {2, -1, -1, -1, -1},
    .infer = matmul_infer, .cpu = vkft_cpu_matmul, .vk = vkft_vk_matmul,
    .backward = vkft_grad_matmul,
};
