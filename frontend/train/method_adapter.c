/*
 * Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020) through the block_output hook,
 * as AdapterHub's `adapters` computes them on pre-norm models (Llama, GPT-2: the decoder layer
 * passes no layer norm to the adapter layer). On a sublayer's output h [B, T, H] and the
 * residual stream x it read, before the model adds h to x:
 *     houlsby (DoubleSeqBnConfig, after attention and after the MLP of every layer):
 *         h' = h + up(act(down(h)))            layer: x + h + up(act(down(h)))
 *     pfeiffer (SeqBnConfig, after the MLP only; original_ln_before: the bottleneck reads x + h):
 *         h' = h + up(act(down(x + h)))        layer: x + h + up(act(down(x + h)))
 * down: Linear(H, S), up: Linear(S, H), both with bias; both configs have residual_before_ln
 * true (the adapter's own residual is h), no adapter layer norms, scaling 1, no gating.
 * S = method.size, or H / reduction_factor.
 * Start: down.weight U(±1/√H) (kaiming-uniform a = √5, as nn.Linear and AdapterHub's
 * "mam_adapter" init), down.bias 0, up.weight 0, up.bias 0 — so the adapted model starts as
 * exactly the base model. Base weights frozen.
 *
 * Saved (not a PEFT type): adapter_config.json {"peft_type": "BOTTLENECK_ADAPTER", placement,
 * size, reduction_factor, activation, hidden_size, num_layers, ...} and adapter_model.safetensors
 * with, per site, "<sublayer>.adapter_down.weight" [S, H], ".adapter_down.bias" [S],
 * ".adapter_up.weight" [H, S], ".adapter_up.bias" [H]; the sublayer is the Hugging Face module
 * path ("model.layers.3.self_attn", "model.layers.3.mlp", "transformer.h.0.attn",
 * "transformer.h.0.mlp"). Leaves carry the same names.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/method_common.h"
#include "train/method_impl.h"

#define ADAPTER_TENSORS 4   /* down.weight, down.bias, up.weight, up.bias */

typedef struct adapter_site {
    char path[128];                         /* the sublayer's module path */
    char names[ADAPTER_TENSORS][160];
    bool built;
} adapter_site;

typedef struct adapter_state {
    int64_t hidden, size;
    int per_layer;                          /* 2 houlsby, 1 pfeiffer */
    int n_sites;                            /* layers * per_layer */
    adapter_site *sites;
} adapter_state;

static const char *const suffixes[ADAPTER_TENSORS] = {
    "adapter_down.weight", "adapter_down.bias", "adapter_up.weight", "adapter_up.bias",
};

/* Shape of tensor k of a site. */
static int tensor_shape(const adapter_state *s, int k, int64_t shape[2])
{
    switch (k) {
    case 0: shape[0] = s->size; shape[1] = s->hidden; return 2;
    case 1: shape[0] = s->size; return 1;
    case 2: shape[0] = s->hidden; shape[1] = s->size; return 2;
    default: shape[0] = s->hidden; return 1;
    }
}

static size_t tensor_numel(const adapter_state *s, int k)
{
    int64_t shape[2];
    int nd = tensor_shape(s, k, shape);
    return (size_t)(nd == 2 ? shape[0] * shape[1] : shape[0]);
}

static vkft_status adapter_block(void *user, vkft_graph *g, int layer, vkft_model_block block,
                                 vkft_value residual, vkft_value *h, vkft_err *err)
{
    vkft_method *m = user;
    adapter_state *s = m->impl;
    if (s->per_layer == 1 && block != VKFT_BLOCK_MLP) return VKFT_OK;
    int idx = layer * s->per_layer + (s->per_layer == 2 && block == VKFT_BLOCK_MLP ? 1 : 0);
    if (layer < 0 || idx >= s->n_sites)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter: layer %d is outside the "
                            "model's %lld layers", layer, (long long)m->cfg.layers);
    adapter_site *site = &s->sites[idx];
    vkft_value p[ADAPTER_TENSORS];
    for (int k = 0; k < ADAPTER_TENSORS; k++) {
        int64_t shape[2];
        int nd = tensor_shape(s, k, shape);
        p[k] = vkft_method_leaf(g, site->names[k], nd, shape, err);
        if (p[k] == VKFT_NONE) return VKFT_ERR_INVALID_ARG;
    }
    /* the bottleneck's input: h, or x + h for pfeiffer (AdapterHub's original_ln_before) */
    vkft_value in = *h;
    if (s->per_layer == 1 &&
        (in = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){residual, *h}, 2)) ==
            VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter at %s: %s", site->path,
                            vkft_graph_error(g));
    vkft_value d = vkft_method_affine(g, in, p[0], p[1], err);                 /* [B, T, S] */
    vkft_value a = d == VKFT_NONE ? VKFT_NONE
                 : vkft_method_activation(g, m->spec.activation, d, err);
    if (a == VKFT_NONE) return vkft_err_prefix(err, VKFT_ERR_INVALID_ARG, "adapter at %s",
                                               site->path);
    /* h + a upᵀ accumulated onto h by the matmul (C0), then the bias */
    vkft_matmul_params mp = {.trans_b = true, .alpha = 1.0f};
    vkft_value u = vkft_graph_op1(g, VKFT_OP_MATMUL, &mp, (vkft_value[]){a, p[2], *h}, 3);
    vkft_value y = u == VKFT_NONE ? VKFT_NONE
                 : vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){u, p[3]}, 2);
    if (y == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter at %s: %s", site->path,
                            vkft_graph_error(g));
    site->built = true;
    *h = y;
    return VKFT_OK;
}

