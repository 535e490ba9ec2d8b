/*
 * Vulkan recording of the cross-entropy ops (shaders cross_entropy.comp,
 * cross_entropy_backward.comp, their CPU-shaped twins cross_entropy_cpu.comp and
 * cross_entropy_backward_cpu.comp, sum_partials.comp).
 *
 * Forward: one workgroup per row computes lse and the row's partials {loss, weight} into a
 * scratch tensor [N, 2]; then sum_partials adds the rows in order into loss_sum and count. No
 * float atomics, so two runs give identical bits.
 *
 * Split path: logits [N, V] may exceed the storage-buffer range (2048 x 32000 f32 is 262 MB), so
 * both ops run over chunks of whole rows bound as sub-ranges; a binding starts at the 16-byte
 * boundary at or below its first element and the shader adds the element shift. A single row
 * (V * 4 bytes) must fit in the range. The row partials are summed chunk by chunk, in chunk
 * order, each chunk adding to loss_sum / count.
 *
 * CPU-shaped drivers (lavapipe) run the *_cpu kernels where rows are whole texels (V % 4 == 0,
 * logits and dlogits on 16 bytes): 8-lane workgroups reading the logits as RGBA32F texels, lane
 * sums merged by subgroup xor shuffles, dlogits stored as vec4s. Their chunks are bound as texel
 * views, so they also fit maxTexelBufferElements. Every other case runs the kernels above.
 */
#include "vulkan/vk_ops.h"

/* Rows per chunk: a chunk's logits (and its 8-byte-per-row partials) fit the range with up to
 * 12 bytes of alignment shift. */
static vkft_status rows_per_chunk(const vkft_vk_rec *rec, const char *op, uint64_t v,
                                  uint64_t *rows, vkft_err *err) {
    uint64_t lim = vkft_vk_max_range(rec), row = v * 4 > 8 ? v * 4 : 8;
    *rows = lim > 16 ? (lim - 16) / row : 0;
    if (!*rows)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: a row of %llu logits does not fit in the "
                         "device's storage-buffer range (%llu bytes)", op, (unsigned long long)v,
                         (unsigned long long)lim);
    return VKFT_OK;
}

/* Workgroup size for a row of v columns: a power of two <= v, 8..256 on GPUs; 8 (one lavapipe
 * subgroup) on CPU-shaped drivers, where each barrier is a coroutine switch. */
static uint32_t row_workgroup(const vkft_vk_rec *rec, uint64_t v) {
    uint32_t max = vkft_vk_cpu_shaped(rec) ? 8 : 256, wg = 8;
    while (wg < max && (uint64_t)wg * 2 <= v) wg *= 2;
    return wg;
}

/* Rows per chunk of the CPU-shaped kernels for rows of v logits, or 0 where they do not apply:
 * not CPU-shaped, rows not whole texels, a tensor off a 16-byte boundary (dz: NULL for the
 * forward), or (forward) no xor shuffles over 8 lanes. Texel indices are 32-bit ints. */
static uint64_t texel_rows(const vkft_vk_rec *rec, uint64_t v, const vkft_tensor *z,
                           const vkft_tensor *dz, bool shuffles) {
    uint64_t elems = vkft_vk_texel_chunk_elems(rec);
    if (!elems || !v || v % 4 || !vkft_vk_texel_aligned(z) || (dz && !vkft_vk_texel_aligned(dz)))
        return 0;
    if (shuffles && !vkft_vk_shuffle8(rec)) return 0;
    if (elems / 4 > INT32_MAX) elems = (uint64_t)INT32_MAX * 4;
    return elems / v;
}

/* Adds the row partials {loss, weight} of rows [0, n) in order into loss_sum and count, chunk
 * by chunk when they exceed the range (ops_optimizer.c has the one-column twin). */
