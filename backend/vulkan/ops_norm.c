/*
 * Vulkan recording of the norm ops (shaders norm.comp, norm_backward.comp, norm_dw.comp,
 * norm_dw_reduce.comp). Forward and dx: one workgroup per row, row sums in a fixed tree.
 * dw/db: per-block partials (NORM_DW_BLOCK rows each) into a scratch tensor, then one invocation
 * per column adds the blocks in order; no float atomics, so two runs give identical bits.
 *
 * Split path: activations may exceed the storage-buffer range (tokens x hidden), so every op
 * runs over chunks of whole rows bound as sub-ranges; a chunk's binding starts at the 16-byte
 * boundary at or below its first row and the shader adds the element shift. One row (and w)
 * must fit in the range. dw/db of a split backward accumulate chunk by chunk, in chunk order.
 *
 * CPU-shaped drivers (lavapipe; vkft_vk_cpu_shaped) run norm_cpu.comp, norm_backward_cpu.comp and
 * norm_dw_cpu.comp instead where rows are whole texels (h % 4 == 0) and the row tensors start on
 * 16 bytes: 8-lane workgroups (one subgroup, no barriers), RGBA32F texel fetches and vec4 stores,
 * since a lane-varying storage-buffer access is a scalar loop over the lanes there. Same formulas
 * and (for dw/db) the same summation order; other shapes keep the kernels above.
 */
#include "vulkan/vk_ops.h"

/* dw/db partial block: 64 rows per invocation keeps enough invocations (H x rows/64) for a
 * GPU and few enough partials to reduce cheaply. On lavapipe blocks of 16..256 rows timed the
 * same; one invocation per column looping over all rows made rmsnorm_backward [2048, 2048]
 * ~10 ms slower (60 vs 51 ms with 64-lane rows). */
#define NORM_DW_BLOCK 64

/* Rows of h f32 elements per chunk (the shift may add up to 12 bytes). */
static vkft_status rows_per_chunk(const vkft_vk_rec *rec, const char *op, int64_t h,
                                  uint64_t *rows, vkft_err *err) {
    uint64_t lim = vkft_vk_max_range(rec), row = (uint64_t)h * 4;
    *rows = lim > 16 ? (lim - 16) / row : 0;
    if (!*rows)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: a row of %llu bytes does not fit in the "
                         "device's storage-buffer range (%llu bytes)", op,
                         (unsigned long long)row, (unsigned long long)lim);
    return VKFT_OK;
}

/* Workgroup size for a row of h: a power of two <= h, 8..256 on GPUs; 8 (one lavapipe subgroup)
 * on CPU-shaped drivers, where barriers are coroutine switches: rmsnorm [2048, 2048] took
 * 12.5 ms with 8 lanes, 17 ms with 32, 26 ms with 64 on lavapipe. */
static uint32_t row_workgroup(const vkft_vk_rec *rec, int64_t h) {
    uint32_t max = vkft_vk_cpu_shaped(rec) ? 8 : 256, wg = 8;
    while (wg < max && (int64_t)wg * 2 <= h) wg *= 2;
    return wg;
}

/* Elements a chunk of the CPU-shaped kernels may span (their texel bindings' limit, whole rows
 * of h), or 0 where those kernels do not apply: not a CPU-shaped driver, texel views cannot start
 * on every 16-byte boundary, rows are not whole texels, a row tensor (NULLs skipped) does not
 * start on 16 bytes, or subgroup shuffles over 8 lanes are missing. */
static uint64_t cpu_chunk_elems(const vkft_vk_rec *rec, int64_t h, const vkft_tensor *const *ts,
                                int n) {
    if (h % 4 || !vkft_vk_shuffle8(rec)) return 0;
    for (int i = 0; i < n; i++)
        if (ts[i] && !vkft_vk_texel_aligned(ts[i])) return 0;
    uint64_t e = vkft_vk_texel_chunk_elems(rec), most = (uint64_t)INT32_MAX * 4;
    e = e < most ? e : most;   /* texel indices are 32-bit ints in the shaders */
    return e - e % (uint64_t)h;
}

