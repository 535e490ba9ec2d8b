/*
 * Vulkan recording of the elementwise ops. Big tensors are split into chunks of whole 16-byte
 * aligned element ranges that fit the storage-buffer range; a broadcast operand must fit in one
 * binding (broadcast operands are biases and scales, far below any limit).
 */
#include <string.h>

#include "ops/elementwise.h"
#include "vulkan/vk_ops.h"

VKFT_VK_OP(fill_op) {
    const vkft_fill_params *p = call->params;
    const vkft_tensor *o = call->out[0];
    uint32_t bits;
    if (o->desc.dtype == VKFT_I32) {
        int32_t v = (int32_t)p->value;
        memcpy(&bits, &v, 4);
    } else {
        memcpy(&bits, &p->value, 4);
    }
    return vkft_vk_fill(rec, o, 0, 0, bits, err);
}

VKFT_VK_OP(scale) {
    const vkft_scale_params *p = call->params;
    const vkft_tensor *x = call->in[0], *y = call->out[0];
    uint64_t n = (uint64_t)vkft_desc_numel(&x->desc), chunk = vkft_vk_chunk_elems(rec, 4);
    for (uint64_t e0 = 0; e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk;
        struct { uint32_t n; float alpha, beta; } pc = {(uint32_t)m, p->alpha, p->beta};
        vkft_vk_arg args[2] = {{.t = x, .offset = e0 * 4, .range = m * 4},
                               {.t = y, .offset = e0 * 4, .range = m * 4}};
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m + 255) / 256, &gx, &gy);
        vkft_status st = vkft_vk_dispatch(rec, "scale", NULL, 0, args, 2, &pc, sizeof pc, gx, gy,
                                          1, err);
        if (st) return st;
    }
    return VKFT_OK;
}

/* Binds operand t for output elements [e0, e0+m): whole if it fits, else the same range as the
 * output (only possible when t is not broadcast). */
static vkft_status bind_operand(vkft_vk_rec *rec, const vkft_tensor *t, const vkft_desc *out,
                                uint64_t e0, uint64_t m, vkft_vk_arg *arg, uint32_t *base,
                                vkft_err *err) {
    if (t->bytes <= vkft_vk_max_range(rec)) {
        *arg = (vkft_vk_arg){.t = t};
        *base = 0;
        return VKFT_OK;
    }
    if (!vkft_desc_equal(&t->desc, out))
        return vkft_fail(err, VKFT_ERR_LIMIT,
                         "binary op: a broadcast operand of %zu bytes exceeds the device's "
                         "storage-buffer range", t->bytes);
    *arg = (vkft_vk_arg){.t = t, .offset = e0 * 4, .range = m * 4};
    *base = (uint32_t)e0;
    return VKFT_OK;
}

/* Elements [e0, e0 + m4) of same-shaped a, b, o (m4 a multiple of 4) through binary_cpu.comp. */
static vkft_status binary_texel(vkft_vk_rec *rec, const vkft_op_call *call, uint32_t kind,
                                uint64_t e0, uint64_t m4, vkft_err *err) {
    struct { uint32_t n4, kind; } pc = {(uint32_t)(m4 / 4), kind};
    vkft_vk_arg args[3];
    for (int i = 0; i < 3; i++)
        args[i] = (vkft_vk_arg){.t = i < 2 ? call->in[i] : call->out[0], .offset = e0 * 4,
                                .range = m4 * 4,
                                .texel_format = i < 2 ? VK_FORMAT_R32G32B32A32_SFLOAT
                                                      : VK_FORMAT_UNDEFINED};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (pc.n4 + 63) / 64, &gx, &gy);
    return vkft_vk_dispatch(rec, "binary_cpu", NULL, 0, args, 3, &pc, sizeof pc, gx, gy, 1, err);
}

