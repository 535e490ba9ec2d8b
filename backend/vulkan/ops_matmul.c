/*
 * Vulkan recording of MATMUL (row in ops/matmul.c). Two kernel variants:
 *   - CPU-shaped (lavapipe; shaders/matmul_cpu.glsl): A and B as dense row-major f32 RGBA32F
 *     texel buffers, B as stored or transposed, A as stored or (matmul_cpu only) transposed.
 *     An operand that is 16-bit, or whose rows do not start on a texel, or A transposed for
 *     matmul_cpu_plain, is first packed into a scratch block (matmul_pack.comp). With
 *     subgroups of >= 8 lanes A is broadcast by subgroupShuffle (matmul_cpu), else by plain
 *     texel fetches (matmul_cpu_plain; also forced by vkft_vk_matmul_force_plain for tests).
 *   - GPU-shaped (matmul_gpu.comp): shared-memory tiles over storage buffers, any strides and
 *     B dtype, no packing.
 * The split path: the work is cut into chunks over batch, M, N and K so that every binding
 * (storage range, texel-buffer elements) fits the device's limits. Chunks over K accumulate
 * into C in ascending order of k, so results stay deterministic. C0 is copied into the output
 * first (unless it is the output), then every chunk accumulates.
 */
#include "vulkan/ops_matmul.h"

#include "ops/matmul.h"
#include "vulkan/vk_ops.h"

enum { DB, DM, DN, DK, ND };                /* chunked dims: batch, m, n, k */
/* matmul_cpu: rows per invocation (32: fewer texel fetches per product than 16; 64 was no faster
 * and took lavapipe ~4 s instead of ~1 s to compile each specialisation; on an AVX-512 Zen 4
 * host, 1.33x slower) and the widest
 * workgroup (16: fewer idle lanes in the last column group than 64, otherwise the same speed) */
enum { CPU_ROWS = 32, CPU_WG = 16 };
/* a chunk of at most CPU_ROWS_SMALL rows (LoRA's rank-16 weight gradients) gets invocations of
 * that many rows: 32 would compute the 16 rows twice over */
enum { CPU_ROWS_SMALL = 16 };
enum { GPU_BM = 64, GPU_BN = 64, GPU_BK = 16, GPU_TM = 4, GPU_TN = 4 };

void vkft_vk_matmul_force_plain(vkft_device *dev, bool on) {
    if (dev && dev->vk) dev->vk->force_plain = on;
}

/* Bindings whose byte ranges must fit: the stored operands (read by the GPU kernel or by the
 * pack, or bound as texels when not packed), C, and the packed scratch blocks. */
enum { FP_A, FP_B, FP_C, FP_A_PACKED, FP_B_PACKED, FP_COUNT };

typedef struct plan {
    vkft_matmul_dims d;
    bool cpu, shuffle, pack_a, pack_b, shared_b;
    bool rows_in_x;                         /* matmul_cpu: workgroup x runs along m, y along n */
    uint32_t wg;                            /* matmul_cpu workgroup size */
    uint32_t b_kind;                        /* 0 f32, 1 f16, 2 bf16 */
    uint64_t b_esize;
    int64_t size[ND], c[ND], g[ND];         /* full sizes, chunk sizes, chunk granules */
    uint64_t lim_store, lim_texel;          /* bytes */
} plan;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t up4(int64_t x) { return (x + 3) & ~(int64_t)3; }

/* Element strides of the stored operands per chunked dim. */
static void strides_a(const plan *p, int64_t s[ND]) {
    s[DB] = p->d.a_bstride;
    s[DM] = p->d.trans_a ? 1 : p->d.k;
    s[DN] = 0;
    s[DK] = p->d.trans_a ? p->d.m : 1;
}
static void strides_b(const plan *p, int64_t s[ND]) {
    s[DB] = p->d.b_bstride;
    s[DM] = 0;
    s[DN] = p->d.trans_b ? p->d.k : 1;
    s[DK] = p->d.trans_b ? 1 : p->d.n;
}
static void strides_c(const plan *p, int64_t s[ND]) {
    s[DB] = p->d.c_bstride;
    s[DM] = p->d.n;
    s[DN] = 1;
    s[DK] = 0;
}

/* Elements a block of chunk sizes c spans with strides s. */
static uint64_t span(const int64_t s[ND], const int64_t c[ND]) {
    uint64_t r = 1;
    for (int i = 0; i < ND; i++) r += (uint64_t)((c[i] - 1) * s[i]);
    return r;
}

