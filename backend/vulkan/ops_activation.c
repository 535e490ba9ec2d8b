/*
 * Vulkan recording of the activation ops (shaders activation.comp, softmax.comp).
 *
 * GELU, GELU_ERF, SILU, SWIGLU, RELU, TANH and their backwards are elementwise: every tensor has
 * one shape, so a big one (an MLP activation [tokens, 4 * hidden] can pass 128 MiB) is split
 * into chunks of elements bound at the same offsets in every tensor.
 *
 * SOFTMAX and its backward: one workgroup per row, lane partials combined in a fixed tree, so
 * two runs give identical bits and a row's result does not depend on the chunking. Split path:
 * chunks of whole rows bound as sub-ranges (a binding starts at the 16-byte boundary at or below
 * its first row; the shader adds the shift). One row must fit the range.
 */
#include "vulkan/vk_ops.h"

#define ACT_WG 64

static vkft_status act(vkft_vk_rec *rec, const vkft_op_call *call, uint32_t kind,
                       vkft_err *err) {
    uint64_t n = (uint64_t)vkft_desc_numel(&call->out[0]->desc);
    uint64_t chunk = vkft_vk_chunk_elems(rec, 4);
    uint32_t spec[1] = {kind};
    for (uint64_t e0 = 0; e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk;
        vkft_vk_arg args[5];
        for (int i = 0; i < 5; i++) {
            /* absent inputs bind in[0], an absent second output binds out[0]; never read */
            const vkft_tensor *t = i < 3 ? (i < call->n_in ? call->in[i] : call->in[0])
                                         : (i - 3 < call->n_out ? call->out[i - 3]
                                                                : call->out[0]);
            args[i] = (vkft_vk_arg){.t = t, .offset = e0 * 4, .range = m * 4};
        }
        struct { uint32_t n; } pc = {(uint32_t)m};
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m + ACT_WG - 1) / ACT_WG, &gx, &gy);
        vkft_status st = vkft_vk_dispatch(rec, "activation", spec, 1, args, 5, &pc, sizeof pc, gx,
                                          gy, 1, err);
        if (st) return st;
    }
    return VKFT_OK;
}

VKFT_VK_OP(gelu) { return act(rec, call, 0, err); }
VKFT_VK_OP(gelu_backward) { return act(rec, call, 1, err); }
VKFT_VK_OP(silu) { return act(rec, call, 2, err); }
VKFT_VK_OP(silu_backward) { return act(rec, call, 3, err); }
VKFT_VK_OP(swiglu) { return act(rec, call, 4, err); }
VKFT_VK_OP(swiglu_backward) { return act(rec, call, 5, err); }
VKFT_VK_OP(relu) { return act(rec, call, 6, err); }
VKFT_VK_OP(relu_backward) { return act(rec, call, 7, err); }
VKFT_VK_OP(tanh) { return act(rec, call, 8, err); }
VKFT_VK_OP(tanh_backward) { return act(rec, call, 9, err); }
VKFT_VK_OP(gelu_erf) { return act(rec, call, 10, err); }
VKFT_VK_OP(gelu_erf_backward) { return act(rec, call, 11, err); }

/* Workgroup size for a row of h: a power of two <= h, 8..256 on GPUs; 8 (one lavapipe subgroup)
 * on CPU-shaped drivers, where each barrier is a coroutine switch (the norms measured 8 lanes
 * fastest there; softmax has the same shape: a few passes over a row and tree reductions). */
static uint32_t row_workgroup(const vkft_vk_rec *rec, int64_t h) {
    uint32_t max = vkft_vk_cpu_shaped(rec) ? 8 : 256, wg = 8;
    while (wg < max && (int64_t)wg * 2 <= h) wg *= 2;
    return wg;
}

static vkft_status softmax(vkft_vk_rec *rec, const vkft_op_call *call, bool backward,
                           vkft_err *err) {
    const char *op = backward ? "softmax_backward" : "softmax";
    const vkft_tensor *a = call->in[0], *b = backward ? call->in[1] : call->in[0];
    const vkft_tensor *o = call->out[0];
    int64_t h = o->desc.shape[o->desc.ndim - 1];
    uint64_t rows = (uint64_t)vkft_desc_rows(&o->desc), lim = vkft_vk_max_range(rec);
    uint64_t cap = lim > 16 ? (lim - 16) / ((uint64_t)h * 4) : 0;  /* the shift adds <= 12 B */
    if (!cap)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: a row of %lld floats does not fit in the "
                         "device's storage-buffer range (%llu bytes)", op, (long long)h,
                         (unsigned long long)lim);
    uint32_t spec[2] = {row_workgroup(rec, h), backward};
    for (uint64_t r0 = 0; r0 < rows; r0 += cap) {
        uint64_t m = rows - r0 < cap ? rows - r0 : cap, e0 = r0 * (uint64_t)h;
        struct { uint32_t rows, h, xs; } pc = {(uint32_t)m, (uint32_t)h, 0};
        uint32_t unused;
        vkft_vk_arg args[3] = {vkft_vk_bind_elems(a, e0, m * (uint64_t)h, 4, &pc.xs),
                               vkft_vk_bind_elems(b, e0, m * (uint64_t)h, 4, &unused),
                               vkft_vk_bind_elems(o, e0, m * (uint64_t)h, 4, &unused)};
        uint32_t gx, gy;
        vkft_vk_grid(rec, m, &gx, &gy);
        vkft_status st = vkft_vk_dispatch(rec, "softmax", spec, 2, args, 3, &pc, sizeof pc, gx,
                                          gy, 1, err);
        if (st) return st;
    }
    return VKFT_OK;
}

VKFT_VK_OP(softmax) { return softmax(rec, call, false, err); }
VKFT_VK_OP(softmax_backward) { return softmax(rec, call, true, err); }
