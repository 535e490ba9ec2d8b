/*
 * vkft bench: op benchmarks (figures to read, never asserted).
 *   vkft bench matmul --device D --m M --n N --k K [--dtype f32|f16|bf16] [--trans none|a|b]
 *                     [--iters N] [--json]
 *   vkft bench ops --device D [--iters N] [--json]
 *   vkft bench step --device D [--layers L] [--hidden H] [--heads N] [--kv-heads N] [--ffn F]
 *                   [--seq T] [--batch B] [--vocab V] [--recompute] [--iters N] [--json]
 * Each op runs once to warm up (pipelines, caches, first-touch pages), then --iters times; the
 * time of a run is the device's GPU time (vkft_device_last_run_ns) where it has timestamps, else
 * the wall clock around vkft_op_run. We print the median and the best run.
 * `bench ops` times the hot ops of a transformer step at typical shapes and skips ops the
 * library cannot run yet (VKFT_ERR_UNSUPPORTED), so it works on a partial build.
 * `bench step` times whole training steps of a transformer stack (tools/bench_step_graph.h:
 * RMSNorm, q/k/v/o, RoPE, GQA attention, SwiGLU MLP, LM head + cross-entropy, backward, AdamW)
 * compiled once and replayed: wall ms per step, dispatches per step (kernel calls on the CPU),
 * and the fixed cost per dispatch, from the same graph at tiny shapes (step time / dispatches).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tools/bench_step_graph.h"
#include "cli.h"

#define MAX_IO 8

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_u32(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* Random data in [-1, 1) for float tensors (16-bit ones from the same values), ids in
 * [0, id_range) for i32 ones. */
static int fill_random(vkft_tensor *t, int32_t id_range) {
    const vkft_desc *d = vkft_tensor_desc(t);
    size_t n = (size_t)vkft_desc_numel(d), bytes = vkft_desc_bytes(d);
    void *h = malloc(bytes ? bytes : 1);
    if (!h) return -1;
    for (size_t i = 0; i < n; i++) {
        float x = (float)rng_u32() / 2147483648.0f - 1.0f;
        uint32_t bits;
        memcpy(&bits, &x, 4);
        switch (d->dtype) {
        case VKFT_F32: ((float *)h)[i] = x; break;
        case VKFT_BF16: ((uint16_t *)h)[i] = (uint16_t)(bits >> 16); break;
        case VKFT_F16: /* sign, exponent 2^-2..2^0, random mantissa */
            ((uint16_t *)h)[i] = (uint16_t)((bits >> 31) << 15 | (13 + rng_u32() % 3) << 10 |
                                            (rng_u32() & 0x3ff));
            break;
        case VKFT_I32: ((int32_t *)h)[i] = (int32_t)(rng_u32() % (uint32_t)id_range); break;
        default: ((uint8_t *)h)[i] = (uint8_t)rng_u32(); break;
        }
    }
    vkft_status st = vkft_tensor_upload(t, h, bytes);
    free(h);
    return st == VKFT_OK ? 0 : -1;
}

/* One op to time: inputs by desc (ndim 0: absent optional input), its flop count for GFLOPS
 * (0: report time only). */
typedef struct bench_op {
    const char *label;
    vkft_op op;
    const void *params;
    int n_in, n_out;
    vkft_desc in[MAX_IO];
    int32_t id_range;               /* for i32 inputs */
    double flops;
    const float *hyper;             /* adamw: the hyper input's values */
} bench_op;

typedef struct bench_result {
    vkft_status status;
    char msg[512];
    double median_ns, best_ns;
} bench_result;

