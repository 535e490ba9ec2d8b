/*
 * vkft_model_build: inputs, the method hooks that shape the sequence (attention prefixes,
 * prepended prompt embeddings), the architecture's decoder, the head and the loss; and the
 * small queries on a built model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/build_internal.h"

void vkft_model_build_options_default(vkft_model_build_options *o) {
    memset(o, 0, sizeof *o);
    o->batch = 1;
    o->seq = 1;
    o->frozen_dtype = VKFT_F32;
}

static void built_init(vkft_model_built *m) {
    memset(m, 0, sizeof *m);
    m->tokens = m->labels = m->loss_weights = m->logits = m->loss_sum = m->count = VKFT_NONE;
    m->positions = m->attention_mask = m->cache_write = VKFT_NONE;
}

void vkft_model_built_free(vkft_model_built *m) {
    if (!m) return;
    free(m->params);
    free(m->sites);
    built_init(m);
}

const vkft_model_param *vkft_model_find_param(const vkft_model_built *m, const char *name) {
    for (int i = 0; m && name && i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

int64_t vkft_model_param_numel(const vkft_model_built *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++) {
        const vkft_model_param *p = &m->params[i];
        if (p->kind == VKFT_PARAM_BUFFER) continue;
        int64_t e = 1;
        for (int d = 0; d < p->ndim; d++) e *= p->shape[d];
        n += e;
    }
    for (int i = 0; i < m->n_sites; i++)   /* weights a linear_replace hook holds (NF4) */
        if (m->sites[i].weight == VKFT_NONE) n += m->sites[i].in * m->sites[i].out;
    return n;
}

/* Layer outputs are the gradient-checkpoint boundaries (used when compiled with recompute). */
void mb_layer_done(mbuild *b, int layer, vkft_value x) {
    if (b->st || b->o->inference) return;
    if (vkft_graph_checkpoint(b->g, x)) {
        char what[48];
        snprintf(what, sizeof what, "checkpoint of layer %d", layer);
        mb_graph_fail(b, what);
    }
}

static bool desc_is(const vkft_desc *d, int64_t a, int64_t b2, int64_t c, int ndim) {
    return d && d->dtype == VKFT_F32 && d->ndim == ndim && d->shape[0] == a &&
           d->shape[1] == b2 && (ndim < 3 || d->shape[2] == c);
}

/* Calls attention_prefix for every layer; all layers must give [P, kv, D] with one P, or none. */
static void attention_prefixes(mbuild *b) {
    const vkft_model_config *c = b->cfg;
    if (!b->h || !b->h->attention_prefix) return;
    b->prefix_k = malloc(sizeof(vkft_value) * (size_t)c->layers);
    b->prefix_v = malloc(sizeof(vkft_value) * (size_t)c->layers);
    if (!b->prefix_k || !b->prefix_v) {
        mb_fail(b, VKFT_ERR_NO_MEMORY, "model build: out of memory");
        return;
    }
    int64_t P = -1;
    for (int l = 0; l < c->layers && !b->st; l++) {
        vkft_value k = VKFT_NONE, v = VKFT_NONE;
        vkft_status st = b->h->attention_prefix(b->h->user, b->g, l, c->kv_heads, c->head_dim,
                                                &k, &v, b->err);
        if (st) {
            char where[32];
            snprintf(where, sizeof where, "layer %d", l);
            mb_hook_fail(b, st, "attention_prefix hook", where);
            return;
        }
        const vkft_desc *dk = k == VKFT_NONE ? NULL : vkft_graph_value_desc(b->g, k);
        const vkft_desc *dv = v == VKFT_NONE ? NULL : vkft_graph_value_desc(b->g, v);
        int64_t p = dk ? dk->shape[0] : 0;
        if ((!dk) != (!dv) || (dk && (!desc_is(dk, p, c->kv_heads, c->head_dim, 3) ||
                                      !desc_is(dv, p, c->kv_heads, c->head_dim, 3))) ||
            (P >= 0 && p != P)) {
            mb_fail(b, VKFT_ERR_SHAPE, "model build: attention_prefix of layer %d must give "
                    "f32 [P, %lld, %lld] keys and values with one P for every layer", l,
                    (long long)c->kv_heads, (long long)c->head_dim);
            return;
        }
        P = p;
        b->prefix_k[l] = k;
        b->prefix_v[l] = v;
    }
    b->out->attention_prefix = P > 0 ? P : 0;
}

