/*
 * `vkft bench train`: training throughput of a Llama-shaped model through the trainer, the
 * way `vkft run` trains (figures to read, never asserted).
 *   vkft bench train [--device D] [--method lora|full|both|all|<kind>] [--steps N] [--warmup N]
 *                    [--hidden H] [--layers L] [--heads N] [--kv-heads K] [--ffn F]
 *                    [--vocab V] [--seq T] [--batch B] [--rank R] [--alpha A]
 *                    [--model DIR] [--profile] [--json]
 * Defaults: hidden 512, 8 layers, 8 heads (8 KV heads), ffn 1376, vocab 32000, seq 256,
 * batch 4; LoRA r 16 (alpha 32, dropout 0) on all-linear (every decoder linear, not lm_head);
 * AdamW (no weight decay) with clip 1.0 and a constant lr; 2 warm-up steps, 5 timed ones.
 *
 * A temporary folder holds the model (vkft_model_init_random, f32, unless --model names one:
 * an existing model folder is used as it is, otherwise one is made there and kept), a tokens
 * JSONL of random ids (one full row of seq ids per example, so every position is real) and the
 * trainer's output; it is removed at the end. The job is built in memory
 * (vkft_job_load_string) and trained by vkft_trainer_run for warmup + steps + 1 steps, stopped
 * (opts.stop) after warmup + steps, so only a checkpoint is written and no final model; the
 * step times come from the on_step callback, i.e. data, uploads, forward, backward and AdamW.
 *
 * Reported per method: tokens/s (batch · seq positions per wall second over the timed steps),
 * ms/step (mean, median, best), memory (the plan's report total: weights, trainables,
 * gradients, AdamW moments, activation arena, workspace), the process's peak RSS (getrusage
 * at the last timed step, before the checkpoint is written; methods run in one process, lora
 * first, so full's peak includes lora's) and the nominal flop rate: tokens · (4 · frozen +
 * 6 · trainable params) per second (the trainer's formula; attention's T² terms are not
 * counted). tools/bench_train_torch.py prints the same figures for PyTorch on the CPU.
 *
 * --profile builds the trainer's graph itself (model + method + backward + AdamW; the trainer
 * has no profiling switch), compiles it with vkft_compile_options.profile and prints the time
 * per op and phase (vkft_plan_profile: GPU timestamps on Vulkan, per-node wall time on the CPU)
 * averaged over the timed steps, instead of the figures above.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "job/job.h"
#include "model/model.h"
#include "train/method.h"
#include "train/trainer.h"
#include "util/file.h"
#include "util/rng.h"

typedef struct bt_args {
    const char *device, *method, *model_dir;
    int64_t steps, warmup, hidden, layers, heads, kv_heads, ffn, vocab, seq, batch, rank;
    double alpha;
    bool json, profile, shape_given;
} bt_args;

typedef struct bt_result {
    const char *method;
    vkft_trainer_info info;
    double setup_s, mean_ms, median_ms, best_ms, tokens_per_s, gflops, loss;
    long max_rss_kib;
} bt_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The job's method section of each benchmarked kind (%lld = rank, %g = alpha where used):
 * LoRA and QLoRA on every linear layer but the head, the other methods with PEFT's / the
 * schema's usual settings. */
static const struct { const char *name, *yaml; } bench_methods[] = {
    {"lora", "{kind: lora, r: %lld, alpha: %g, dropout: 0.0, targets: all-linear}"},
    {"full", "{kind: full}"},
    {"qlora", "{kind: qlora, r: %lld, alpha: %g, dropout: 0.0, targets: all-linear}"},
    {"ia3", "{kind: ia3, targets: [k_proj, v_proj, down_proj], feedforward: [down_proj]}"},
    {"adapter", "{kind: adapter, placement: houlsby, reduction_factor: 16}"},
    {"prefix", "{kind: prefix, num_virtual_tokens: 16}"},
    {"prompt", "{kind: prompt, num_virtual_tokens: 16}"},
    {"bitfit", "{kind: bitfit, include_norms: true}"},
};
#define N_BENCH_METHODS ((int)(sizeof bench_methods / sizeof bench_methods[0]))

static const char *method_yaml(const char *name) {
    for (int i = 0; i < N_BENCH_METHODS; i++)
        if (!strcmp(bench_methods[i].name, name)) return bench_methods[i].yaml;
    return NULL;
}

