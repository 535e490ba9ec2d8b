/*
 * Rows of the rope ops: ROPE (Hugging Face rotate-half layout with partial rotary) and
 * ROPE_BACKWARD, its adjoint (the rotation by -angle). Both take x (or dy) f32 [B, T, nH, D],
 * inv_freq f32 [R/2] with R <= D, and positions i32 [B, T] (optional; else pos_offset + t).
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

static vkft_status rope_check(const char *op, const void *params, const vkft_desc *const *in,
                              vkft_desc *out, vkft_err *err) {
    const vkft_rope_params *p = params;
    const vkft_desc *x = in[0], *f = in[1], *pos = in[2];
    vkft_status st = vkft_infer_expect_dtype(op, "x", x, VKFT_F32, err);
    if (!st) st = vkft_infer_expect_dtype(op, "inv_freq", f, VKFT_F32, err);
    if (!st && pos) st = vkft_infer_expect_dtype(op, "positions", pos, VKFT_I32, err);
    if (st) return st;
    char sx[96], sf[96], sp[96];
    if (x->ndim != 4)
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: x must be [B, T, nH, D], got %s", op,
                         vkft_desc_str(x, sx, sizeof sx));
    if (f->ndim != 1 || 2 * f->shape[0] > x->shape[3])
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: inv_freq %s must be [R/2] with R <= D = %lld",
                         op, vkft_desc_str(f, sf, sizeof sf), (long long)x->shape[3]);
    if (pos && (pos->ndim != 2 || pos->shape[0] != x->shape[0] || pos->shape[1] != x->shape[1]))
        return vkft_fail(err, VKFT_ERR_SHAPE, "%s: positions %s must be [B, T] of x %s", op,
                         vkft_desc_str(pos, sp, sizeof sp), vkft_desc_str(x, sx, sizeof sx));
    /* kernels compute positions in 32-bit integers */
    if (!pos && (p->pos_offset < -(1ll << 30) || p->pos_offset + x->shape[1] > (1ll << 30)))
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: pos_offset %lld is out of range", op,
                         (long long)p->pos_offset);
    out[0] = *x;
    return VKFT_OK;
}

static vkft_status rope_infer(const void *params, const vkft_desc *const *in, vkft_desc *out,
                              vkft_err *err) {
    return rope_check("rope", params, in, out, err);
}

const vkft_op_def vkft_op_rope_def = {
    .name = "rope", .n_in = 3, .n_out = 1, .optional_in = 1u << 2,
    .params_size = sizeof(vkft_rope_params), .out_alias = VKFT_NO_ALIAS,
    .infer = rope_infer, .cpu = vkft_cpu_rope, .vk = vkft_vk_rope,
    .backward = vkft_grad_rope,
};

static vkft_status rope_backward_infer(const void *params, const vkft_desc *const *in,
                                       vkft_desc *out, vkft_err *err) {
    return rope_check("rope_backward", params, in, out, err);
}

const vkft_op_def vkft_op_rope_backward_def = {
    .name = "rope_backward", .n_in = 3, .n_out = 1, .optional_in = 1u << 2,
    .params_size = sizeof(vkft_rope_params), .out_alias = VKFT_NO_ALIAS,
    .infer = rope_backward_infer, .cpu = vkft_cpu_rope_backward, .vk = vkft_vk_rope_backward,
};