/* Bytes the binding fp needs for chunk sizes c, alignment slack included. */
static uint64_t fp_bytes(const plan *p, int fp, const int64_t c[ND]) {
    int64_t s[ND];
    switch (fp) {
    case FP_A:
        strides_a(p, s);
        return (span(s, c) + (p->cpu && !p->pack_a ? 0 : 3)) * 4;
    case FP_B:
        strides_b(p, s);
        return (span(s, c) + (p->cpu && !p->pack_b ? 0 : 16 / p->b_esize - 1)) * p->b_esize;
    case FP_C:
        strides_c(p, s);
        return (span(s, c) + 3) * 4;
    case FP_A_PACKED: return (uint64_t)(c[DB] * c[DM] * up4(c[DK])) * 4;
    default: return (uint64_t)((p->shared_b ? 1 : c[DB]) * c[DK] * up4(c[DN])) * 4;
    }
}

static bool fp_active(const plan *p, int fp) {
    switch (fp) {
    case FP_A_PACKED: return p->cpu && p->pack_a;
    case FP_B_PACKED: return p->cpu && p->pack_b;
    default: return true;
    }
}

static uint64_t fp_limit(const plan *p, int fp) {
    bool texel = (fp == FP_A && p->cpu && !p->pack_a) || (fp == FP_B && p->cpu && !p->pack_b);
    uint64_t lim = texel ? p->lim_texel : p->lim_store;
    /* packed blocks are written as storage buffers and read as texels */
    if (fp == FP_A_PACKED || fp == FP_B_PACKED) lim = min64(p->lim_store, p->lim_texel);
    return lim;
}

/* Shrinks the chunk sizes until binding fp fits: the dim with the largest stride first (the one
 * that shrinks the span most), each as little as possible. */
static bool fit(plan *p, int fp) {
    static const int order_a[2][3] = {{DB, DM, DK}, {DB, DK, DM}};
    static const int order_b[2][3] = {{DB, DK, DN}, {DB, DN, DK}};
    static const int order_c[3] = {DB, DM, DN}, order_ap[3] = {DB, DM, DK};
    static const int order_bp[3] = {DB, DN, DK};
    const int *order = fp == FP_A ? order_a[p->d.trans_a] : fp == FP_B ? order_b[p->d.trans_b]
                     : fp == FP_C ? order_c : fp == FP_A_PACKED ? order_ap : order_bp;
    uint64_t lim = fp_limit(p, fp);
    for (int i = 0; i < 3; i++) {
        if (fp_bytes(p, fp, p->c) <= lim) return true;
        int d = order[i];
        if (d == DB && (fp == FP_B || fp == FP_B_PACKED) && p->shared_b) continue;
        int64_t keep = p->c[d], lo = 1, hi = (keep - 1) / p->g[d], best = 0;
        while (lo <= hi) {  /* the largest multiple of the granule that fits */
            int64_t mid = lo + (hi - lo) / 2;
            p->c[d] = mid * p->g[d];
            if (fp_bytes(p, fp, p->c) <= lim) best = mid, lo = mid + 1;
            else hi = mid - 1;
        }
        p->c[d] = best ? best * p->g[d] : min64(keep, p->g[d]);
    }
    return fp_bytes(p, fp, p->c) <= lim;
}

static int64_t round_down(int64_t c, int64_t full, int64_t q) {
    return c < full && c >= q ? c / q * q : c;
}