static void usage(FILE *f) {
    fprintf(f, "usage: vkft bench train [--device D] [--method lora|full|both|all|qlora|ia3|"
               "adapter|prefix|prompt|bitfit] [--steps N]\n"
               "         [--warmup N] [--hidden H] [--layers L] [--heads N] [--kv-heads K]\n"
               "         [--ffn F] [--vocab V] [--seq T] [--batch B] [--rank R] [--alpha A]\n"
               "         [--model DIR] [--profile] [--json]\n");
}

static bool parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "vkft bench train: %s: expected an integer in [%lld, %lld], got '%s'\n",
                flag, (long long)lo, (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

/* Returns 0, 1 (help printed) or 2 (bad arguments, message printed). */
static int parse_args(int argc, char **argv, bt_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) return 1;
        if (!strcmp(f, "--json") || !strcmp(f, "--profile")) {
            *(f[2] == 'j' ? &a->json : &a->profile) = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vkft bench train: %s needs a value\n", f);
            return 2;
        }
        i++;
        bool ok = true, shape = true;
        if (!strcmp(f, "--device")) a->device = v, shape = false;
        else if (!strcmp(f, "--method")) a->method = v, shape = false;
        else if (!strcmp(f, "--model")) a->model_dir = v, shape = false;
        else if (!strcmp(f, "--steps")) ok = parse_i64(f, v, 1, 100000, &a->steps), shape = false;
        else if (!strcmp(f, "--warmup"))
            ok = parse_i64(f, v, 0, 100000, &a->warmup), shape = false;
        else if (!strcmp(f, "--rank")) ok = parse_i64(f, v, 1, 4096, &a->rank), shape = false;
        else if (!strcmp(f, "--alpha")) {
            char *end;
            a->alpha = strtod(v, &end);
            ok = *end == '\0' && end != v && a->alpha > 0;
            if (!ok) fprintf(stderr, "vkft bench train: --alpha: expected a number > 0\n");
            shape = false;
        }
        else if (!strcmp(f, "--hidden")) ok = parse_i64(f, v, 2, 1 << 16, &a->hidden);
        else if (!strcmp(f, "--layers")) ok = parse_i64(f, v, 1, 1024, &a->layers);
        else if (!strcmp(f, "--heads")) ok = parse_i64(f, v, 1, 1024, &a->heads);
        else if (!strcmp(f, "--kv-heads")) ok = parse_i64(f, v, 1, 1024, &a->kv_heads);
        else if (!strcmp(f, "--ffn")) ok = parse_i64(f, v, 1, 1 << 20, &a->ffn);
        else if (!strcmp(f, "--vocab")) ok = parse_i64(f, v, 2, 1 << 24, &a->vocab);
        else if (!strcmp(f, "--seq")) ok = parse_i64(f, v, 2, 1 << 20, &a->seq);
        else if (!strcmp(f, "--batch")) ok = parse_i64(f, v, 1, 1 << 16, &a->batch);
        else {
            fprintf(stderr, "vkft bench train: unknown option '%s'\n", f);
            return 2;
        }
        if (!ok) return 2;
        /* --seq and --batch shape the job, not the model */
        if (shape && strcmp(f, "--seq") && strcmp(f, "--batch")) a->shape_given = true;
    }
    if (strcmp(a->method, "both") && strcmp(a->method, "all") && !method_yaml(a->method)) {
        fprintf(stderr, "vkft bench train: --method must be both, all, or one of lora, full, "
                "qlora, ia3, adapter, prefix, prompt, bitfit\n");
        return 2;
    }
    if (a->profile && strcmp(a->method, "both") && strcmp(a->method, "lora") &&
        strcmp(a->method, "full")) {
        fprintf(stderr, "vkft bench train: --profile takes --method lora, full or both\n");
        return 2;
    }
    if (!a->kv_heads) a->kv_heads = a->heads;
    if (a->hidden % a->heads || a->heads % a->kv_heads) {
        fprintf(stderr, "vkft bench train: --heads must divide --hidden and --kv-heads must "
                        "divide --heads\n");
        return 2;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) && errno != ENOENT)
        fprintf(stderr, "vkft bench train: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* The model folder: an existing --model is used as it is; otherwise a random model of the
 * requested shape is written (into --model, or dir/model). */
static vkft_status prepare_model(const bt_args *a, const char *dir, char **model,
                                 vkft_model_config *cfg, vkft_err *err) {
    *model = a->model_dir ? strdup(a->model_dir) : vkft_path_join(dir, "model");
    if (!*model) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    char *cfg_path = vkft_path_join(*model, "config.json");
    if (!cfg_path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    bool exists = vkft_is_file(cfg_path);
    free(cfg_path);
    if (exists) {
        if (a->shape_given)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "--model %s already holds a model: "
                                "its config.json sets the shape (drop --hidden, --layers, ...)",
                                *model);
        return vkft_model_config_load(*model, cfg, err);
    }
    vkft_model_config_default(cfg, VKFT_ARCH_LLAMA);
    cfg->hidden = a->hidden;
    cfg->layers = a->layers;
    cfg->heads = a->heads;
    cfg->kv_heads = a->kv_heads;
    cfg->head_dim = a->heads > 0 ? a->hidden / a->heads : 0;
    cfg->ffn = a->ffn;
    cfg->vocab = a->vocab;
    cfg->max_positions = a->seq;
    vkft_status st = vkft_model_config_validate(cfg, err);
    return st ? st : vkft_model_init_random(cfg, 0, *model, err);
}

/* rows examples of seq random ids in [0, vocab) as tokens-format JSONL. */
static vkft_status write_data(const char *path, int64_t rows, int64_t seq, int64_t vocab,
                              vkft_err *err) {
    FILE *f = fopen(path, "w");
    if (!f) return vkft_err_set(err, VKFT_ERR_IO, "%s: %s", path, strerror(errno));
    vkft_rng r;
    vkft_rng_init(&r, 1);
    for (int64_t i = 0; i < rows; i++) {
        fputs("{\"input_ids\": [", f);
        for (int64_t t = 0; t < seq; t++)
            fprintf(f, "%s%u", t ? ", " : "", vkft_rng_below(&r, (uint32_t)vocab));
        fputs("]}\n", f);
    }
    if (ferror(f) | fclose(f))
        return vkft_err_set(err, VKFT_ERR_IO, "%s: write failed", path);
    return VKFT_OK;
}

typedef struct bt_clock {
    double last;            /* end of the previous step (or the run's start) */
    double *ms;             /* per-step wall times, warm-up included */
    int64_t n, stop_after;
    double loss;
    long max_rss_kib;       /* peak RSS at the last timed step (before the checkpoint) */
    volatile sig_atomic_t stop;
} bt_clock;

static void on_step(void *user, const vkft_step_metrics *m) {
    bt_clock *c = user;
    double t = now_s();
    if (c->n < c->stop_after) c->ms[c->n++] = (t - c->last) * 1e3;
    c->last = t;
    c->loss = m->loss;
    if (m->step >= c->stop_after) {
        struct rusage ru;
        c->max_rss_kib = getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
        c->stop = 1;
    }
}

/* One method: job in memory, trainer create (timed as setup), run, figures. */
static vkft_status bench_method(const bt_args *a, vkft_context *ctx, const char *dir,
                                const char *model, const char *data, const char *method,
                                int64_t seq, bt_result *r, vkft_err *err) {
    char text[2048];
    char mtext[256];
    snprintf(mtext, sizeof mtext, method_yaml(method), (long long)a->rank, a->alpha);
    int n = snprintf(text, sizeof text,
                     "model: {path: '%s'}\ndevice: '%s'\nmethod: %s\n"
                     "data: {train: [{path: '%s', format: tokens}], seq_len: %lld, "
                     "shuffle: false}\n"
                     "train: {steps: %lld, batch: %lld, lr: 1.0e-4, clip: 1.0, seed: 0,\n"
                     "  optimizer: {kind: adamw, betas: [0.9, 0.999], eps: 1.0e-8, "
                     "weight_decay: 0.0},\n  schedule: {kind: constant}}\n"
                     "output: {dir: '%s/out-%s'}\n",
                     model, a->device, mtext, data, (long long)seq,
                     (long long)(a->warmup + a->steps + 1), (long long)a->batch, dir, method);
    if (n < 0 || (size_t)n >= sizeof text)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "paths too long for the job");
    vkft_job *job = NULL;
    vkft_status st = vkft_job_load_string(text, (size_t)n, "bench-train.yaml", NULL, NULL, 0,
                                          &job, err);
    bt_clock c = {.stop_after = a->warmup + a->steps};
    c.ms = calloc((size_t)c.stop_after, sizeof *c.ms);
    if (!st && !c.ms) st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_trainer_options o = {.on_step = on_step, .user = &c, .stop = &c.stop};
    vkft_trainer *t = NULL;
    double t0 = now_s();
    if (!st) st = vkft_trainer_create(job, ctx, &o, &t, err);
    if (!st) {
        r->setup_s = now_s() - t0;
        r->info = *vkft_trainer_get_info(t);
        c.last = now_s();
        st = vkft_trainer_run(t, err);
    }
    if (!st && c.n < c.stop_after)
        st = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "the trainer stopped after %lld steps",
                          (long long)c.n);
    if (!st) {
        double *timed = c.ms + a->warmup, sum = 0;
        for (int64_t i = 0; i < a->steps; i++) sum += timed[i];
        qsort(timed, (size_t)a->steps, sizeof *timed, cmp_double);
        r->method = method;
        r->mean_ms = sum / (double)a->steps;
        r->median_ms = timed[a->steps / 2];
        r->best_ms = timed[0];
        r->tokens_per_s = (double)r->info.tokens_per_step / (r->mean_ms * 1e-3);
        r->gflops = r->info.flops_per_step / (r->mean_ms * 1e-3) / 1e9;
        r->loss = c.loss;
        r->max_rss_kib = c.max_rss_kib;
    }
    vkft_trainer_free(t);
    vkft_job_free(job);
    free(c.ms);
    return st;
}