static vkft_status sum_partials(vkft_vk_rec *rec, const vkft_tensor *part, uint64_t n,
                                const vkft_tensor *o0, const vkft_tensor *o1, vkft_err *err) {
    const uint32_t k = 2;
    uint64_t lim = vkft_vk_max_range(rec), cap = (lim - 16) / (k * 4);
    vkft_status st = VKFT_OK;
    for (uint64_t r0 = 0; !st && r0 < n; r0 += cap) {
        uint64_t m = n - r0 < cap ? n - r0 : cap;
        struct { uint32_t n, k, shift, accumulate; } pc = {(uint32_t)m, k, 0, r0 > 0};
        vkft_vk_arg args[3] = {vkft_vk_bind_elems(part, r0 * k, m * k, 4, &pc.shift), {.t = o0},
                               {.t = o1}};
        st = vkft_vk_dispatch(rec, "sum_partials", NULL, 0, args, 3, &pc, sizeof pc, 1, 1, 1,
                              err);
    }
    return st;
}

/* The logits of rows [r0, r0 + m) as an RGBA32F texel view (rows of whole texels). */
static vkft_vk_arg texel_rows_arg(const vkft_tensor *z, uint64_t v, uint64_t r0, uint64_t m) {
    return (vkft_vk_arg){.t = z, .offset = r0 * v * 4, .range = m * v * 4,
                         .texel_format = VK_FORMAT_R32G32B32A32_SFLOAT};
}

/* The forward's per-row bindings of rows [r0, r0 + m), shared by both kernels: labels, weights
 * (labels again without them), lse and the {loss, weight} partials; *rs and *ps get the
 * element shifts of the labels and partials bindings. */
static void bind_row_values(const vkft_op_call *call, const vkft_tensor *part, uint64_t r0,
                            uint64_t m, uint32_t *rs, uint32_t *ps, vkft_vk_arg args[4]) {
    const vkft_tensor *labels = call->in[1], *w = call->in[2];
    uint32_t unused;
    args[0] = vkft_vk_bind_elems(labels, r0, m, 4, rs);
    args[1] = vkft_vk_bind_elems(w ? w : labels, r0, m, 4, &unused);
    args[2] = vkft_vk_bind_elems(call->out[2], r0, m, 4, &unused);
    args[3] = vkft_vk_bind_elems(part, r0 * 2, m * 2, 4, ps);
}

/* Rows [r0, r0 + m) through cross_entropy_cpu.comp. */
static vkft_status forward_texel(vkft_vk_rec *rec, const vkft_op_call *call,
                                 const vkft_tensor *part, uint64_t r0, uint64_t m,
                                 vkft_err *err) {
    const vkft_cross_entropy_params *p = call->params;
    const vkft_tensor *z = call->in[0], *w = call->in[2];
    uint64_t v = (uint64_t)z->desc.shape[1];
    struct { uint32_t rows, v, rs, ps, has_w; int32_t ignore; } pc = {
        (uint32_t)m, (uint32_t)v, 0, 0, w != NULL, p->ignore_index};
    vkft_vk_arg args[5] = {texel_rows_arg(z, v, r0, m)};
    bind_row_values(call, part, r0, m, &pc.rs, &pc.ps, args + 1);
    uint32_t gx, gy;
    vkft_vk_grid(rec, m, &gx, &gy);
    return vkft_vk_dispatch(rec, "cross_entropy_cpu", NULL, 0, args, 5, &pc, sizeof pc, gx, gy,
                            1, err);
}

/* Rows [r0, r0 + m) through cross_entropy.comp (a chunk within the storage range). */
static vkft_status forward_plain(vkft_vk_rec *rec, const vkft_op_call *call,
                                 const vkft_tensor *part, uint64_t r0, uint64_t m,
                                 vkft_err *err) {
    const vkft_cross_entropy_params *p = call->params;
    const vkft_tensor *z = call->in[0], *w = call->in[2];
    uint64_t v = (uint64_t)z->desc.shape[1];
    struct { uint32_t rows, v, xs, rs, ps, has_w; int32_t ignore; } pc = {
        (uint32_t)m, (uint32_t)v, 0, 0, 0, w != NULL, p->ignore_index};
    uint32_t spec[1] = {row_workgroup(rec, v)};
    vkft_vk_arg args[5] = {vkft_vk_bind_elems(z, r0 * v, m * v, 4, &pc.xs)};
    bind_row_values(call, part, r0, m, &pc.rs, &pc.ps, args + 1);
    uint32_t gx, gy;
    vkft_vk_grid(rec, m, &gx, &gy);
    return vkft_vk_dispatch(rec, "cross_entropy", spec, 1, args, 5, &pc, sizeof pc, gx, gy, 1,
                            err);
}