static void run_bench(vkft_device *dev, const bench_op *b, int iters, bench_result *r) {
    vkft_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0};
    vkft_desc in_d[MAX_IO], out_d[MAX_IO];
    const vkft_desc *in_p[MAX_IO];
    double *t = calloc((size_t)iters, sizeof(double));
    memset(r, 0, sizeof *r);
    memset(out_d, 0, sizeof out_d);
    for (int i = 0; i < b->n_in; i++) {
        in_d[i] = b->in[i];
        in_p[i] = b->in[i].ndim ? &in_d[i] : NULL;
    }
    r->status = t ? vkft_op_infer(b->op, b->params, in_p, b->n_in, out_d, b->n_out, r->msg,
                                  sizeof r->msg)
                  : VKFT_ERR_NO_MEMORY;
    for (int i = 0; i < b->n_in && !r->status; i++) {
        if (!in_p[i]) continue;
        r->status = vkft_tensor_create(dev, in_d[i].dtype, in_d[i].ndim, in_d[i].shape, &in[i]);
        if (!r->status && b->hyper && i == b->n_in - 1)
            r->status = vkft_tensor_upload(in[i], b->hyper, vkft_desc_bytes(&in_d[i]));
        else if (!r->status && fill_random(in[i], b->id_range))
            r->status = VKFT_ERR_NO_MEMORY;
        if (r->status) snprintf(r->msg, sizeof r->msg, "%s", vkft_device_error(dev));
    }
    for (int i = 0; i < b->n_out && !r->status; i++) {
        r->status = vkft_tensor_create(dev, out_d[i].dtype, out_d[i].ndim, out_d[i].shape,
                                       &out[i]);
        if (r->status) snprintf(r->msg, sizeof r->msg, "%s", vkft_device_error(dev));
    }
    for (int it = -1; it < iters && !r->status; it++) {  /* it == -1: warm-up */
        double t0 = now_ns();
        r->status = vkft_op_run(dev, b->op, b->params, in, b->n_in, out, b->n_out);
        double wall = now_ns() - t0;
        if (r->status) {
            snprintf(r->msg, sizeof r->msg, "%s", vkft_device_error(dev));
            break;
        }
        uint64_t gpu = vkft_device_last_run_ns(dev);
        if (it >= 0) t[it] = gpu ? (double)gpu : wall;
    }
    if (!r->status) {
        qsort(t, (size_t)iters, sizeof(double), cmp_double);
        r->median_ns = t[iters / 2];
        r->best_ns = t[0];
    }
    for (int i = 0; i < MAX_IO; i++) {
        vkft_tensor_destroy(in[i]);
        vkft_tensor_destroy(out[i]);
    }
    free(t);
}

typedef struct bench_args {
    const char *device, *dtype, *trans;
    int64_t m, n, k;
    int iters;
    bool json;
    bool recompute;
    step_graph_cfg step;
} bench_args;

/* The int option of `bench step` named o, or NULL. */
static int *step_option(step_graph_cfg *c, const char *o) {
    static const char *const names[] = {"--layers", "--hidden", "--heads", "--kv-heads",
                                        "--ffn", "--seq", "--batch", "--vocab"};
    int *fields[] = {&c->layers, &c->hidden, &c->heads, &c->kv_heads, &c->ffn, &c->seq,
                     &c->batch, &c->vocab};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(o, names[i])) return fields[i];
    return NULL;
}

