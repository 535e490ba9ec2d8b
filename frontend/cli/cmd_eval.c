/*
 * `vkft eval --model DIR [--adapter DIR] --data FILE.jsonl [--format F] [--seq N] [--batch B]
 *  [--packing] [--prompt-loss-weight W] [--device D] [--json]`: the mean token loss and
 * perplexity of a model (with a saved adapter on top) on a dataset, read exactly as training
 * reads it (frontend/data: the same formats, masks, truncation to --seq, shift), so the loss
 * of a job's eval data here equals the trainer's eval_loss. Defaults: format auto, seq
 * min(1024, max positions), batch 4, no packing (--packing cuts long texts into rows of --seq
 * tokens instead of truncating them).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data/data.h"
#include "model_open.h"
#include "train/method.h"

typedef struct eval_args {
    const char *model, *adapter, *data, *device;
    vkft_data_format format;
    long seq, batch;
    double prompt_loss_weight;
    bool packing, json;
} eval_args;

static int usage(void) {
    fprintf(stderr, "usage: vkft eval --model DIR [--adapter DIR] --data FILE.jsonl [--format "
            "auto|tokens|text|completion|alpaca|chat] [--seq N] [--batch B] [--packing] "
            "[--prompt-loss-weight W] [--device D] [--json]\n");
    return 2;
}

static int parse(int argc, char **argv, eval_args *a) {
    *a = (eval_args){.batch = 4};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--json")) { a->json = true; continue; }
        if (!strcmp(k, "--packing")) { a->packing = true; continue; }
        if (!v) return usage();
        i++;
        char *end = NULL;
        if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--adapter")) a->adapter = v;
        else if (!strcmp(k, "--data")) a->data = v;
        else if (!strcmp(k, "--device")) a->device = v;
        else if (!strcmp(k, "--format")) {
            if (!vkft_data_format_parse(v, &a->format)) {
                fprintf(stderr, "vkft eval: unknown --format '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(k, "--seq") || !strcmp(k, "--batch")) {
            long x = strtol(v, &end, 10);
            if (*end || x < (!strcmp(k, "--seq") ? 2 : 1) || x > 1 << 20) {
                fprintf(stderr, "vkft eval: %s must be a positive integer, got '%s'\n", k, v);
                return 2;
            }
            *(!strcmp(k, "--seq") ? &a->seq : &a->batch) = x;
        } else if (!strcmp(k, "--prompt-loss-weight")) {
            a->prompt_loss_weight = strtod(v, &end);
            if (*end || !(a->prompt_loss_weight >= 0 && a->prompt_loss_weight <= 1)) {
                fprintf(stderr, "vkft eval: --prompt-loss-weight must be in [0, 1]\n");
                return 2;
            }
        } else {
            return usage();
        }
    }
    return a->model && a->data ? 0 : usage();
}

int cmd_eval(int argc, char **argv) {
    eval_args a;
    int code = parse(argc, argv, &a);
    if (code) return code;
    cli_model m;
    if (cli_model_open("eval", a.model, a.device, &m)) return 1;
    vkft_err err = {{0}};
    vkft_method *method = NULL;
    vkft_dataset *ds = NULL;
    vkft_graph *g = NULL;
    vkft_plan *plan = NULL;
    vkft_model_built built = {0};
    int32_t *tokens = NULL, *labels = NULL, *task = NULL;
    float *weights = NULL;
    int64_t T = a.seq ? a.seq : (m.cfg.max_positions < 1024 ? m.cfg.max_positions : 1024);
    code = 1;
    vkft_data_source src = {.path = a.data, .format = a.format, .prompt_loss_weight = -1};
    vkft_data_options o;
    vkft_data_options_default(&o);
    o.seq_len = T;
    o.packing = a.packing;
    o.prompt_loss_weight = (float)a.prompt_loss_weight;
    o.vocab_size = (int32_t)m.cfg.vocab;
    vkft_model_build_options bo;
    vkft_model_build_options_default(&bo);
    bo.batch = a.batch;
    bo.seq = T;
    bo.frozen_dtype = vkft_model_config_file_dtype(&m.cfg);
    size_t n = (size_t)(a.batch * T);
    if (a.adapter && vkft_method_from_adapter(a.adapter, &m.cfg, &method, &err)) {
        fprintf(stderr, "vkft eval: %s\n", err.msg);
        goto done;
    }
    tokens = malloc(n * sizeof *tokens);
    labels = malloc(n * sizeof *labels);
    weights = malloc(n * sizeof *weights);
    task = malloc((size_t)a.batch * sizeof *task);
    if (!tokens || !labels || !weights || !task || vkft_graph_create(&g)) {
        fprintf(stderr, "vkft eval: out of memory\n");
        goto done;
    }
    if (vkft_model_build(&m.cfg, g, &bo, method ? vkft_method_hooks(method) : NULL, &built,
                         &err) ||
        (method && vkft_method_after_build(method, &built, &err))) {
        fprintf(stderr, "vkft eval: %s\n", err.msg);
        goto done;
    }
    o.first_target = built.prefix_tokens > 0;   /* prompt tuning: as the trainer reads rows */
    if (vkft_dataset_open(&src, 1, &o, m.tok, &ds, &err)) {
        fprintf(stderr, "vkft eval: %s\n", err.msg);
        goto done;
    }
    if (vkft_compile(m.dev, g, NULL, NULL, &plan)) {
        fprintf(stderr, "vkft eval: %s\n", vkft_device_error(m.dev));
        goto done;
    }
    if (vkft_model_load_weights(&built, m.st, plan, &err) ||
        (method && vkft_method_init_params(method, plan, 0, &err))) {
        fprintf(stderr, "vkft eval: %s\n", err.msg);
        goto done;
    }
    double sum = 0, count = 0;
    for (;;) {
        vkft_batch b = {.tokens = tokens, .labels = labels, .weights = weights, .task = task};
        bool finished = false;
        if (vkft_dataset_eval_next(ds, a.batch, &b, &finished, &err)) {
            fprintf(stderr, "vkft eval: %s\n", err.msg);
            goto done;
        }
        if (finished) break;
        float ls, c;
        if (vkft_plan_upload(plan, "tokens", tokens, n * sizeof *tokens) ||
            vkft_plan_upload(plan, "labels", labels, n * sizeof *labels) ||
            vkft_plan_upload(plan, "loss_weights", weights, n * sizeof *weights) ||
            vkft_plan_run(plan, 0) || vkft_plan_download(plan, "loss_sum", &ls, sizeof ls) ||
            vkft_plan_download(plan, "count", &c, sizeof c)) {
            fprintf(stderr, "vkft eval: %s\n", vkft_plan_error(plan));
            goto done;
        }
        sum += ls;
        count += c;
    }
    if (count <= 0) {
        fprintf(stderr, "vkft eval: %s has no token to predict\n", a.data);
        goto done;
    }
    double mean = sum / count;
    if (a.json)
        printf("{\"loss\": %.9g, \"perplexity\": %.9g, \"tokens\": %.0f}\n", mean, exp(mean),
               count);
    else
        printf("loss %.4f  perplexity %.3f  tokens %.0f\n", mean, exp(mean), count);
    code = 0;
done:
    vkft_plan_destroy(plan);
    vkft_model_built_free(&built);
    vkft_graph_destroy(g);
    vkft_method_free(method);
    vkft_dataset_free(ds);
    free(tokens);
    free(labels);
    free(weights);
    free(task);
    cli_model_close(&m);
    return code;
}