/* ---- --profile: the same training graph compiled with per-node timing ---- */

typedef struct bt_op_time {
    const char *op;
    int phase;
    double ms;
    int calls;
} bt_op_time;

static int cmp_op_time(const void *a, const void *b) {
    double x = ((const bt_op_time *)a)->ms, y = ((const bt_op_time *)b)->ms;
    return x > y ? -1 : x < y;
}

/* Adds the last run of phase to the per-op totals. */
static vkft_status profile_collect(vkft_plan *p, int phase, bt_op_time *ops, int *n_ops,
                                   int cap, vkft_err *err) {
    int n = vkft_plan_profile(p, phase, NULL, 0);
    vkft_profile_entry *e = n > 0 ? calloc((size_t)n, sizeof *e) : NULL;
    if (n < 0) return vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s", vkft_plan_error(p));
    if (n > 0 && !e) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_plan_profile(p, phase, e, n);
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < *n_ops && (ops[k].phase != phase || strcmp(ops[k].op, e[i].op))) k++;
        if (k == *n_ops && *n_ops < cap) ops[(*n_ops)++] = (bt_op_time){e[i].op, phase, 0, 0};
        if (k < *n_ops) {
            ops[k].ms += (double)e[i].ns / 1e6;
            ops[k].calls++;
        }
    }
    free(e);
    return VKFT_OK;
}