static vkft_status make_plan(vkft_vk_rec *rec, const vkft_op_call *call, plan *p,
                             vkft_err *err) {
    const vkft_matmul_params *mp = call->params;
    const vkft_tensor *ta = call->in[0], *tb = call->in[1];
    *p = (plan){.cpu = vkft_vk_cpu_shaped(rec)};
    vkft_matmul_dims_get(&ta->desc, &tb->desc, mp, &p->d);
    const vkft_matmul_dims *d = &p->d;
    p->shared_b = d->b_bstride == 0;
    p->b_kind = tb->desc.dtype == VKFT_F16 ? 1 : tb->desc.dtype == VKFT_BF16 ? 2 : 0;
    p->b_esize = vkft_dtype_size(tb->desc.dtype);
    p->lim_store = vkft_vk_max_range(rec);
    /* matmul_cpu indexes texels with 32-bit ints */
    p->lim_texel = (uint64_t)min64((int64_t)vkft_vk_max_texels(rec), INT32_MAX) * 16;
    const VkPhysicalDeviceLimits *lim = &rec->vk->limits;
    bool texel_ok = lim->minTexelBufferOffsetAlignment <= 16;  /* else every operand is packed */
    uint32_t sg = vkft_vk_subgroup_size(rec);
    p->shuffle = !rec->vk->force_plain && vkft_vk_shuffle8(rec);
    /* a workgroup no wider than the columns (narrow outputs would idle most lanes), but at
     * least one subgroup (whole subgroups for the shuffles); a power of two */
    p->wg = p->shuffle ? sg : 8;
    while (p->wg < CPU_WG && (int64_t)p->wg * 4 < d->n) p->wg *= 2;
    /* A transposed is read as stored when its rows (of m) are whole texels (the shuffle kernel) */
    p->pack_a = !texel_ok || (d->trans_a ? !p->shuffle || d->m % 4 || d->a_bstride % 4 : d->k % 4);
    p->pack_b = !texel_ok || p->b_kind || (d->trans_b ? d->k % 4 : d->n % 4);
    int64_t full[ND] = {d->batch, d->m, d->n, d->k};
    int64_t rows = p->cpu ? CPU_ROWS : GPU_BM, cols = p->cpu ? 4 * (int64_t)p->wg : GPU_BN;
    for (int i = 0; i < ND; i++) {
        p->size[i] = p->c[i] = full[i];
        p->g[i] = 1;
    }
    /* chunks of operands bound as they are start on a texel: B's on a column multiple of 4, A's
     * on a k multiple of 4 (packed blocks start at 0) */
    if (p->cpu && !p->pack_b && !d->trans_b) p->g[DN] = 4;
    if (p->cpu && ((!p->pack_a && !d->trans_a) || (!p->pack_b && d->trans_b))) p->g[DK] = 4;
    if (p->cpu && !p->pack_a && d->trans_a) p->g[DM] = 4;
    p->c[DB] = min64(p->c[DB], lim->maxComputeWorkGroupCount[2]);
    /* Workgroups run along n (x) and m (y); lavapipe hands them out x first, so consecutive
     * ones share an A panel (32 rows) and stream B. With more columns than rows (LM heads,
     * MLP up-projections) matmul_cpu goes along m first instead: consecutive workgroups share
     * B's panel (64 columns) and A streams. Measured on lavapipe: 1024 x 32000 x 512 (b)
     * ~1.07x and 1024 x 1376 x 512 (b) ~1.03x faster that way; 1024 x 512 x 32000 ~1.07x
     * slower, so not always. */
    p->rows_in_x = p->cpu && d->n > d->m;
    p->c[DM] = min64(p->c[DM], (int64_t)lim->maxComputeWorkGroupCount[p->rows_in_x ? 0 : 1] * rows);
    p->c[DN] = min64(p->c[DN], (int64_t)lim->maxComputeWorkGroupCount[p->rows_in_x ? 1 : 0] * cols);
    for (int pass = 0; pass < 2; pass++)  /* shrinking never un-fits another binding */
        for (int fp = 0; fp < FP_COUNT; fp++)
            if (fp_active(p, fp) && !fit(p, fp)) {
                char sa[96], sb[96];
                return vkft_fail(err, VKFT_ERR_LIMIT,
                                 "matmul: A %s and B %s cannot be split to fit the device's "
                                 "buffer limits (%llu bytes, %llu texel bytes)",
                                 vkft_desc_str(&ta->desc, sa, sizeof sa),
                                 vkft_desc_str(&tb->desc, sb, sizeof sb),
                                 (unsigned long long)p->lim_store,
                                 (unsigned long long)p->lim_texel);
            }
    /* Chunks that are cut anyway end on whole tiles (smaller, so they still fit). */
    p->c[DM] = round_down(p->c[DM], full[DM], rows);
    p->c[DN] = round_down(p->c[DN], full[DN], p->cpu ? 4 : GPU_BN);
    p->c[DK] = round_down(p->c[DK], full[DK], p->cpu ? 32 : GPU_BK);  /* matmul_cpu's K block */
    return VKFT_OK;
}

