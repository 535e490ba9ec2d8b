/*
 * Prefix tuning / P-tuning v2 (Li & Liang 2021; Liu et al. 2022), as PEFT's PREFIX_TUNING:
 * every layer's attention also sees P = method.num_virtual_tokens trainable keys and values
 * [P, kv_heads, head_dim] (the attention_prefix hook: used as given, no RoPE; the real tokens
 * are numbered P..P+T-1, as with past_key_values). Base weights frozen. With d = kv_heads ·
 * head_dim (PEFT's token_dim for grouped-query models, = hidden otherwise) and L layers, PEFT's
 * prefix is one matrix KV [P, L·2·d] where columns [s·d, (s+1)·d) hold slot s: layer l's key at
 * slot 2l, its value at 2l + 1, each [kv_heads, head_dim] row-major.
 *
 *   projection 0    KV is the parameter. Leaves "prefix.<l>.key" / "prefix.<l>.value"
 *                   [P, kv_heads, head_dim] (one per slot: slicing one big leaf would make the
 *                   backward pad 2L slices to full size). Init N(0, 1) (nn.Embedding), drawn
 *                   row-major over KV from stream 0 of train.seed.
 *   projection E    PEFT's reparameterisation KV = tanh(Emb W0ᵀ + b0) W2ᵀ + b2 with Emb [P, d]
 *                   ("prefix_encoder.embedding.weight", N(0, 1), stream 0), W0 [E, d] and
 *                   b0 [E] (U(±1/√d), streams 1, 2), W2 [L·2·d, E] and b2 [L·2·d] (U(±1/√E),
 *                   streams 3, 4; as nn.Linear). W2 and b2 are kept as one leaf per slot
 *                   ("prefix_encoder.transform.2.weight.<s>" [d, E], "....bias.<s>" [d]) for
 *                   the same reason; together they are PEFT's Linear(E, L·2·d).
 *
 * Saved as PEFT saves a trained prefix: adapter_model.safetensors {"prompt_embeddings":
 * [P, L·2·d]} (with a projection, the computed KV: PEFT's get_prompt_embedding_to_save runs the
 * encoder), adapter_config.json with peft_type PREFIX_TUNING, num_virtual_tokens, token_dim d,
 * num_attention_heads kv_heads, num_layers L, encoder_hidden_size E (d without projection),
 * prefix_projection. Reloading (PEFT's inference mode too) uses the saved KV directly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/method_common.h"
#include "train/method_impl.h"

#define NAME_LEN 96

typedef struct prefix_state {
    int64_t tokens, layers, kv_heads, head_dim, dim;    /* P, L, kv, D, d = kv·D */
    int64_t proj;                                       /* E, 0 = none */
    int slots;                                          /* 2L */
    char (*names)[NAME_LEN];    /* per slot: the KV leaf, or W2's slot leaf with a projection */
    char (*bias_names)[NAME_LEN];   /* per slot: b2's slot leaf (projection only) */
    vkft_value hidden;          /* tanh(Emb W0ᵀ + b0) [P, E] of the current build */
} prefix_state;

static const char EMB[] = "prefix_encoder.embedding.weight";
static const char W0[] = "prefix_encoder.transform.0.weight";
static const char B0[] = "prefix_encoder.transform.0.bias";

/* The encoder's hidden layer, made at layer 0 of each build. */
static vkft_status encoder_hidden(prefix_state *s, vkft_graph *g, vkft_err *err)
{
    vkft_value e = vkft_method_leaf(g, EMB, 2, (int64_t[]){s->tokens, s->dim}, err);
    vkft_value w = e == VKFT_NONE ? VKFT_NONE
                 : vkft_method_leaf(g, W0, 2, (int64_t[]){s->proj, s->dim}, err);
    vkft_value b = w == VKFT_NONE ? VKFT_NONE : vkft_method_leaf(g, B0, 1, &s->proj, err);
    vkft_value h = b == VKFT_NONE ? VKFT_NONE : vkft_method_affine(g, e, w, b, err);
    s->hidden = h == VKFT_NONE ? VKFT_NONE : vkft_method_tanh(g, h, err);
    return s->hidden == VKFT_NONE ? VKFT_ERR_INVALID_ARG : VKFT_OK;
}

