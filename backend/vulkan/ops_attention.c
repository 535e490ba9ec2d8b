/*
 * Vulkan recording of the attention ops (shaders attention.comp, attention_dq.comp,
 * attention_dkv.comp). One kernel shape for every device, using no optional feature: lanes over
 * queries (forward, dq) or keys (dk/dv), each invocation owning R rows whose state lives in
 * registers / private memory, all lanes of a workgroup reading the same key (or query) row, so
 * the shared row is fetched once per WG * R rows and no shared memory is used (the shape
 * LAVAPIPE.md asks for). CPU-shaped drivers get 8-lane workgroups with R = 4 rows per lane;
 * GPUs 64-lane workgroups with R = 1 (a GPU-shaped variant with shared-memory K/V tiles is not
 * written yet).
 *
 * Backward: pass 1 (attention_dq) computes Dsum = rowsum(dO * O) into a scratch [B, nH, T] and dq;
 * pass 2 (attention_dkv) computes dk, dv per sequence key and dprefix per prefix key, summing in
 * a fixed order (batch, query head of the group, query) with no atomics.
 *
 * Split path: q/k/v are activations and may exceed the storage-buffer range. Every dispatch
 * binds a chunk of whole batch elements (16-byte aligned bindings, the shader adds the element
 * shift); a single batch element's q (or k, v, lse, mask) and the whole prefix must fit in the
 * range. The prefix gradients add the chunks' sums in batch order (accumulate flag).
 */
#include "vulkan/vk_ops.h"

typedef struct {
    uint32_t T, S, P, nh, nkv;
    int32_t off;
    float scale;
    uint32_t causal, has_mask;
    uint32_t qs, ks, ms, ls;            /* element shifts of the q, k, mask and lse bindings */
    uint32_t prefix, nb, accumulate, nkeys;   /* attention_dkv only */
} att_push;

typedef struct {
    const vkft_tensor *q, *k, *v, *pk, *pv, *mask;
    int64_t B, T, S, P, nh, nkv, d;
    uint64_t chunk;                     /* batch elements per dispatch */
    uint32_t spec[3];                   /* workgroup size, D, R */
} att_shape;

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
    bool cpu = vkft_vk_cpu_shaped(rec);
    a->spec[0] = cpu ? 8 : 64;
    a->spec[1] = (uint32_t)a->d;
    /* lavapipe: 4 rows per lane share each key load; GPUs: registers are the limit */
    a->spec[2] = cpu ? 4 : 1;
    uint64_t lim = vkft_vk_max_range(rec);
    uint64_t per[4] = {(uint64_t)(a->T * a->nh * a->d) * 4, (uint64_t)(a->S * a->nkv * a->d) * 4,
                       (uint64_t)(a->nh * a->T) * 4, (uint64_t)a->S * 4};
    uint64_t most = 0;
    for (int i = 0; i < 4; i++) most = per[i] > most ? per[i] : most;
    a->chunk = lim > 12 ? (lim - 12) / most : 0;   /* a binding's shift adds up to 12 bytes */
    if (a->chunk == 0)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: one batch element's q/k/v (%llu bytes) does "
                         "not fit in the device's storage-buffer range (%llu bytes)", op,
                         (unsigned long long)most, (unsigned long long)lim);
    if (a->pk && a->pk->bytes > lim)
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: the prefix (%zu bytes) does not fit in the "
                         "device's storage-buffer range (%llu bytes)", op, a->pk->bytes,
                         (unsigned long long)lim);
    if (a->chunk > (uint64_t)a->B) a->chunk = (uint64_t)a->B;
    return VKFT_OK;
}