/* A binding of the block that starts at element `start` of t (elements of esize bytes) and
 * spans `count` elements: offset aligned down to 16 bytes, *base = the block's element offset
 * inside the binding. */
static vkft_vk_arg block_arg(const vkft_tensor *t, uint64_t start, uint64_t count,
                             uint64_t esize, uint32_t *base) {
    uint64_t per16 = 16 / esize, lead = start % per16;
    *base = (uint32_t)lead;
    return (vkft_vk_arg){.t = t, .offset = (start - lead) * esize, .range = (lead + count) * esize};
}

/* One chunk: which block of the product it is. */
typedef struct chunk { int64_t b0, nb, m0, mc, n0, nc, k0, kc; } chunk;

static vkft_status pack(vkft_vk_rec *rec, const vkft_tensor *src, uint64_t esize,
                        uint32_t kind, uint64_t start, const int64_t s[ND], int dr, int dc,
                        const chunk *ch, int64_t nb, vkft_tensor *dst, vkft_err *err) {
    int64_t cs[ND] = {nb, ch->mc, ch->nc, ch->kc};
    int64_t rows = cs[dr], cols = cs[dc], ldd = up4(cols);
    struct { uint32_t rows, cols, ldd, src_base, si, sj, src_bstride, kind; } pc = {
        (uint32_t)rows, (uint32_t)cols, (uint32_t)ldd, 0, (uint32_t)s[dr], (uint32_t)s[dc],
        (uint32_t)s[DB], kind};
    vkft_vk_arg args[2];
    args[0] = block_arg(src, start, span(s, cs), esize, &pc.src_base);
    args[1] = (vkft_vk_arg){.t = dst, .range = (uint64_t)(nb * rows * ldd) * 4};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (uint64_t)((rows + 15) / 16 * ((ldd + 15) / 16)), &gx, &gy);
    return vkft_vk_dispatch(rec, "matmul_pack", NULL, 0, args, 2, &pc, sizeof pc, gx, gy,
                            (uint32_t)nb, err);
}

static uint64_t start_a(const plan *p, const chunk *ch) {
    int64_t s[ND];
    strides_a(p, s);
    return (uint64_t)(ch->b0 * s[DB] + ch->m0 * s[DM] + ch->k0 * s[DK]);
}
static uint64_t start_b(const plan *p, const chunk *ch) {
    int64_t s[ND];
    strides_b(p, s);
    return (uint64_t)(ch->b0 * s[DB] + ch->n0 * s[DN] + ch->k0 * s[DK]);
}