/* Builds what the trainer builds (model + method + backward + AdamW), compiles it with
 * profile, runs warmup + steps steps on random ids and prints the time per op and phase,
 * averaged over the timed steps. */
static vkft_status profile_method(const bt_args *a, vkft_context *ctx, const char *model,
                                  const vkft_model_config *cfg, const char *method,
                                  vkft_err *err) {
    vkft_job_method spec = {.kind = VKFT_METHOD_FULL};
    char all_linear[] = "all-linear", *targets[] = {all_linear};
    if (!strcmp(method, "lora"))
        spec = (vkft_job_method){.kind = VKFT_METHOD_LORA, .r = a->rank, .alpha = a->alpha,
                                 .targets = {targets, 1}, .all_linear = true};
    vkft_method *m = NULL;
    vkft_graph *g = NULL;
    vkft_model_built b = {0};
    vkft_device *dev = NULL;
    vkft_plan *p = NULL;
    vkft_st *st = NULL;
    size_t n = (size_t)(a->batch * a->seq);
    int32_t *ids = malloc(n * sizeof *ids), *labels = malloc(n * sizeof *labels);
    float *w = malloc(n * sizeof *w);
    enum { CAP = 64 };
    bt_op_time ops[CAP];
    int n_ops = 0;
    vkft_status rc = ids && labels && w ? VKFT_OK
                                         : vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_method_create(&spec, cfg, &m, err);
    if (!rc && vkft_graph_create(&g))
        rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_model_build_options bo;
    vkft_model_build_options_default(&bo);
    bo.batch = a->batch;
    bo.seq = a->seq;
    if (!rc) rc = vkft_model_build(cfg, g, &bo, vkft_method_hooks(m), &b, err);
    if (!rc) rc = vkft_method_after_build(m, &b, err);
    vkft_value seed = rc ? VKFT_NONE
                         : vkft_graph_leaf(g, "loss_seed", VKFT_ROLE_INPUT, VKFT_F32, 1,
                                           (int64_t[]){1});
    vkft_optimizer_options oo = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .clip = 1.0f};
    if (!rc && (seed == VKFT_NONE || vkft_graph_backward(g, b.loss_sum, seed) ||
                vkft_graph_optimizer(g, &oo) < 0))
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s", vkft_graph_error(g));
    if (!rc && vkft_device_open(ctx, a->device, &dev))
        rc = vkft_err_set(err, VKFT_ERR_DEVICE, "device %s: %s", a->device,
                          vkft_context_error(ctx));
    vkft_compile_options co = {.profile = true};
    vkft_memory_report rep;
    if (!rc && vkft_compile(dev, g, &co, &rep, &p))
        rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_device_error(dev));
    if (!rc) rc = vkft_st_open(model, &st, err);
    if (!rc) rc = vkft_model_load_weights(&b, st, p, err);
    if (!rc) rc = vkft_method_load_weights(m, &b, st, p, err);
    if (!rc) rc = vkft_method_init_params(m, p, 0, err);
    vkft_rng r;
    vkft_rng_init(&r, 1);
    for (size_t i = 0; i < n && !rc; i++)
        ids[i] = (int32_t)vkft_rng_below(&r, (uint32_t)cfg->vocab);
    for (size_t i = 0; i < n && !rc; i++) {
        bool last = (int64_t)(i + 1) % a->seq == 0;     /* the label shift */
        labels[i] = last ? -100 : ids[i + 1];
        w[i] = last ? 0.0f : 1.0f;
    }
    float loss_seed = 1.0f / (float)(a->batch * (a->seq - 1));
    double step_ms = 0;
    for (int64_t it = 0; it < a->warmup + a->steps && !rc; it++) {
        float hyper[2] = {1e-4f, (float)(it + 1)};
        double t0 = now_s();
        if (vkft_plan_upload(p, "tokens", ids, n * sizeof *ids) ||
            vkft_plan_upload(p, "labels", labels, n * sizeof *labels) ||
            vkft_plan_upload(p, "loss_weights", w, n * sizeof *w) ||
            vkft_plan_upload(p, "loss_seed", &loss_seed, sizeof loss_seed) ||
            vkft_plan_run(p, 0) || vkft_plan_upload(p, "hyper", hyper, sizeof hyper) ||
            vkft_plan_run(p, 1))
            rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(p));
        if (rc || it < a->warmup) continue;
        step_ms += (now_s() - t0) * 1e3;
        for (int ph = 0; ph < 2 && !rc; ph++) rc = profile_collect(p, ph, ops, &n_ops, CAP, err);
    }
    if (!rc) {
        double total = 0;
        for (int i = 0; i < n_ops; i++) total += ops[i].ms;
        qsort(ops, (size_t)n_ops, sizeof *ops, cmp_op_time);
        printf("%s: %.1f ms/step (wall, profiled), per op and phase (0 = forward + backward, "
               "1 = clip + AdamW):\n", method, step_ms / (double)a->steps);
        for (int i = 0; i < n_ops; i++)
            printf("  %-22s phase %d %9.2f ms/step %5.1f%%  %5d calls/step\n", ops[i].op,
                   ops[i].phase, ops[i].ms / (double)a->steps, 100.0 * ops[i].ms / total,
                   (int)(ops[i].calls / a->steps));
    }
    vkft_st_close(st);
    vkft_plan_destroy(p);
    vkft_device_close(dev);
    vkft_model_built_free(&b);
    vkft_graph_destroy(g);
    vkft_method_free(m);
    free(ids);
    free(labels);
    free(w);
    return rc;
}

