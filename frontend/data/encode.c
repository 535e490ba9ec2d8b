/*
 * Rendered examples → token ids with per-token labels and loss weights, and the per-source
 * store they are appended to.
 *
 * The whole rendered text is encoded once with add_special (BOS as the tokenizer's
 * post-processor adds it), as HF encodes a full prompt+completion string. Where a part starts
 * in tokens follows TRL's SFTTrainer: at len(encode(text before the part, add_special)),
 * clamped to stay monotone and inside the example, so a merge across a boundary belongs to
 * the earlier part. Weights: completion 1, prompt prompt_w; a token with weight 0 has label
 * -100. EOS is appended (weight of the last part) unless the ids already end with EOS.
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static int64_t grown(int64_t cap, int64_t need)
{
    int64_t c = cap ? cap : 1024;
    while (c < need) c *= 2;
    return c;
}

/* p grown from cap to hold need elements (p itself when it already does), NULL on failure
 * (p still valid). */
static void *grow(void *p, int64_t cap, int64_t need, size_t elem)
{
    return need <= cap ? p : realloc(p, (size_t)grown(cap, need) * elem);
}

/* Each array is replaced as soon as it has grown and the capacities are raised only once all
 * have, so a failure leaves the store as it was (with some arrays merely larger). */
vkft_status data_store_add(data_store *s, const int32_t *ids, const int32_t *labels,
                           const float *weights, int64_t n, vkft_err *err)
{
    int64_t need = s->n_tokens + n, need_ex = s->n_examples + 2;
    int32_t *a = grow(s->ids, s->cap_tokens, need, sizeof *a);
    if (a) s->ids = a;
    int32_t *b = a ? grow(s->labels, s->cap_tokens, need, sizeof *b) : NULL;
    if (b) s->labels = b;
    float *c = b ? grow(s->weights, s->cap_tokens, need, sizeof *c) : NULL;
    if (c) s->weights = c;
    int64_t *o = c ? grow(s->off, s->cap_examples, need_ex, sizeof *o) : NULL;
    if (!o)
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory storing %lld tokens",
                            (long long)need);
    s->off = o;
    if (need > s->cap_tokens) s->cap_tokens = grown(s->cap_tokens, need);
    if (need_ex > s->cap_examples) s->cap_examples = grown(s->cap_examples, need_ex);
    if (s->n_examples == 0) s->off[0] = 0;
    memcpy(s->ids + s->n_tokens, ids, (size_t)n * sizeof *ids);
    memcpy(s->labels + s->n_tokens, labels, (size_t)n * sizeof *labels);
    memcpy(s->weights + s->n_tokens, weights, (size_t)n * sizeof *weights);
    s->n_tokens = need;
    s->off[++s->n_examples] = need;
    return VKFT_OK;
}

void data_store_free(data_store *s)
{
    free(s->ids);
    free(s->labels);
    free(s->weights);
    free(s->off);
    memset(s, 0, sizeof *s);
}

void data_encoder_free(data_encoder *e)
{
    vkft_ids_free(&e->full);
    vkft_ids_free(&e->prefix);
    free(e->labels);
    free(e->weights);
    e->labels = NULL;
    e->weights = NULL;
    e->cap = 0;
}

vkft_status data_encode(data_encoder *e, const data_render *r, float prompt_w, data_store *s,
                        vkft_err *err)
{
    vkft_status st;
    e->full.n = 0;
    if ((st = vkft_tokenizer_encode(e->tok, r->text ? r->text : "", r->len, true, &e->full,
                                    err)))
        return st;
    bool last_completion = r->n == 0 || r->completion[r->n - 1];
    float last_w = last_completion ? 1.0f : prompt_w;
    if (e->eos_id >= 0 && (e->full.n == 0 || e->full.v[e->full.n - 1] != e->eos_id))
        if ((st = vkft_ids_push(&e->full, e->eos_id, err))) return st;
    size_t n = e->full.n;
    if (n > e->cap) {
        int32_t *l = realloc(e->labels, n * sizeof *l);
        if (!l) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        e->labels = l;
        float *w = realloc(e->weights, n * sizeof *w);
        if (!w) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        e->weights = w;
        e->cap = n;
    }
    /* Part k covers tokens [start, next start); the last part runs to the end (EOS too). */
    size_t start = 0;
    for (int k = 0; k < r->n; k++) {
        size_t end = n;
        if (k + 1 < r->n) {
            e->prefix.n = 0;
            if ((st = vkft_tokenizer_encode(e->tok, r->text, r->ends[k], true, &e->prefix,
                                            err)))
                return st;
            end = e->prefix.n < start ? start : e->prefix.n > n ? n : e->prefix.n;
        }
        float w = r->completion[k] ? 1.0f : prompt_w;
        for (size_t t = start; t < end; t++) e->weights[t] = w;
        start = end;
    }
    for (size_t t = start; t < n; t++) e->weights[t] = last_w;  /* no parts: all trained */
    for (size_t t = 0; t < n; t++) {
        if (e->weights[t] > 0.0f) {
            e->labels[t] = e->full.v[t];
        } else {
            e->labels[t] = VKFT_IGNORE_INDEX;
            e->weights[t] = 0.0f;
        }
    }
    return data_store_add(s, e->full.v, e->labels, e->weights, (int64_t)n, err);
}
