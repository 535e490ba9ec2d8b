/*
 * Rows of the NF4 ops (QLoRA's frozen weights; semantics in ops/nf4_codebook.h):
 * NF4_QUANTIZE, NF4_DEQUANTIZE and MATMUL_NF4. The packed tensors (codes, absmax_q, absmax2)
 * are checked by element count, not shape, so a loader may keep a checkpoint's shapes
 * (bitsandbytes stores codes as [numel/2, 1]).
 */
#include <stdio.h>

#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/nf4_codebook.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status expect_count(const char *op, const char *what, const vkft_desc *d,
                                vkft_dtype dtype, int64_t count, vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(op, what, d, dtype, err);
    if (st) return st;
    if (vkft_desc_numel(d) != count) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: %s %s must hold %lld elements", op, what,
                         vkft_desc_str(d, s, sizeof s), (long long)count);
    }
    return VKFT_OK;
}

/* Checks codes, absmax_q, absmax2 and offset (in[0..3]) for a weight of numel elements. */
static vkft_status check_packed(const char *op, const vkft_desc *const *in, int64_t numel,
                                vkft_err *err) {
    if (numel <= 0 || numel % 2)
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: an NF4 weight needs an even, positive "
                         "element count, not %lld", op, (long long)numel);
    vkft_status st = expect_count(op, "codes", in[0], VKFT_U8, numel / 2, err);
    if (!st) st = expect_count(op, "absmax_q", in[1], VKFT_U8, vkft_nf4_nb(numel), err);
    if (!st) st = expect_count(op, "absmax2", in[2], VKFT_F32, vkft_nf4_nb2(numel), err);
    if (!st) st = expect_count(op, "offset", in[3], VKFT_F32, 1, err);
    return st;
}

static vkft_status nf4_quantize_infer(const void *params, const vkft_desc *const *in,
                                      vkft_desc *out, vkft_err *err) {
    (void)params;
    vkft_status st = vkft_infer_expect_dtype("nf4_quantize", "w", in[0], VKFT_F32, err);
    if (st) return st;
    int64_t n = vkft_desc_numel(in[0]);
    if (n % 2) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "nf4_quantize: w %s has an odd element count",
                         vkft_desc_str(in[0], s, sizeof s));
    }
    out[0] = (vkft_desc){.dtype = VKFT_U8, .ndim = 1, .shape = {n / 2}};
    out[1] = (vkft_desc){.dtype = VKFT_U8, .ndim = 1, .shape = {vkft_nf4_nb(n)}};
    out[2] = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {vkft_nf4_nb2(n)}};
    out[3] = (vkft_desc){.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
    return VKFT_OK;
}

const vkft_op_def vkft_op_nf4_quantize_def = {
    .name = "nf4_quantize", .n_in = 1, .n_out = 4, .out_alias = VKFT_NO_ALIAS,
    .infer = nf4_quantize_infer, .cpu = vkft_cpu_nf4_quantize, .vk = vkft_vk_nf4_quantize,
};

static vkft_status nf4_dequantize_infer(const void *params, const vkft_desc *const *in,
                                        vkft_desc *out, vkft_err *err) {
    const vkft_shape_params *p = params;
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = p->ndim};
    for (int i = 0; i < p->ndim && i < VKFT_MAX_DIMS; i++) out[0].shape[i] = p->shape[i];
    vkft_status st = vkft_desc_check(&out[0], err);
    if (st) return st;
    return check_packed("nf4_dequantize", in, vkft_desc_numel(&out[0]), err);
}

const vkft_op_def vkft_op_nf4_dequantize_def = {
    .name = "nf4_dequantize", .n_in = 4, .n_out = 1, .params_size = sizeof(vkft_shape_params),
    .out_alias = VKFT_NO_ALIAS, .infer = nf4_dequantize_infer, .cpu = vkft_cpu_nf4_dequantize,
    .vk = vkft_vk_nf4_dequantize,
};

/* in: A, codes, absmax_q, absmax2, offset, C0 (optional). */
static vkft_status matmul_nf4_infer(const void *params, const vkft_desc *const *in,
                                    vkft_desc *out, vkft_err *err) {
    const vkft_matmul_nf4_params *p = params;
    vkft_status st = vkft_infer_expect_dtype("matmul_nf4", "A", in[0], VKFT_F32, err);
    if (st) return st;
    if (p->n <= 0 || p->k <= 0 || p->n > INT32_MAX || p->k > INT32_MAX)
        return vkft_fail(err, VKFT_ERR_SHAPE, "matmul_nf4: bad weight dims [%lld, %lld]",
                         (long long)p->n, (long long)p->k);
    if (p->compute != VKFT_F32 && p->compute != VKFT_BF16 && p->compute != VKFT_F16)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "matmul_nf4: compute dtype %d is not f32, "
                         "bf16 or f16", (int)p->compute);
    if ((st = check_packed("matmul_nf4", in + 1, p->n * p->k, err))) return st;
    const vkft_desc *a = in[0];
    int64_t red = p->trans ? p->n : p->k, cols = p->trans ? p->k : p->n;
    if (a->ndim < 1 || a->shape[a->ndim - 1] != red) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "matmul_nf4: A %s must end in %lld (W [%lld, "
                         "%lld]%s)", vkft_desc_str(a, s, sizeof s), (long long)red,
                         (long long)p->n, (long long)p->k, p->trans ? ", trans" : "");
    }
    out[0] = *a;
    out[0].shape[a->ndim - 1] = cols;
    if (in[5]) {
        if ((st = vkft_infer_expect_dtype("matmul_nf4", "C0", in[5], VKFT_F32, err))) return st;
        if (!vkft_desc_equal(in[5], &out[0])) {
            char s[96], so[96];
            return vkft_fail(err, VKFT_ERR_SHAPE, "matmul_nf4: C0 %s must have the output's "
                             "shape %s", vkft_desc_str(in[5], s, sizeof s),
                             vkft_desc_str(&out[0], so, sizeof so));
        }
    }
    return VKFT_OK;
}

const vkft_op_def vkft_op_matmul_nf4_def = {
    .name = "matmul_nf4", .n_in = 6, .n_out = 1, .optional_in = 1u << 5,
    .params_size = sizeof(vkft_matmul_nf4_params), .out_alias = {5, -1, -1, -1, -1},
    .infer = matmul_nf4_infer, .cpu = vkft_cpu_matmul_nf4, .vk = vkft_vk_matmul_nf4,
    .backward = vkft_grad_matmul_nf4,
};