static vkft_status run_cpu_chunk(vkft_vk_rec *rec, const vkft_op_call *call, const plan *p,
                                 const chunk *ch, vkft_tensor *sa, vkft_tensor *sb,
                                 bool accumulate, vkft_err *err) {
    const vkft_matmul_params *mp = call->params;
    const vkft_matmul_dims *d = &p->d;
    int64_t cs[ND] = {ch->nb, ch->mc, ch->nc, ch->kc}, s[ND];
    struct {
        uint32_t m, n, k, lda4, ldb4, ldc, c_base, a_bstride4, b_bstride4, c_bstride, accumulate;
        float alpha;
        uint32_t rows_in_x;
    } pc = {(uint32_t)ch->mc, (uint32_t)ch->nc, (uint32_t)ch->kc, 0, 0, (uint32_t)d->n, 0, 0, 0,
            (uint32_t)d->c_bstride, accumulate, mp->alpha, p->rows_in_x};
    vkft_vk_arg args[4];
    uint32_t unused;
    if (p->pack_a) {
        int64_t kcp = up4(ch->kc);
        args[0] = (vkft_vk_arg){.t = sa, .range = (uint64_t)(ch->nb * ch->mc * kcp) * 4};
        pc.lda4 = (uint32_t)(kcp / 4);
        pc.a_bstride4 = (uint32_t)(ch->mc * kcp / 4);
    } else {
        strides_a(p, s);
        args[0] = block_arg(call->in[0], start_a(p, ch), span(s, cs), 4, &unused);
        pc.lda4 = (uint32_t)((d->trans_a ? d->m : d->k) / 4);
        pc.a_bstride4 = (uint32_t)(d->a_bstride / 4);
    }
    if (p->pack_b) {
        int64_t ncp = up4(ch->nc), nbb = p->shared_b ? 1 : ch->nb;
        args[1] = (vkft_vk_arg){.t = sb, .range = (uint64_t)(nbb * ch->kc * ncp) * 4};
        pc.ldb4 = (uint32_t)(ncp / 4);
        pc.b_bstride4 = p->shared_b ? 0 : (uint32_t)(ch->kc * ncp / 4);
    } else {
        strides_b(p, s);
        int64_t cb[ND] = {p->shared_b ? 1 : ch->nb, 1, ch->nc, ch->kc};
        args[1] = block_arg(call->in[1], start_b(p, ch), span(s, cb), 4, &unused);
        pc.ldb4 = (uint32_t)((d->trans_b ? d->k : d->n) / 4);
        pc.b_bstride4 = (uint32_t)(d->b_bstride / 4);
    }
    args[0].texel_format = args[1].texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;
    strides_c(p, s);
    args[2] = block_arg(call->out[0], (uint64_t)(ch->b0 * s[DB] + ch->m0 * s[DM] + ch->n0),
                        span(s, cs), 4, &pc.c_base);
    /* C's rows whole texels: its old values can be read through a texel view of the same bytes
     * (binding 3; otherwise a placeholder, A's view) - when accumulating (ACC_TEXELS), and
     * when not, before storing texels (TOUCH_C in the kernel: the stores then hit loaded lines) */
    bool c_texels = pc.c_base == 0 && d->n % 4 == 0 && d->c_bstride % 4 == 0 &&
                    args[2].range / 16 <= vkft_vk_max_texels(rec);
    /* ... and the chunk's columns whole texels: vec4 stores */
    bool store_texels = pc.c_base % 4 == 0 && d->n % 4 == 0 && d->c_bstride % 4 == 0 &&
                        ch->nc % 4 == 0;
    bool acc_texels = accumulate && c_texels, touch_c = !accumulate && c_texels && store_texels;
    args[3] = args[0];
    if (acc_texels || touch_c) {
        args[3] = args[2];
        args[3].texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;
    }
    uint32_t rows = ch->mc <= CPU_ROWS_SMALL ? CPU_ROWS_SMALL : CPU_ROWS;
    /* at most 4 column texels (LoRA's x A^T, N = r = 16): lanes 4-7 of each 8 take the second
     * half of every K block instead of idling (1024 x 16 x 512 and x 1376 (b): ~1.5x faster on
     * one lavapipe thread) */
    bool a_stored_t = !p->pack_a && d->trans_a;   /* A read as stored [k, m] (TRANS_A) */
    bool split_k = p->shuffle && !a_stored_t && ch->nc <= 16 && ch->kc > 16;
    uint32_t spec[8] = {rows, p->wg, !p->pack_b && d->trans_b, a_stored_t, acc_texels,
                        store_texels, split_k, touch_c};
    uint64_t wg_cols = split_k ? p->wg / 2 : p->wg;  /* column texels per workgroup */
    uint64_t gx = ((uint64_t)(ch->nc + 3) / 4 + wg_cols - 1) / wg_cols;
    uint64_t gy = ((uint64_t)ch->mc + rows - 1) / rows;
    return vkft_vk_dispatch(rec, p->shuffle ? "matmul_cpu" : "matmul_cpu_plain", spec, 8, args,
                            4, &pc, sizeof pc, (uint32_t)(p->rows_in_x ? gy : gx),
                            (uint32_t)(p->rows_in_x ? gx : gy), (uint32_t)ch->nb,
                            err);
}