static int parse_args(int argc, char **argv, bench_args *a) {
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        }
        if (!strcmp(o, "--recompute")) {
            a->recompute = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vkft bench: %s needs a value\n", o);
            return -1;
        }
        char *end = NULL;
        long long x = strtoll(v, &end, 10);
        bool num = end && *end == '\0' && x > 0;
        int *field = step_option(&a->step, o);
        if (!strcmp(o, "--device")) a->device = v;
        else if (!strcmp(o, "--dtype")) a->dtype = v;
        else if (!strcmp(o, "--trans")) a->trans = v;
        else if (!strcmp(o, "--m") && num) a->m = x;
        else if (!strcmp(o, "--n") && num) a->n = x;
        else if (!strcmp(o, "--k") && num) a->k = x;
        else if (!strcmp(o, "--iters") && num && x < 100000) a->iters = (int)x;
        else if (field && num && x < (1 << 20)) *field = (int)x;
        else {
            fprintf(stderr, "vkft bench: bad option or value: %s %s\n", o, v);
            return -1;
        }
        i++;
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: vkft bench matmul --device D --m M --n N --k K [--dtype f32|f16|bf16]\n"
               "                         [--trans none|a|b] [--iters N] [--json]\n"
               "       vkft bench ops --device D [--iters N] [--json]\n"
               "       vkft bench step --device D [--layers L] [--hidden H] [--heads N]\n"
               "                       [--kv-heads N] [--ffn F] [--seq T] [--batch B]\n"
               "                       [--vocab V] [--recompute] [--iters N] [--json]\n"
               "       vkft bench tokenize --model DIR|tokenizer.json [options]\n"
               "       vkft bench train --device D [options] (vkft bench train --help)\n");
}

static void print_result(const bench_args *a, const char *dev_name, const bench_op *b,
                         const bench_result *r, bool *first) {
    bool skipped = r->status == VKFT_ERR_UNSUPPORTED;
    double gflops = r->status || !b->flops ? 0 : b->flops / r->median_ns;
    if (a->json) {
        printf("%s  {\"op\": \"%s\", \"label\": \"%s\", \"device\": \"%s\", ", *first ? "" : ",\n",
               vkft_op_name(b->op), b->label, dev_name);
        if (r->status)
            printf("\"status\": \"%s\"}", skipped ? "skipped" : "error");
        else
            printf("\"median_ms\": %.4f, \"best_ms\": %.4f, \"gflops\": %.2f}",
                   r->median_ns / 1e6, r->best_ns / 1e6, gflops);
        *first = false;
        return;
    }
    if (r->status) {
        printf("%-34s %s: %s\n", b->label, skipped ? "skipped" : "error", r->msg);
        return;
    }
    printf("%-34s %10.3f ms %10.3f ms", b->label, r->median_ns / 1e6, r->best_ns / 1e6);
    if (gflops > 0) printf(" %10.2f GFLOPS", gflops);
    printf("\n");
}

static vkft_device *open_device(vkft_context *ctx, const char *spec) {
    vkft_device *dev = NULL;
    if (vkft_device_open(ctx, spec, &dev) != VKFT_OK) {
        fprintf(stderr, "vkft bench: cannot open device '%s': %s\n", spec,
                vkft_context_error(ctx));
        return NULL;
    }
    return dev;
}

#define D2(t, a, b) {.dtype = (t), .ndim = 2, .shape = {(a), (b)}}
#define D1(t, a) {.dtype = (t), .ndim = 1, .shape = {(a)}}

static int bench_matmul(const bench_args *a, vkft_device *dev, const char *dev_name) {
    vkft_dtype bt = VKFT_F32;
    if (!strcmp(a->dtype, "f16")) bt = VKFT_F16;
    else if (!strcmp(a->dtype, "bf16")) bt = VKFT_BF16;
    else if (strcmp(a->dtype, "f32")) {
        fprintf(stderr, "vkft bench: --dtype is f32, f16 or bf16\n");
        return 2;
    }
    if (!a->m || !a->n || !a->k || (strcmp(a->trans, "none") && strcmp(a->trans, "a") &&
                                    strcmp(a->trans, "b"))) {
        usage(stderr);
        return 2;
    }
    vkft_matmul_params mp = {.trans_a = !strcmp(a->trans, "a"), .trans_b = !strcmp(a->trans, "b"),
                             .alpha = 1};
    char label[96];
    snprintf(label, sizeof label, "matmul %lldx%lldx%lld %s trans=%s", (long long)a->m,
             (long long)a->n, (long long)a->k, a->dtype, a->trans);
    bench_op b = {.label = label, .op = VKFT_OP_MATMUL, .params = &mp, .n_in = 3, .n_out = 1,
                  .in = {mp.trans_a ? (vkft_desc)D2(VKFT_F32, a->k, a->m)
                                    : (vkft_desc)D2(VKFT_F32, a->m, a->k),
                         mp.trans_b ? (vkft_desc)D2(bt, a->n, a->k)
                                    : (vkft_desc)D2(bt, a->k, a->n)},
                  .flops = 2.0 * (double)a->m * (double)a->n * (double)a->k};
    bench_result r;
    run_bench(dev, &b, a->iters, &r);
    bool first = true;
    if (a->json) printf("[\n");
    print_result(a, dev_name, &b, &r, &first);
    if (a->json) printf("\n]\n");
    return r.status ? 1 : 0;
}

