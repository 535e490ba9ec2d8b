/*
 * Opening a dataset: checks the options, reads every JSONL file, parses each line, renders and
 * tokenises it (or takes its ids) into the source's store, and gathers statistics. All of it
 * happens once per run, in memory. Errors name "path:line:col" of the offending value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "util/file.h"

void vkft_data_options_default(vkft_data_options *o)
{
    memset(o, 0, sizeof *o);
    o->seq_len = 1024;
    o->prompt_loss_weight = 0.0f;
    o->mix_temperature = 1.0f;
    o->pad_id = -1;
    o->chat_template = VKFT_CHAT_AUTO;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The file name of path without a .jsonl / .json extension. */
static char *task_from_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *t = dup_str(b);
    if (!t) return NULL;
    size_t n = strlen(t);
    if (n > 6 && strcmp(t + n - 6, ".jsonl") == 0) t[n - 6] = '\0';
    else if (n > 5 && strcmp(t + n - 5, ".json") == 0) t[n - 5] = '\0';
    return t;
}

/* Parses one line; the parser's ":1:col: what" message is rewritten to "path:line:col: what". */
static vkft_status parse_line(const char *s, size_t n, data_where w, vkft_json_doc **doc,
                              vkft_err *err)
{
    vkft_status st = vkft_json_parse(s, n, "", doc, err);
    if (st == VKFT_OK || !err) return st;
    char msg[sizeof err->msg];
    memcpy(msg, err->msg, sizeof msg);
    if (strncmp(msg, ":1:", 3) == 0)
        return vkft_err_set(err, st, "%s:%lld:%s", w.path, (long long)w.line, msg + 3);
    return vkft_err_set(err, st, "%s:%lld: %s", w.path, (long long)w.line, msg);
}

static vkft_status check_id(const vkft_json *v, const char *key, size_t i, int32_t vocab,
                            bool is_label, data_where w, int32_t *out, vkft_err *err)
{
    int64_t x;
    if (!vkft_json_get_int(v, &x))
        return data_err_at(err, w, v->col, "%s[%zu]: expected an integer token id, got %s", key,
                           i, v->type == VKFT_JSON_NUMBER ? "a fraction" :
                           vkft_json_type_name(v->type));
    if (is_label && x == VKFT_IGNORE_INDEX) {
        *out = VKFT_IGNORE_INDEX;
        return VKFT_OK;
    }
    if (x < 0 || x >= vocab)
        return data_err_at(err, w, v->col, "%s[%zu]: token id %lld is outside the vocabulary "
                           "[0, %d)%s", key, i, (long long)x, (int)vocab,
                           is_label ? " and is not -100" : "");
    *out = (int32_t)x;
    return VKFT_OK;
}

