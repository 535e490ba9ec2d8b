/*
 * Models: Hugging Face config.json, graph builders for the Llama family (Llama 2/3, Mistral,
 * Qwen2 with q/k/v bias, TinyLlama, SmolLM) and GPT-2, weight loading from safetensors and
 * saving as a Hugging Face folder.
 *
 * Names line up with Hugging Face and PEFT: every parameter leaf of the graph is named by its
 * tensor name in the *ForCausalLM state dict ("model.layers.0.self_attn.q_proj.weight",
 * "transformer.h.0.attn.c_attn.weight", "lm_head.weight"), and every linear layer is a site
 * named by its module path ("model.layers.3.self_attn.q_proj", "transformer.h.0.attn.c_attn",
 * "lm_head"). GPT-2 always uses the GPT2LMHeadModel path with "transformer."; the loader also
 * accepts checkpoints saved without it (openai-community/gpt2) and ignores "attn.bias" buffers.
 *
 * Methods never edit model code: they rewrite the graph through the hooks (a LoRA branch at a
 * linear site, adapters after a block, attention prefixes, prepended prompt embeddings) and
 * choose which parameters are trainable through param_role.
 *
 * Usage (training step graph; the trainer adds backward + optimizer):
 *     vkft_model_config cfg;  vkft_err err;
 *     vkft_model_config_load("models/smollm", &cfg, &err);
 *     vkft_graph *g;  vkft_graph_create(&g);
 *     vkft_model_build_options o;  vkft_model_build_options_default(&o);
 *     o.batch = 4;  o.seq = 256;
 *     vkft_model_hooks h = {.user = lora, .param_role = lora_role, .linear = lora_linear};
 *     vkft_model_built m;
 *     vkft_model_build(&cfg, g, &o, &h, &m, &err);
 *     ... vkft_graph_backward(g, m.loss_sum, seed) ... vkft_compile(dev, g, ..., &plan);
 *     vkft_st *st;  vkft_st_open("models/smollm", &st, &err);
 *     vkft_model_load_weights(&m, st, plan, &err);     // every parameter leaf + buffers
 *     per step: upload "tokens" i32 [B,T], "labels" i32 [B*T], "loss_weights" f32 [B*T]
 *     vkft_model_built_free(&m);
 */
#ifndef VKFT_MODEL_H
#define VKFT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/json.h"
#include "vkft/graph.h"

/* ---- config.json ---- */

typedef enum vkft_model_arch {
    VKFT_ARCH_LLAMA = 0,    /* llama, mistral, qwen2, smollm/tinyllama (model_type llama) */
    VKFT_ARCH_GPT2,
} vkft_model_arch;

typedef enum vkft_rope_type {
    VKFT_ROPE_DEFAULT = 0,  /* inv_freq[j] = theta^(-2j/R) */
    VKFT_ROPE_LINEAR,       /* inv_freq / factor */
    VKFT_ROPE_LLAMA3,       /* Llama 3.1 wavelength-banded scaling */
} vkft_rope_type;

#define VKFT_MODEL_MAX_EOS 8

typedef struct vkft_model_config {
    vkft_model_arch arch;
    char model_type[32];        /* as in config.json: "llama", "mistral", "qwen2", "gpt2" */
    int64_t vocab;              /* vocab_size */
    int64_t hidden;             /* hidden_size / n_embd */
    int64_t layers;             /* num_hidden_layers / n_layer */
    int64_t heads;              /* num_attention_heads / n_head */
    int64_t kv_heads;           /* num_key_value_heads (default heads); GPT-2: heads */
    int64_t head_dim;           /* head_dim (default hidden / heads) */
    int64_t ffn;                /* intermediate_size / n_inner (GPT-2 default 4 * hidden) */
    int64_t max_positions;      /* max_position_embeddings / n_positions */
    double norm_eps;            /* rms_norm_eps / layer_norm_epsilon */
    double rope_theta;          /* Llama family; default 10000 */
    struct {
        vkft_rope_type type;
        double factor;                  /* linear, llama3 */
        double low_freq_factor;         /* llama3 */
        double high_freq_factor;        /* llama3 */
        int64_t original_max_positions; /* llama3: original_max_position_embeddings */
    } rope_scaling;             /* from "rope_scaling" or the newer "rope_parameters" */
    bool tie_word_embeddings;   /* default: false for Llama family, true for GPT-2 */
    bool qkv_bias;              /* q/k/v projections have a bias (qwen2; llama attention_bias) */
    bool o_bias;                /* o_proj has a bias (llama attention_bias) */
    bool mlp_bias;              /* gate/up/down have a bias (llama mlp_bias) */
    int32_t bos_id;             /* -1 when absent */
    int n_eos;                  /* eos_token_id may be a list */
    int32_t eos_ids[VKFT_MODEL_MAX_EOS];
    char torch_dtype[16];       /* "float32", "bfloat16", "float16" ("" when absent) */
} vkft_model_config;