static vkft_status binary(vkft_vk_rec *rec, const vkft_op_call *call, uint32_t kind,
                          vkft_err *err) {
    const vkft_tensor *a = call->in[0], *b = call->in[1], *o = call->out[0];
    const vkft_desc *out = &o->desc;
    struct {
        uint32_t n, e0, kind, flat, a0, b0, shape[4], sa[4], sb[4];
    } pc = {.kind = kind};
    pc.flat = vkft_desc_equal(&a->desc, out) && vkft_desc_equal(&b->desc, out);
    int64_t sa[VKFT_MAX_DIMS], sb[VKFT_MAX_DIMS];
    vkft_bcast_strides(&a->desc, out, sa);
    vkft_bcast_strides(&b->desc, out, sb);
    int lead = VKFT_MAX_DIMS - out->ndim;
    for (int d = 0; d < VKFT_MAX_DIMS; d++) {
        pc.shape[d] = d < lead ? 1 : (uint32_t)out->shape[d - lead];
        pc.sa[d] = d < lead ? 0 : (uint32_t)sa[d - lead];
        pc.sb[d] = d < lead ? 0 : (uint32_t)sb[d - lead];
    }
    uint64_t n = (uint64_t)vkft_desc_numel(out), chunk = vkft_vk_chunk_elems(rec, 4);
    if (n > UINT32_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "binary op: more than 2^32 elements");
    uint64_t tchunk = pc.flat ? vkft_vk_texel_chunk_elems(rec) : 0;
    bool texel = tchunk > 0 && vkft_vk_texel_aligned(a) && vkft_vk_texel_aligned(b) &&
                 vkft_vk_texel_aligned(o);
    if (texel) chunk = tchunk;
    for (uint64_t c0 = 0; c0 < n; c0 += chunk) {
        uint64_t cm = n - c0 < chunk ? n - c0 : chunk, m4 = texel ? cm - cm % 4 : 0;
        if (m4) {
            vkft_status st = binary_texel(rec, call, kind, c0, m4, err);
            if (st) return st;
        }
        if (cm == m4) continue;
        uint64_t e0 = c0 + m4, m = cm - m4;  /* the rest through binary.comp */
        vkft_vk_arg args[3];
        vkft_status st = bind_operand(rec, a, out, e0, m, &args[0], &pc.a0, err);
        if (!st) st = bind_operand(rec, b, out, e0, m, &args[1], &pc.b0, err);
        if (st) return st;
        args[2] = (vkft_vk_arg){.t = o, .offset = e0 * 4, .range = m * 4};
        pc.n = (uint32_t)m;
        pc.e0 = (uint32_t)e0;
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m + 255) / 256, &gx, &gy);
        st = vkft_vk_dispatch(rec, "binary", NULL, 0, args, 3, &pc, sizeof pc, gx, gy, 1, err);
        if (st) return st;
    }
    return VKFT_OK;
}

VKFT_VK_OP(add) { return binary(rec, call, 0, err); }
VKFT_VK_OP(sub) { return binary(rec, call, 1, err); }
VKFT_VK_OP(mul) { return binary(rec, call, 2, err); }
VKFT_VK_OP(div) { return binary(rec, call, 3, err); }

typedef struct { uint32_t n, red, accumulate, in_shape[4], out_shape[4]; } sum_to_push;

VKFT_VK_OP(sum_to) {
    const vkft_desc *in = &call->in[0]->desc, *out = &call->out[0]->desc;
    sum_to_push pc = {0};
    int64_t os[VKFT_MAX_DIMS];
    vkft_bcast_pad(out, in->ndim, os);
    int lead = VKFT_MAX_DIMS - in->ndim;
    pc.red = 1;
    for (int d = 0; d < VKFT_MAX_DIMS; d++) {
        pc.in_shape[d] = d < lead ? 1 : (uint32_t)in->shape[d - lead];
        pc.out_shape[d] = d < lead ? 1 : (uint32_t)os[d - lead];
        if (pc.out_shape[d] == 1) pc.red *= pc.in_shape[d];
    }
    pc.n = (uint32_t)vkft_desc_numel(out);
    uint32_t gx, gy;
    vkft_vk_grid(rec, (pc.n + 63) / 64, &gx, &gy);
    if (call->in[0]->bytes <= vkft_vk_max_range(rec)) {
        vkft_vk_arg args[2] = {{.t = call->in[0]}, {.t = call->out[0]}};
        return vkft_vk_dispatch(rec, "sum_to", NULL, 0, args, 2, &pc, sizeof pc, gx, gy, 1, err);
    }
    /* Split path: the reduced dims must be leading ones (bias gradients, [rows, cols] -> [cols]);
     * then chunks of whole rows are summed in order, each chunk adding to the output. */
    int k = 0;
    while (k < VKFT_MAX_DIMS && pc.out_shape[k] == 1) k++;
    for (int d = k; d < VKFT_MAX_DIMS; d++)
        if (pc.out_shape[d] != pc.in_shape[d])
            return vkft_fail(err, VKFT_ERR_LIMIT,
                             "sum_to: an input of %zu bytes exceeds the storage-buffer range and "
                             "its reduced dims are not leading ones", call->in[0]->bytes);
    uint64_t rows = pc.red, cols = pc.n;
    uint64_t chunk = vkft_vk_max_range(rec) / (cols * 4);
    while (chunk > 1 && (chunk * cols * 4) % 16) chunk--;
    if (chunk == 0 || (chunk * cols * 4) % 16)
        return vkft_fail(err, VKFT_ERR_LIMIT, "sum_to: rows of %llu elements cannot be split "
                         "within the storage-buffer range", (unsigned long long)cols);
    for (uint64_t r0 = 0; r0 < rows; r0 += chunk) {
        uint64_t m = rows - r0 < chunk ? rows - r0 : chunk;
        pc = (sum_to_push){.n = (uint32_t)cols, .red = (uint32_t)m, .accumulate = r0 > 0,
                          .in_shape = {1, 1, (uint32_t)m, (uint32_t)cols},
                          .out_shape = {1, 1, 1, (uint32_t)cols}};
        vkft_vk_arg args[2] = {{.t = call->in[0], .offset = r0 * cols * 4, .range = m * cols * 4},
                               {.t = call->out[0]}};
        vkft_status st = vkft_vk_dispatch(rec, "sum_to", NULL, 0, args, 2, &pc, sizeof pc, gx, gy,
                                          1, err);
        if (st) return st;
    }
    return VKFT_OK;
}
