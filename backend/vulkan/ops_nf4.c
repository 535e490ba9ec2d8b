/*
 * Vulkan recording of the NF4 ops (rows in ops/nf4.c, rules in ops/nf4_codebook.h; shaders
 * nf4_quantize, nf4_absmax, nf4_dequantize, nf4_matmul[_plain]). u8 data are read and written
 * as uint words; every invocation that writes u8 data owns whole words.
 * Shaders never index a const table with a variable (that copies the table per use): the
 * dynamic map is copied into a 1 KiB scratch buffer first. NF4_DEQUANTIZE dequantises every
 * block's absmax into a scratch f32 [nb] first; MATMUL_NF4 dequantises absmax where it uses it
 * (a plan keeps each op's scratch, so a per-call [nb] would add 1/16 of the NF4 weights' size
 * in workspace per matmul).
 * The split path: every binding is a sub-range that fits the storage-buffer range, bound from a
 * 16-byte aligned offset with the shader told where its first element lies (a "base"):
 *   - NF4_QUANTIZE: the first level in chunks of whole 256-element groups of w; the second in
 *     chunks of whole runs of 256 absmax values; the run sums (nb / 256 floats) must fit whole.
 *   - absmax dequantisation: chunks of 16 blocks; NF4_DEQUANTIZE: chunks of 1024 elements.
 *   - MATMUL_NF4: chunks of rows of A (any size down to one row) times chunks of rows of W
 *     (codes rarely pass the limit: 1/8 of f32). With TRANS, W's rows are the reduction: those
 *     chunks accumulate into y in ascending order, so results stay deterministic. With a bf16 /
 *     f16 compute dtype the sum is rounded once, whole: all chunks but the last accumulate
 *     into a scratch f32 copy of y's shape, and the last adds it before rounding.
 * On CPU-shaped drivers (lavapipe) an f32-compute MATMUL_NF4 dequantises W and runs the f32
 * matmul instead (matmul_nf4_dequantized below).
 */
#include "ops/nf4_codebook.h"
#include "vulkan/vk_ops.h"

/* Binds bytes [start, start + count) of t from a 16-byte aligned offset; *base = the aligned
 * offset in units of `unit` bytes (so the shader's local index = global index - base). */