/* Fills the defaults of a small model of arch (the values init-model starts from). */
void vkft_model_config_default(vkft_model_config *cfg, vkft_model_arch arch);
/* Reads path (a folder holding config.json, or the file itself). Unknown model types, missing
 * required keys and wrong types fail naming the key and "file:line:col". */
vkft_status vkft_model_config_load(const char *path, vkft_model_config *cfg, vkft_err *err);
/* The same from a parsed tree; file names the messages. */
vkft_status vkft_model_config_parse(const vkft_json *root, const char *file,
                                    vkft_model_config *cfg, vkft_err *err);
/* Checks the numbers fit together (heads divide, head_dim even, ...). */
vkft_status vkft_model_config_validate(const vkft_model_config *cfg, vkft_err *err);
/* Writes cfg as a Hugging Face config.json (LlamaForCausalLM / Qwen2ForCausalLM /
 * MistralForCausalLM / GPT2LMHeadModel), atomically. */
vkft_status vkft_model_config_write(const vkft_model_config *cfg, const char *path,
                                    vkft_err *err);
/* Appends the config object to w (for callers embedding it). */
void vkft_model_config_to_json(const vkft_model_config *cfg, vkft_json_writer *w);
/* The frozen-weight dtype matching torch_dtype (F16, BF16, else F32). */
vkft_dtype vkft_model_config_file_dtype(const vkft_model_config *cfg);
/* RoPE inverse frequencies (head_dim / 2 floats; inv_freq may be NULL) with the config's
 * scaling applied, and the attention scaling (1 unless the scaling type defines one). */
void vkft_model_rope_inv_freq(const vkft_model_config *cfg, float *inv_freq,
                              float *attention_scaling);

/* ---- parameters and linear sites ---- */

typedef enum vkft_model_param_kind {
    VKFT_PARAM_LINEAR_WEIGHT = 0,   /* a linear site's weight (also lm_head when untied) */
    VKFT_PARAM_LINEAR_BIAS,
    VKFT_PARAM_EMBEDDING,           /* token embedding table (also the head when tied) */
    VKFT_PARAM_POSITION_EMBEDDING,  /* GPT-2 wpe */
    VKFT_PARAM_NORM_WEIGHT,
    VKFT_PARAM_NORM_BIAS,
    VKFT_PARAM_BUFFER,              /* a constant the loader computes (rope inv_freq, position
                                     * ids): WEIGHT role, never trainable, never saved */
} vkft_model_param_kind;

typedef struct vkft_model_param {
    char name[160];             /* Hugging Face tensor name */
    vkft_model_param_kind kind;
    vkft_role role;             /* VKFT_ROLE_WEIGHT or VKFT_ROLE_TRAINABLE */
    vkft_dtype dtype;           /* of the leaf (trainables and norms are always f32) */
    int ndim;
    int64_t shape[2];
    int layer;                  /* -1 outside the decoder layers */
    vkft_value value;           /* the leaf */
} vkft_model_param;

typedef struct vkft_model_site {
    char path[160];             /* module path: "model.layers.3.self_attn.q_proj", "lm_head" */
    const char *name;           /* short name: "q_proj", "c_attn", "lm_head" (static string) */
    int layer;                  /* decoder layer, -1 for lm_head */
    int64_t in, out;            /* features */
    bool conv1d;                /* GPT-2 Conv1D: weight stored [in, out], y = x W + b */
    bool has_bias;
    vkft_value weight;          /* the weight leaf ([out, in], or [in, out] for Conv1D); for a
                                 * tied lm_head the embedding table [vocab, hidden];
                                 * VKFT_NONE when linear_replace computed the site */
    vkft_value bias;            /* [out] or VKFT_NONE */
} vkft_model_site;

/* Which block output an adapter hook sees. */
typedef enum vkft_model_block {
    VKFT_BLOCK_ATTENTION = 0,   /* the attention sublayer's output (after o_proj / c_proj) */
    VKFT_BLOCK_MLP,             /* the MLP sublayer's output (after down_proj / mlp.c_proj) */
} vkft_model_block;

