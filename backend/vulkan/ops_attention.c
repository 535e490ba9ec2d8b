/*
 * Vulkan recording of the attention ops. Two kernel families, chosen per device like the matmul
 * variants (vkft_vk_cpu_shaped):
 *
 * CPU-shaped (lavapipe; attention_cpu*.comp with attention_cpu.glsl), when D % 4 == 0,
 * D <= 256, subgroups of >= 8 lanes with shuffles and texel views on any 16-byte boundary:
 * flash attention written as the small matrix products of matmul_cpu.glsl. q, k, v, dO and o are
 * RGBA32F uniform texel buffers (4 floats in ~1.2 instructions on lavapipe, where a storage-buffer
 * load costs 10-12 per float). A workgroup is 8 lanes that own R rows together (queries; keys in
 * the dk/dv pass). The other side comes in blocks of 32 rows: lane l fetches rows 4l..4l+3 and
 * transposes them in registers, so row x block is D/4 steps of 4 vec4 FMAs per lane with the
 * row's elements broadcast by subgroupShuffle; the block's weights are then broadcast the same
 * way into output rows that the lanes hold 4 elements at a time. Each fetched texel serves R
 * rows. Per pass it is 2 products (forward) and 5 (backward, the minimum):
 *   forward: scores, online softmax per block, o += p v;
 *   backward: (1) Dsum = rowsum(dO * O); (2) per key block, s and dO . v against every query,
 *     dv += p dO and dk += ds q, storing ds = p (dO . v - Dsum) into a scratch [nb, nH, T, lds];
 *     (3) dq = scale ds k, reading ds back as texels. The scratch holds whole batch elements,
 *     at most DS_SCRATCH_MAX bytes: when one batch element's does not fit, pass (1) becomes the
 *     plain-style dq pass that recomputes s and dO . v (7 products instead of 5). It is the
 *     recording's shared scratch (vkft_vk_shared_scratch): one buffer for all the layers.
 *
 * Plain (GPUs, and any D or device the CPU-shaped kernels do not take; attention.comp,
 * attention_dq.comp, attention_dkv.comp): lanes over queries (forward, dq) or keys (dk/dv), each
 * invocation owning R rows whose state lives in registers, all lanes of a workgroup reading the
 * same key (or query) row from storage buffers, no shared memory and no optional feature. GPUs
 * get 64-lane workgroups with R = 1 (a GPU-shaped variant with shared-memory K/V tiles is not
 * written yet); lavapipe 8 lanes with R = 4.
 *
 * Both: keys in increasing order (the P prefix keys, then the sequence up to what the
 * workgroup's last query sees); lse = m + log(l), +INF for a row that sees no key (its o and
 * gradients are 0); dk, dv per sequence key and dprefix per prefix key summed in a fixed order
 * (batch, query head of the group, query) with no atomics; cross-lane sums are xor butterflies
 * (every lane gets bitwise the same value). Results are deterministic.
 *
 * Split path: q/k/v are activations and may exceed the storage-buffer range (or, for texel
 * bindings, maxTexelBufferElements). Every dispatch binds a chunk of whole batch elements
 * (16-byte aligned bindings, the shader adds the element shift; with D % 4 == 0 the shifts of
 * texel bindings are 0); a single batch element's q (or k, v, lse, mask) and the whole prefix
 * must fit. The backward runs chunk by chunk; the prefix gradients add the chunks' sums in batch
 * order (accumulate flag).
 */
#include "vulkan/vk_ops.h"

/* CPU-shaped kernels: rows per workgroup (each fetched texel serves them all: 16 measured ~6%
 * faster than 8 and 12 at D = 64; at D = 128 the row state doubles and 8 is as fast) and the
 * largest head dim (the per-lane row state grows with D / 32 texels per row). */
enum { CPU_ROWS = 16, CPU_ROWS_WIDE = 8, CPU_MAX_D = 256 };
/* The largest dS scratch of the CPU-shaped backward (bytes); longer sequences recompute. */
#define DS_SCRATCH_MAX ((uint64_t)64 << 20)

typedef struct {
    uint32_t T, S, P, nh, nkv;
    int32_t off;
    float scale;
    uint32_t causal, has_mask;
    uint32_t qs, ks, ms, ls;            /* element shifts of the q, k, mask and lse bindings */
    uint32_t prefix, nb, accumulate, nkeys;   /* dkv kernels only */
    uint32_t lds, ds_pre;               /* dS scratch: row stride, first sequence column */
} att_push;

typedef struct {
    const vkft_tensor *q, *k, *v, *pk, *pv, *mask;
    int64_t B, T, S, P, nh, nkv, d;
    uint64_t chunk;                     /* batch elements per dispatch */
    bool cpu;                           /* the CPU-shaped (texel) kernels */
    uint32_t spec[3];                   /* plain: workgroup size, D, R; CPU-shaped: D, R */
    int n_spec;
    uint32_t rows;                      /* rows per workgroup */
    uint64_t lim;                       /* bytes a binding may span */
} att_shape;

