/*
 * Generation loops (see generate.h). With the cache, the prompt is fed one token per run of
 * the decode-step plan (prefill and decode share one recorded plan; the cache slots and the
 * mask make each run exactly causal attention at its position). Without the cache, every new
 * token compiles a graph over the whole sequence and keeps only the last position's logits:
 * slow, but an independent path that the cached one must match.
 */
#include "model/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vkft_generate_options_default(vkft_generate_options *o) {
    memset(o, 0, sizeof *o);
    o->max_tokens = 64;
    o->top_p = 1.0f;
    o->frozen_dtype = VKFT_F32;
}

typedef struct cand {
    float p;
    int32_t id;
} cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

vkft_status vkft_sample_token(float *logits, int64_t V, float temperature, float top_p,
                              vkft_rng *r, int32_t *id, vkft_err *err) {
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    *id = (int32_t)best;
    if (!(temperature > 0) || V < 2) return VKFT_OK;
    float mx = logits[best];
    double sum = 0;
    for (int64_t i = 0; i < V; i++) sum += logits[i] = expf((logits[i] - mx) / temperature);
    double u = vkft_rng_uniform(r);
    if (top_p >= 1.0f || !(top_p > 0)) {
        double acc = 0, target = u * sum;
        for (int64_t i = 0; i < V; i++) {
            acc += logits[i];
            if (acc > target) {
                *id = (int32_t)i;
                return VKFT_OK;
            }
        }
        return VKFT_OK;   /* rounding left target unreached: the argmax stands */
    }
    cand *c = malloc(sizeof *c * (size_t)V);
    if (!c) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "sampling: out of memory");
    for (int64_t i = 0; i < V; i++) c[i] = (cand){logits[i], (int32_t)i};
    qsort(c, (size_t)V, sizeof *c, cand_cmp);
    int64_t keep = 0;
    double kept = 0;
    while (keep < V && (keep == 0 || kept < top_p * sum)) kept += c[keep++].p;
    double acc = 0, target = u * kept;
    *id = c[0].id;
    for (int64_t i = 0; i < keep; i++) {
        acc += c[i].p;
        if (acc > target) {
            *id = c[i].id;
            break;
        }
    }
    free(c);
    return VKFT_OK;
}

/* Builds with bo, compiles on dev, loads the weights and the hooks' uploads. */
static vkft_status prepare(vkft_device *dev, const vkft_model_config *cfg, const vkft_st *st,
                           const vkft_model_build_options *bo, const vkft_generate_options *o,
                           vkft_model_built *m, vkft_plan **plan, vkft_err *err) {
    vkft_graph *g = NULL;
    *plan = NULL;
    if (vkft_graph_create(&g)) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status s = vkft_model_build(cfg, g, bo, o->hooks, m, err);
    if (!s && (s = vkft_compile(dev, g, NULL, NULL, plan)))
        vkft_err_set(err, s, "compile: %s", vkft_device_error(dev));
    vkft_graph_destroy(g);
    if (!s) s = vkft_model_load_weights(m, st, *plan, err);
    if (!s && o->upload) s = o->upload(o->upload_user, *plan, err);
    return s;
}

static vkft_status up(vkft_plan *p, const char *name, const void *data, size_t bytes,
                      vkft_err *err) {
    if (vkft_plan_upload(p, name, data, bytes))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "generate: %s", vkft_plan_error(p));
    return VKFT_OK;
}

/* Appends the token chosen from logits; *done when it is a stop id or the budget is spent. */
static vkft_status choose(const vkft_generate_options *o, float *logits, int64_t V, vkft_rng *r,
                          int32_t *out, size_t *n_out, bool *done, vkft_err *err) {
    int32_t id;
    vkft_status s = vkft_sample_token(logits, V, o->temperature, o->top_p, r, &id, err);
    if (s) return s;
    out[(*n_out)++] = id;
    if (o->on_token && (s = o->on_token(o->user, id, err))) return s;
    *done = *n_out >= (size_t)o->max_tokens;
    for (int i = 0; i < o->n_stop; i++) *done |= id == o->stop_ids[i];
    return VKFT_OK;
}