/*
 * Hooks: how a method rewrites the model graph. Every slot is optional (NULL = the plain model).
 * A hook that fails returns non-OK with the message in err; the build then fails with it.
 * Values handed to hooks: x, y f32 [B, T, in] / [B, T, out] (lm_head: [B*T, hidden] / [B*T, V],
 * or [B, hidden] / [B, V] with last_logits_only); h f32 [B, T', hidden].
 */
typedef struct vkft_model_hooks {
    void *user;
    /* Role of the parameter leaf `name`: VKFT_ROLE_WEIGHT (frozen) or VKFT_ROLE_TRAINABLE
     * (then created f32). NULL = everything frozen. */
    vkft_role (*param_role)(void *user, const char *name, vkft_model_param_kind kind);
    /* Called before a site's weight leaf is created. Setting *y (in: VKFT_NONE) to a value
     * computes the site without the dense weight (QLoRA: NF4 leaves + MATMUL_NF4); the builder
     * then makes no weight leaf for it (site->weight stays VKFT_NONE) but still the bias leaf,
     * added after. NULL = dense weight always. */
    vkft_status (*linear_replace)(void *user, vkft_graph *g, const vkft_model_site *site,
                                  vkft_value x, vkft_value *y, vkft_err *err);
    /* After y = x Wᵀ (+ b) at a site: may replace *y (a LoRA branch adds to it). */
    vkft_status (*linear)(void *user, vkft_graph *g, const vkft_model_site *site, vkft_value x,
                          vkft_value *y, vkft_err *err);
    /* On a sublayer's output h before the residual add (bottleneck adapters): may replace *h;
     * the layer then continues with residual + *h. residual f32 [B, T', hidden] is the stream
     * the sublayer read (its input before the norm), given so an adapter can read x + h
     * (AdapterHub's Pfeiffer); it must not be replaced. */
    vkft_status (*block_output)(void *user, vkft_graph *g, int layer, vkft_model_block block,
                                vkft_value residual, vkft_value *h, vkft_err *err);
    /* Per-layer attention prefix (prefix tuning / P-tuning v2): set *prefix_k and *prefix_v
     * (in: VKFT_NONE) to f32 [P, kv_heads, head_dim] values, the same P for every layer. They
     * are used as keys/values as given (no RoPE), seen by every query, shared by the batch; the
     * real tokens' positions then start at P (as Hugging Face does with past_key_values). */
    vkft_status (*attention_prefix)(void *user, vkft_graph *g, int layer, int64_t kv_heads,
                                    int64_t head_dim, vkft_value *prefix_k,
                                    vkft_value *prefix_v, vkft_err *err);
    /* Prompt tuning: set *prefix (in: VKFT_NONE) to f32 [P, hidden] virtual-token embeddings
     * prepended to every row. The graph then runs over P + T positions. Inference logits cover
     * the T real positions P..P+T-1. A training graph's logits (and labels, still [B*T]) cover
     * P-1..P+T-2: logits row t predicts real token t, the last virtual token predicting the
     * first real token as PEFT's PROMPT_TUNING does; feed it unshifted labels (the data
     * pipeline's first_target rows). */
    vkft_status (*input_prefix)(void *user, vkft_graph *g, int64_t hidden, vkft_value *prefix,
                                vkft_err *err);
    /* Before a site's matmul: may replace *x (in: the site's input) by what the weight
     * multiplies (IA3 rescales a feed-forward layer's input). linear_replace sees the new x;
     * the linear hook still gets the site's original input. NULL = x unchanged. */
    vkft_status (*linear_input)(void *user, vkft_graph *g, const vkft_model_site *site,
                                vkft_value *x, vkft_err *err);
} vkft_model_hooks;

/* ---- building a graph ---- */

typedef struct vkft_model_build_options {
    int64_t batch, seq;         /* tokens [batch, seq] */
    bool inference;             /* no labels, loss_weights, loss: logits only */
    bool last_logits_only;      /* inference: logits of each row's last position, [B, V] */
    vkft_dtype frozen_dtype;    /* frozen linear/embedding weights: F32 (default), F16, BF16;
                                 * the loader converts the file's dtype to it */
    int64_t cache_len;          /* > 0: a decode step with a KV cache (see below); seq = 1 */
    bool attention_mask;        /* INPUT "attention_mask" f32 [B, seq] (1 keep, 0 pad key) */
    bool positions;             /* INPUT "positions" i32 [B, seq] instead of 0..seq-1 */
} vkft_model_build_options;