/* Rows per chunk and whether the CPU-shaped kernels run, given the GPU-shaped kernels' cap. */
static bool use_cpu(const vkft_vk_rec *rec, int64_t h, const vkft_tensor *const *ts, int n,
                    uint64_t *cap) {
    uint64_t rows = cpu_chunk_elems(rec, h, ts, n) / (uint64_t)h;
    if (!rows) return false;
    if (rows < *cap) *cap = rows;
    return true;
}

/* The CPU-shaped kernels' CACHE and NT specialisation constants: rows of 8 x NT texels with
 * NT <= NORM_CPU_MAX_NT keep each lane's texels in registers between passes (fetched once; NIR
 * unrolls the loops over them). */
#define NORM_CPU_MAX_NT 32
/* Rows per workgroup of the CPU-shaped forward and dx kernels (w's texels, kept in registers
 * with CACHE, serve them all). */
#define NORM_CPU_ROWS 4
static void cache_spec(int64_t h, uint32_t *spec) {
    uint32_t h4 = (uint32_t)(h / 4);
    bool cache = h4 % 8 == 0 && h4 / 8 <= NORM_CPU_MAX_NT;
    spec[0] = cache, spec[1] = cache ? h4 / 8 : 1, spec[2] = NORM_CPU_ROWS;
}

/* arg as an RGBA32F texel binding when cpu. */
static vkft_vk_arg texel_if(bool cpu, vkft_vk_arg arg) {
    if (cpu) arg.texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;
    return arg;
}

static vkft_status norm_forward(vkft_vk_rec *rec, const vkft_op_call *call, bool layer,
                                vkft_err *err) {
    const char *op = layer ? "layernorm" : "rmsnorm";
    const vkft_tensor *x = call->in[0], *w = call->in[1], *b = layer ? call->in[2] : NULL;
    const vkft_tensor *y = call->out[0], *rstd = call->out[layer ? 2 : 1];
    const vkft_tensor *mean = layer ? call->out[1] : rstd;
    const vkft_norm_params *p = call->params;
    int64_t h = x->desc.shape[x->desc.ndim - 1];
    uint64_t rows = (uint64_t)vkft_desc_rows(&x->desc), cap;
    vkft_status st = rows_per_chunk(rec, op, h, &cap, err);
    const vkft_tensor *rows_t[4] = {x, w, b, y};
    bool cpu = !st && use_cpu(rec, h, rows_t, 4, &cap);
    uint32_t spec[5] = {row_workgroup(rec, h)}, unused;
    if (cpu) spec[0] = layer, spec[1] = b != NULL, cache_spec(h, spec + 2);
    for (uint64_t r0 = 0; !st && r0 < rows; r0 += cap) {
        uint64_t m = rows - r0 < cap ? rows - r0 : cap;
        struct { uint32_t rows, h; float eps; uint32_t layer, has_b, xs, rs; } pc = {
            (uint32_t)m, (uint32_t)h, p->eps, layer, b != NULL, 0, 0};
        vkft_vk_arg args[6] = {
            texel_if(cpu, vkft_vk_bind_elems(x, r0 * (uint64_t)h, m * (uint64_t)h, 4, &pc.xs)),
            texel_if(cpu, (vkft_vk_arg){.t = w}), texel_if(cpu, (vkft_vk_arg){.t = b ? b : w}),
            vkft_vk_bind_elems(y, r0 * (uint64_t)h, m * (uint64_t)h, 4, &unused),
            vkft_vk_bind_elems(mean, r0, m, 4, &pc.rs),
            vkft_vk_bind_elems(rstd, r0, m, 4, &unused)};
        uint32_t gx, gy;
        vkft_vk_grid(rec, m, &gx, &gy);
        if (cpu) {   /* rows are whole texels on 16 bytes: pc.xs is 0 */
            struct { uint32_t rows, h4; float eps; uint32_t rs; } cc = {
                (uint32_t)m, (uint32_t)(h / 4), p->eps, pc.rs};
            vkft_vk_grid(rec, (m + NORM_CPU_ROWS - 1) / NORM_CPU_ROWS, &gx, &gy);
            st = vkft_vk_dispatch(rec, "norm_cpu", spec, 5, args, 6, &cc, sizeof cc, gx, gy, 1,
                                  err);
        } else {
            st = vkft_vk_dispatch(rec, "norm", spec, 1, args, 6, &pc, sizeof pc, gx, gy, 1, err);
        }
    }
    return st;
}