static vkft_status adapter_create(vkft_method *m, vkft_err *err)
{
    vkft_status rc = vkft_method_activation_check(m->spec.activation, err);
    if (rc) return rc;
    if (m->spec.size <= 0 && m->spec.reduction_factor <= 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "method: adapter needs size > 0 or reduction_factor > 0");
    int64_t size = m->spec.size > 0 ? m->spec.size : m->cfg.hidden / m->spec.reduction_factor;
    if (size < 1)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "method.reduction_factor %lld leaves no bottleneck for hidden size "
                            "%lld; set method.size or a smaller reduction_factor",
                            (long long)m->spec.reduction_factor, (long long)m->cfg.hidden);
    if (m->cfg.layers < 1 || m->cfg.layers > 100000)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter: %lld layers",
                            (long long)m->cfg.layers);
    adapter_state *s = calloc(1, sizeof *s);
    if (!s) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->impl = s;
    s->hidden = m->cfg.hidden;
    s->size = size;
    s->per_layer = m->spec.placement == VKFT_ADAPTER_HOULSBY ? 2 : 1;
    s->n_sites = (int)m->cfg.layers * s->per_layer;
    s->sites = calloc((size_t)s->n_sites, sizeof *s->sites);
    if (!s->sites) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    bool gpt2 = m->cfg.arch == VKFT_ARCH_GPT2;
    for (int i = 0; i < s->n_sites; i++) {
        adapter_site *site = &s->sites[i];
        int layer = i / s->per_layer;
        bool mlp = s->per_layer == 1 || i % 2 == 1;
        snprintf(site->path, sizeof site->path, "%s.%d.%s",
                 gpt2 ? "transformer.h" : "model.layers", layer,
                 mlp ? "mlp" : (gpt2 ? "attn" : "self_attn"));
        for (int k = 0; k < ADAPTER_TENSORS; k++)
            snprintf(site->names[k], sizeof site->names[k], "%s.%s", site->path, suffixes[k]);
    }
    m->hooks.param_role = vkft_method_frozen_role;
    m->hooks.block_output = adapter_block;
    return VKFT_OK;
}

static void adapter_destroy(vkft_method *m)
{
    adapter_state *s = m->impl;
    if (!s) return;
    free(s->sites);
    free(s);
}

static vkft_status adapter_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err)
{
    (void)b;
    const adapter_state *s = m->impl;
    for (int i = 0; i < s->n_sites; i++)
        if (!s->sites[i].built)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                                "adapter: the model build never reached %s", s->sites[i].path);
    return VKFT_OK;
}

/* Every tensor from the adapter folder m->spec.init. */
static vkft_status adapter_load(vkft_method *m, vkft_plan *plan, vkft_err *err)
{
    const adapter_state *s = m->impl;
    vkft_st *st = NULL;
    vkft_status rc = vkft_method_folder_open(m->spec.init, &st, err);
    for (int i = 0; i < s->n_sites && !rc; i++) {
        for (int k = 0; k < ADAPTER_TENSORS && !rc; k++) {
            int64_t shape[2];
            int nd = tensor_shape(s, k, shape);
            float *buf = NULL;
            rc = vkft_method_folder_read(st, m->spec.init, s->sites[i].names[k], nd, shape,
                                         &buf, err);
            if (!rc) rc = vkft_method_upload(plan, s->sites[i].names[k], buf,
                                             tensor_numel(s, k), err);
            free(buf);
        }
    }
    vkft_st_close(st);
    return rc;
}

static vkft_status adapter_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                       vkft_err *err)
{
    const adapter_state *s = m->impl;
    if (m->spec.init) return adapter_load(m, plan, err);
    size_t most = (size_t)(s->size * s->hidden);
    float *buf = malloc(most * sizeof *buf);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = VKFT_OK;
    /* site i draws down.weight from stream i; everything else starts at 0 */
    for (int i = 0; i < s->n_sites && !rc; i++) {
        for (int k = 0; k < ADAPTER_TENSORS && !rc; k++) {
            size_t n = tensor_numel(s, k);
            if (k == 0) vkft_method_fill_uniform(buf, n, seed, (uint64_t)i,
                                                 1.0 / sqrt((double)s->hidden));
            else memset(buf, 0, n * sizeof *buf);
            rc = vkft_method_upload(plan, s->sites[i].names[k], buf, n, err);
        }
    }
    free(buf);
    return rc;
}

