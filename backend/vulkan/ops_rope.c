/*
 * Vulkan recording of the rope ops (shaders/rope.comp): one invocation per (token, pair or
 * pass-through dim), looping over the heads, so each token's cos/sin are computed once per
 * frequency. Split path: x (activations, [B, T, nH, D]) may exceed the storage-buffer range, so
 * the tokens run in chunks bound as sub-ranges (from the 16-byte boundary at or below the
 * chunk's first element, the shader adding the shift); one token (nH * D floats) must fit.
 * CPU-shaped drivers (lavapipe) take rope_cpu.comp where R / 2 and D are multiples of 4 and x, y
 * start on 16 bytes: 4 dims per invocation through texel loads and vec4 stores (2-6x faster
 * there: docs/performance.md); its chunks are whole tokens that also fit a texel view.
 */
#include "vulkan/vk_ops.h"

/* Whether rope_cpu.comp runs this call: a CPU-shaped driver whose texel views may start on any
 * 16-byte boundary, R / 2 and D multiples of 4 (every column of 4 dims is one texel of one half
 * or of the pass-through dims), x and y starting on 16 bytes. Else rope.comp. */
static bool rope_texel(const vkft_vk_rec *rec, const vkft_op_call *call, uint64_t half,
                       uint64_t d) {
    return vkft_vk_texel_chunk_elems(rec) > 0 && half > 0 && half % 4 == 0 && d % 4 == 0 &&
           vkft_vk_texel_aligned(call->in[0]) && vkft_vk_texel_aligned(call->out[0]);
}

/* Tokens [t0, t0 + m) (rows of `row` floats) through rope_cpu.comp. */
static vkft_status rope_cpu(vkft_vk_rec *rec, const vkft_op_call *call, float sign,
                            uint64_t t0, uint64_t m, uint64_t row, vkft_err *err) {
    const vkft_tensor *x = call->in[0], *f = call->in[1], *pos = call->in[2], *y = call->out[0];
    const vkft_rope_params *p = call->params;
    const int64_t *s = x->desc.shape;
    uint32_t half4 = (uint32_t)f->desc.shape[0] / 4, d4 = (uint32_t)s[3] / 4;
    struct {
        uint32_t tokens, t_len, heads, d4, half4, t0;
        int32_t pos_offset;
        float scaling, sign;
        uint32_t has_pos, ps;
    } pc = {(uint32_t)m, (uint32_t)s[1], (uint32_t)s[2], d4, half4, (uint32_t)t0,
            (int32_t)p->pos_offset, p->attention_scaling, sign, pos != NULL, 0};
    vkft_vk_arg args[4] = {{.t = x, .offset = t0 * row * 4, .range = m * row * 4,
                            .texel_format = VK_FORMAT_R32G32B32A32_SFLOAT},
                           {.t = f},
                           pos ? vkft_vk_bind_elems(pos, t0, m, 4, &pc.ps)
                               : (vkft_vk_arg){.t = f},
                           {.t = y, .offset = t0 * row * 4, .range = m * row * 4}};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (m * (d4 - half4) + 63) / 64, &gx, &gy);
    return vkft_vk_dispatch(rec, "rope_cpu", NULL, 0, args, 4, &pc, sizeof pc, gx, gy, 1, err);
}

static vkft_status rope(vkft_vk_rec *rec, const vkft_op_call *call, float sign, vkft_err *err) {
    const char *op = sign > 0 ? "rope" : "rope_backward";
    const vkft_tensor *x = call->in[0], *f = call->in[1], *pos = call->in[2], *y = call->out[0];
    const vkft_rope_params *p = call->params;
    const int64_t *s = x->desc.shape;
    uint64_t tokens = (uint64_t)(s[0] * s[1]), row = (uint64_t)(s[2] * s[3]);
    uint64_t lim = vkft_vk_max_range(rec), cap = lim > 16 ? (lim - 16) / (row * 4) : 0;
    if (!cap)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: a token of %llu bytes does not fit in the "
                         "device's storage-buffer range (%llu bytes)", op,
                         (unsigned long long)(row * 4), (unsigned long long)lim);
    uint32_t half = (uint32_t)f->desc.shape[0], width = (uint32_t)s[3] - half;
    bool texel = rope_texel(rec, call, half, (uint64_t)s[3]);
    uint64_t tcap = texel ? vkft_vk_texel_chunk_elems(rec) / row : 0;  /* row % 4 == 0 */
    texel = tcap > 0;   /* else one token is more than a texel view may hold */
    if (texel && tcap < cap) cap = tcap;
    vkft_status st = VKFT_OK;
    for (uint64_t t0 = 0; !st && t0 < tokens; t0 += cap) {
        uint64_t m = tokens - t0 < cap ? tokens - t0 : cap;
        if (texel) {
            st = rope_cpu(rec, call, sign, t0, m, row, err);
            continue;
        }
        struct {
            uint32_t tokens, t_len, heads, d, half, t0;
            int32_t pos_offset;
            float scaling, sign;
            uint32_t has_pos, xs, ps;
        } pc = {(uint32_t)m, (uint32_t)s[1], (uint32_t)s[2], (uint32_t)s[3], half,
                (uint32_t)t0, (int32_t)p->pos_offset, p->attention_scaling, sign, pos != NULL,
                0, 0};
        uint32_t unused;
        vkft_vk_arg args[4] = {vkft_vk_bind_elems(x, t0 * row, m * row, 4, &pc.xs), {.t = f},
                               pos ? vkft_vk_bind_elems(pos, t0, m, 4, &pc.ps)
                                   : (vkft_vk_arg){.t = f},
                               vkft_vk_bind_elems(y, t0 * row, m * row, 4, &unused)};
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m * width + 63) / 64, &gx, &gy);
        st = vkft_vk_dispatch(rec, "rope", NULL, 0, args, 4, &pc, sizeof pc, gx, gy, 1, err);
    }
    return st;
}

VKFT_VK_OP(rope) { return rope(rec, call, 1.0f, err); }
VKFT_VK_OP(rope_backward) { return rope(rec, call, -1.0f, err); }