VKFT_VK_OP(rmsnorm) { return norm_forward(rec, call, false, err); }
VKFT_VK_OP(layernorm) { return norm_forward(rec, call, true, err); }

/* The dw/db partials of rows [r0, r0 + m) through norm_dw_cpu.comp: workgroups of 8 texel
 * columns x one block. */
static vkft_status norm_dw_cpu(vkft_vk_rec *rec, const vkft_op_call *call, bool layer,
                               uint64_t r0, uint64_t m, uint32_t nb, const vkft_tensor *pw,
                               const vkft_tensor *pb, vkft_err *err) {
    const vkft_tensor *dy = call->in[0], *x = call->in[1], *rstd = call->in[layer ? 4 : 3];
    const vkft_tensor *mean = layer ? call->in[3] : rstd;
    uint64_t h = (uint64_t)x->desc.shape[x->desc.ndim - 1];
    uint32_t h4 = (uint32_t)(h / 4), strips = (h4 + 7) / 8, unused;
    struct { uint32_t rows, h4, block, strips, rs; } pc = {(uint32_t)m, h4, NORM_DW_BLOCK, strips,
                                                           0};
    uint32_t spec[2] = {layer, layer && call->out[2]};
    vkft_vk_arg args[6] = {texel_if(true, vkft_vk_bind_elems(dy, r0 * h, m * h, 4, &unused)),
                           texel_if(true, vkft_vk_bind_elems(x, r0 * h, m * h, 4, &unused)),
                           vkft_vk_bind_elems(mean, r0, m, 4, &pc.rs),
                           vkft_vk_bind_elems(rstd, r0, m, 4, &unused),
                           {.t = pw, .range = nb * h * 4}, {.t = pb, .range = nb * h * 4}};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (uint64_t)strips * nb, &gx, &gy);
    return vkft_vk_dispatch(rec, "norm_dw_cpu", spec, 2, args, 6, &pc, sizeof pc, gx, gy, 1, err);
}

/* dw/db of rows [r0, r0 + m): partials per block into pw/pb, then added to dw/db. */
static vkft_status norm_dw(vkft_vk_rec *rec, const vkft_op_call *call, bool layer, bool cpu,
                           uint64_t r0, uint64_t m, const vkft_tensor *pw, const vkft_tensor *pb,
                           vkft_err *err) {
    const vkft_tensor *dy = call->in[0], *x = call->in[1], *rstd = call->in[layer ? 4 : 3];
    const vkft_tensor *mean = layer ? call->in[3] : rstd;
    const vkft_tensor *dw = call->out[1], *db = layer ? call->out[2] : NULL;
    uint64_t h = (uint64_t)x->desc.shape[x->desc.ndim - 1];
    uint32_t nb = (uint32_t)((m + NORM_DW_BLOCK - 1) / NORM_DW_BLOCK), unused;
    struct { uint32_t rows, h, block, nb, layer, has_b, xs, rs; } pc = {
        (uint32_t)m, (uint32_t)h, NORM_DW_BLOCK, nb, layer, db != NULL, 0, 0};
    vkft_vk_arg args[6] = {vkft_vk_bind_elems(dy, r0 * h, m * h, 4, &pc.xs),
                           vkft_vk_bind_elems(x, r0 * h, m * h, 4, &unused),
                           vkft_vk_bind_elems(mean, r0, m, 4, &pc.rs),
                           vkft_vk_bind_elems(rstd, r0, m, 4, &unused),
                           {.t = pw, .range = nb * h * 4}, {.t = pb, .range = nb * h * 4}};
    uint32_t gx, gy;
    vkft_vk_grid(rec, (h * nb + 63) / 64, &gx, &gy);
    vkft_status st = cpu ? norm_dw_cpu(rec, call, layer, r0, m, nb, pw, pb, err)
                         : vkft_vk_dispatch(rec, "norm_dw", NULL, 0, args, 6, &pc, sizeof pc, gx,
                                            gy, 1, err);
    if (st) return st;
    struct { uint32_t h, nb, accumulate, has_b; } rc = {(uint32_t)h, nb, r0 > 0, db != NULL};
    vkft_vk_arg rargs[4] = {{.t = pw, .range = nb * h * 4}, {.t = pb, .range = nb * h * 4},
                            {.t = dw}, {.t = db ? db : dw}};
    vkft_vk_grid(rec, (h + 63) / 64, &gx, &gy);
    return vkft_vk_dispatch(rec, "norm_dw_reduce", NULL, 0, rargs, 4, &rc, sizeof rc, gx, gy, 1,
                            err);
}