/* {"input_ids": [...], "labels": [...]}: labels default to the ids; -100 has weight 0. */
static vkft_status add_tokens(const vkft_json *obj, int32_t vocab, data_where w,
                              data_encoder *e, data_store *s, vkft_err *err)
{
    const vkft_json *ids = vkft_json_get(obj, "input_ids");
    const vkft_json *labels = vkft_json_get(obj, "labels");
    if (!ids) return data_err_at(err, w, obj->col, "tokens line has no key 'input_ids'");
    if (ids->type != VKFT_JSON_ARRAY)
        return data_err_at(err, w, ids->col, "key 'input_ids': expected an array, got %s",
                           vkft_json_type_name(ids->type));
    if (ids->len == 0) return data_err_at(err, w, ids->col, "key 'input_ids' is empty");
    if (labels && labels->type == VKFT_JSON_NULL) labels = NULL;
    if (labels && labels->type != VKFT_JSON_ARRAY)
        return data_err_at(err, w, labels->col, "key 'labels': expected an array, got %s",
                           vkft_json_type_name(labels->type));
    if (labels && labels->len != ids->len)
        return data_err_at(err, w, labels->col, "key 'labels' has %zu entries, 'input_ids' %zu",
                           labels->len, ids->len);
    size_t n = ids->len;
    e->full.n = 0;
    vkft_status st;
    for (size_t i = 0; i < n; i++) {
        int32_t id;
        if ((st = check_id(&ids->items[i], "input_ids", i, vocab, false, w, &id, err)) ||
            (st = vkft_ids_push(&e->full, id, err)))
            return st;
    }
    if (n > e->cap) {
        int32_t *l = realloc(e->labels, n * sizeof *l);
        if (!l) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        e->labels = l;
        float *wt = realloc(e->weights, n * sizeof *wt);
        if (!wt) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        e->weights = wt;
        e->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        e->labels[i] = e->full.v[i];
        if (labels && (st = check_id(&labels->items[i], "labels", i, vocab, true, w,
                                     &e->labels[i], err)))
            return st;
        e->weights[i] = e->labels[i] == VKFT_IGNORE_INDEX ? 0.0f : 1.0f;
    }
    return data_store_add(s, e->full.v, e->labels, e->weights, (int64_t)n, err);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* Reads one source into its store. */
static vkft_status load_source(vkft_dataset *d, data_source *src, const vkft_tokenizer *tok,
                               vkft_err *err)
{
    char *text = NULL;
    size_t len = 0;
    vkft_status st = vkft_file_read(src->path, &text, &len, err);
    if (st) return st;
    src->stats.content_hash = data_hash_bytes(text, len);
    data_encoder enc = {.tok = tok, .eos_id = d->eos_id};
    data_render r = {0};
    vkft_chat_template tmpl = data_chat_resolve(d->opt.chat_template, tok);
    data_where w = {.path = src->path, .line = 0};
    for (size_t at = 0; at < len && !st;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + 1;
        w.line++;
        if (blank(line, n)) continue;
        vkft_json_doc *doc = NULL;
        if ((st = parse_line(line, n, w, &doc, err))) break;
        const vkft_json *obj = vkft_json_root(doc);
        int64_t before = src->store.n_tokens;
        if (obj->type != VKFT_JSON_OBJECT) {
            st = data_err_at(err, w, obj->col, "expected a JSON object, got %s",
                             vkft_json_type_name(obj->type));
        } else if (src->format == VKFT_DATA_AUTO &&
                   (src->format = data_format_detect(obj)) == VKFT_DATA_AUTO) {
            st = data_err_at(err, w, obj->col, "cannot tell the format from the keys (expected "
                             "input_ids, messages, instruction+output, prompt+completion or "
                             "text); set the dataset's format");
        } else if (src->format == VKFT_DATA_TOKENS) {
            st = add_tokens(obj, d->vocab, w, &enc, &src->store, err);
        } else if (!tok) {
            st = data_err_at(err, w, obj->col, "format %s needs a tokenizer",
                             vkft_data_format_name(src->format));
        } else if (!(st = data_format_render(obj, src->format, tmpl, tok, &r, w, err))) {
            st = data_encode(&enc, &r, src->prompt_w, &src->store, err);
            if (st) st = vkft_err_prefix(err, st, "%s:%lld", w.path, (long long)w.line);
        }
        vkft_json_free(doc);
        if (!st && src->store.n_tokens == before)
            st = data_err_at(err, w, 1, "the example has no tokens (empty text and no BOS/EOS)");
        if (st) break;
        /* ids from a tokenizer larger than the model's vocabulary */
        for (int64_t t = before; t < src->store.n_tokens && !st; t++)
            if (src->store.ids[t] >= d->vocab)
                st = data_err_at(err, w, 1, "token id %d from the tokenizer is outside the "
                                 "vocabulary [0, %d)", src->store.ids[t], (int)d->vocab);
    }
    data_render_free(&r);
    data_encoder_free(&enc);
    free(text);
    if (st) return st;
    if (src->store.n_examples == 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: no examples (empty file or only "
                            "blank lines)", src->path);
    vkft_data_stats *s = &src->stats;
    s->examples = src->store.n_examples;
    s->tokens = src->store.n_tokens;
    for (int64_t j = 0; j < s->examples; j++) {
        int64_t n = src->store.off[j + 1] - src->store.off[j];
        if (n > s->longest) s->longest = n;
        if (n > d->opt.seq_len && !d->opt.packing) s->truncated++;
    }
    for (int64_t t = 0; t < s->tokens; t++) s->target_tokens += src->store.weights[t] > 0.0f;
    return VKFT_OK;
}

static vkft_status check_options(const vkft_data_source *src, int n,
                                 const vkft_data_options *o, const vkft_tokenizer *tok,
                                 vkft_err *err)
{
    if (!src || !o || n < 1 || n > VKFT_DATA_MAX_SOURCES)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: need 1..%d sources, got %d",
                            VKFT_DATA_MAX_SOURCES, n);
    if (o->seq_len < 2 || o->seq_len > INT32_MAX)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: seq_len %lld must be in "
                            "[2, 2^31)", (long long)o->seq_len);
    if (!(o->prompt_loss_weight >= 0.0f) || !isfinite(o->prompt_loss_weight))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: prompt_loss_weight %g must be "
                            ">= 0", (double)o->prompt_loss_weight);
    if (!(o->mix_temperature > 0.0f) || !isfinite(o->mix_temperature))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: mix_temperature %g must be "
                            "> 0", (double)o->mix_temperature);
    if ((unsigned)o->chat_template >= VKFT_CHAT_TEMPLATE_COUNT)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: unknown chat template %d",
                            (int)o->chat_template);
    if (!tok && o->vocab_size <= 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: without a tokenizer "
                            "vocab_size must be set");
    for (int i = 0; i < n; i++) {
        if (!src[i].path)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets[%d]: no path", i);
        if ((unsigned)src[i].format >= VKFT_DATA_FORMAT_COUNT)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: unknown format %d", src[i].path,
                                (int)src[i].format);
        if (!(src[i].weight >= 0.0f) || !isfinite(src[i].weight))
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: weight %g must be >= 0",
                                src[i].path, (double)src[i].weight);
        if (isnan(src[i].prompt_loss_weight) || isinf(src[i].prompt_loss_weight))
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: prompt_loss_weight is not "
                                "finite", src[i].path);
        if (!tok && src[i].format != VKFT_DATA_TOKENS && src[i].format != VKFT_DATA_AUTO)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: format %s needs a tokenizer",
                                src[i].path, vkft_data_format_name(src[i].format));
    }
    return VKFT_OK;
}