static vkft_vk_arg sub(const vkft_tensor *t, uint64_t start, uint64_t count, uint64_t unit,
                       uint32_t *base) {
    uint64_t at = start & ~(uint64_t)15, range = start + count - at;
    if (range > t->bytes - at) range = t->bytes - at;
    if (base) *base = (uint32_t)(at / unit);
    return (vkft_vk_arg){.t = t, .offset = at, .range = range};
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Chunk size in units of `gran` items of `size` bytes that fits the range (at least one). */
static uint64_t fit_units(const vkft_vk_rec *rec, uint64_t size, uint64_t gran) {
    uint64_t per = vkft_vk_max_range(rec) / (size * gran);
    return per ? per : 1;
}

/* One nf4_absmax dispatch (its bindings: absmax, run_sums, offset, absmax_q, absmax2, table). */
static vkft_status absmax_pass(vkft_vk_rec *rec, const vkft_vk_arg *args, uint32_t mode,
                               uint32_t nb, uint32_t runs, uint32_t r0, uint32_t abs2_base,
                               vkft_err *err) {
    struct { uint32_t mode, nb, runs, r0, abs2_base; } pc = {mode, nb, runs, r0, abs2_base};
    uint32_t gx, gy;
    vkft_vk_grid(rec, ((uint64_t)runs + 63) / 64, &gx, &gy);
    return vkft_vk_dispatch(rec, "nf4_absmax", NULL, 0, args, 6, &pc, sizeof pc, gx, gy, 1,
                            err);
}

/* A scratch copy of the dynamic map (256 words) for the shaders to index. */
static vkft_status dyn_table(vkft_vk_rec *rec, vkft_tensor **table, vkft_err *err) {
    int64_t s[1] = {256};
    vkft_status st = vkft_vk_scratch(rec, VKFT_F32, 1, s, table, err);
    if (st) return st;
    vkft_vk_arg args[6];
    for (int i = 0; i < 6; i++) args[i] = (vkft_vk_arg){.t = *table};
    return absmax_pass(rec, args, 3, 0, 256, 0, 0, err);
}

/* The dequantised absmax of every block of an NF4 weight (in[i0..i0+3] of the call) into a
 * scratch f32 [nb]: 1/64 of the weight's f32 size; chunks of 16 blocks keep offsets aligned. */
static vkft_status dequant_absmax(vkft_vk_rec *rec, const vkft_op_call *call, int i0,
                                  uint64_t numel, vkft_tensor **out, vkft_err *err) {
    uint64_t nb = (uint64_t)vkft_nf4_nb((int64_t)numel);
    int64_t s[1] = {(int64_t)nb};
    vkft_tensor *table;
    vkft_status st = dyn_table(rec, &table, err);
    if (!st) st = vkft_vk_scratch(rec, VKFT_F32, 1, s, out, err);
    uint64_t chunk = fit_units(rec, 4, 16) * 16;
    for (uint64_t b0 = 0; b0 < nb && !st; b0 += chunk) {
        uint64_t m = min64(chunk, nb - b0);
        uint32_t abs2_base;
        vkft_vk_arg args[6] = {sub(*out, b0 * 4, m * 4, 4, NULL), {.t = table},
                               {.t = call->in[i0 + 3]}, sub(call->in[i0 + 1], b0, m, 1, NULL),
                               sub(call->in[i0 + 2], b0 / 256 * 4,
                                   ((b0 + m - 1) / 256 - b0 / 256 + 1) * 4, 4, &abs2_base),
                               {.t = table}};
        st = absmax_pass(rec, args, 4, 0, (uint32_t)m, (uint32_t)b0, abs2_base, err);
    }
    return st;
}

VKFT_VK_OP(nf4_quantize) {
    const vkft_tensor *w = call->in[0];
    uint64_t n = (uint64_t)vkft_desc_numel(&w->desc), nb = (uint64_t)vkft_nf4_nb((int64_t)n);
    uint64_t nb2 = (uint64_t)vkft_nf4_nb2((int64_t)n);
    if (nb2 * 4 > vkft_vk_max_range(rec) || n > UINT32_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "nf4_quantize: %llu elements are too many for "
                         "one quantisation on this device", (unsigned long long)n);
    vkft_tensor *absmax, *run_sums, *table;
    int64_t s1[1] = {(int64_t)nb}, s2[1] = {(int64_t)nb2};
    vkft_status st = vkft_vk_scratch(rec, VKFT_F32, 1, s1, &absmax, err);
    if (!st) st = vkft_vk_scratch(rec, VKFT_F32, 1, s2, &run_sums, err);
    if (!st) st = dyn_table(rec, &table, err);
    if (st) return st;
    /* first level: groups of 256 elements keep every binding's offset 16-byte aligned */
    uint64_t chunk = fit_units(rec, 4, 256) * 256;
    for (uint64_t e0 = 0; e0 < n && !st; e0 += chunk) {
        uint64_t m = min64(chunk, n - e0), blocks = (m + 63) / 64;
        struct { uint32_t n, blocks; } pc = {(uint32_t)m, (uint32_t)blocks};
        vkft_vk_arg args[3] = {sub(w, e0 * 4, m * 4, 4, NULL),
                               sub(call->out[0], e0 / 2, m / 2, 1, NULL),
                               sub(absmax, e0 / 64 * 4, blocks * 4, 4, NULL)};
        uint32_t gx, gy;
        vkft_vk_grid(rec, (blocks + 63) / 64, &gx, &gy);
        st = vkft_vk_dispatch(rec, "nf4_quantize", NULL, 0, args, 3, &pc, sizeof pc, gx, gy, 1,
                              err);
    }
    /* second level: run sums, the offset, then the runs' codes; chunks of whole runs */
    uint64_t rchunk = fit_units(rec, 4, 256);
    for (uint32_t mode = 0; mode < 3 && !st; mode++) {
        for (uint64_t r0 = 0; r0 < nb2 && !st; r0 += mode == 1 ? nb2 : rchunk) {
            uint64_t runs = mode == 1 ? nb2 : min64(rchunk, nb2 - r0);
            uint64_t j0 = mode == 1 ? 0 : r0 * 256, cnt = mode == 1 ? nb : min64(nb - j0,
                                                                                runs * 256);
            vkft_vk_arg args[6] = {sub(absmax, j0 * 4, mode == 1 ? 4 : cnt * 4, 4, NULL),
                                   {.t = run_sums}, {.t = call->out[3]},
                                   sub(call->out[1], j0, mode == 1 ? 1 : cnt, 1, NULL),
                                   {.t = call->out[2]}, {.t = table}};
            st = absmax_pass(rec, args, mode, (uint32_t)cnt, (uint32_t)runs, (uint32_t)r0, 0,
                             err);
        }
    }
    return st;
}

/* Elements [0, n) of an NF4 weight (codes, absmax dequantised already) into o (f32). */
static vkft_status dequant_elements(vkft_vk_rec *rec, const vkft_tensor *codes,
                                    const vkft_tensor *absmax, const vkft_tensor *o, uint64_t n,
                                    vkft_err *err) {
    vkft_status st = VKFT_OK;
    uint64_t chunk = fit_units(rec, 4, 1024) * 1024;
    for (uint64_t e0 = 0; e0 < n && !st; e0 += chunk) {
        uint64_t m = min64(chunk, n - e0), b0 = e0 / 64, b1 = (e0 + m + 63) / 64;
        struct { uint32_t n, e0, codes_base, abs_base; } pc = {.n = (uint32_t)m,
                                                              .e0 = (uint32_t)e0};
        vkft_vk_arg args[3] = {sub(codes, e0 / 2, m / 2, 4, &pc.codes_base),
                               sub(absmax, b0 * 4, (b1 - b0) * 4, 4, &pc.abs_base),
                               sub(o, e0 * 4, m * 4, 4, NULL)};
        uint32_t gx, gy;
        vkft_vk_grid(rec, ((m + 7) / 8 + 63) / 64, &gx, &gy);
        st = vkft_vk_dispatch(rec, "nf4_dequantize", NULL, 0, args, 3, &pc, sizeof pc, gx, gy, 1,
                              err);
    }
    return st;
}

VKFT_VK_OP(nf4_dequantize) {
    const vkft_tensor *o = call->out[0];
    uint64_t n = (uint64_t)vkft_desc_numel(&o->desc);
    if (n > UINT32_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "nf4_dequantize: more than 2^32 elements");
    vkft_tensor *absmax;
    vkft_status st = dequant_absmax(rec, call, 0, n, &absmax, err);
    return st ? st : dequant_elements(rec, call->in[0], absmax, o, n, err);
}

/*
 * MATMUL_NF4 with f32 compute on CPU-shaped drivers (lavapipe): W dequantised into the
 * recording's shared scratch (W's f32 size, once for all the plan's NF4 matmuls), then the f32
 * MATMUL (matmul_cpu: texel-fed, ~2x nf4_matmul's rate there, which reads A and the codes through
 * storage buffers). The weights are the same values (nf4_dequantize is the CPU kernel's
 * formula); the sums run in matmul_cpu's order.
 */
static vkft_status matmul_nf4_dequantized(vkft_vk_rec *rec, const vkft_op_call *call,
                                          vkft_err *err) {
    const vkft_matmul_nf4_params *p = call->params;
    uint64_t n = (uint64_t)(p->n * p->k);
    vkft_tensor *absmax, *w;
    vkft_status st = dequant_absmax(rec, call, 1, n, &absmax, err);
    if (!st) st = vkft_vk_shared_scratch(rec, 2, (int64_t[]){p->n, p->k}, &w, err);
    if (!st) st = dequant_elements(rec, call->in[1], absmax, w, n, err);
    if (st) return st;
    vkft_matmul_params mp = {.trans_b = !p->trans, .alpha = p->alpha};
    vkft_tensor *in[3] = {call->in[0], w, call->in[5]};
    vkft_op_call mm = {.op = VKFT_OP_MATMUL, .params = &mp, .in = in, .n_in = 3,
                       .out = call->out, .n_out = 1};
    return vkft_vk_matmul(rec, &mm, err);
}

/* nf4_matmul: rows per invocation and the widest workgroup. 32 rows amortise each weight's
 * dequantisation best (lavapipe, 256 x 1024 x 1024: 8 rows 22, 16 rows 29, 32 rows 35 GFLOPS). */
enum { NF4_ROWS = 32, NF4_WG = 16 };

typedef struct {
    uint32_t m, cols, red, k, lda, a_off, ldy, y_off, w_row0, codes_base, absq_base, abs2_base,
        accumulate;
    float alpha;
    uint32_t partial;  /* see nf4_matmul.glsl */
} mm_push;

VKFT_VK_OP(matmul_nf4) {
    const vkft_matmul_nf4_params *p = call->params;
    const vkft_tensor *ta = call->in[0], *codes = call->in[1], *absq = call->in[2];
    const vkft_tensor *abs2 = call->in[3], *c0 = call->in[5], *ty = call->out[0];
    uint64_t n = (uint64_t)p->n, k = (uint64_t)p->k, lim = vkft_vk_max_range(rec);
    uint64_t red = p->trans ? n : k, cols = p->trans ? k : n;
    uint64_t m = (uint64_t)vkft_desc_numel(&ta->desc) / red;
    if (m * red > UINT32_MAX || m * cols > UINT32_MAX || n * k > UINT32_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "matmul_nf4: more than 2^32 elements");
    if (p->compute == VKFT_F32 && vkft_vk_cpu_shaped(rec) && !rec->vk->force_plain)
        return matmul_nf4_dequantized(rec, call, err);
    /* W rows per chunk: codes, absmax_q and absmax2 bytes of wc rows, with alignment slack */
    uint64_t wc = n;
    while (wc > 1 && (wc * k / 2 + 20 > lim || wc * k / 64 + 21 > lim ||
                      (wc * k / 16384 + 6) * 4 > lim))
        wc = (wc + 1) / 2;
    if (wc * k / 2 + 20 > lim)
        return vkft_fail(err, VKFT_ERR_LIMIT, "matmul_nf4: a row of W [%llu, %llu] does not fit "
                         "the storage-buffer range", (unsigned long long)n,
                         (unsigned long long)k);
    /* A rows per chunk: A (reduction chunk wide) and y (cols chunk wide) spans, with slack */
    uint64_t redc = p->trans ? wc : red, colc = p->trans ? cols : wc;
    uint64_t lf = lim / 4;
    if (redc + 3 > lf || colc + 3 > lf)
        return vkft_fail(err, VKFT_ERR_LIMIT, "matmul_nf4: a row of A or y does not fit the "
                         "storage-buffer range");
    uint64_t mc = min64((lf - 3 - redc) / red + 1, (lf - 3 - colc) / cols + 1);
    mc = min64(min64(mc, m), (uint64_t)rec->vk->limits.maxComputeWorkGroupCount[1] * NF4_ROWS);
    bool shuffle = !rec->vk->force_plain && vkft_vk_shuffle8(rec);
    uint32_t wg = shuffle ? vkft_vk_subgroup_size(rec) : 8;
    while (wg < NF4_WG && (uint64_t)wg * 4 < cols) wg *= 2;
    uint32_t cd = p->compute == VKFT_BF16 ? 1 : p->compute == VKFT_F16 ? 2 : 0;
    uint32_t spec[5] = {NF4_ROWS, wg, p->trans, k % 8 == 0, cd};
    vkft_tensor *table, *part = NULL;
    vkft_status st = dyn_table(rec, &table, err);
    bool acc0 = c0 != NULL, split_red = cd && p->trans && wc < n;
    if (!st && split_red)  /* the partial sums of a split reduction, unrounded */
        st = vkft_vk_scratch(rec, VKFT_F32, ty->desc.ndim, ty->desc.shape, &part, err);
    if (!st && c0 && c0 != ty) st = vkft_vk_copy_buffer(rec, c0, 0, ty, 0, ty->bytes, err);
    for (uint64_t m0 = 0; m0 < m && !st; m0 += mc) {
        uint64_t mm = min64(mc, m - m0);
        for (uint64_t w0 = 0; w0 < n && !st; w0 += wc) {
            uint64_t wn = min64(wc, n - w0), e0 = w0 * k, e1 = (w0 + wn) * k;
            uint64_t b0 = e0 / 64, b1 = (e1 + 63) / 64;
            uint64_t r0 = p->trans ? w0 : 0, rn = p->trans ? wn : red;  /* reduction chunk */
            uint64_t q0 = p->trans ? 0 : w0, qn = p->trans ? cols : wn; /* column chunk */
            bool last = w0 + wn == n;
            mm_push pc = {.m = (uint32_t)mm, .cols = (uint32_t)qn, .red = (uint32_t)rn,
                          .k = (uint32_t)k, .lda = (uint32_t)red, .ldy = (uint32_t)cols,
                          .w_row0 = (uint32_t)w0, .accumulate = acc0 || (p->trans && w0 > 0),
                          .alpha = p->alpha, .partial = split_red ? (last ? 2 : 1) : 0};
            if (split_red) pc.accumulate = last ? acc0 : w0 > 0;
            uint32_t a_base, y_base;
            uint64_t as = m0 * red + r0, ys = m0 * cols + q0;
            const vkft_tensor *yt = split_red && !last ? part : ty;
            vkft_vk_arg args[8] = {
                sub(ta, as * 4, ((mm - 1) * red + rn) * 4, 4, &a_base),
                sub(codes, e0 / 2, (e1 + 1) / 2 - e0 / 2, 4, &pc.codes_base),
                sub(absq, b0, b1 - b0, 1, &pc.absq_base),
                sub(abs2, b0 / 256 * 4, ((b1 - 1) / 256 - b0 / 256 + 1) * 4, 4, &pc.abs2_base),
                {.t = call->in[4]}, {.t = table},
                sub(yt, ys * 4, ((mm - 1) * cols + qn) * 4, 4, &y_base),
                /* read only with partial 2; otherwise any buffer (the map: never read) */
                split_red ? sub(part, ys * 4, ((mm - 1) * cols + qn) * 4, 4, NULL)
                          : (vkft_vk_arg){.t = table}};
            pc.a_off = (uint32_t)(as - a_base);
            pc.y_off = (uint32_t)(ys - y_base);
            uint32_t gx = (uint32_t)(((qn + 3) / 4 + wg - 1) / wg);
            uint32_t gy = (uint32_t)((mm + NF4_ROWS - 1) / NF4_ROWS);
            st = vkft_vk_dispatch(rec, shuffle ? "nf4_matmul" : "nf4_matmul_plain", spec, 5,
                                  args, 8, &pc, sizeof pc, gx, gy, 1, err);
        }
    }
    return st;
}