static void input_prefix(mbuild *b) {
    if (!b->h || !b->h->input_prefix || b->st) return;
    vkft_value p = VKFT_NONE;
    vkft_status st = b->h->input_prefix(b->h->user, b->g, b->cfg->hidden, &p, b->err);
    if (st) {
        mb_hook_fail(b, st, "input_prefix hook", "the input");
        return;
    }
    if (p == VKFT_NONE) return;
    const vkft_desc *d = vkft_graph_value_desc(b->g, p);
    if (!d || !desc_is(d, d->shape[0], b->cfg->hidden, 0, 2)) {
        mb_fail(b, VKFT_ERR_SHAPE, "model build: input_prefix must give f32 [P, %lld]",
                (long long)b->cfg->hidden);
        return;
    }
    b->input_prefix = p;
    b->out->prefix_tokens = d->shape[0];
}

static vkft_value input(mbuild *b, const char *name, vkft_dtype dt, int ndim, const int64_t *s) {
    if (b->st) return VKFT_NONE;
    vkft_value v = vkft_graph_leaf(b->g, name, VKFT_ROLE_INPUT, dt, ndim, s);
    return v == VKFT_NONE ? mb_graph_fail(b, name) : v;
}

static vkft_status check_options(const vkft_model_build_options *o, vkft_err *err) {
    if (o->batch < 1 || o->seq < 1 || o->batch > (1 << 20) || o->seq > (1 << 24))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "model build: batch %lld and seq %lld "
                            "must be positive", (long long)o->batch, (long long)o->seq);
    if (o->frozen_dtype != VKFT_F32 && o->frozen_dtype != VKFT_F16 &&
        o->frozen_dtype != VKFT_BF16)
        return vkft_err_set(err, VKFT_ERR_DTYPE, "model build: frozen weights can be f32, f16 "
                            "or bf16, not %s", vkft_dtype_name(o->frozen_dtype));
    if (o->cache_len < 0 || (o->cache_len > 0 && (o->seq != 1 || !o->inference)))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "model build: a KV-cache decode step "
                            "is an inference graph with seq 1");
    return VKFT_OK;
}

/* Inputs that depend on the mode; returns the positions value (or VKFT_NONE). */
static vkft_value make_inputs(mbuild *b) {
    const vkft_model_build_options *o = b->o;
    vkft_model_built *m = b->out;
    int64_t B = o->batch, S = o->cache_len, P = m->prefix_tokens;
    m->tokens = input(b, "tokens", VKFT_I32, 2, (int64_t[]){B, o->seq});
    if (P && (o->positions || S))
        mb_fail(b, VKFT_ERR_UNSUPPORTED, "model build: prompt-tuning prefixes do not combine "
                "with a positions input or a KV cache");
    if (o->positions || S)
        m->positions = input(b, "positions", VKFT_I32, 2, (int64_t[]){B, o->seq});
    if (S) {
        m->attention_mask = input(b, "attention_mask", VKFT_F32, 2, (int64_t[]){B, S});
        m->cache_write = input(b, "cache_write", VKFT_F32, 1, &S);
        b->cache_onehot = mb_reshape(b, m->cache_write, 3, (int64_t[]){S, 1, 1});
        b->key_mask = m->attention_mask;
    } else if (o->attention_mask) {
        m->attention_mask = input(b, "attention_mask", VKFT_F32, 2, (int64_t[]){B, o->seq});
        b->key_mask = m->attention_mask;
        if (P && !b->st) {  /* virtual tokens are always visible */
            vkft_value ones = vkft_graph_fill(b->g, VKFT_F32, 2, (int64_t[]){B, P}, 1.0f);
            if (ones == VKFT_NONE) return mb_graph_fail(b, "fill");
            vkft_concat_params cp = {.axis = 1};
            b->key_mask = mb_op(b, VKFT_OP_CONCAT, &cp, (vkft_value[]){ones, b->key_mask}, 2);
        }
    }
    return m->positions;
}

static vkft_value keep(mbuild *b, vkft_value v, const char *name) {
    if (b->st) return VKFT_NONE;
    if (vkft_graph_keep(b->g, v, name)) return mb_graph_fail(b, name);
    return v;
}