/* Slot `slot`'s [P, kv, D] value. */
static vkft_value slot_value(prefix_state *s, vkft_graph *g, int slot, vkft_err *err)
{
    int64_t shape[3] = {s->tokens, s->kv_heads, s->head_dim};
    if (!s->proj) return vkft_method_leaf(g, s->names[slot], 3, shape, err);
    vkft_value w = vkft_method_leaf(g, s->names[slot], 2, (int64_t[]){s->dim, s->proj}, err);
    vkft_value b = w == VKFT_NONE ? VKFT_NONE
                 : vkft_method_leaf(g, s->bias_names[slot], 1, &s->dim, err);
    vkft_value kv = b == VKFT_NONE ? VKFT_NONE : vkft_method_affine(g, s->hidden, w, b, err);
    if (kv == VKFT_NONE) return VKFT_NONE;
    vkft_shape_params sp = {.ndim = 3, .shape = {shape[0], shape[1], shape[2]}};
    vkft_value r = vkft_graph_op1(g, VKFT_OP_COPY, &sp, &kv, 1);
    if (r == VKFT_NONE) vkft_err_set(err, VKFT_ERR_INVALID_ARG, "prefix: %s",
                                     vkft_graph_error(g));
    return r;
}

static vkft_status prefix_attention(void *user, vkft_graph *g, int layer, int64_t kv_heads,
                                    int64_t head_dim, vkft_value *prefix_k,
                                    vkft_value *prefix_v, vkft_err *err)
{
    vkft_method *m = user;
    prefix_state *s = m->impl;
    if (layer < 0 || layer >= s->layers || kv_heads != s->kv_heads || head_dim != s->head_dim)
        return vkft_err_set(err, VKFT_ERR_SHAPE, "prefix: layer %d with %lld kv heads of %lld "
                            "does not fit the method's %lld layers of %lld x %lld", layer,
                            (long long)kv_heads, (long long)head_dim, (long long)s->layers,
                            (long long)s->kv_heads, (long long)s->head_dim);
    vkft_status rc = VKFT_OK;
    if (s->proj && layer == 0) rc = encoder_hidden(s, g, err);
    if (rc) return rc;
    vkft_value k = slot_value(s, g, 2 * layer, err);
    vkft_value v = k == VKFT_NONE ? VKFT_NONE : slot_value(s, g, 2 * layer + 1, err);
    if (v == VKFT_NONE) return VKFT_ERR_INVALID_ARG;
    *prefix_k = k;
    *prefix_v = v;
    return VKFT_OK;
}

static vkft_status prefix_create(vkft_method *m, vkft_err *err)
{
    const vkft_model_config *c = &m->cfg;
    if (m->spec.num_virtual_tokens < 1 || m->spec.num_virtual_tokens > (1 << 20) ||
        m->spec.projection < 0 || m->spec.projection > (1 << 24))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method: num_virtual_tokens %lld / "
                            "projection %lld out of range",
                            (long long)m->spec.num_virtual_tokens,
                            (long long)m->spec.projection);
    if (c->layers < 1 || c->layers > 100000)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "prefix: %lld layers",
                            (long long)c->layers);
    prefix_state *s = calloc(1, sizeof *s);
    if (!s) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->impl = s;
    s->tokens = m->spec.num_virtual_tokens;
    s->layers = c->layers;
    s->kv_heads = c->kv_heads;
    s->head_dim = c->head_dim;
    s->dim = c->kv_heads * c->head_dim;
    s->proj = m->spec.projection;
    s->slots = (int)(2 * c->layers);
    s->hidden = VKFT_NONE;
    s->names = calloc((size_t)s->slots, sizeof *s->names);
    s->bias_names = calloc((size_t)s->slots, sizeof *s->bias_names);
    if (!s->names || !s->bias_names) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
    for (int i = 0; i < s->slots; i++) {
        if (s->proj) {
            snprintf(s->names[i], NAME_LEN, "prefix_encoder.transform.2.weight.%d", i);
            snprintf(s->bias_names[i], NAME_LEN, "prefix_encoder.transform.2.bias.%d", i);
        } else {
            snprintf(s->names[i], NAME_LEN, "prefix.%d.%s", i / 2, i % 2 ? "value" : "key");
        }
    }
    m->hooks.param_role = vkft_method_frozen_role;
    m->hooks.attention_prefix = prefix_attention;
    return VKFT_OK;
}

static void prefix_destroy(vkft_method *m)
{
    prefix_state *s = m->impl;
    if (!s) return;
    free(s->names);
    free(s->bias_names);
    free(s);
}

/* KV [P, slots·d] -> slot leaves, or back (gather). */
static vkft_status move_slots(const prefix_state *s, vkft_plan *plan, float *kv, bool gather,
                              vkft_err *err)
{
    size_t d = (size_t)s->dim, P = (size_t)s->tokens, width = (size_t)s->slots * d;
    float *buf = malloc(P * d * sizeof *buf);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = VKFT_OK;
    for (int i = 0; i < s->slots && !rc; i++) {
        float *one = NULL;
        if (gather) rc = vkft_method_download(plan, s->names[i], P * d, &one, err);
        for (size_t p = 0; p < P && !rc; p++) {
            float *col = kv + p * width + (size_t)i * d;
            if (gather) memcpy(col, one + p * d, d * sizeof *col);
            else memcpy(buf + p * d, col, d * sizeof *buf);
        }
        if (!rc && !gather) rc = vkft_method_upload(plan, s->names[i], buf, P * d, err);
        free(one);
    }
    free(buf);
    return rc;
}

