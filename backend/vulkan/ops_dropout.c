/*
 * Vulkan recording of DROPOUT (shaders/dropout.comp). Elementwise: a big tensor is split into
 * chunks bound at the same offsets in x and y; the chunk's first element index goes to the
 * shader as two words so the hash sees the same flat index as the CPU's. The seed input
 * ({seed, step}) is read on the device, so a recorded plan draws a new mask when the host
 * uploads the next step's pair. p = 0 records a buffer copy (nothing when y aliases x).
 */
#include "ops/dropout.h"
#include "vulkan/vk_ops.h"

#define DROPOUT_WG 256

VKFT_VK_OP(dropout) {
    const vkft_dropout_params *p = call->params;
    const vkft_tensor *x = call->in[0], *seed = call->in[1], *y = call->out[0];
    if (p->p == 0.0f)
        return x == y ? VKFT_OK : vkft_vk_copy_buffer(rec, x, 0, y, 0, y->bytes, err);
    uint64_t n = (uint64_t)vkft_desc_numel(&x->desc), chunk = vkft_vk_chunk_elems(rec, 4);
    for (uint64_t e0 = 0; e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk;
        struct { uint32_t n, base_lo, base_hi, threshold, stream; float scale; } pc = {
            (uint32_t)m, (uint32_t)e0, (uint32_t)(e0 >> 32), vkft_dropout_threshold(p->p),
            p->stream, vkft_dropout_scale(p->p)};
        vkft_vk_arg args[3] = {{.t = x, .offset = e0 * 4, .range = m * 4},
                               {.t = seed, .offset = 0, .range = 8},
                               {.t = y, .offset = e0 * 4, .range = m * 4}};
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m + DROPOUT_WG - 1) / DROPOUT_WG, &gx, &gy);
        vkft_status st = vkft_vk_dispatch(rec, "dropout", NULL, 0, args, 3, &pc, sizeof pc, gx,
                                          gy, 1, err);
        if (st) return st;
    }
    return VKFT_OK;
}