static vkft_status run_gpu_chunk(vkft_vk_rec *rec, const vkft_op_call *call, const plan *p,
                                 const chunk *ch, bool accumulate, vkft_err *err) {
    const vkft_matmul_params *mp = call->params;
    int64_t cs[ND] = {ch->nb, ch->mc, ch->nc, ch->kc}, sa[ND], sb[ND], sc[ND];
    strides_a(p, sa);
    strides_b(p, sb);
    strides_c(p, sc);
    struct {
        uint32_t m, n, k, a_base, sam, sak, a_bstride, b_base, sbk, sbn, b_bstride, b_kind;
        uint32_t c_base, ldc, c_bstride, accumulate;
        float alpha;
    } pc = {(uint32_t)ch->mc, (uint32_t)ch->nc, (uint32_t)ch->kc, 0, (uint32_t)sa[DM],
            (uint32_t)sa[DK], (uint32_t)sa[DB], 0, (uint32_t)sb[DK], (uint32_t)sb[DN],
            (uint32_t)sb[DB], p->b_kind, 0, (uint32_t)p->d.n, (uint32_t)sc[DB], accumulate,
            mp->alpha};
    int64_t cb[ND] = {p->shared_b ? 1 : ch->nb, ch->mc, ch->nc, ch->kc};
    vkft_vk_arg args[3] = {
        block_arg(call->in[0], start_a(p, ch), span(sa, cs), 4, &pc.a_base),
        block_arg(call->in[1], start_b(p, ch), span(sb, cb), p->b_esize, &pc.b_base),
        block_arg(call->out[0], (uint64_t)(ch->b0 * sc[DB] + ch->m0 * sc[DM] + ch->n0),
                  span(sc, cs), 4, &pc.c_base)};
    uint32_t spec[6] = {(GPU_BM / GPU_TM) * (GPU_BN / GPU_TN), GPU_BM, GPU_BN, GPU_BK, GPU_TM,
                        GPU_TN};
    uint64_t gx = ((uint64_t)ch->nc + GPU_BN - 1) / GPU_BN;
    uint64_t gy = ((uint64_t)ch->mc + GPU_BM - 1) / GPU_BM;
    return vkft_vk_dispatch(rec, "matmul_gpu", spec, 6, args, 3, &pc, sizeof pc, (uint32_t)gx,
                            (uint32_t)gy, (uint32_t)ch->nb, err);
}

static bool same_memory(const vkft_tensor *a, const vkft_tensor *b) {
    return a == b || (a->vk->buffer == b->vk->buffer && a->vk->offset == b->vk->offset);
}

VKFT_VK_OP(matmul) {
    plan p;
    vkft_status st = make_plan(rec, call, &p, err);
    if (st) return st;
    const vkft_tensor *c0 = call->in[2], *out = call->out[0];
    if (c0 && !same_memory(c0, out)) {
        st = vkft_vk_copy_buffer(rec, c0, 0, out, 0, out->bytes, err);
        if (st) return st;
    }
    vkft_tensor *sa = NULL, *sb = NULL;
    if (p.cpu && p.pack_a) {
        int64_t n = (int64_t)fp_bytes(&p, FP_A_PACKED, p.c) / 4;
        if ((st = vkft_vk_scratch(rec, VKFT_F32, 1, &n, &sa, err))) return st;
    }
    if (p.cpu && p.pack_b) {
        int64_t n = (int64_t)fp_bytes(&p, FP_B_PACKED, p.c) / 4;
        if ((st = vkft_vk_scratch(rec, VKFT_F32, 1, &n, &sb, err))) return st;
    }
    int64_t s[ND];
    chunk ch;
    for (ch.b0 = 0; ch.b0 < p.size[DB]; ch.b0 += p.c[DB]) {
        ch.nb = min64(p.c[DB], p.size[DB] - ch.b0);
        for (ch.n0 = 0; ch.n0 < p.size[DN]; ch.n0 += p.c[DN]) {
            ch.nc = min64(p.c[DN], p.size[DN] - ch.n0);
            for (ch.k0 = 0; ch.k0 < p.size[DK]; ch.k0 += p.c[DK]) {
                ch.kc = min64(p.c[DK], p.size[DK] - ch.k0);
                bool accumulate = c0 || ch.k0 > 0;
                if (p.cpu && p.pack_b) {
                    strides_b(&p, s);
                    st = pack(rec, call->in[1], p.b_esize, p.b_kind, start_b(&p, &ch), s, DK,
                              DN, &ch, p.shared_b ? 1 : ch.nb, sb, err);
                    if (st) return st;
                }
                for (ch.m0 = 0; ch.m0 < p.size[DM]; ch.m0 += p.c[DM]) {
                    ch.mc = min64(p.c[DM], p.size[DM] - ch.m0);
                    if (p.cpu && p.pack_a) {
                        strides_a(&p, s);
                        st = pack(rec, call->in[0], 4, 0, start_a(&p, &ch), s, DM, DK, &ch,
                                  ch.nb, sa, err);
                        if (st) return st;
                    }
                    st = p.cpu ? run_cpu_chunk(rec, call, &p, &ch, sa, sb, accumulate, err)
                               : run_gpu_chunk(rec, call, &p, &ch, accumulate, err);
                    if (st) return st;
                }
            }
        }
    }
    return VKFT_OK;
}
