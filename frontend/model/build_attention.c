/*
 * Attention for both architectures: the fused ATTENTION op with the layer's prefix keys and
 * values (prefix tuning), the padding mask, and the decode-step KV cache.
 *
 * KV cache (decode step, cache_len S): the cache of layer l is two STATE leaves
 * "cache.k.<l>" / "cache.v.<l>" f32 [B, S, kv_heads, head_dim]. The new token's key k
 * [B, 1, kv, D] goes into slot p with fixed shapes, so one recorded plan serves every step:
 *     cache' = cache + (k - cache) * onehot_p      (onehot_p = "cache_write" as [S, 1, 1])
 * written back in place (graph_assign). Attention is then non-causal over the S slots with the
 * "attention_mask" input marking slots 0..p, which is exactly causal attention for the token at
 * p. The extra elementwise work is O(S) per step, small next to the matmuls.
 */
#include <math.h>
#include <stdio.h>

#include "model/build_internal.h"

static vkft_value cache_update(mbuild *b, const char *name, vkft_value fresh) {
    if (b->st) return VKFT_NONE;
    const vkft_model_config *c = b->cfg;
    int64_t shape[4] = {b->B, b->o->cache_len, c->kv_heads, c->head_dim};
    vkft_value cache = vkft_graph_leaf(b->g, name, VKFT_ROLE_STATE, VKFT_F32, 4, shape);
    if (cache == VKFT_NONE) return mb_graph_fail(b, name);
    vkft_value d = mb_op(b, VKFT_OP_SUB, NULL, (vkft_value[]){fresh, cache}, 2);
    d = mb_op(b, VKFT_OP_MUL, NULL, (vkft_value[]){d, b->cache_onehot}, 2);
    vkft_value next = mb_add(b, cache, d);
    if (b->st) return VKFT_NONE;
    if (vkft_graph_assign(b->g, cache, next)) return mb_graph_fail(b, name);
    return next;
}

vkft_value mb_attention(mbuild *b, int layer, vkft_value q, vkft_value k, vkft_value v) {
    const vkft_model_config *c = b->cfg;
    vkft_attention_params ap = {.causal = true, .scale = (float)(1.0 / sqrt((double)c->head_dim)),
                                .q_pos_offset = 0};
    if (b->o->cache_len > 0) {
        char name[64];
        snprintf(name, sizeof name, "cache.k.%d", layer);
        k = cache_update(b, name, k);
        snprintf(name, sizeof name, "cache.v.%d", layer);
        v = cache_update(b, name, v);
        ap.causal = false;
    }
    vkft_value pk = b->prefix_k ? b->prefix_k[layer] : VKFT_NONE;
    vkft_value pv = b->prefix_v ? b->prefix_v[layer] : VKFT_NONE;
    if (b->st) return VKFT_NONE;
    vkft_value out[2] = {0, 0};
    if (vkft_graph_op(b->g, VKFT_OP_ATTENTION, &ap, (vkft_value[]){q, k, v, pk, pv, b->key_mask},
                      6, out, 2))
        return mb_graph_fail(b, "attention");
    return mb_reshape(b, out[0], 3, (int64_t[]){b->B, b->T, c->heads * c->head_dim});
}