VKFT_VK_OP(cross_entropy) {
    const vkft_tensor *z = call->in[0];
    uint64_t n = (uint64_t)z->desc.shape[0], v = (uint64_t)z->desc.shape[1], cap;
    if (n * v > UINT32_MAX || n > UINT32_MAX / 2)
        return vkft_fail(err, VKFT_ERR_LIMIT, "cross_entropy: more than 2^32 logits");
    uint64_t tcap = texel_rows(rec, v, z, NULL, true);
    vkft_status st = tcap ? VKFT_OK : rows_per_chunk(rec, "cross_entropy", v, &cap, err);
    if (tcap) cap = tcap;
    vkft_tensor *part = NULL;
    int64_t pshape[2] = {(int64_t)n, 2};
    if (!st) st = vkft_vk_scratch(rec, VKFT_F32, 2, pshape, &part, err);
    for (uint64_t r0 = 0; !st && r0 < n; r0 += cap) {
        uint64_t m = n - r0 < cap ? n - r0 : cap;
        st = tcap ? forward_texel(rec, call, part, r0, m, err)
                  : forward_plain(rec, call, part, r0, m, err);
    }
    if (!st) st = sum_partials(rec, part, n, call->out[0], call->out[1], err);
    return st;
}

/* Rows [r0, r0 + m) of the backward: cross_entropy_backward_cpu.comp when texel, else
 * cross_entropy_backward.comp (a chunk within the storage range). */
static vkft_status backward_rows(vkft_vk_rec *rec, const vkft_op_call *call, bool texel,
                                 uint64_t r0, uint64_t m, vkft_err *err) {
    const vkft_cross_entropy_params *p = call->params;
    const vkft_tensor *z = call->in[0], *labels = call->in[1], *w = call->in[2];
    const vkft_tensor *lse = call->in[3], *dloss = call->in[4], *dz = call->out[0];
    uint64_t v = (uint64_t)z->desc.shape[1];
    /* the texel kernel's block is the plain one's without xs (its logits start the view) */
    struct { uint32_t rows, v, xs, rs, has_w; int32_t ignore; } pc = {
        (uint32_t)m, (uint32_t)v, 0, 0, w != NULL, p->ignore_index};
    uint32_t unused, spec[1] = {row_workgroup(rec, v)};
    vkft_vk_arg args[6] = {texel ? texel_rows_arg(z, v, r0, m)
                                 : vkft_vk_bind_elems(z, r0 * v, m * v, 4, &pc.xs),
                           vkft_vk_bind_elems(labels, r0, m, 4, &pc.rs),
                           vkft_vk_bind_elems(w ? w : labels, r0, m, 4, &unused),
                           vkft_vk_bind_elems(lse, r0, m, 4, &unused), {.t = dloss},
                           vkft_vk_bind_elems(dz, r0 * v, m * v, 4, &unused)};
    uint32_t gx, gy;
    vkft_vk_grid(rec, m, &gx, &gy);
    if (!texel)
        return vkft_vk_dispatch(rec, "cross_entropy_backward", spec, 1, args, 6, &pc, sizeof pc,
                                gx, gy, 1, err);
    struct { uint32_t rows, v, rs, has_w; int32_t ignore; } tpc = {pc.rows, pc.v, pc.rs,
                                                                     pc.has_w, pc.ignore};
    return vkft_vk_dispatch(rec, "cross_entropy_backward_cpu", NULL, 0, args, 6, &tpc,
                            sizeof tpc, gx, gy, 1, err);
}

VKFT_VK_OP(cross_entropy_backward) {
    const vkft_tensor *z = call->in[0], *dz = call->out[0];
    uint64_t n = (uint64_t)z->desc.shape[0], v = (uint64_t)z->desc.shape[1], cap;
    if (n * v > UINT32_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "cross_entropy_backward: more than 2^32 logits");
    uint64_t tcap = texel_rows(rec, v, z, dz, false);
    vkft_status st = tcap ? VKFT_OK : rows_per_chunk(rec, "cross_entropy_backward", v, &cap, err);
    if (tcap) cap = tcap;
    for (uint64_t r0 = 0; !st && r0 < n; r0 += cap)
        st = backward_rows(rec, call, tcap > 0, r0, n - r0 < cap ? n - r0 : cap, err);
    return st;
}
