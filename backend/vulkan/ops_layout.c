/*
 * Vulkan recording of the layout ops (shaders layout_gather.comp, cast.comp).
 *
 * COPY is a buffer copy (no range limit). CAST runs over chunks of elements whose input and
 * output byte ranges both fit the storage-buffer range. TRANSPOSE, SLICE, PAD and CONCAT are one
 * gather shader: each invocation writes one whole uint word of the output (one 32-bit element,
 * two 16-bit or four 8-bit ones), so packed 16/8-bit data needs no storage feature and no two
 * invocations share a word. SLICE and CONCAT along an axis with nothing but 1s before it are
 * contiguous byte ranges: buffer copies.
 *
 * Split path (tensors over maxStorageBufferRange, e.g. a [32000, 4096] embedding transposed):
 * the output is cut into chunks of words, and each source into windows of elements; for every
 * output chunk one dispatch per window writes the elements whose source lies in that window.
 * A source that fits is one window. Global element indices are 32-bit in the shader, so a
 * tensor may hold at most 2^32 - 8 elements.
 */
#include "vulkan/vk_ops.h"

#define GATHER_WG 64    /* invocations per workgroup (a multiple of lavapipe's 8 lanes) */
#define CAST_WG 64
#define MAX_ELEMS (UINT32_MAX - 8ull)

typedef struct {
    uint32_t nw, w0, n, ax, d[3], m[3], shifts;
    uint32_t a_lo, a_hi, a_base, aw0, awn, sa[4];
    uint32_t b_lo, b_hi, b_base, bw0, bwn, sb[4];
} gather_push;

/* Magic number and shifts for x / d by multiply-high, exact for every 32-bit x and d >= 1
 * (Granlund and Montgomery 1994, fig. 4.1): m = floor(2^32 (2^l - d) / d) + 1 with
 * l = ceil(log2 d); q = (t + ((x - t) >> min(l, 1))) >> max(l - 1, 0), t = mulhi(x, m). */
static uint32_t div_magic(uint32_t d, uint32_t *shift) {
    uint32_t l = 0;
    while (l < 32 && (1ull << l) < d) l++;
    *shift = (l < 1 ? l : 1) | (l > 1 ? l - 1 : 0) << 1;
    return (uint32_t)((((uint64_t)1 << 32) * ((1ull << l) - d)) / d + 1);
}

/* One source of the gather: out coordinate c takes element dot(c, stride) + base of t when
 * c[ax] is in [lo, hi). */
typedef struct {
    const vkft_tensor *t;   /* NULL: none */
    uint32_t lo, hi, base, stride[4];
} gather_src;

VKFT_VK_OP(copy) {
    return vkft_vk_copy_buffer(rec, call->in[0], 0, call->out[0], 0, call->out[0]->bytes, err);
}

static vkft_status check_size(const char *op, const vkft_tensor *t, vkft_err *err) {
    if (!t || (uint64_t)vkft_desc_numel(&t->desc) <= MAX_ELEMS) return VKFT_OK;
    return vkft_fail(err, VKFT_ERR_LIMIT, "%s: tensors of more than 2^32 - 8 elements are not "
                     "supported on Vulkan", op);
}

/* Input element strides of t, left-padded to 4 dims (0 for the padding). */
static void strides4(const vkft_desc *d, int64_t *s) {
    int lead = VKFT_MAX_DIMS - d->ndim;
    int64_t acc = 1;
    for (int i = VKFT_MAX_DIMS - 1; i >= 0; i--) {
        s[i] = i < lead ? 0 : acc;
        if (i >= lead) acc *= d->shape[i - lead];
    }
}

/* The window k of source s: its binding, first element and element count. Elements per
 * window are a multiple of 16 bytes (aligned offsets); a source that fits is one window;
 * past its last window a source binds its start with an empty window. */
static void window(const vkft_vk_rec *rec, const vkft_tensor *t, uint64_t k, vkft_vk_arg *arg,
                   uint32_t *w0, uint32_t *wn) {
    size_t es = vkft_dtype_size(t->desc.dtype);
    uint64_t n = (uint64_t)vkft_desc_numel(&t->desc);
    uint64_t cap = t->bytes <= vkft_vk_max_range(rec) ? n : vkft_vk_chunk_elems(rec, es);
    uint64_t e0 = k * cap;
    if (e0 >= n) {
        *arg = (vkft_vk_arg){.t = t, .range = t->bytes < 16 ? t->bytes : 16};
        *w0 = 0;
        *wn = 0;
        return;
    }
    uint64_t m = n - e0 < cap ? n - e0 : cap;
    *arg = (vkft_vk_arg){.t = t, .offset = e0 * es, .range = m * es};
    *w0 = (uint32_t)e0;
    *wn = (uint32_t)m;
}

