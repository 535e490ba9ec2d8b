/*
 * The model builders' shared state and helpers (frontend/model only).
 *
 * Errors are sticky: the first failing helper records its status and message in the builder,
 * and every later helper returns VKFT_NONE at once, so architecture code reads as the math
 * (q = linear(...); q = rope(q); ...) and checks the status once at the end.
 */
#ifndef VKFT_MODEL_BUILD_INTERNAL_H
#define VKFT_MODEL_BUILD_INTERNAL_H

#include "model/model.h"

typedef struct mbuild {
    const vkft_model_config *cfg;
    vkft_graph *g;
    const vkft_model_build_options *o;
    const vkft_model_hooks *h;
    vkft_model_built *out;
    vkft_err *err;
    vkft_status st;             /* the first failure; later helpers do nothing */
    int64_t B, T;               /* batch and the positions the decoder runs over (P + seq) */
    int cap_params, cap_sites;
    vkft_value *prefix_k, *prefix_v;   /* per layer, from attention_prefix (or NULL) */
    vkft_value embed_table;     /* the token embedding leaf (the tied head) */
    vkft_value key_mask;        /* f32 [B, T] or VKFT_NONE */
    vkft_value input_prefix;    /* f32 [P, hidden] from input_prefix, or VKFT_NONE */
    vkft_value cache_onehot;    /* decode step: "cache_write" as f32 [S, 1, 1] */
} mbuild;

/* Records a graph failure (message from the graph) unless one is recorded. Returns VKFT_NONE. */
vkft_value mb_graph_fail(mbuild *b, const char *what);
/* Records a failure with a formatted message unless one is recorded. */
void mb_fail(mbuild *b, vkft_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a hook's failure: its message (in err) prefixed with the hook and the site. */
void mb_hook_fail(mbuild *b, vkft_status st, const char *hook, const char *where);

/* A parameter leaf named by printf(fmt, ...): role from the param_role hook, dtype from the
 * kind (linear weights and embeddings: frozen_dtype when frozen; everything else f32). */
vkft_value mb_param(mbuild *b, vkft_model_param_kind kind, int layer, int ndim,
                    const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* A buffer leaf (WEIGHT, computed by the loader). */
vkft_value mb_buffer(mbuild *b, const char *name, vkft_dtype dtype, int ndim,
                     const int64_t *shape);

/* Single-output ops. */
vkft_value mb_op(mbuild *b, vkft_op op, const void *params, const vkft_value *in, int n_in);
vkft_value mb_reshape(mbuild *b, vkft_value x, int ndim, const int64_t *shape);
vkft_value mb_add(mbuild *b, vkft_value x, vkft_value y);
vkft_value mb_slice(mbuild *b, vkft_value x, int axis, int64_t start, int64_t len);
vkft_value mb_rmsnorm(mbuild *b, vkft_value x, vkft_value w);
vkft_value mb_layernorm(mbuild *b, vkft_value x, vkft_value w, vkft_value bias);
vkft_value mb_embedding(mbuild *b, vkft_value ids, vkft_value table);

/*
 * A linear site: y = x Wᵀ + b (or x W + b for Conv1D), through the linear_replace and linear
 * hooks. path/name/layer name the site; weight_name is the weight leaf's name (tied heads pass
 * the embedding table as `tied`, then no leaf is made). x f32 [..., in] -> y f32 [..., out].
 */
vkft_value mb_linear(mbuild *b, vkft_value x, const char *path, const char *name, int layer,
                     int64_t in, int64_t out, bool bias, bool conv1d, vkft_value tied);

/* Causal self-attention on q [B, T, nH, D], k, v [B, T, nKV, D] with the current layer's
 * prefix and the decode-step KV cache of layer `layer`; returns o [B, T, nH*D]. */
vkft_value mb_attention(mbuild *b, int layer, vkft_value q, vkft_value k, vkft_value v);
/* Marks the end of decoder layer l (output x): a gradient-checkpoint boundary. */
void mb_layer_done(mbuild *b, int layer, vkft_value x);
/* Calls the block_output hook on h (a sublayer output) if set; x is the residual stream the
 * sublayer read. Returns x + h (h as the hook left it): the layer's residual add. */
vkft_value mb_block_residual(mbuild *b, int layer, vkft_model_block block, vkft_value x,
                             vkft_value h);

/* The architectures: decoder from token embeddings to the final normalised hidden state
 * f32 [B, T, hidden] (T = P + seq). */
vkft_value mb_llama(mbuild *b, vkft_value tokens, vkft_value positions);
vkft_value mb_gpt2(mbuild *b, vkft_value tokens, vkft_value positions);
/* Embeds tokens [B, seq] with table and prepends the input_prefix hook's rows. */
vkft_value mb_embed_tokens(mbuild *b, vkft_value tokens, vkft_value table);

#endif