static vkft_status prefix_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                      vkft_err *err)
{
    const prefix_state *s = m->impl;
    size_t d = (size_t)s->dim, P = (size_t)s->tokens, E = (size_t)s->proj;
    size_t width = (size_t)s->slots * d;
    vkft_status rc = VKFT_OK;
    if (m->spec.init) {
        if (s->proj)
            return vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "prefix: a saved prefix holds the "
                                "computed keys and values; reload it without a projection");
        vkft_st *st = NULL;
        float *kv = NULL;
        rc = vkft_method_folder_open(m->spec.init, &st, err);
        if (!rc) rc = vkft_method_folder_read(st, m->spec.init, "prompt_embeddings", 2,
                                              (int64_t[]){s->tokens, (int64_t)width}, &kv, err);
        if (!rc) rc = move_slots(s, plan, kv, false, err);
        free(kv);
        vkft_st_close(st);
        return rc;
    }
    if (!s->proj) {
        float *kv = malloc(P * width * sizeof *kv);
        if (!kv) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        vkft_method_fill_normal(kv, P * width, seed, 0);
        rc = move_slots(s, plan, kv, false, err);
        free(kv);
        return rc;
    }
    size_t most = P * d > E * d ? P * d : E * d;
    if (width * E > most) most = width * E;
    float *buf = malloc(most * sizeof *buf);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_method_fill_normal(buf, P * d, seed, 0);
    rc = vkft_method_upload(plan, EMB, buf, P * d, err);
    vkft_method_fill_uniform(buf, E * d, seed, 1, 1.0 / sqrt((double)d));
    if (!rc) rc = vkft_method_upload(plan, W0, buf, E * d, err);
    vkft_method_fill_uniform(buf, E, seed, 2, 1.0 / sqrt((double)d));
    if (!rc) rc = vkft_method_upload(plan, B0, buf, E, err);
    /* W2 [slots·d, E] row-major: slot i is rows [i·d, (i+1)·d), contiguous */
    vkft_method_fill_uniform(buf, width * E, seed, 3, 1.0 / sqrt((double)E));
    for (int i = 0; i < s->slots && !rc; i++)
        rc = vkft_method_upload(plan, s->names[i], buf + (size_t)i * d * E, d * E, err);
    vkft_method_fill_uniform(buf, width, seed, 4, 1.0 / sqrt((double)E));
    for (int i = 0; i < s->slots && !rc; i++)
        rc = vkft_method_upload(plan, s->bias_names[i], buf + (size_t)i * d, d, err);
    free(buf);
    return rc;
}

/* KV = tanh(Emb W0ᵀ + b0) W2ᵀ + b2 from the trained leaves, in double on the host. */
static vkft_status computed_prefix(const prefix_state *s, vkft_plan *plan, float *kv,
                                   vkft_err *err)
{
    size_t d = (size_t)s->dim, P = (size_t)s->tokens, E = (size_t)s->proj;
    size_t width = (size_t)s->slots * d;
    float *emb = NULL, *w0 = NULL, *b0 = NULL, *w2 = NULL, *b2 = NULL;
    double *hid = malloc(P * E * sizeof *hid);
    vkft_status rc = hid ? VKFT_OK : vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_method_download(plan, EMB, P * d, &emb, err);
    if (!rc) rc = vkft_method_download(plan, W0, E * d, &w0, err);
    if (!rc) rc = vkft_method_download(plan, B0, E, &b0, err);
    for (size_t p = 0; p < P && !rc; p++)
        for (size_t e = 0; e < E; e++) {
            double acc = b0[e];
            for (size_t j = 0; j < d; j++) acc += (double)emb[p * d + j] * w0[e * d + j];
            hid[p * E + e] = tanh(acc);
        }
    for (int i = 0; i < s->slots && !rc; i++) {
        rc = vkft_method_download(plan, s->names[i], d * E, &w2, err);
        if (!rc) rc = vkft_method_download(plan, s->bias_names[i], d, &b2, err);
        for (size_t p = 0; p < P && !rc; p++)
            for (size_t j = 0; j < d; j++) {
                double acc = b2[j];
                for (size_t e = 0; e < E; e++) acc += hid[p * E + e] * w2[j * E + e];
                kv[p * width + (size_t)i * d + j] = (float)acc;
            }
        free(w2);
        free(b2);
        w2 = b2 = NULL;
    }
    free(hid);
    free(emb);
    free(w0);
    free(b0);
    return rc;
}

