/*
 * Vulkan recording of the optimizer ops (shaders sum_squares.comp, sum_partials.comp,
 * adamw.comp).
 *
 * SUM_SQUARES is a two-level reduction: one partial per block of SUMSQ_BLOCK elements into a
 * scratch tensor, then sum_partials adds the blocks in order (no float atomics: two runs give
 * identical bits). ADAMW is elementwise.
 *
 * Split path: parameters and optimizer state may exceed the storage-buffer range, so both ops
 * run over flat chunks of whole, 16-byte aligned element ranges (vkft_vk_chunk_elems); a chunk
 * of sum_squares appends its blocks' partials after the previous chunk's.
 */
#include "vulkan/vk_ops.h"

/* Elements per first-level block: 8 lanes x 512 on CPU-shaped drivers (one lavapipe subgroup,
 * no barriers to speak of), 256 lanes x 16 on GPUs. */
#define SUMSQ_BLOCK 4096u

/* Adds part[0, n) in order into o[0], chunk by chunk when the partials exceed the range
 * (ops_cross_entropy.c has the two-column twin). */
static vkft_status sum_partials(vkft_vk_rec *rec, const vkft_tensor *part, uint64_t n,
                                const vkft_tensor *o, vkft_err *err) {
    uint64_t cap = (vkft_vk_max_range(rec) - 16) / 4;
    vkft_status st = VKFT_OK;
    for (uint64_t r0 = 0; !st && r0 < n; r0 += cap) {
        uint64_t m = n - r0 < cap ? n - r0 : cap;
        struct { uint32_t n, k, shift, accumulate; } pc = {(uint32_t)m, 1, 0, r0 > 0};
        vkft_vk_arg args[3] = {vkft_vk_bind_elems(part, r0, m, 4, &pc.shift), {.t = o}, {.t = o}};
        st = vkft_vk_dispatch(rec, "sum_partials", NULL, 0, args, 3, &pc, sizeof pc, 1, 1, 1,
                              err);
    }
    return st;
}

/* Blocks of elements [e0, e0 + m) of x, through sum_squares_cpu.comp (texel: m a multiple of
 * 4, x's texels) or sum_squares.comp, into partials [p0, p0 + blocks). */