/* The hot ops of a transformer training step: T = 256 tokens, hidden 1024 (16 heads of 64),
 * MLP 2752, vocab 32000. */
static int bench_ops(const bench_args *a, vkft_device *dev, const char *dev_name) {
    enum { T = 256, H = 1024, NH = 16, HD = 64, F = 2752, V = 32000 };
    static const vkft_matmul_params lin = {.trans_b = true, .alpha = 1};
    static const vkft_norm_params norm = {.eps = 1e-5f};
    static const vkft_attention_params att = {.causal = true, .scale = 0.125f};
    static const vkft_cross_entropy_params ce = {.ignore_index = -100};
    static const vkft_adamw_params adamw = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                            .weight_decay = 0.01f};
    static const float hyper[4] = {1e-4f, 1, 1, 0};
    const bench_op ops[] = {
        {"matmul q_proj 256x1024x1024", VKFT_OP_MATMUL, &lin, 3, 1,
         {D2(VKFT_F32, T, H), D2(VKFT_F32, H, H)}, 0, 2.0 * T * H * H, NULL},
        {"matmul mlp up 256x2752x1024", VKFT_OP_MATMUL, &lin, 3, 1,
         {D2(VKFT_F32, T, H), D2(VKFT_F32, F, H)}, 0, 2.0 * T * F * H, NULL},
        {"matmul lm head 256x32000x1024", VKFT_OP_MATMUL, &lin, 3, 1,
         {D2(VKFT_F32, T, H), D2(VKFT_F32, V, H)}, 0, 2.0 * T * V * H, NULL},
        {"matmul lm head bf16 256x32000x1024", VKFT_OP_MATMUL, &lin, 3, 1,
         {D2(VKFT_F32, T, H), D2(VKFT_BF16, V, H)}, 0, 2.0 * T * V * H, NULL},
        {"add 256x1024", VKFT_OP_ADD, NULL, 2, 1, {D2(VKFT_F32, T, H), D2(VKFT_F32, T, H)}, 0,
         0, NULL},
        {"rmsnorm 256x1024", VKFT_OP_RMSNORM, &norm, 2, 2, {D2(VKFT_F32, T, H), D1(VKFT_F32, H)},
         0, 0, NULL},
        {"softmax 16x256x256", VKFT_OP_SOFTMAX, NULL, 1, 1,
         {{.dtype = VKFT_F32, .ndim = 3, .shape = {NH, T, T}}}, 0, 0, NULL},
        {"attention 1x256x16x64 causal", VKFT_OP_ATTENTION, &att, 6, 2,
         {{.dtype = VKFT_F32, .ndim = 4, .shape = {1, T, NH, HD}},
          {.dtype = VKFT_F32, .ndim = 4, .shape = {1, T, NH, HD}},
          {.dtype = VKFT_F32, .ndim = 4, .shape = {1, T, NH, HD}}},
         0, 2.0 * T * T * NH * HD, NULL},  /* QK^T and PV of the causal half: 2 x 2 x T^2/2 */
        {"cross_entropy 256x32000", VKFT_OP_CROSS_ENTROPY, &ce, 3, 3,
         {D2(VKFT_F32, T, V), D1(VKFT_I32, T)}, V, 0, NULL},
        {"adamw 1024x1024", VKFT_OP_ADAMW, &adamw, 5, 3,
         {D2(VKFT_F32, H, H), D2(VKFT_F32, H, H), D2(VKFT_F32, H, H), D2(VKFT_F32, H, H),
          D1(VKFT_F32, 4)}, 0, 0, hyper},
    };
    if (a->json) printf("[\n");
    else printf("%-34s %13s %13s\n", "op (device)", "median", "best");
    bool first = true;
    int failures = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        bench_result r;
        run_bench(dev, &ops[i], a->iters, &r);
        /* an op another part of the library has not implemented yet is skipped, not failed */
        if (r.status && strstr(r.msg, "not implemented")) r.status = VKFT_ERR_UNSUPPORTED;
        if (r.status && r.status != VKFT_ERR_UNSUPPORTED) failures++;
        print_result(a, dev_name, &ops[i], &r, &first);
    }
    if (a->json) printf("\n]\n");
    return failures ? 1 : 0;
}

