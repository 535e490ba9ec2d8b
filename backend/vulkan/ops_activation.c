/*
 * Vulkan recording of the activation ops (shaders activation.comp, softmax.comp).
 *
 * GELU, GELU_ERF, SILU, SWIGLU, RELU, TANH and their backwards are elementwise: every tensor has
 * one shape, so a big one (an MLP activation [tokens, 4 * hidden] can pass 128 MiB) is split
 * into chunks of elements bound at the same offsets in every tensor. On CPU-shaped drivers
 * (lavapipe) the whole texels of a chunk run activation_cpu.comp (texel loads, vec4 stores:
 * 2-6x faster there: docs/performance.md), when every tensor starts on 16 bytes.
 *
 * SOFTMAX and its backward: one workgroup per row, lane partials combined in a fixed tree, so
 * two runs give identical bits and a row's result does not depend on the chunking. Split path:
 * chunks of whole rows bound as sub-ranges (a binding starts at the 16-byte boundary at or below
 * its first row; the shader adds the shift). One row must fit the range.
 */
#include "vulkan/vk_ops.h"

#define ACT_WG 64
#define ACT_CPU_TEXELS (64 * 4)   /* texels per workgroup of activation_cpu.comp */

/* Tensor i of the five bindings: absent inputs bind in[0], an absent second output binds
 * out[0] (never read or written). */
static const vkft_tensor *act_tensor(const vkft_op_call *call, int i) {
    if (i < 3) return i < call->n_in ? call->in[i] : call->in[0];
    return i - 3 < call->n_out ? call->out[i - 3] : call->out[0];
}

/* Elements [e0, e0 + m) through activation.comp (storage buffers, any count). */
static vkft_status act_plain(vkft_vk_rec *rec, const vkft_op_call *call, uint32_t kind,
                             uint64_t e0, uint64_t m, vkft_err *err) {
    uint32_t spec[1] = {kind};
    vkft_vk_arg args[5];
    for (int i = 0; i < 5; i++)
        args[i] = (vkft_vk_arg){.t = act_tensor(call, i), .offset = e0 * 4, .range = m * 4};
    struct { uint32_t n; } pc = {(uint32_t)m};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (m + ACT_WG - 1) / ACT_WG, &gx, &gy);
    return vkft_vk_dispatch(rec, "activation", spec, 1, args, 5, &pc, sizeof pc, gx, gy, 1, err);
}

/* Elements [e0, e0 + m4) (m4 a multiple of 4) through activation_cpu.comp: inputs as RGBA32F
 * texel views, outputs as vec4 storage views. */
static vkft_status act_texel(vkft_vk_rec *rec, const vkft_op_call *call, uint32_t kind,
                             uint64_t e0, uint64_t m4, vkft_err *err) {
    uint32_t spec[1] = {kind};
    vkft_vk_arg args[5];
    for (int i = 0; i < 5; i++)
        args[i] = (vkft_vk_arg){.t = act_tensor(call, i), .offset = e0 * 4, .range = m4 * 4,
                                .texel_format = i < 3 ? VK_FORMAT_R32G32B32A32_SFLOAT
                                                      : VK_FORMAT_UNDEFINED};
    struct { uint32_t n4; } pc = {(uint32_t)(m4 / 4)};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (pc.n4 + ACT_CPU_TEXELS - 1) / ACT_CPU_TEXELS, &gx, &gy);
    return vkft_vk_dispatch(rec, "activation_cpu", spec, 1, args, 5, &pc, sizeof pc, gx, gy, 1,
                            err);
}

/* CPU-shaped drivers take the texel kernel for the whole texels of each chunk when every tensor
 * starts on 16 bytes (the rest, < 4 elements, through activation.comp); GPUs and unaligned
 * tensors take activation.comp for everything. */
static vkft_status act(vkft_vk_rec *rec, const vkft_op_call *call, uint32_t kind,
                       vkft_err *err) {
    uint64_t n = (uint64_t)vkft_desc_numel(&call->out[0]->desc);
    uint64_t chunk = vkft_vk_chunk_elems(rec, 4), tchunk = vkft_vk_texel_chunk_elems(rec);
    bool texel = tchunk > 0;
    for (int i = 0; i < 5; i++) texel = texel && vkft_vk_texel_aligned(act_tensor(call, i));
    if (texel) chunk = tchunk;
    for (uint64_t c0 = 0; c0 < n; c0 += chunk) {
        uint64_t cm = n - c0 < chunk ? n - c0 : chunk, m4 = texel ? cm - cm % 4 : 0;
        vkft_status st = m4 ? act_texel(rec, call, kind, c0, m4, err) : VKFT_OK;
        if (!st && cm > m4) st = act_plain(rec, call, kind, c0 + m4, cm - m4, err);
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
