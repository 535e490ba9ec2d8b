/*
 * Rows of the attention ops: ATTENTION (fused causal / grouped-query attention with an optional
 * prefix shared by the batch and an optional key padding mask; outputs o and the per-row
 * log-sum-exp) and ATTENTION_BACKWARD (dq, dk, dv and, with a prefix, dprefix_k/v summed over
 * the batch). Shapes: q [B, T, nH, D], k/v [B, S, nKV, D], prefix [P, nKV, D], key_mask [B, S],
 * lse [B, nH, T]. Kernels index in 32-bit integers and keep per-row state of D floats, hence the
 * limits checked here (D <= 256, |q_pos_offset| < 2^30).
 */
#include <math.h>

#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

/* The largest head dim the kernels take (their per-row state is sized by it). */
#define ATTENTION_MAX_D 256

/* Checks q, k, v, prefix_k, prefix_v, key_mask (in[0..5]) and params. */
static vkft_status attention_check(const char *op, const vkft_attention_params *p,
                                   const vkft_desc *const *in, vkft_err *err) {
    const vkft_desc *q = in[0], *k = in[1], *v = in[2], *pk = in[3], *pv = in[4], *m = in[5];
    static const char *names[6] = {"q", "k", "v", "prefix_k", "prefix_v", "key_mask"};
    for (int i = 0; i < 6; i++) {
        if (!in[i]) continue;
        vkft_status st = vkft_infer_expect_dtype(op, names[i], in[i], VKFT_F32, err);
        if (st) return st;
    }
    char sq[96], sk[96], sx[96];
    if (q->ndim != 4 || k->ndim != 4)
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: q %s must be [B, T, nH, D] and k %s "
                         "[B, S, nKV, D]", op, vkft_desc_str(q, sq, sizeof sq),
                         vkft_desc_str(k, sk, sizeof sk));
    int64_t nh = q->shape[2], nkv = k->shape[2], d = q->shape[3];
    if (k->shape[0] != q->shape[0] || k->shape[3] != d || nh % nkv)
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: q %s and k %s need the same B and D, and nH "
                         "a multiple of nKV", op, vkft_desc_str(q, sq, sizeof sq),
                         vkft_desc_str(k, sk, sizeof sk));
    vkft_status st = vkft_infer_expect_same(op, "v", v, "k", k, err);
    if (st) return st;
    if (d > ATTENTION_MAX_D)
        return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "%s: head dim %lld is over the supported %d",
                         op, (long long)d, ATTENTION_MAX_D);
    if (!pk != !pv)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: prefix_k and prefix_v go together", op);
    if (pk && (pk->ndim != 3 || pk->shape[1] != nkv || pk->shape[2] != d))
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: prefix_k %s must be [P, nKV, D] of k %s", op,
                         vkft_desc_str(pk, sx, sizeof sx), vkft_desc_str(k, sk, sizeof sk));
    if (pk && (st = vkft_infer_expect_same(op, "prefix_v", pv, "prefix_k", pk, err))) return st;
    if (m && (m->ndim != 2 || m->shape[0] != k->shape[0] || m->shape[1] != k->shape[1]))
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: key_mask %s must be [B, S] of k %s", op,
                         vkft_desc_str(m, sx, sizeof sx), vkft_desc_str(k, sk, sizeof sk));
    if (p->q_pos_offset <= -(1ll << 30) || p->q_pos_offset >= (1ll << 30) || !isfinite(p->scale))
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: q_pos_offset %lld or scale %g is out of "
                         "range", op, (long long)p->q_pos_offset, (double)p->scale);
    if (q->shape[1] >= (1ll << 30) || k->shape[1] >= (1ll << 30) || (pk && pk->shape[0] >= 1 << 30))
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: sequences of 2^30 or more positions", op);
    return VKFT_OK;
}

static vkft_desc lse_desc(const vkft_desc *q) {
    return (vkft_desc){.dtype = VKFT_F32, .ndim = 3,
                       .shape = {q->shape[0], q->shape[2], q->shape[1]}};
}

/* in: q, k, v, prefix_k, prefix_v, key_mask. out: o, lse. */
static vkft_status attention_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                   vkft_err *err) {
    vkft_status st = attention_check("attention", params, in, err);
    if (st) return st;
    out[0] = *in[0];
    out[1] = lse_desc(in[0]);
    return VKFT_OK;
}

const vkft_op_def vkft_op_attention_def = {
    .name = "attention", .n_in = 6, .n_out = 2, .optional_in = 7u << 3,
    .params_size = sizeof(vkft_attention_params), .out_alias = VKFT_NO_ALIAS,
    .infer = attention_infer, .cpu = vkft_cpu_attention, .vk = vkft_vk_attention,
    .backward = vkft_grad_attention,
};

/* in: dO, q, k, v, prefix_k, prefix_v, key_mask, o, lse.
 * out: dq, dk, dv, dprefix_k, dprefix_v (the last two wanted, and required, iff the prefix is
 * given). */
static vkft_status attention_backward_infer(const void *params, const vkft_desc *const *in,
                                            vkft_desc *out, vkft_err *err) {
    const char *op = "attention_backward";
    vkft_status st = attention_check(op, params, in + 1, err);
    vkft_desc lse = lse_desc(in[1]);
    if (!st) st = vkft_infer_expect_same(op, "dO", in[0], "q", in[1], err);
    if (!st) st = vkft_infer_expect_same(op, "o", in[7], "q", in[1], err);
    if (!st) st = vkft_infer_expect_same(op, "lse", in[8], "[B, nH, T]", &lse, err);
    if (st) return st;
    bool prefix = in[4] != NULL;
    if ((out[3].ndim != 0) != prefix || (out[4].ndim != 0) != prefix)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: dprefix_k and dprefix_v are outputs "
                         "iff the prefix is an input", op);
    out[0] = *in[1];
    out[1] = *in[2];
    out[2] = *in[3];
    if (prefix) {
        out[3] = *in[4];
        out[4] = *in[5];
    }
    return VKFT_OK;
}

const vkft_op_def vkft_op_attention_backward_def = {
    .name = "attention_backward", .n_in = 9, .n_out = 5, .optional_in = 7u << 4,
    .optional_out = 3u << 3, .params_size = sizeof(vkft_attention_params),
    .out_alias = VKFT_NO_ALIAS, .infer = attention_backward_infer,
    .cpu = vkft_cpu_attention_backward, .vk = vkft_vk_attention_backward,
};