/* `bench step`: one result per graph shape. */
typedef struct step_result {
    vkft_status status;
    char msg[512];
    double median_ms, best_ms;
    uint64_t dispatches, barriers;  /* per step, both phases (CPU: kernel calls, 0) */
    vkft_memory_report rep;
} step_result;

/* Compiles the stack once, then times iters steps (phase 0 + phase 1, wall clock) after one
 * warm-up step. */
static void run_step(vkft_device *dev, const step_graph_cfg *c, bool recompute, int iters,
                     step_result *r) {
    memset(r, 0, sizeof *r);
    r->status = VKFT_ERR_INVALID_ARG;
    vkft_graph *g = step_graph_build(c, r->msg, sizeof r->msg);
    double *t = calloc((size_t)iters, sizeof *t);
    vkft_plan *p = NULL;
    vkft_compile_options o = {.recompute = recompute};
    if (!g || !t) {
        if (!t) snprintf(r->msg, sizeof r->msg, "out of memory");
    } else if ((r->status = vkft_compile(dev, g, &o, &r->rep, &p))) {
        snprintf(r->msg, sizeof r->msg, "%s", vkft_device_error(dev));
    } else if (step_graph_init(p, g, c, 1, r->msg, sizeof r->msg)) {
        r->status = VKFT_ERR_INVALID_ARG;
    }
    for (int it = -1; it < iters && !r->status; it++) {  /* it == -1: warm-up */
        float hyper[2] = {1e-4f, (float)(it + 2)};
        double t0 = now_ns();
        r->status = vkft_plan_upload(p, "hyper", hyper, sizeof hyper);
        if (!r->status) r->status = vkft_plan_run(p, 0);
        if (!r->status) r->status = vkft_plan_run(p, 1);
        if (r->status) snprintf(r->msg, sizeof r->msg, "%s", vkft_plan_error(p));
        else if (it >= 0) t[it] = (now_ns() - t0) / 1e6;
    }
    if (!r->status) {
        vkft_plan_stats s;
        vkft_plan_get_stats(p, &s);
        r->dispatches = s.dispatches[0] + s.dispatches[1];
        r->barriers = s.barriers[0] + s.barriers[1];
        if (!r->dispatches) r->dispatches = (uint64_t)vkft_graph_node_count(g);
        qsort(t, (size_t)iters, sizeof *t, cmp_double);
        r->median_ms = t[iters / 2];
        r->best_ms = t[0];
    }
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
    free(t);
}