vkft_status vkft_dataset_open(const vkft_data_source *src, int n, const vkft_data_options *o,
                              const vkft_tokenizer *tok, vkft_dataset **out, vkft_err *err)
{
    if (!out) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: no output handle");
    *out = NULL;
    vkft_status st = check_options(src, n, o, tok, err);
    if (st) return st;
    vkft_dataset *d = calloc(1, sizeof *d);
    if (!d || !(d->src = calloc((size_t)n, sizeof *d->src))) {
        free(d);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "datasets: out of memory");
    }
    d->opt = *o;
    d->n = n;
    d->vocab = o->vocab_size > 0 ? o->vocab_size : vkft_tokenizer_vocab_size(tok);
    d->eos_id = tok ? vkft_tokenizer_eos_id(tok) : -1;
    d->pad_id = o->pad_id >= 0 ? o->pad_id : d->eos_id >= 0 ? d->eos_id : 0;
    if (d->pad_id >= d->vocab)
        st = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: pad id %d is outside the "
                          "vocabulary [0, %d)", (int)d->pad_id, (int)d->vocab);
    if (!st && d->eos_id >= d->vocab)
        st = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: the tokenizer's EOS id %d is "
                          "outside the vocabulary [0, %d)", (int)d->eos_id, (int)d->vocab);
    for (int i = 0; i < n && !st; i++) {
        data_source *s = &d->src[i];
        s->path = dup_str(src[i].path);
        s->task = src[i].task ? dup_str(src[i].task) : task_from_path(src[i].path);
        if (!s->path || !s->task) {
            st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "datasets: out of memory");
            break;
        }
        s->format = src[i].format;
        s->weight = src[i].weight;
        s->prompt_w = src[i].prompt_loss_weight >= 0.0f ? src[i].prompt_loss_weight
                                                         : o->prompt_loss_weight;
        st = load_source(d, s, tok, err);
    }
    if (!st) st = data_order_init(d, err);
    if (st) {
        vkft_dataset_free(d);
        return st;
    }
    *out = d;
    return VKFT_OK;
}

void vkft_dataset_free(vkft_dataset *d)
{
    if (!d) return;
    for (int i = 0; i < d->n && d->src; i++) {
        free(d->src[i].path);
        free(d->src[i].task);
        free(d->src[i].perm);
        data_store_free(&d->src[i].store);
    }
    free(d->src);
    free(d->cum);
    free(d);
}

int vkft_dataset_count(const vkft_dataset *d)
{
    return d ? d->n : 0;
}

const char *vkft_dataset_task(const vkft_dataset *d, int i)
{
    return d && i >= 0 && i < d->n ? d->src[i].task : NULL;
}

bool vkft_dataset_example(const vkft_dataset *d, int i, int64_t j, const int32_t **ids,
                          const int32_t **labels, const float **weights, int64_t *n)
{
    if (!d || i < 0 || i >= d->n || j < 0 || j >= d->src[i].store.n_examples) return false;
    const data_store *s = &d->src[i].store;
    int64_t o = s->off[j];
    if (ids) *ids = s->ids + o;
    if (labels) *labels = s->labels + o;
    if (weights) *weights = s->weights + o;
    if (n) *n = s->off[j + 1] - o;
    return true;
}