void vkft_model_build_options_default(vkft_model_build_options *o);

/*
 * What a build made. Training graph (inference false):
 *   INPUT "tokens" i32 [B, T]; INPUT "labels" i32 [B*T] (the token to predict at each position,
 *   -100 ignored; with input_prefix row t is position P-1+t, predicting token t, see there);
 *   INPUT "loss_weights" f32 [B*T]; logits f32 [B*T, V];
 *   loss_sum f32 [1] = sum_i w_i CE_i, count f32 [1] = sum_i w_i over non-ignored rows (both
 *   kept under the names "loss_sum" and "count"). Inference: logits only (kept as "logits").
 * Decode step (cache_len S > 0, seq 1): STATE leaves "cache.k.<l>" / "cache.v.<l>"
 *   f32 [B, S, kv_heads, head_dim] (zero at compile); INPUT "positions" i32 [B, 1] (the new
 *   token's position p), INPUT "attention_mask" f32 [B, S] (1 for cache slots 0..p),
 *   INPUT "cache_write" f32 [S] (one-hot at p). Each run writes the new key/value into slot p
 *   and returns the logits [B, V] of the new token.
 * params lists every leaf the model made (including buffers), sites every linear site in
 * build order (layer by layer, lm_head last).
 */
typedef struct vkft_model_built {
    vkft_model_config cfg;
    vkft_model_build_options opts;
    int64_t prefix_tokens;      /* P from input_prefix (0 if none) */
    int64_t attention_prefix;   /* P from attention_prefix (0 if none) */
    vkft_value tokens, labels, loss_weights, logits, loss_sum, count;
    vkft_value positions, attention_mask, cache_write;   /* VKFT_NONE unless made */
    vkft_model_param *params;
    int n_params;
    vkft_model_site *sites;
    int n_sites;
} vkft_model_built;

/* Builds the model into g (current phase). On failure *out is freed and empty; g may hold
 * the nodes made so far (destroy it). */
vkft_status vkft_model_build(const vkft_model_config *cfg, vkft_graph *g,
                             const vkft_model_build_options *opts, const vkft_model_hooks *hooks,
                             vkft_model_built *out, vkft_err *err);
void vkft_model_built_free(vkft_model_built *m);
/* The parameter named name, or NULL. */
const vkft_model_param *vkft_model_find_param(const vkft_model_built *m, const char *name);

/* Sites and parameters of cfg without a caller's graph (for `vkft check`: counting parameters,
 * matching targets): builds a batch-1, seq-1 graph with hooks (may be NULL) and keeps the
 * lists; values refer to nothing. The caller frees *out with vkft_model_built_free. */
vkft_status vkft_model_describe(const vkft_model_config *cfg, const vkft_model_hooks *hooks,
                                vkft_model_built *out, vkft_err *err);
/* Number of model parameters (elements of every non-buffer parameter, the tied head once, and
 * the weights of sites a linear_replace hook computed). */
int64_t vkft_model_param_numel(const vkft_model_built *m);

/* ---- weights ---- */

/* Uploads every parameter leaf of m from st (converting F32/F16/BF16 to the leaf's dtype) and
 * computes the buffers. A missing or misshapen tensor fails naming it and the file. */
vkft_status vkft_model_load_weights(const vkft_model_built *m, const vkft_st *st,
                                    vkft_plan *plan, vkft_err *err);

typedef struct vkft_model_save_options {
    vkft_st_dtype dtype;        /* F32 (default), F16 or BF16 */
    const char *config_src;     /* copy this config.json verbatim; NULL = write m->cfg */
} vkft_model_save_options;

/* Downloads every non-buffer parameter from plan and writes dir/config.json and
 * dir/model.safetensors (each atomically; dir is created). The tied head is not written.
 * opts may be NULL. */
vkft_status vkft_model_save(const vkft_model_built *m, vkft_plan *plan, const char *dir,
                            const vkft_model_save_options *opts, vkft_err *err);

/* Writes a randomly initialised model of cfg to dir (created): config.json and an f32
 * model.safetensors, as transformers' _init_weights does it: linear and embedding weights
 * normal(0, 0.02) (GPT-2's residual projections c_proj 0.02 / sqrt(2 * layers)), biases 0,
 * norm weights 1 and norm biases 0. Deterministic: the same cfg and seed give the same bytes. */
vkft_status vkft_model_init_random(const vkft_model_config *cfg, uint64_t seed, const char *dir,
                                   vkft_err *err);

#endif
