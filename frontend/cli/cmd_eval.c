/*
 * `vkft eval --model DIR --data FILE.jsonl [--seq N] [--batch B] [--device D] [--json]`: mean
 * token loss and perplexity of the model on {"text": ...} lines. Each text is tokenized
 * (with the tokenizer's special tokens, as in training) and cut into windows of --seq
 * positions (default min(256, max positions)); every token after the first of its text is
 * predicted once, from at most --seq earlier tokens of its window.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model_open.h"
#include "util/file.h"
#include "util/json.h"

typedef struct evaluator {
    vkft_plan *plan;
    vkft_model_built m;
    int64_t B, T;
    int32_t *tokens, *labels;
    float *weights;
    int64_t rows;           /* rows filled in the current batch */
    double loss, count;
} evaluator;

static int flush(evaluator *e, vkft_err *err) {
    if (!e->rows) return 0;
    size_t n = (size_t)(e->B * e->T);
    for (size_t i = (size_t)(e->rows * e->T); i < n; i++) {   /* empty rows predict nothing */
        e->tokens[i] = 0;
        e->labels[i] = -100;
        e->weights[i] = 0;
    }
    float ls[2];
    if (vkft_plan_upload(e->plan, "tokens", e->tokens, n * 4) ||
        vkft_plan_upload(e->plan, "labels", e->labels, n * 4) ||
        vkft_plan_upload(e->plan, "loss_weights", e->weights, n * 4) ||
        vkft_plan_run(e->plan, 0) || vkft_plan_download(e->plan, "loss_sum", &ls[0], 4) ||
        vkft_plan_download(e->plan, "count", &ls[1], 4)) {
        vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(e->plan));
        return 1;
    }
    e->loss += ls[0];
    e->count += ls[1];
    e->rows = 0;
    return 0;
}

/* Adds the windows of one text's ids to the batch, running full batches. */
static int add_text(evaluator *e, const int32_t *ids, size_t n, vkft_err *err) {
    for (size_t start = 0; start + 1 < n; start += (size_t)e->T) {
        size_t row = (size_t)(e->rows * e->T);
        for (size_t t = 0; t < (size_t)e->T; t++) {
            size_t i = start + t;
            e->tokens[row + t] = i < n ? ids[i] : 0;
            e->labels[row + t] = i + 1 < n ? ids[i + 1] : -100;
            e->weights[row + t] = i + 1 < n ? 1.0f : 0.0f;
        }
        if (++e->rows == e->B && flush(e, err)) return 1;
    }
    return 0;
}

static int eval_file(evaluator *e, const cli_model *m, const char *path, vkft_err *err) {
    char *text = NULL;
    size_t len = 0;
    if (vkft_file_read(path, &text, &len, err)) return 1;
    int rc = 0, line = 0;
    vkft_ids ids = {0};
    for (char *p = text; p < text + len && !rc;) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        line++;
        char *next = nl ? nl + 1 : text + len;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == n) {
            p = next;
            continue;
        }
        char name[600];
        snprintf(name, sizeof name, "%s:%d", path, line);
        vkft_json_doc *doc = NULL;
        if (vkft_json_parse(p, n, name, &doc, err)) {
            rc = 1;
            break;
        }
        const vkft_json *t = vkft_json_get(vkft_json_root(doc), "text");
        if (!t || t->type != VKFT_JSON_STRING) {
            vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: expected an object with a \"text\" "
                         "string", name);
            rc = 1;
        } else {
            ids.n = 0;
            if (vkft_tokenizer_encode(m->tok, t->str, t->len, true, &ids, err)) {
                vkft_err_prefix(err, VKFT_ERR_INVALID_ARG, "%s", name);
                rc = 1;
            } else {
                rc = add_text(e, ids.v, ids.n, err);
            }
        }
        vkft_json_free(doc);
        p = next;
    }
    vkft_ids_free(&ids);
    free(text);
    return rc || flush(e, err);
}

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *device = NULL;
    long seq = 0, batch = 4;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: vkft eval --model DIR --data FILE.jsonl [--seq N] [--batch B] "
                   "[--device D] [--json]\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "vkft eval: %s needs a value\n", a);
            return 2;
        }
        i++;
        char *end = NULL;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--seq") || !strcmp(a, "--batch")) {
            errno = 0;
            long x = strtol(v, &end, 10);
            if (errno || *end || x < 1 || x > (1 << 20)) {
                fprintf(stderr, "vkft eval: %s: expected a positive integer, got '%s'\n", a, v);
                return 2;
            }
            *(!strcmp(a, "--seq") ? &seq : &batch) = x;
        } else {
            fprintf(stderr, "vkft eval: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!model || !data) {
        fprintf(stderr, "vkft eval: --model and --data are required\n");
        return 2;
    }
    cli_model m;
    if (cli_model_open("eval", model, device, &m)) return 1;
    evaluator e = {.B = batch};
    e.T = seq ? seq : m.cfg.max_positions < 256 ? m.cfg.max_positions : 256;
    vkft_err err = {{0}};
    vkft_graph *g = NULL;
    int rc = 1;
    vkft_model_build_options o;
    vkft_model_build_options_default(&o);
    o.batch = e.B;
    o.seq = e.T;
    o.frozen_dtype = vkft_model_config_file_dtype(&m.cfg);
    size_t n = (size_t)(e.B * e.T);
    e.tokens = malloc(n * 4);
    e.labels = malloc(n * 4);
    e.weights = malloc(n * 4);
    if (!e.tokens || !e.labels || !e.weights || vkft_graph_create(&g)) {
        fprintf(stderr, "vkft eval: out of memory\n");
        goto done;
    }
    if (vkft_model_build(&m.cfg, g, &o, NULL, &e.m, &err)) {
        fprintf(stderr, "vkft eval: %s\n", err.msg);
        goto done;
    }
    if (vkft_compile(m.dev, g, NULL, NULL, &e.plan)) {
        fprintf(stderr, "vkft eval: %s\n", vkft_device_error(m.dev));
        goto done;
    }
    if (vkft_model_load_weights(&e.m, m.st, e.plan, &err) || eval_file(&e, &m, data, &err)) {
        fprintf(stderr, "vkft eval: %s\n", err.msg);
        goto done;
    }
    if (e.count <= 0) {
        fprintf(stderr, "vkft eval: %s has no text to predict (each text needs 2+ tokens)\n",
                data);
        goto done;
    }
    double mean = e.loss / e.count;
    if (json)
        printf("{\"loss\": %.6f, \"perplexity\": %.6f, \"tokens\": %.0f}\n", mean, exp(mean),
               e.count);
    else
        printf("loss %.4f  perplexity %.3f  tokens %.0f\n", mean, exp(mean), e.count);
    rc = 0;
done:
    vkft_plan_destroy(e.plan);
    vkft_model_built_free(&e.m);
    vkft_graph_destroy(g);
    free(e.tokens);
    free(e.labels);
    free(e.weights);
    cli_model_close(&m);
    return rc;
}