static vkft_status run_cached(vkft_device *dev, const vkft_model_config *cfg,
                              const vkft_st *st, int32_t *ids, size_t n_prompt,
                              const vkft_generate_options *o, int32_t *out, size_t *n_out,
                              vkft_rng *r, vkft_err *err) {
    int64_t S = (int64_t)n_prompt + o->max_tokens, V = cfg->vocab;
    vkft_model_build_options bo;
    vkft_model_build_options_default(&bo);
    bo.inference = true;
    bo.cache_len = S;
    bo.frozen_dtype = o->frozen_dtype;
    vkft_model_built m = {0};
    vkft_plan *plan = NULL;
    float *mask = calloc((size_t)S, sizeof *mask), *onehot = calloc((size_t)S, sizeof *onehot);
    float *logits = malloc(sizeof *logits * (size_t)V);
    vkft_status s = mask && onehot && logits ? VKFT_OK
                                             : vkft_err_set(err, VKFT_ERR_NO_MEMORY, "generate: "
                                                            "out of memory");
    if (!s) s = prepare(dev, cfg, st, &bo, o, &m, &plan, err);
    bool done = false;
    for (int64_t p = 0; !s && !done; p++) {
        int32_t pos = (int32_t)p;
        mask[p] = 1.0f;
        onehot[p] = 1.0f;
        if (p) onehot[p - 1] = 0.0f;
        if ((s = up(plan, "tokens", &ids[p], 4, err)) ||
            (s = up(plan, "positions", &pos, 4, err)) ||
            (s = up(plan, "attention_mask", mask, sizeof *mask * (size_t)S, err)) ||
            (s = up(plan, "cache_write", onehot, sizeof *onehot * (size_t)S, err)))
            break;
        if (vkft_plan_run(plan, 0)) {
            s = vkft_err_set(err, VKFT_ERR_DEVICE, "generate: %s", vkft_plan_error(plan));
            break;
        }
        if (p + 1 < (int64_t)n_prompt) continue;
        if (vkft_plan_download(plan, "logits", logits, sizeof *logits * (size_t)V)) {
            s = vkft_err_set(err, VKFT_ERR_DEVICE, "generate: %s", vkft_plan_error(plan));
            break;
        }
        s = choose(o, logits, V, r, out, n_out, &done, err);
        ids[p + 1] = out[*n_out - 1];
    }
    vkft_plan_destroy(plan);
    vkft_model_built_free(&m);
    free(mask);
    free(onehot);
    free(logits);
    return s;
}

static vkft_status run_uncached(vkft_device *dev, const vkft_model_config *cfg,
                                const vkft_st *st, int32_t *ids, size_t n_prompt,
                                const vkft_generate_options *o, int32_t *out, size_t *n_out,
                                vkft_rng *r, vkft_err *err) {
    int64_t V = cfg->vocab;
    float *logits = malloc(sizeof *logits * (size_t)V);
    vkft_status s = logits ? VKFT_OK : vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    bool done = false;
    while (!s && !done) {
        size_t len = n_prompt + *n_out;
        vkft_model_build_options bo;
        vkft_model_build_options_default(&bo);
        bo.inference = true;
        bo.last_logits_only = true;
        bo.seq = (int64_t)len;
        bo.frozen_dtype = o->frozen_dtype;
        vkft_model_built m = {0};
        vkft_plan *plan = NULL;
        s = prepare(dev, cfg, st, &bo, o, &m, &plan, err);
        if (!s) s = up(plan, "tokens", ids, 4 * len, err);
        if (!s && (vkft_plan_run(plan, 0) ||
                   vkft_plan_download(plan, "logits", logits, sizeof *logits * (size_t)V)))
            s = vkft_err_set(err, VKFT_ERR_DEVICE, "generate: %s", vkft_plan_error(plan));
        if (!s) s = choose(o, logits, V, r, out, n_out, &done, err);
        if (!s) ids[len] = out[*n_out - 1];
        vkft_plan_destroy(plan);
        vkft_model_built_free(&m);
    }
    free(logits);
    return s;
}

vkft_status vkft_generate(vkft_device *dev, const vkft_model_config *cfg, const vkft_st *st,
                          const int32_t *prompt, size_t n_prompt,
                          const vkft_generate_options *o, int32_t *out, size_t *n_out,
                          vkft_err *err) {
    *n_out = 0;
    if (!dev || !cfg || !st || !prompt || !o || !out)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "generate: missing argument");
    if (n_prompt < 1 || o->max_tokens < 1 || n_prompt > (1u << 24))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "generate: needs a prompt of at least "
                            "one token and max_tokens >= 1");
    for (size_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= cfg->vocab)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "generate: prompt token %d at %zu is "
                                "outside the vocab (%lld)", prompt[i], i, (long long)cfg->vocab);
    int32_t *ids = malloc(sizeof *ids * (n_prompt + (size_t)o->max_tokens + 1));
    if (!ids) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "generate: out of memory");
    memcpy(ids, prompt, sizeof *ids * n_prompt);
    vkft_rng r;
    vkft_rng_init(&r, o->seed);
    vkft_status s = o->no_cache ? run_uncached(dev, cfg, st, ids, n_prompt, o, out, n_out, &r, err)
                                : run_cached(dev, cfg, st, ids, n_prompt, o, out, n_out, &r, err);
    free(ids);
    return s;
}