static vkft_status norm_backward(vkft_vk_rec *rec, const vkft_op_call *call, bool layer,
                                 vkft_err *err) {
    const char *op = layer ? "layernorm_backward" : "rmsnorm_backward";
    const vkft_tensor *dy = call->in[0], *x = call->in[1], *w = call->in[2];
    const vkft_tensor *rstd = call->in[layer ? 4 : 3], *mean = layer ? call->in[3] : rstd;
    const vkft_tensor *dx = call->out[0];
    bool has_b = layer && call->out[2];
    int64_t h = x->desc.shape[x->desc.ndim - 1];
    uint64_t rows = (uint64_t)vkft_desc_rows(&x->desc), cap;
    vkft_status st = rows_per_chunk(rec, op, h, &cap, err);
    if (st) return st;
    const vkft_tensor *rows_t[4] = {dy, x, w, dx};
    bool cpu = use_cpu(rec, h, rows_t, 4, &cap);
    /* partials of the biggest chunk; they fit the range: with cap >= 64 rows a row is at most
     * 1/64 of it, else there is one block of one row's size */
    uint64_t m_max = rows < cap ? rows : cap;
    int64_t pshape[2] = {(int64_t)((m_max + NORM_DW_BLOCK - 1) / NORM_DW_BLOCK), h};
    vkft_tensor *pw = NULL, *pb = NULL;
    if (call->out[1]) st = vkft_vk_scratch(rec, VKFT_F32, 2, pshape, &pw, err);
    if (!st && has_b) st = vkft_vk_scratch(rec, VKFT_F32, 2, pshape, &pb, err);
    uint32_t spec[4] = {cpu ? layer : row_workgroup(rec, h)};
    if (cpu) cache_spec(h, spec + 1);
    for (uint64_t r0 = 0; !st && r0 < rows; r0 += cap) {
        uint64_t m = rows - r0 < cap ? rows - r0 : cap, e0 = r0 * (uint64_t)h, n = m * (uint64_t)h;
        struct { uint32_t rows, h, layer, xs, rs; } pc = {(uint32_t)m, (uint32_t)h, layer, 0, 0};
        uint32_t unused;
        vkft_vk_arg args[6] = {texel_if(cpu, vkft_vk_bind_elems(dy, e0, n, 4, &pc.xs)),
                               texel_if(cpu, vkft_vk_bind_elems(x, e0, n, 4, &unused)),
                               texel_if(cpu, (vkft_vk_arg){.t = w}),
                               vkft_vk_bind_elems(mean, r0, m, 4, &pc.rs),
                               vkft_vk_bind_elems(rstd, r0, m, 4, &unused),
                               vkft_vk_bind_elems(dx, e0, n, 4, &unused)};
        uint32_t gx, gy;
        vkft_vk_grid(rec, m, &gx, &gy);
        if (cpu) {   /* rows are whole texels on 16 bytes: pc.xs is 0 */
            struct { uint32_t rows, h4, rs; } cc = {(uint32_t)m, (uint32_t)(h / 4), pc.rs};
            vkft_vk_grid(rec, (m + NORM_CPU_ROWS - 1) / NORM_CPU_ROWS, &gx, &gy);
            st = vkft_vk_dispatch(rec, "norm_backward_cpu", spec, 4, args, 6, &cc, sizeof cc, gx,
                                  gy, 1, err);
        } else {
            st = vkft_vk_dispatch(rec, "norm_backward", spec, 1, args, 6, &pc, sizeof pc, gx, gy,
                                  1, err);
        }
        if (!st && call->out[1])
            st = norm_dw(rec, call, layer, cpu, r0, m, pw, pb ? pb : pw, err);
    }
    return st;
}

VKFT_VK_OP(rmsnorm_backward) { return norm_backward(rec, call, false, err); }
VKFT_VK_OP(layernorm_backward) { return norm_backward(rec, call, true, err); }