static att_push make_push(const att_shape *a, const vkft_attention_params *p) {
    return (att_push){.T = (uint32_t)a->T, .S = (uint32_t)a->S, .P = (uint32_t)a->P,
                      .nh = (uint32_t)a->nh, .nkv = (uint32_t)a->nkv,
                      .off = (int32_t)p->q_pos_offset, .scale = p->scale, .causal = p->causal,
                      .has_mask = a->mask != NULL};
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

/* A small binding standing in for an absent optional input (the shader does not read it). */
static vkft_vk_arg dummy(const vkft_tensor *t) {
    return (vkft_vk_arg){.t = t, .range = t->bytes < 16 ? t->bytes : 16};
}

/* Workgroups along x for n rows. */
static uint32_t row_groups(const att_shape *a, int64_t n) {
    uint64_t rows = (uint64_t)a->spec[0] * a->spec[2];
    return (uint32_t)(((uint64_t)n + rows - 1) / rows);
}

VKFT_VK_OP(attention) {
    att_shape a;
    vkft_status st = plan(rec, call, 0, "attention", &a, err);
    att_push pc = make_push(&a, call->params);
    uint32_t unused;
    for (uint64_t b0 = 0; !st && b0 < (uint64_t)a.B; b0 += a.chunk) {
        uint64_t nb = (uint64_t)a.B - b0 < a.chunk ? (uint64_t)a.B - b0 : a.chunk;
        vkft_vk_arg args[8] = {
            bind_batch(&a, a.q, 0, b0, nb, &pc.qs), bind_batch(&a, a.k, 1, b0, nb, &pc.ks),
            bind_batch(&a, a.v, 1, b0, nb, &unused),
            a.pk ? (vkft_vk_arg){.t = a.pk} : dummy(a.q),
            a.pv ? (vkft_vk_arg){.t = a.pv} : dummy(a.q),
            a.mask ? bind_batch(&a, a.mask, 3, b0, nb, &pc.ms) : dummy(a.q),
            bind_batch(&a, call->out[0], 0, b0, nb, &unused),
            bind_batch(&a, call->out[1], 2, b0, nb, &pc.ls)};
        st = vkft_vk_dispatch(rec, "attention", a.spec, 3, args, 8, &pc, sizeof pc,
                              row_groups(&a, a.T), (uint32_t)a.nh, (uint32_t)nb, err);
    }
    return st;
}

VKFT_VK_OP(attention_backward) {
    att_shape a;
    vkft_status st = plan(rec, call, 1, "attention_backward", &a, err);
    if (st) return st;
    const vkft_tensor *dout = call->in[0], *o = call->in[7], *lse = call->in[8];
    vkft_tensor *dsum;
    int64_t dshape[3] = {a.B, a.nh, a.T};
    st = vkft_vk_scratch(rec, VKFT_F32, 3, dshape, &dsum, err);
    att_push pc = make_push(&a, call->params);
    uint32_t unused;
    /* pass 1: Dsum and dq */
    for (uint64_t b0 = 0; !st && b0 < (uint64_t)a.B; b0 += a.chunk) {
        uint64_t nb = (uint64_t)a.B - b0 < a.chunk ? (uint64_t)a.B - b0 : a.chunk;
        vkft_vk_arg args[11] = {
            bind_batch(&a, dout, 0, b0, nb, &pc.qs), bind_batch(&a, a.q, 0, b0, nb, &unused),
            bind_batch(&a, a.k, 1, b0, nb, &pc.ks), bind_batch(&a, a.v, 1, b0, nb, &unused),
            a.pk ? (vkft_vk_arg){.t = a.pk} : dummy(a.q),
            a.pv ? (vkft_vk_arg){.t = a.pv} : dummy(a.q),
            a.mask ? bind_batch(&a, a.mask, 3, b0, nb, &pc.ms) : dummy(a.q),
            bind_batch(&a, o, 0, b0, nb, &unused), bind_batch(&a, lse, 2, b0, nb, &pc.ls),
            bind_batch(&a, call->out[0], 0, b0, nb, &unused),
            bind_batch(&a, dsum, 2, b0, nb, &unused)};
        st = vkft_vk_dispatch(rec, "attention_dq", a.spec, 3, args, 11, &pc, sizeof pc,
                              row_groups(&a, a.T), (uint32_t)a.nh, (uint32_t)nb, err);
    }
    /* pass 2: dk, dv of the sequence keys, then dprefix summed over the chunks in order */
    for (int prefix = 0; prefix < 2 && !st; prefix++) {
        if (prefix && !a.pk) break;
        for (uint64_t b0 = 0; !st && b0 < (uint64_t)a.B; b0 += a.chunk) {
            uint64_t nb = (uint64_t)a.B - b0 < a.chunk ? (uint64_t)a.B - b0 : a.chunk;
            pc.prefix = (uint32_t)prefix;
            pc.nb = (uint32_t)nb;
            pc.accumulate = prefix && b0 > 0;
            pc.nkeys = (uint32_t)(prefix ? a.P : a.S);
            vkft_vk_arg args[9] = {
                bind_batch(&a, dout, 0, b0, nb, &pc.qs), bind_batch(&a, a.q, 0, b0, nb, &unused),
                prefix ? (vkft_vk_arg){.t = a.pk} : bind_batch(&a, a.k, 1, b0, nb, &pc.ks),
                prefix ? (vkft_vk_arg){.t = a.pv} : bind_batch(&a, a.v, 1, b0, nb, &unused),
                a.mask ? bind_batch(&a, a.mask, 3, b0, nb, &pc.ms) : dummy(a.q),
                bind_batch(&a, lse, 2, b0, nb, &pc.ls), bind_batch(&a, dsum, 2, b0, nb, &unused),
                prefix ? (vkft_vk_arg){.t = call->out[3]}
                       : bind_batch(&a, call->out[1], 1, b0, nb, &unused),
                prefix ? (vkft_vk_arg){.t = call->out[4]}
                       : bind_batch(&a, call->out[2], 1, b0, nb, &unused)};
            if (prefix) pc.ks = 0;
            st = vkft_vk_dispatch(rec, "attention_dkv", a.spec, 3, args, 9, &pc, sizeof pc,
                                  row_groups(&a, prefix ? a.P : a.S), (uint32_t)a.nkv,
                                  prefix ? 1 : (uint32_t)nb, err);
        }
    }
    return st;
}
