/*
 * Vulkan recording of the embedding ops (shaders embedding.comp, embedding_backward_link.comp,
 * embedding_backward.comp).
 *
 * Split path: tables are big ([32000, 4096] f32 is 512 MiB, over the 128 MiB storage-buffer
 * range of many devices) and so are activations, so both ops run over chunks of table rows
 * times chunks of tokens, each bound as a sub-range (from the 16-byte boundary at or below its
 * first element, the shader adding the shift). A dispatch handles the tokens of its token chunk
 * whose id falls in its table chunk. One table row and one token's row must fit.
 *
 * Backward, deterministic without atomics: dtable is zero-filled; per token chunk a link pass
 * gives each token "first of its id in the chunk" and "next token with its id" (O(tokens^2) id
 * compares worst case, once per chunk, not per column); then one invocation per (token, column)
 * lets each first token walk its id's tokens in order and add the sum to its row. Token chunks
 * run in order, so a row's sum order is fixed; without a split it is exactly the CPU's order.
 */
#include "vulkan/vk_ops.h"

/* Rows of `row` bytes per chunk (the shift may add up to 14 bytes). */
static vkft_status rows_per_chunk(const vkft_vk_rec *rec, const char *op, const char *what,
                                  uint64_t row, uint64_t *rows, vkft_err *err) {
    uint64_t lim = vkft_vk_max_range(rec);
    *rows = lim > 16 ? (lim - 16) / row : 0;
    if (!*rows)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: a %s row of %llu bytes does not fit in the "
                         "device's storage-buffer range (%llu bytes)", op, what,
                         (unsigned long long)row, (unsigned long long)lim);
    return VKFT_OK;
}

VKFT_VK_OP(embedding) {
    const vkft_tensor *ids = call->in[0], *tab = call->in[1], *out = call->out[0];
    uint64_t vocab = (uint64_t)tab->desc.shape[0], h = (uint64_t)tab->desc.shape[1];
    uint64_t tokens = (uint64_t)vkft_desc_numel(&ids->desc), es = vkft_dtype_size(tab->desc.dtype);
    uint64_t tcap = 0, vcap = 0;
    vkft_status st = rows_per_chunk(rec, "embedding", "output", h * 4, &tcap, err);
    if (!st) st = rows_per_chunk(rec, "embedding", "table", h * es, &vcap, err);
    if (!st && vocab > INT32_MAX)
        st = vkft_fail(err, VKFT_ERR_LIMIT, "embedding: more than 2^31 table rows");
    uint32_t kind = tab->desc.dtype == VKFT_F16 ? 1 : tab->desc.dtype == VKFT_BF16 ? 2 : 0;
    for (uint64_t t0 = 0; !st && t0 < tokens; t0 += tcap) {
        uint64_t m = tokens - t0 < tcap ? tokens - t0 : tcap;
        for (uint64_t v0 = 0; !st && v0 < vocab; v0 += vcap) {
            uint64_t vn = vocab - v0 < vcap ? vocab - v0 : vcap;
            struct {
                uint32_t tokens, h;
                int32_t v0, vn, vocab;
                uint32_t kind, zero_oob, is, os, ts;
            } pc = {(uint32_t)m, (uint32_t)h, (int32_t)v0, (int32_t)vn, (int32_t)vocab, kind,
                    v0 == 0, 0, 0, 0};
            vkft_vk_arg args[3] = {vkft_vk_bind_elems(ids, t0, m, 4, &pc.is),
                                   vkft_vk_bind_elems(tab, v0 * h, vn * h, es, &pc.ts),
                                   vkft_vk_bind_elems(out, t0 * h, m * h, 4, &pc.os)};
            uint32_t gx, gy;
            vkft_vk_grid(rec, (m * h + 63) / 64, &gx, &gy);
            st = vkft_vk_dispatch(rec, "embedding", NULL, 0, args, 3, &pc, sizeof pc, gx, gy, 1,
                                  err);
        }
    }
    return st;
}

VKFT_VK_OP(embedding_backward) {
    const vkft_tensor *dy = call->in[0], *ids = call->in[1], *dt = call->out[0];
    uint64_t vocab = (uint64_t)dt->desc.shape[0], h = (uint64_t)dt->desc.shape[1];
    uint64_t tokens = (uint64_t)vkft_desc_numel(&ids->desc), tcap = 0, vcap = 0;
    vkft_status st = rows_per_chunk(rec, "embedding_backward", "dy", h * 4, &tcap, err);
    if (!st) st = rows_per_chunk(rec, "embedding_backward", "table", h * 4, &vcap, err);
    if (!st) st = vkft_vk_fill(rec, dt, 0, 0, 0, err);
    vkft_tensor *link = NULL;
    int64_t lshape[1] = {(int64_t)(tokens < tcap ? tokens : tcap)};
    if (!st) st = vkft_vk_scratch(rec, VKFT_I32, 1, lshape, &link, err);
    for (uint64_t t0 = 0; !st && t0 < tokens; t0 += tcap) {
        uint64_t m = tokens - t0 < tcap ? tokens - t0 : tcap;
        struct { uint32_t tokens; int32_t vocab; uint32_t is; } lc = {
            (uint32_t)m, (int32_t)vocab, 0};
        vkft_vk_arg largs[2] = {vkft_vk_bind_elems(ids, t0, m, 4, &lc.is),
                                {.t = link, .range = m * 4}};
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m + 63) / 64, &gx, &gy);
        st = vkft_vk_dispatch(rec, "embedding_backward_link", NULL, 0, largs, 2, &lc, sizeof lc,
                              gx, gy, 1, err);
        for (uint64_t v0 = 0; !st && v0 < vocab; v0 += vcap) {
            uint64_t vn = vocab - v0 < vcap ? vocab - v0 : vcap;
            struct { uint32_t tokens, h; int32_t v0, vn; uint32_t is, ds, ts; } pc = {
                (uint32_t)m, (uint32_t)h, (int32_t)v0, (int32_t)vn, 0, 0, 0};
            vkft_vk_arg args[4] = {vkft_vk_bind_elems(ids, t0, m, 4, &pc.is),
                                   {.t = link, .range = m * 4},
                                   vkft_vk_bind_elems(dy, t0 * h, m * h, 4, &pc.ds),
                                   vkft_vk_bind_elems(dt, v0 * h, vn * h, 4, &pc.ts)};
            vkft_vk_grid(rec, (m * h + 63) / 64, &gx, &gy);
            st = vkft_vk_dispatch(rec, "embedding_backward", NULL, 0, args, 4, &pc, sizeof pc, gx,
                                  gy, 1, err);
        }
    }
    return st;
}