/* True when the CPU-shaped kernels can run head dim d on rec's device: rows start on a texel,
 * texel views may start on any 16-byte boundary, subgroup shuffles over at least 8 lanes. */
static bool cpu_kernels_fit(vkft_vk_rec *rec, int64_t d) {
    return vkft_vk_cpu_shaped(rec) && d % 4 == 0 && d <= CPU_MAX_D &&
           rec->vk->limits.minTexelBufferOffsetAlignment <= 16 && vkft_vk_shuffle8(rec);
}

/* Reads shapes from q, k, v, prefix_k, prefix_v, key_mask at call->in[in0..] and picks the
 * variant and the batch chunk. */
static vkft_status plan(vkft_vk_rec *rec, const vkft_op_call *call, int in0, const char *op,
                        att_shape *a, vkft_err *err) {
    const vkft_desc *qd = &call->in[in0]->desc, *kd = &call->in[in0 + 1]->desc;
    *a = (att_shape){.q = call->in[in0], .k = call->in[in0 + 1], .v = call->in[in0 + 2],
                     .pk = call->in[in0 + 3], .pv = call->in[in0 + 4],
                     .mask = call->in[in0 + 5]};
    a->B = qd->shape[0], a->T = qd->shape[1], a->nh = qd->shape[2], a->d = qd->shape[3];
    a->S = kd->shape[1], a->nkv = kd->shape[2], a->P = a->pk ? a->pk->desc.shape[0] : 0;
    uint64_t lim = vkft_vk_max_range(rec);
    a->cpu = cpu_kernels_fit(rec, a->d);
    if (a->cpu) {
        a->rows = a->d <= 64 ? CPU_ROWS : CPU_ROWS_WIDE;
        a->spec[0] = (uint32_t)a->d, a->spec[1] = a->rows, a->n_spec = 2;
        /* q, k, v, dO, o, prefix are also texel bindings (texel indices are 32-bit ints) */
        uint64_t texels = vkft_vk_max_texels(rec);
        if (texels > INT32_MAX) texels = INT32_MAX;
        if (texels * 16 < lim) lim = texels * 16;
    } else {
        bool cpu = vkft_vk_cpu_shaped(rec);
        /* lavapipe: 4 rows per lane share each key load; GPUs: registers are the limit */
        a->spec[0] = cpu ? 8 : 64, a->spec[1] = (uint32_t)a->d, a->spec[2] = cpu ? 4 : 1;
        a->n_spec = 3;
        a->rows = a->spec[0] * a->spec[2];
    }
    uint64_t per[4] = {(uint64_t)(a->T * a->nh * a->d) * 4, (uint64_t)(a->S * a->nkv * a->d) * 4,
                       (uint64_t)(a->nh * a->T) * 4, (uint64_t)a->S * 4};
    uint64_t most = 0;
    for (int i = 0; i < 4; i++) most = per[i] > most ? per[i] : most;
    a->chunk = lim > 12 ? (lim - 12) / most : 0;   /* a binding's shift adds up to 12 bytes */
    if (a->chunk == 0)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: one batch element's q/k/v (%llu bytes) does "
                         "not fit in the device's buffer range (%llu bytes)", op,
                         (unsigned long long)most, (unsigned long long)lim);
    if (a->pk && a->pk->bytes > lim)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: the prefix (%zu bytes) does not fit in the "
                         "device's buffer range (%llu bytes)", op, a->pk->bytes,
                         (unsigned long long)lim);
    if (a->chunk > (uint64_t)a->B) a->chunk = (uint64_t)a->B;
    a->lim = lim;
    return VKFT_OK;
}

static att_push make_push(const att_shape *a, const vkft_attention_params *p) {
    return (att_push){.T = (uint32_t)a->T, .S = (uint32_t)a->S, .P = (uint32_t)a->P,
                      .nh = (uint32_t)a->nh, .nkv = (uint32_t)a->nkv,
                      .off = (int32_t)p->q_pos_offset, .scale = p->scale, .causal = p->causal,
                      .has_mask = a->mask != NULL};
}

/* arg as an RGBA32F texel binding when the CPU-shaped kernels run. */
static vkft_vk_arg texel(const att_shape *a, vkft_vk_arg arg) {
    if (a->cpu) arg.texel_format = VK_FORMAT_R32G32B32A32_SFLOAT;
    return arg;
}

/* Bindings of batch elements [b0, b0 + nb) of a [B, T, nH, D] / [B, S, nKV, D] / [B, nH, T] /
 * [B, S] tensor (kind 0..3); the shift goes to *shift. */