static uint64_t windows(const vkft_vk_rec *rec, const vkft_tensor *t) {
    if (!t || t->bytes <= vkft_vk_max_range(rec)) return 1;
    uint64_t cap = vkft_vk_chunk_elems(rec, vkft_dtype_size(t->desc.dtype));
    return ((uint64_t)vkft_desc_numel(&t->desc) + cap - 1) / cap;
}

static vkft_status gather(vkft_vk_rec *rec, const char *op, const vkft_tensor *out, int ax,
                          const gather_src *a, const gather_src *b, vkft_err *err) {
    vkft_status st = check_size(op, out, err);
    if (!st) st = check_size(op, a->t, err);
    if (!st) st = check_size(op, b->t, err);
    if (st) return st;
    const vkft_desc *d = &out->desc;
    size_t es = vkft_dtype_size(d->dtype);
    gather_push pc = {.n = (uint32_t)vkft_desc_numel(d), .ax = (uint32_t)ax, .a_lo = a->lo,
                      .a_hi = a->hi, .a_base = a->base};
    uint32_t spec[1] = {es == 4 ? 0 : es == 2 ? 1 : 2};
    int lead = VKFT_MAX_DIMS - d->ndim;
    for (int i = 0; i < VKFT_MAX_DIMS; i++) {
        pc.sa[i] = a->stride[i];
        pc.sb[i] = b->t ? b->stride[i] : 0;
        if (!i) continue;
        uint32_t sh;
        pc.d[i - 1] = i < lead ? 1 : (uint32_t)d->shape[i - lead];
        pc.m[i - 1] = div_magic(pc.d[i - 1], &sh);
        pc.shifts |= sh << (8 * (i - 1));
    }
    if (b->t) {
        pc.b_lo = b->lo;
        pc.b_hi = b->hi;
        pc.b_base = b->base;
    }
    uint64_t words = ((uint64_t)pc.n * es + 3) / 4, wchunk = vkft_vk_chunk_elems(rec, 4);
    uint64_t na = windows(rec, a->t), nb = windows(rec, b->t), nwin = na > nb ? na : nb;
    for (uint64_t w0 = 0; w0 < words; w0 += wchunk) {
        uint64_t m = words - w0 < wchunk ? words - w0 : wchunk;
        pc.nw = (uint32_t)m;
        pc.w0 = (uint32_t)w0;
        uint32_t gx, gy;
        vkft_vk_grid(rec, (m + GATHER_WG - 1) / GATHER_WG, &gx, &gy);
        for (uint64_t k = 0; k < nwin; k++) {
            vkft_vk_arg args[3];
            window(rec, a->t, k, &args[0], &pc.aw0, &pc.awn);
            if (b->t) window(rec, b->t, k, &args[1], &pc.bw0, &pc.bwn);
            else args[1] = args[0];
            args[2] = (vkft_vk_arg){.t = out, .offset = w0 * 4,
                                    .range = (w0 + m) * 4 <= out->bytes ? m * 4
                                                                        : out->bytes - w0 * 4};
            st = vkft_vk_dispatch(rec, "layout_gather", spec, 1, args, 3, &pc, sizeof pc, gx, gy,
                                  1, err);
            if (st) return st;
        }
    }
    return VKFT_OK;
}

VKFT_VK_OP(transpose) {
    const vkft_transpose_params *p = call->params;
    const vkft_desc *in = &call->in[0]->desc;
    bool identity = true;
    for (int i = 0; i < in->ndim; i++) identity &= p->perm[i] == i;
    if (identity) return vkft_vk_copy(rec, call, err);
    int64_t s[VKFT_MAX_DIMS];
    strides4(in, s);
    int lead = VKFT_MAX_DIMS - in->ndim;
    gather_src a = {.t = call->in[0], .hi = UINT32_MAX};  /* every element from a */
    for (int i = 0; i < VKFT_MAX_DIMS; i++)
        a.stride[i] = i < lead ? 0 : (uint32_t)s[lead + p->perm[i - lead]];
    gather_src none = {0};
    return gather(rec, "transpose", call->out[0], 0, &a, &none, err);
}

/* Product of the dims before axis (1: the slice or concat is one contiguous byte range). */
static int64_t outer_of(const vkft_desc *d, int axis) {
    int64_t o = 1;
    for (int i = 0; i < axis; i++) o *= d->shape[i];
    return o;
}