/* Head and loss on the decoder output h [B, T, H]. */
static void head(mbuild *b, vkft_value h) {
    const vkft_model_config *c = b->cfg;
    const vkft_model_build_options *o = b->o;
    vkft_model_built *m = b->out;
    int64_t B = o->batch, seq = o->seq, H = c->hidden, P = m->prefix_tokens;
    /* Prompt tuning: inference keeps the real positions P..P+seq-1; training takes P-1..
     * P+seq-2, so the last virtual token predicts the first real token (PEFT's T targets per
     * row; labels unshifted). The last real position predicts past the row: no target. */
    if (P) h = mb_slice(b, h, 1, o->inference ? P : P - 1, seq);
    bool last = o->inference && (o->last_logits_only || o->cache_len);
    if (last) {
        if (seq > 1) h = mb_slice(b, h, 1, seq - 1, 1);
        h = mb_reshape(b, h, 2, (int64_t[]){B, H});
    } else {
        h = mb_reshape(b, h, 2, (int64_t[]){B * seq, H});
    }
    vkft_value tied = c->tie_word_embeddings ? b->embed_table : VKFT_NONE;
    m->logits = mb_linear(b, h, "lm_head", "lm_head", -1, H, c->vocab, false, false, tied);
    if (o->inference) {
        keep(b, m->logits, "logits");
        return;
    }
    m->labels = input(b, "labels", VKFT_I32, 1, (int64_t[]){B * seq});
    m->loss_weights = input(b, "loss_weights", VKFT_F32, 1, (int64_t[]){B * seq});
    if (b->st) return;
    vkft_cross_entropy_params cp = {.ignore_index = -100};
    vkft_value out[3] = {0, 0, 0};
    if (vkft_graph_op(b->g, VKFT_OP_CROSS_ENTROPY, &cp,
                      (vkft_value[]){m->logits, m->labels, m->loss_weights}, 3, out, 3)) {
        mb_graph_fail(b, "cross_entropy");
        return;
    }
    m->loss_sum = keep(b, out[0], "loss_sum");
    m->count = keep(b, out[1], "count");
}

vkft_status vkft_model_build(const vkft_model_config *cfg, vkft_graph *g,
                             const vkft_model_build_options *opts, const vkft_model_hooks *hooks,
                             vkft_model_built *out, vkft_err *err) {
    vkft_err local;
    if (!err) err = &local;   /* hooks and helpers always have a message buffer */
    if (!out) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "model build: no output");
    built_init(out);
    if (!cfg || !g || !opts)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "model build: missing argument");
    vkft_status st = vkft_model_config_validate(cfg, err);
    if (!st) st = check_options(opts, err);
    if (st) return st;
    out->cfg = *cfg;
    out->opts = *opts;
    mbuild b = {.cfg = cfg, .g = g, .o = opts, .h = hooks, .out = out, .err = err,
                .B = opts->batch, .embed_table = VKFT_NONE, .key_mask = VKFT_NONE,
                .input_prefix = VKFT_NONE, .cache_onehot = VKFT_NONE};
    attention_prefixes(&b);
    input_prefix(&b);
    b.T = opts->seq + out->prefix_tokens;
    int64_t span = opts->cache_len ? opts->cache_len : b.T + out->attention_prefix;
    if (!b.st && cfg->arch == VKFT_ARCH_GPT2 && span > cfg->max_positions)
        mb_fail(&b, VKFT_ERR_INVALID_ARG, "model build: %lld positions exceed GPT-2's "
                "n_positions (%lld)", (long long)span, (long long)cfg->max_positions);
    vkft_value positions = make_inputs(&b);
    vkft_value h = VKFT_NONE;
    if (!b.st)
        h = cfg->arch == VKFT_ARCH_GPT2 ? mb_gpt2(&b, out->tokens, positions)
                                        : mb_llama(&b, out->tokens, positions);
    head(&b, h);
    free(b.prefix_k);
    free(b.prefix_v);
    if (b.st) {
        vkft_model_built_free(out);
        return b.st;
    }
    return VKFT_OK;
}

vkft_status vkft_model_describe(const vkft_model_config *cfg, const vkft_model_hooks *hooks,
                                vkft_model_built *out, vkft_err *err) {
    vkft_graph *g = NULL;
    if (vkft_graph_create(&g))
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "model describe: out of memory");
    vkft_model_build_options o;
    vkft_model_build_options_default(&o);
    vkft_status st = vkft_model_build(cfg, g, &o, hooks, out, err);
    vkft_graph_destroy(g);
    return st;
}