static void print_result(const bt_args *a, const vkft_model_config *cfg, int64_t seq,
                         const bt_result *r, bool first) {
    const vkft_memory_report *m = &r->info.memory;
    if (a->json) {
        printf("%s {\"impl\": \"vkft\", \"device\": \"%s\", \"device_name\": \"%s\", "
               "\"method\": \"%s\", \"hidden\": %lld, \"layers\": %lld, \"heads\": %lld, "
               "\"kv_heads\": %lld, \"ffn\": %lld, \"vocab\": %lld, \"seq\": %lld, "
               "\"batch\": %lld, \"rank\": %lld, \"steps\": %lld, \"params_total\": %lld, "
               "\"params_trainable\": %lld, \"tokens_per_s\": %.2f, \"ms_per_step\": %.3f, "
               "\"median_ms\": %.3f, \"best_ms\": %.3f, \"setup_s\": %.3f, "
               "\"memory_total_bytes\": %llu, \"activations_bytes\": %llu, "
               "\"max_rss_bytes\": %lld, \"gflops\": %.3f, \"loss\": %.6f}",
               first ? "[\n" : ",\n", a->device, r->info.device_name, r->method,
               (long long)cfg->hidden, (long long)cfg->layers, (long long)cfg->heads,
               (long long)cfg->kv_heads, (long long)cfg->ffn, (long long)cfg->vocab,
               (long long)seq, (long long)a->batch,
               (long long)(strcmp(r->method, "lora") ? 0 : a->rank), (long long)a->steps,
               (long long)r->info.params_total, (long long)r->info.params_trainable,
               r->tokens_per_s, r->mean_ms, r->median_ms, r->best_ms, r->setup_s,
               (unsigned long long)m->total, (unsigned long long)m->activations,
               r->max_rss_kib < 0 ? -1LL : (long long)r->max_rss_kib * 1024, r->gflops,
               r->loss);
        return;
    }
    if (first)
        printf("train: %lld layers, hidden %lld (%lld heads, %lld kv), ffn %lld, vocab %lld, "
               "seq %lld x batch %lld; %lld warm-up + %lld timed steps\n",
               (long long)cfg->layers, (long long)cfg->hidden, (long long)cfg->heads,
               (long long)cfg->kv_heads, (long long)cfg->ffn, (long long)cfg->vocab,
               (long long)seq, (long long)a->batch, (long long)a->warmup,
               (long long)a->steps);
    printf("  %-7s %9.1f tokens/s  %8.1f ms/step (median %.1f, best %.1f)  memory %.1f MiB "
           "(activations %.1f)  peak RSS %.0f MiB  %.1f GFLOPS  params %lld (%lld trainable)"
           "  setup %.1f s\n",
           r->method, r->tokens_per_s, r->mean_ms, r->median_ms, r->best_ms,
           (double)m->total / 1048576.0, (double)m->activations / 1048576.0,
           (double)r->max_rss_kib / 1024.0, r->gflops, (long long)r->info.params_total,
           (long long)r->info.params_trainable, r->setup_s);
}