static vkft_status prefix_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                               const char *dir, const char *base_model, vkft_err *err)
{
    (void)b;
    const prefix_state *s = m->impl;
    size_t width = (size_t)s->slots * (size_t)s->dim, n = (size_t)s->tokens * width;
    float *kv = malloc(n * sizeof *kv);
    vkft_st_writer *w = NULL;
    vkft_status rc = kv ? VKFT_OK : vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = s->proj ? computed_prefix(s, plan, kv, err) : move_slots(s, plan, kv, true,
                                                                           err);
    if (!rc) rc = vkft_st_writer_create(&w, err);
    if (!rc) rc = vkft_st_writer_add(w, "prompt_embeddings", VKFT_ST_F32, 2,
                                     (int64_t[]){s->tokens, (int64_t)width}, kv,
                                     n * sizeof(float), err);
    if (!rc) {
        vkft_json_writer j;
        vkft_json_writer_init(&j, 2);
        vkft_json_obj_begin(&j);
        vkft_json_key(&j, "auto_mapping"); vkft_json_null(&j);
        vkft_json_key(&j, "base_model_name_or_path"); vkft_json_str(&j, base_model);
        vkft_json_key(&j, "encoder_hidden_size"); vkft_json_int(&j, s->proj ? s->proj : s->dim);
        vkft_json_key(&j, "inference_mode"); vkft_json_bool(&j, true);
        vkft_json_key(&j, "modules_to_save"); vkft_json_null(&j);
        vkft_json_key(&j, "num_attention_heads"); vkft_json_int(&j, s->kv_heads);
        vkft_json_key(&j, "num_layers"); vkft_json_int(&j, s->layers);
        vkft_json_key(&j, "num_transformer_submodules"); vkft_json_int(&j, 1);
        vkft_json_key(&j, "num_virtual_tokens"); vkft_json_int(&j, s->tokens);
        vkft_json_key(&j, "peft_type"); vkft_json_str(&j, "PREFIX_TUNING");
        vkft_json_key(&j, "prefix_projection"); vkft_json_bool(&j, s->proj > 0);
        vkft_json_key(&j, "revision"); vkft_json_null(&j);
        vkft_json_key(&j, "task_type"); vkft_json_str(&j, "CAUSAL_LM");
        vkft_json_key(&j, "token_dim"); vkft_json_int(&j, s->dim);
        vkft_json_obj_end(&j);
        rc = vkft_method_folder_write(dir, &j, w, err);
    }
    vkft_st_writer_free(w);
    free(kv);
    return rc;
}

/* A saved PREFIX_TUNING adapter: P; token_dim / num_layers must fit this model. The saved
 * prompt_embeddings are the keys and values themselves, so it reloads without a projection
 * (as PEFT does in inference mode). */
static vkft_status prefix_from_adapter(vkft_method *m, const vkft_json *cfg, const char *dir,
                                       vkft_err *err)
{
    int64_t dim = m->cfg.kv_heads * m->cfg.head_dim, layers = m->cfg.layers, sub = 1;
    vkft_status rc = vkft_method_config_int(cfg, dir, "num_virtual_tokens", true, 1, 1 << 20,
                                            &m->spec.num_virtual_tokens, err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "token_dim", false, 1, INT64_MAX, &dim, err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "num_layers", false, 1, INT64_MAX, &layers,
                                         err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "num_transformer_submodules", false, 1, 2,
                                         &sub, err);
    if (!rc && (dim != m->cfg.kv_heads * m->cfg.head_dim || layers != m->cfg.layers))
        rc = vkft_err_set(err, VKFT_ERR_SHAPE, "%s/adapter_config.json: token_dim %lld and "
                          "num_layers %lld, but this model has %lld x %lld key/value features "
                          "and %lld layers", dir, (long long)dim, (long long)layers,
                          (long long)m->cfg.kv_heads, (long long)m->cfg.head_dim,
                          (long long)m->cfg.layers);
    if (!rc && sub != 1)
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s/adapter_config.json: "
                          "num_transformer_submodules %lld (encoder-decoder) is not supported",
                          dir, (long long)sub);
    m->spec.projection = 0;
    return rc;
}

const vkft_method_ops vkft_method_prefix_ops = {
    .output = "adapter",
    .peft_type = "PREFIX_TUNING",
    .from_adapter = prefix_from_adapter,
    .create = prefix_create,
    .destroy = prefix_destroy,
    .init_params = prefix_init_params,
    .save = prefix_save,
};