VKFT_VK_OP(slice) {
    const vkft_slice_params *p = call->params;
    const vkft_desc *in = &call->in[0]->desc;
    int64_t s[VKFT_MAX_DIMS];
    strides4(in, s);
    int ax = VKFT_MAX_DIMS - in->ndim + p->axis;
    if (outer_of(in, p->axis) == 1) {
        uint64_t off = (uint64_t)p->start * (uint64_t)s[ax] * vkft_dtype_size(in->dtype);
        return vkft_vk_copy_buffer(rec, call->in[0], off, call->out[0], 0, call->out[0]->bytes,
                                   err);
    }
    gather_src a = {.t = call->in[0], .hi = UINT32_MAX,
                    .base = (uint32_t)((uint64_t)p->start * (uint64_t)s[ax])};
    for (int i = 0; i < VKFT_MAX_DIMS; i++) a.stride[i] = (uint32_t)s[i];
    gather_src none = {0};
    return gather(rec, "slice", call->out[0], ax, &a, &none, err);
}

VKFT_VK_OP(pad) {
    const vkft_pad_params *p = call->params;
    const vkft_desc *in = &call->in[0]->desc;
    int64_t s[VKFT_MAX_DIMS];
    strides4(in, s);
    int ax = VKFT_MAX_DIMS - in->ndim + p->axis;
    /* base wraps modulo 2^32: the shader's uint arithmetic adds it back */
    gather_src a = {.t = call->in[0], .lo = (uint32_t)p->before,
                    .hi = (uint32_t)(p->before + in->shape[p->axis]),
                    .base = (uint32_t)(0u - (uint32_t)((uint64_t)p->before * (uint64_t)s[ax]))};
    for (int i = 0; i < VKFT_MAX_DIMS; i++) a.stride[i] = (uint32_t)s[i];
    gather_src none = {0};
    return gather(rec, "pad", call->out[0], ax, &a, &none, err);
}

VKFT_VK_OP(concat) {
    const vkft_concat_params *p = call->params;
    const vkft_desc *da = &call->in[0]->desc, *db = &call->in[1]->desc;
    if (outer_of(da, p->axis) == 1) {
        vkft_status st = vkft_vk_copy_buffer(rec, call->in[0], 0, call->out[0], 0,
                                             call->in[0]->bytes, err);
        if (st) return st;
        return vkft_vk_copy_buffer(rec, call->in[1], 0, call->out[0], call->in[0]->bytes,
                                   call->in[1]->bytes, err);
    }
    int64_t sa[VKFT_MAX_DIMS], sb[VKFT_MAX_DIMS];
    strides4(da, sa);
    strides4(db, sb);
    int ax = VKFT_MAX_DIMS - da->ndim + p->axis;
    uint32_t la = (uint32_t)da->shape[p->axis], lb = (uint32_t)db->shape[p->axis];
    gather_src a = {.t = call->in[0], .hi = la};
    gather_src b = {.t = call->in[1], .lo = la, .hi = la + lb,
                    .base = (uint32_t)(0u - (uint32_t)((uint64_t)la * (uint64_t)sb[ax]))};
    for (int i = 0; i < VKFT_MAX_DIMS; i++) {
        a.stride[i] = (uint32_t)sa[i];
        b.stride[i] = (uint32_t)sb[i];
    }
    return gather(rec, "concat", call->out[0], ax, &a, &b, err);
}

static uint32_t cast_kind(vkft_dtype d) { return d == VKFT_F16 ? 1 : d == VKFT_BF16 ? 2 : 0; }

VKFT_VK_OP(cast) {
    const vkft_tensor *x = call->in[0], *y = call->out[0];
    if (x->desc.dtype == y->desc.dtype) return vkft_vk_copy(rec, call, err);
    size_t ei = vkft_dtype_size(x->desc.dtype), eo = vkft_dtype_size(y->desc.dtype);
    /* a multiple of 8 elements keeps both the 4- and 2-byte sides 16-byte aligned */
    uint64_t n = (uint64_t)vkft_desc_numel(&x->desc), chunk = vkft_vk_chunk_elems(rec, 4);
    chunk = chunk >= 8 ? chunk - chunk % 8 : 8;
    struct { uint32_t n, in_kind, out_kind; } pc = {0, cast_kind(x->desc.dtype),
                                                    cast_kind(y->desc.dtype)};
    for (uint64_t e0 = 0; e0 < n; e0 += chunk) {
        uint64_t m = n - e0 < chunk ? n - e0 : chunk;
        pc.n = (uint32_t)m;
        vkft_vk_arg args[2] = {{.t = x, .offset = e0 * ei, .range = m * ei},
                               {.t = y, .offset = e0 * eo, .range = m * eo}};
        uint32_t gx, gy;
        uint64_t words = (m * eo + 3) / 4;
        vkft_vk_grid(rec, (words + CAST_WG - 1) / CAST_WG, &gx, &gy);
        vkft_status st = vkft_vk_dispatch(rec, "cast", NULL, 0, args, 2, &pc, sizeof pc, gx, gy,
                                          1, err);
        if (st) return st;
    }
    return VKFT_OK;
}