int cmd_bench_train(int argc, char **argv) {
    bt_args a = {.device = "auto", .method = "both", .steps = 5, .warmup = 2, .hidden = 512,
                 .layers = 8, .heads = 8, .ffn = 1376, .vocab = 32000, .seq = 256, .batch = 4,
                 .rank = 16, .alpha = 32};
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/vkft-bench-train-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "vkft bench train: cannot make a folder in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return 1;
    }
    vkft_err err = {{0}};
    vkft_model_config cfg;
    char *model = NULL, *data = vkft_path_join(dir, "data.jsonl");
    vkft_status st = data ? prepare_model(&a, dir, &model, &cfg, &err)
                          : vkft_err_set(&err, VKFT_ERR_NO_MEMORY, "out of memory");
    int64_t seq = a.seq;
    /* enough rows that a batch never repeats one within a step */
    if (!st) st = write_data(data, 2 * a.batch, seq, cfg.vocab, &err);
    vkft_context *ctx = st ? NULL : cli_context_open();
    const char *methods[N_BENCH_METHODS];
    int n_methods = 0;
    for (int i = 0; i < N_BENCH_METHODS; i++)
        if (!strcmp(a.method, "all") || (!strcmp(a.method, "both") && i < 2) ||
            !strcmp(a.method, bench_methods[i].name))
            methods[n_methods++] = bench_methods[i].name;
    int rc = st ? 1 : ctx ? 0 : 1, printed = 0;
    for (int i = 0; a.profile && i < n_methods && !rc; i++)
        if ((st = profile_method(&a, ctx, model, &cfg, methods[i], &err))) rc = 1;
    for (int i = 0; !a.profile && i < n_methods && !rc; i++, printed++) {
        bt_result r = {0};
        if ((st = bench_method(&a, ctx, dir, model, data, methods[i], seq, &r, &err))) {
            rc = 1;
            break;
        }
        if (!a.json && i == 0) printf("device %s: %s\n", a.device, r.info.device_name);
        print_result(&a, &cfg, seq, &r, i == 0);
        fflush(stdout);
    }
    if (a.json && printed) printf("\n]\n");
    if (st) fprintf(stderr, "vkft bench train: %s\n", err.msg);
    vkft_context_destroy(ctx);
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
        fprintf(stderr, "vkft bench train: cannot remove %s: %s\n", dir, strerror(errno));
    free(model);
    free(data);
    return rc;
}