static int bench_step(const bench_args *a, vkft_device *dev, const char *dev_name) {
    step_graph_cfg c = a->step, tiny = c;
    c.optimizer = tiny.optimizer = true;
    c.checkpoint = tiny.checkpoint = a->recompute;
    /* the same graph at tiny shapes: its time is the fixed cost of the dispatches */
    tiny.hidden = 8;
    tiny.heads = 2;
    tiny.kv_heads = 1;
    tiny.ffn = 8;
    tiny.seq = 2;
    tiny.batch = 1;
    tiny.vocab = 8;
    step_result r, rt;
    run_step(dev, &c, a->recompute, a->iters, &r);
    if (!r.status) run_step(dev, &tiny, a->recompute, a->iters, &rt);
    if (r.status || rt.status) {
        fprintf(stderr, "vkft bench step: %s\n", r.status ? r.msg : rt.msg);
        return 1;
    }
    double per_dispatch_us = rt.median_ms * 1e3 / (double)rt.dispatches;
    if (a->json) {
        printf("{\"device\": \"%s\", \"layers\": %d, \"hidden\": %d, \"seq\": %d, "
               "\"batch\": %d, \"vocab\": %d, \"recompute\": %s, \"median_ms\": %.3f, "
               "\"best_ms\": %.3f, \"dispatches\": %llu, \"activations_bytes\": %llu, "
               "\"tiny_median_ms\": %.3f, \"tiny_dispatches\": %llu, "
               "\"per_dispatch_us\": %.2f}\n", dev_name, c.layers, c.hidden, c.seq, c.batch,
               c.vocab, a->recompute ? "true" : "false", r.median_ms, r.best_ms,
               (unsigned long long)r.dispatches, (unsigned long long)r.rep.activations,
               rt.median_ms, (unsigned long long)rt.dispatches, per_dispatch_us);
        return 0;
    }
    printf("step: %d layers, hidden %d (%d heads, %d kv), ffn %d, seq %d x batch %d, vocab %d%s\n",
           c.layers, c.hidden, c.heads, c.kv_heads, c.ffn, c.seq, c.batch, c.vocab,
           a->recompute ? ", recompute" : "");
    printf("  %.3f ms/step median, %.3f ms best (%d steps)\n", r.median_ms, r.best_ms, a->iters);
    printf("  %llu dispatches/step (%s), %llu barriers; memory %.1f MiB, activations %.1f MiB\n",
           (unsigned long long)r.dispatches,
           r.barriers ? "forward + backward + AdamW" : "CPU kernel calls",
           (unsigned long long)r.barriers, (double)r.rep.total / 1048576.0,
           (double)r.rep.activations / 1048576.0);
    printf("  tiny shapes: %.3f ms/step over %llu dispatches = %.2f us per dispatch\n",
           rt.median_ms, (unsigned long long)rt.dispatches, per_dispatch_us);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return cmd_bench_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "tokenize")) return cmd_bench_tokenize(argc - 1, argv + 1);
    if (argc < 2 ||
        (strcmp(argv[1], "matmul") && strcmp(argv[1], "ops") && strcmp(argv[1], "step"))) {
        usage(argc < 2 ? stderr : stdout);
        return argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? 0 : 2;
    }
    bench_args a = {.device = "auto", .dtype = "f32", .trans = "none", .iters = 5,
                    .step = {.layers = 4, .hidden = 256, .heads = 4, .kv_heads = 2, .ffn = 688,
                             .seq = 128, .batch = 1, .vocab = 4096}};
    if (parse_args(argc, argv, &a)) {
        usage(stderr);
        return 2;
    }
    vkft_context *ctx = cli_context_open();
    if (!ctx) return 1;
    vkft_device *dev = open_device(ctx, a.device);
    int rc = 1;
    if (dev) {
        const vkft_device_info *info = vkft_device_get_info(dev);
        if (!a.json) printf("device %s: %s\n", info->spec, info->name);
        rc = !strcmp(argv[1], "matmul") ? bench_matmul(&a, dev, info->spec)
             : !strcmp(argv[1], "ops")  ? bench_ops(&a, dev, info->spec)
                                        : bench_step(&a, dev, info->spec);
        vkft_device_close(dev);
    }
    vkft_context_destroy(ctx);
    return rc;
}