static vkft_vk_arg bind_batch(const att_shape *a, const vkft_tensor *t, int kind, uint64_t b0,
                              uint64_t nb, uint32_t *shift) {
    uint64_t per = kind == 0   ? (uint64_t)(a->T * a->nh * a->d)
                   : kind == 1 ? (uint64_t)(a->S * a->nkv * a->d)
                   : kind == 2 ? (uint64_t)(a->nh * a->T)
                               : (uint64_t)a->S;
    return vkft_vk_bind_elems(t, b0 * per, nb * per, 4, shift);
}

/* A row-tensor binding (q, k, v, dO, o: texels for the CPU-shaped kernels). */
static vkft_vk_arg bind_rows(const att_shape *a, const vkft_tensor *t, int kind, uint64_t b0,
                             uint64_t nb, uint32_t *shift) {
    return texel(a, bind_batch(a, t, kind, b0, nb, shift));
}

/* A small binding standing in for an absent optional input (the shader does not read it). */
static vkft_vk_arg dummy(const vkft_tensor *t) {
    return (vkft_vk_arg){.t = t, .range = t->bytes < 16 ? t->bytes : 16};
}

/* The prefix_k / prefix_v binding (a texel one for the CPU-shaped kernels), or a dummy. */
static vkft_vk_arg bind_prefix(const att_shape *a, const vkft_tensor *t) {
    return texel(a, t ? (vkft_vk_arg){.t = t} : dummy(a->q));
}

/* Workgroups along x for n rows. */
static uint32_t row_groups(const att_shape *a, int64_t n) {
    return (uint32_t)(((uint64_t)n + a->rows - 1) / a->rows);
}

/* Kernel name: the plain one, or its CPU-shaped counterpart. */
static const char *kernel(const att_shape *a, const char *plain, const char *cpu) {
    return a->cpu ? cpu : plain;
}

VKFT_VK_OP(attention) {
    att_shape a;
    vkft_status st = plan(rec, call, 0, "attention", &a, err);
    att_push pc = make_push(&a, call->params);
    uint32_t unused;
    for (uint64_t b0 = 0; !st && b0 < (uint64_t)a.B; b0 += a.chunk) {
        uint64_t nb = (uint64_t)a.B - b0 < a.chunk ? (uint64_t)a.B - b0 : a.chunk;
        vkft_vk_arg args[8] = {
            bind_rows(&a, a.q, 0, b0, nb, &pc.qs), bind_rows(&a, a.k, 1, b0, nb, &pc.ks),
            bind_rows(&a, a.v, 1, b0, nb, &unused), bind_prefix(&a, a.pk),
            bind_prefix(&a, a.pv),
            a.mask ? bind_batch(&a, a.mask, 3, b0, nb, &pc.ms) : dummy(a.q),
            bind_batch(&a, call->out[0], 0, b0, nb, &unused),
            bind_batch(&a, call->out[1], 2, b0, nb, &pc.ls)};
        st = vkft_vk_dispatch(rec, kernel(&a, "attention", "attention_cpu"), a.spec, a.n_spec,
                              args, 8, &pc, sizeof pc, row_groups(&a, a.T), (uint32_t)a.nh,
                              (uint32_t)nb, err);
    }
    return st;
}

/* Backward of batch elements [b0, b0 + nb) (one chunk). With the dS scratch (ds != NULL,
 * CPU-shaped kernels): Dsum, then dk/dv (and dprefix) storing dS, then dq from dS; without it:
 * dq with Dsum (recomputing the scores), then dk/dv (and dprefix). */
