/*
 * Rows of the embedding ops: EMBEDDING (out[..., H] = table[ids[...]], table f32/f16/bf16, an id
 * outside [0, V) gives a zero row) and EMBEDDING_BACKWARD (dtable[vocab, H]: each row sums the
 * dy of its tokens in token order; rows no id names are 0; out-of-range ids are skipped).
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status expect_ids(const char *op, const vkft_desc *ids, vkft_err *err) {
    vkft_status st = vkft_infer_expect_dtype(op, "ids", ids, VKFT_I32, err);
    if (!st && ids->ndim >= VKFT_MAX_DIMS) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: ids %s may have at most %d dims", op,
                         vkft_desc_str(ids, s, sizeof s), VKFT_MAX_DIMS - 1);
    }
    return st;
}

static vkft_status embedding_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                                   vkft_err *err) {
    (void)params;
    const vkft_desc *ids = in[0], *tab = in[1];
    vkft_status st = expect_ids("embedding", ids, err);
    if (st) return st;
    if (tab->dtype != VKFT_F32 && tab->dtype != VKFT_F16 && tab->dtype != VKFT_BF16)
        return vkft_fail(err, VKFT_ERR_DTYPE, "embedding: table must be f32, f16 or bf16, got %s",
                         vkft_dtype_name(tab->dtype));
    if (tab->ndim != 2) {
        char s[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "embedding: table must be [V, H], got %s",
                         vkft_desc_str(tab, s, sizeof s));
    }
    out[0] = *ids;
    out[0].dtype = VKFT_F32;
    out[0].shape[out[0].ndim++] = tab->shape[1];
    return VKFT_OK;
}

const vkft_op_def vkft_op_embedding_def = {
    .name = "embedding", .n_in = 2, .n_out = 1, .out_alias = VKFT_NO_ALIAS,
    .infer = embedding_infer, .cpu = vkft_cpu_embedding, .vk = vkft_vk_embedding,
    .backward = vkft_grad_embedding,
};

/* in: dy f32 [..., H], ids i32 [...]. */
static vkft_status embedding_backward_infer(const void *params, const vkft_desc *const *in,
                                            vkft_desc *out, vkft_err *err) {
    const vkft_embedding_backward_params *p = params;
    const vkft_desc *dy = in[0], *ids = in[1];
    vkft_status st = vkft_infer_expect_dtype("embedding_backward", "dy", dy, VKFT_F32, err);
    if (!st) st = expect_ids("embedding_backward", ids, err);
    if (st) return st;
    bool ok = dy->ndim == ids->ndim + 1;
    for (int i = 0; ok && i < ids->ndim; i++) ok = dy->shape[i] == ids->shape[i];
    if (!ok) {
        char sd[96], si[96];
        return vkft_fail(err, VKFT_ERR_SHAPE, "embedding_backward: dy %s must be ids %s + [H]",
                         vkft_desc_str(dy, sd, sizeof sd), vkft_desc_str(ids, si, sizeof si));
    }
    if (p->vocab < 1 || p->vocab > INT32_MAX)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "embedding_backward: vocab %lld is not in "
                         "[1, 2^31)", (long long)p->vocab);
    out[0] = (vkft_desc){.dtype = VKFT_F32, .ndim = 2,
                         .shape = {p->vocab, dy->shape[dy->ndim - 1]}};
    return VKFT_OK;
}

const vkft_op_def vkft_op_embedding_backward_def = {
    .name = "embedding_backward", .n_in = 2, .n_out = 1,
    .params_size = sizeof(vkft_embedding_backward_params), .out_alias = VKFT_NO_ALIAS,
    .infer = embedding_backward_infer, .cpu = vkft_cpu_embedding_backward,
    .vk = vkft_vk_embedding_backward,
};