static vkft_status adapter_save(const vkft_method *m, const vkft_model_built *b,
                                vkft_plan *plan, const char *dir, const char *base_model,
                                vkft_err *err)
{
    (void)b;
    const adapter_state *s = m->impl;
    vkft_st_writer *w = NULL;
    vkft_status rc = vkft_st_writer_create(&w, err);
    if (rc) return rc;
    size_t n_bufs = (size_t)s->n_sites * ADAPTER_TENSORS;
    float **bufs = calloc(n_bufs, sizeof *bufs);
    if (!bufs) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < s->n_sites && !rc; i++) {
        for (int k = 0; k < ADAPTER_TENSORS && !rc; k++) {
            int64_t shape[2];
            int nd = tensor_shape(s, k, shape);
            size_t n = tensor_numel(s, k);
            float **buf = &bufs[(size_t)i * ADAPTER_TENSORS + (size_t)k];
            rc = vkft_method_download(plan, s->sites[i].names[k], n, buf, err);
            if (!rc) rc = vkft_st_writer_add(w, s->sites[i].names[k], VKFT_ST_F32, nd, shape,
                                             *buf, n * sizeof(float), err);
        }
    }
    if (!rc) {
        vkft_json_writer j;
        vkft_json_writer_init(&j, 2);
        vkft_json_obj_begin(&j);
        vkft_json_key(&j, "activation");
        vkft_json_str(&j, vkft_method_activation_name(m->spec.activation));
        vkft_json_key(&j, "base_model_name_or_path"); vkft_json_str(&j, base_model);
        vkft_json_key(&j, "hidden_size"); vkft_json_int(&j, s->hidden);
        vkft_json_key(&j, "inference_mode"); vkft_json_bool(&j, true);
        vkft_json_key(&j, "num_layers"); vkft_json_int(&j, m->cfg.layers);
        vkft_json_key(&j, "peft_type"); vkft_json_str(&j, "BOTTLENECK_ADAPTER");
        vkft_json_key(&j, "placement");
        vkft_json_str(&j, s->per_layer == 2 ? "houlsby" : "pfeiffer");
        vkft_json_key(&j, "reduction_factor");     /* null when size was given */
        if (m->spec.size > 0) vkft_json_null(&j);
        else vkft_json_int(&j, m->spec.reduction_factor);
        vkft_json_key(&j, "size"); vkft_json_int(&j, s->size);
        vkft_json_key(&j, "task_type"); vkft_json_str(&j, "CAUSAL_LM");
        vkft_json_obj_end(&j);
        rc = vkft_method_folder_write(dir, &j, w, err);
    }
    vkft_st_writer_free(w);
    for (size_t i = 0; bufs && i < n_bufs; i++) free(bufs[i]);
    free(bufs);
    return rc;
}

/* placement, size and activation of a saved adapter; hidden_size / num_layers must match. */
static vkft_status adapter_from_adapter(vkft_method *m, const vkft_json *cfg, const char *dir,
                                        vkft_err *err)
{
    const char *placement = vkft_json_get_str(vkft_json_get(cfg, "placement"));
    const char *act = vkft_json_get_str(vkft_json_get(cfg, "activation"));
    if (!placement || (strcmp(placement, "houlsby") && strcmp(placement, "pfeiffer")))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: placement must "
                            "be \"houlsby\" or \"pfeiffer\"", dir);
    if (!vkft_method_activation_parse(act, &m->spec.activation))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: activation "
                            "must be relu, gelu, silu, tanh or gelu_new", dir);
    m->spec.placement = strcmp(placement, "houlsby") ? VKFT_ADAPTER_PFEIFFER
                                                     : VKFT_ADAPTER_HOULSBY;
    int64_t hidden = m->cfg.hidden, layers = m->cfg.layers;
    vkft_status rc = vkft_method_config_int(cfg, dir, "size", true, 1, INT32_MAX,
                                            &m->spec.size, err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "hidden_size", false, 1, INT64_MAX, &hidden,
                                         err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "num_layers", false, 1, INT64_MAX, &layers,
                                         err);
    if (!rc && (hidden != m->cfg.hidden || layers != m->cfg.layers))
        rc = vkft_err_set(err, VKFT_ERR_SHAPE, "%s: the adapter was made for hidden size %lld "
                          "and %lld layers, this model has %lld and %lld", dir,
                          (long long)hidden, (long long)layers, (long long)m->cfg.hidden,
                          (long long)m->cfg.layers);
    m->spec.reduction_factor = 0;
    return rc;
}

const vkft_method_ops vkft_method_adapter_ops = {
    .output = "adapter",
    .peft_type = "BOTTLENECK_ADAPTER",
    .from_adapter = adapter_from_adapter,
    .create = adapter_create,
    .destroy = adapter_destroy,
    .after_build = adapter_after_build,
    .init_params = adapter_init_params,
    .save = adapter_save,
};