static vkft_status backward_chunk(vkft_vk_rec *rec, const vkft_op_call *call, const att_shape *a,
                                  att_push pc, uint64_t b0, uint64_t nb, vkft_tensor *dsum,
                                  vkft_tensor *ds, vkft_err *err) {
    const vkft_tensor *dout = call->in[0], *o = call->in[7], *lse = call->in[8];
    uint32_t unused;
    vkft_vk_arg dq_args[12] = {
        bind_rows(a, dout, 0, b0, nb, &pc.qs), bind_rows(a, a->q, 0, b0, nb, &unused),
        bind_rows(a, a->k, 1, b0, nb, &pc.ks), bind_rows(a, a->v, 1, b0, nb, &unused),
        bind_prefix(a, a->pk), bind_prefix(a, a->pv),
        a->mask ? bind_batch(a, a->mask, 3, b0, nb, &pc.ms) : dummy(a->q),
        bind_rows(a, o, 0, b0, nb, &unused), bind_batch(a, lse, 2, b0, nb, &pc.ls),
        bind_batch(a, call->out[0], 0, b0, nb, &unused), bind_batch(a, dsum, 2, b0, nb, &unused),
        texel(a, ds ? (vkft_vk_arg){.t = ds, .range = nb * pc.lds * (uint64_t)(a->nh * a->T) * 4}
                    : dummy(a->q))};
    /* CPU-shaped dq kernel: D, R and MODE (0 all, 1 Dsum only, 2 dq from the dS scratch) */
    uint32_t spec[3] = {a->spec[0], a->spec[1], ds ? 1 : 0};
    const char *dq = kernel(a, "attention_dq", "attention_cpu_dq");
    int n_dq = a->cpu ? 12 : 11, n_spec = a->cpu ? 3 : a->n_spec;
    vkft_status st = vkft_vk_dispatch(rec, dq, a->cpu ? spec : a->spec, n_spec, dq_args, n_dq,
                                      &pc, sizeof pc, row_groups(a, a->T), (uint32_t)a->nh,
                                      (uint32_t)nb, err);
    /* dk, dv of the sequence keys, then dprefix added over the chunks in batch order */
    for (int prefix = 0; prefix < 2 && !st; prefix++) {
        if (prefix && !a->pk) break;
        pc.prefix = (uint32_t)prefix;
        pc.nb = (uint32_t)nb;
        pc.accumulate = prefix && b0 > 0;
        pc.nkeys = (uint32_t)(prefix ? a->P : a->S);
        vkft_vk_arg args[10] = {
            bind_rows(a, dout, 0, b0, nb, &pc.qs), bind_rows(a, a->q, 0, b0, nb, &unused),
            prefix ? bind_prefix(a, a->pk) : bind_rows(a, a->k, 1, b0, nb, &pc.ks),
            prefix ? bind_prefix(a, a->pv) : bind_rows(a, a->v, 1, b0, nb, &unused),
            a->mask ? bind_batch(a, a->mask, 3, b0, nb, &pc.ms) : dummy(a->q),
            bind_batch(a, lse, 2, b0, nb, &pc.ls), bind_batch(a, dsum, 2, b0, nb, &unused),
            prefix ? (vkft_vk_arg){.t = call->out[3]}
                   : bind_batch(a, call->out[1], 1, b0, nb, &unused),
            prefix ? (vkft_vk_arg){.t = call->out[4]}
                   : bind_batch(a, call->out[2], 1, b0, nb, &unused),
            ds ? (vkft_vk_arg){.t = ds, .range = dq_args[11].range} : dummy(a->q)};
        if (prefix) pc.ks = 0;
        st = vkft_vk_dispatch(rec, kernel(a, "attention_dkv", "attention_cpu_dkv"), a->spec,
                              a->n_spec, args, a->cpu ? 10 : 9, &pc, sizeof pc,
                              row_groups(a, prefix ? a->P : a->S), (uint32_t)a->nkv,
                              prefix ? 1 : (uint32_t)nb, err);
    }
    if (st || !ds) return st;
    spec[2] = 2;
    return vkft_vk_dispatch(rec, dq, spec, n_spec, dq_args, n_dq, &pc, sizeof pc,
                            row_groups(a, a->T), (uint32_t)a->nh, (uint32_t)nb, err);
}

static int64_t up4(int64_t x) { return (x + 3) & ~(int64_t)3; }

VKFT_VK_OP(attention_backward) {
    att_shape a;
    vkft_status st = plan(rec, call, 1, "attention_backward", &a, err);
    if (st) return st;
    vkft_tensor *dsum, *ds = NULL;
    int64_t dshape[3] = {a.B, a.nh, a.T};
    st = vkft_vk_scratch(rec, VKFT_F32, 3, dshape, &dsum, err);
    att_push pc = make_push(&a, call->params);
    /* the dS scratch [chunk, nH, T, lds]: when one batch element's fits DS_SCRATCH_MAX and the
     * device's ranges, the batch chunk shrinks to what fits */
    uint64_t chunk = a.chunk;
    if (a.cpu) {
        int64_t ds_pre = up4(a.P), lds = ds_pre + up4(a.S);
        uint64_t per_b = (uint64_t)(a.nh * a.T * lds) * 4;
        uint64_t cap = a.lim < DS_SCRATCH_MAX ? a.lim : DS_SCRATCH_MAX, fit = cap / per_b;
        if (fit > 0 && !st) {
            chunk = fit < chunk ? fit : chunk;
            int64_t n = (int64_t)(chunk * per_b / 4);
            /* one buffer for every attention backward of the recording (a plan's layers run
             * one after another), not one per layer */
            st = vkft_vk_shared_scratch(rec, 1, &n, &ds, err);
            pc.lds = (uint32_t)lds, pc.ds_pre = (uint32_t)ds_pre;
        }
    }
    for (uint64_t b0 = 0; !st && b0 < (uint64_t)a.B; b0 += chunk) {
        uint64_t nb = (uint64_t)a.B - b0 < chunk ? (uint64_t)a.B - b0 : chunk;
        st = backward_chunk(rec, call, &a, pc, b0, nb, dsum, ds, err);
    }
    return st;
}