static vkft_status sum_squares_range(vkft_vk_rec *rec, const vkft_tensor *x, uint64_t e0,
                                     uint64_t m, bool texel, vkft_tensor *part, uint64_t p0,
                                     vkft_err *err) {
    uint64_t nb = (m + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    struct { uint32_t n, p0; } pc = {(uint32_t)(texel ? m / 4 : m), 0};
    vkft_vk_arg args[2] = {{.t = x, .offset = e0 * 4, .range = m * 4},
                           vkft_vk_bind_elems(part, p0, nb, 4, &pc.p0)};
    uint32_t gx, gy;
    vkft_vk_grid(rec, nb, &gx, &gy);
    if (texel) {
        args[0].texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;
        uint32_t spec[1] = {SUMSQ_BLOCK / 4};
        return vkft_vk_dispatch(rec, "sum_squares_cpu", spec, 1, args, 2, &pc, sizeof pc, gx, gy,
                                1, err);
    }
    uint32_t wg = vkft_vk_cpu_shaped(rec) ? 8 : 256, spec[2] = {wg, SUMSQ_BLOCK / wg};
    return vkft_vk_dispatch(rec, "sum_squares", spec, 2, args, 2, &pc, sizeof pc, gx, gy, 1,
                            err);
}

/* On CPU-shaped drivers the whole texels of each chunk go through sum_squares_cpu.comp (texel
 * fetches instead of one scalar-load loop per float) and a remainder of < 4 elements through
 * sum_squares.comp; the partials stay in element order, so the sum is deterministic. */
VKFT_VK_OP(sum_squares) {
    const vkft_tensor *x = call->in[0];
    uint64_t n = (uint64_t)vkft_desc_numel(&x->desc), chunk = vkft_vk_texel_chunk_elems(rec);
    bool texel = chunk > 0 && vkft_vk_texel_aligned(x) && vkft_vk_shuffle8(rec);
    if (!texel) chunk = vkft_vk_chunk_elems(rec, 4);
    uint64_t total = 0;   /* partials over all chunks */
    for (uint64_t e0 = 0; e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk, m4 = texel ? m - m % 4 : 0;
        total += (m4 + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK + (m - m4 + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    }
    vkft_tensor *part;
    int64_t pshape[1] = {(int64_t)total};
    vkft_status st = vkft_vk_scratch(rec, VKFT_F32, 1, pshape, &part, err);
    uint64_t p0 = 0;
    for (uint64_t e0 = 0; !st && e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk, m4 = texel ? m - m % 4 : 0;
        if (m4) st = sum_squares_range(rec, x, e0, m4, true, part, p0, err);
        p0 += (m4 + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
        if (!st && m > m4) st = sum_squares_range(rec, x, e0 + m4, m - m4, false, part, p0, err);
        p0 += (m - m4 + SUMSQ_BLOCK - 1) / SUMSQ_BLOCK;
    }
    if (!st) st = sum_partials(rec, part, total, call->out[0], err);
    return st;
}

/* Elements per adamw workgroup: 64 lanes x 8 (shaders/adamw.comp, WG x PER_LANE); texels per
 * adamw_cpu workgroup (the same grid, 4 elements a texel). */
#define ADAMW_GROUP 512u

/* Elements [e0, e0 + m) with adamw.comp (storage buffers), or with adamw_cpu.comp (p, g, m, v
 * as RGBA32F texels; m a multiple of 4). */
static vkft_status adamw_range(vkft_vk_rec *rec, const vkft_op_call *call, uint64_t e0,
                               uint64_t m, bool texel, vkft_err *err) {
    const vkft_adamw_params *a = call->params;
    struct { uint32_t n; float beta1, beta2, eps, weight_decay; } pc = {
        (uint32_t)(texel ? m / 4 : m), a->beta1, a->beta2, a->eps, a->weight_decay};
    vkft_vk_arg args[8];
    const vkft_tensor *t[8] = {call->in[0], call->in[1], call->in[2], call->in[3],
                               call->in[4], call->out[0], call->out[1], call->out[2]};
    for (int i = 0; i < 8; i++) {
        args[i] = i == 4 ? (vkft_vk_arg){.t = t[i]}
                         : (vkft_vk_arg){.t = t[i], .offset = e0 * 4, .range = m * 4};
        if (texel && i < 4) args[i].texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;
    }
    uint32_t gx, gy;
    vkft_vk_grid(rec, ((texel ? m / 4 : m) + ADAMW_GROUP - 1) / ADAMW_GROUP, &gx, &gy);
    return vkft_vk_dispatch(rec, texel ? "adamw_cpu" : "adamw", NULL, 0, args, 8, &pc, sizeof pc,
                            gx, gy, 1, err);
}

VKFT_VK_OP(adamw) {
    uint64_t n = (uint64_t)vkft_desc_numel(&call->in[0]->desc);
    uint64_t chunk = vkft_vk_texel_chunk_elems(rec);
    bool texel = chunk > 0;
    for (int i = 0; i < 4; i++) texel &= vkft_vk_texel_aligned(call->in[i]);
    for (int i = 0; i < 3; i++) texel &= vkft_vk_texel_aligned(call->out[i]);
    if (!texel) chunk = vkft_vk_chunk_elems(rec, 4);
    vkft_status st = VKFT_OK;
    for (uint64_t e0 = 0; !st && e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk, m4 = texel ? m - m % 4 : 0;
        if (m4) st = adamw_range(rec, call, e0, m4, true, err);
        if (!st && m > m4) st = adamw_range(rec, call, e0 + m4, m - m4, false, err);
    }
    return st;
}
