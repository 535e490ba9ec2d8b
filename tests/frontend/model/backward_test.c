/*
 * Training graphs of whole models: with every parameter trainable, the gradients of loss_sum
 * match central finite differences at a few elements of different kinds (embedding row, norm,
 * q_proj / c_attn, bias), and compiling with gradient checkpointing at the per-layer marks
 * gives bit-identical gradients. Llama GQA and GPT-2 fixtures, on the CPU backend.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test_util.h"

typedef struct probe {
    const char *param;
    int64_t index;
} probe;

static const char *fixture_dir(const char *name) {
    static char buf[512];
    const char *root = getenv("VKFT_FIXTURES");
    snprintf(buf, sizeof buf, "%s/model/%s", root ? root : "tests/fixtures", name);
    return buf;
}

static vkft_role trainable(void *user, const char *name, vkft_model_param_kind kind) {
    (void)user, (void)name, (void)kind;
    return VKFT_ROLE_TRAINABLE;
}

enum { B = 2, T = 5 };

static vkft_plan *build(vkft_device *dev, const vkft_model_config *cfg, const vkft_st *st,
                        bool recompute, vkft_model_built *m) {
    vkft_graph *g = NULL;
    vkft_err err = {{0}};
    vkft_plan *plan = NULL;
    CHECK(!vkft_graph_create(&g));
    vkft_model_build_options o;
    vkft_model_build_options_default(&o);
    o.batch = B;
    o.seq = T;
    vkft_model_hooks h = {.param_role = trainable};
    vkft_status s = vkft_model_build(cfg, g, &o, &h, m, &err);
    if (!s && vkft_graph_backward(g, m->loss_sum, VKFT_NONE)) {
        fprintf(stderr, "backward: %s\n", vkft_graph_error(g));
        s = VKFT_ERR_INVALID_ARG;
    }
    vkft_compile_options co = {.recompute = recompute};
    if (!s && vkft_compile(dev, g, &co, NULL, &plan)) {
        fprintf(stderr, "compile: %s\n", vkft_device_error(dev));
        s = VKFT_ERR_DEVICE;
    }
    vkft_graph_destroy(g);
    if (!s && (s = vkft_model_load_weights(m, st, plan, &err))) fprintf(stderr, "%s\n", err.msg);
    if (!s) {
        int32_t tok[B * T], lab[B * T];
        float w[B * T];
        for (int i = 0; i < B * T; i++) {
            tok[i] = (int32_t)((i * 37 + 5) % cfg->vocab);
            lab[i] = i % T == T - 1 ? -100 : (int32_t)((i * 53 + 11) % cfg->vocab);
            w[i] = i < T ? 1.0f : 0.5f;
        }
        CHECK(!vkft_plan_upload(plan, "tokens", tok, sizeof tok));
        CHECK(!vkft_plan_upload(plan, "labels", lab, sizeof lab));
        CHECK(!vkft_plan_upload(plan, "loss_weights", w, sizeof w));
    }
    if (s) {
        test_failures++;
        vkft_plan_destroy(plan);
        return NULL;
    }
    return plan;
}

static float loss_of(vkft_plan *p) {
    float l = NAN;
    CHECK(!vkft_plan_run(p, 0) && !vkft_plan_download(p, "loss_sum", &l, 4));
    return l;
}

static size_t numel(const vkft_model_param *p) {
    size_t n = 1;
    for (int d = 0; d < p->ndim; d++) n *= (size_t)p->shape[d];
    return n;
}

static void check_model(test_env *env, const char *name, const probe *probes, int n_probes) {
    vkft_model_config cfg;
    vkft_st *st = NULL;
    vkft_err err = {{0}};
    if (vkft_model_config_load(fixture_dir(name), &cfg, &err) ||
        vkft_st_open(fixture_dir(name), &st, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        test_failures++;
        return;
    }
    vkft_model_built m = {0}, m2 = {0};
    vkft_plan *p = build(env->cpu, &cfg, st, false, &m);
    vkft_plan *p2 = build(env->cpu, &cfg, st, true, &m2);
    if (p && p2) {
        loss_of(p);   /* one run: grad:<name> holds d loss_sum / d param */
        loss_of(p2);
        for (int i = 0; i < m.n_params; i++) {
            const vkft_model_param *q = &m.params[i];
            if (q->kind == VKFT_PARAM_BUFFER) continue;
            size_t n = numel(q);
            float *a = malloc(n * 4), *b = malloc(n * 4);
            char gname[200];
            snprintf(gname, sizeof gname, "grad:%s", q->name);
            CHECK(a && b && !vkft_plan_download(p, gname, a, n * 4) &&
                  !vkft_plan_download(p2, gname, b, n * 4));
            if (a && b && memcmp(a, b, n * 4)) {
                fprintf(stderr, "%s: %s differs with recompute\n", name, gname);
                test_failures++;
            }
            free(a);
            free(b);
        }
        /* the analytic gradients first: every later run accumulates into grad:<name> */
        float grads[8] = {0};
        for (int k = 0; k < n_probes && k < 8; k++) {
            const vkft_model_param *q = vkft_model_find_param(&m, probes[k].param);
            float *g = q ? malloc(numel(q) * 4) : NULL;
            char gname[200];
            snprintf(gname, sizeof gname, "grad:%s", probes[k].param);
            CHECK(g && !vkft_plan_download(p, gname, g, numel(q) * 4));
            if (g) grads[k] = g[probes[k].index];
            free(g);
        }
        for (int k = 0; k < n_probes && k < 8; k++) {
            const vkft_model_param *q = vkft_model_find_param(&m, probes[k].param);
            if (!q) continue;
            size_t n = numel(q);
            float *w = malloc(n * 4);
            CHECK(w && !vkft_plan_download(p, q->name, w, n * 4));
            if (!w) continue;
            int64_t i = probes[k].index;
            const float eps = 1e-2f, w0 = w[i];
            w[i] = w0 + eps;
            CHECK(!vkft_plan_upload(p, q->name, w, n * 4));
            double lp = loss_of(p);
            w[i] = w0 - eps;
            CHECK(!vkft_plan_upload(p, q->name, w, n * 4));
            double lm = loss_of(p);
            w[i] = w0;
            CHECK(!vkft_plan_upload(p, q->name, w, n * 4));
            double fd = (lp - lm) / (2.0 * eps);
            /* f32 loss sums of ~50 with eps 1e-2: ~1e-3 noise, plus O(eps^2) curvature */
            if (fabs(fd - grads[k]) > 5e-3 + 3e-2 * fabs(fd)) {
                fprintf(stderr, "%s: d loss / d %s[%lld] = %g, finite differences %g\n", name,
                        q->name, (long long)i, grads[k], fd);
                test_failures++;
            }
            free(w);
        }
    }
    vkft_plan_destroy(p);
    vkft_plan_destroy(p2);
    vkft_model_built_free(&m);
    vkft_model_built_free(&m2);
    vkft_st_close(st);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    static const probe llama[] = {
        {"model.embed_tokens.weight", 5 * 32 + 3},   /* token 5 is in the batch */
        {"model.layers.0.input_layernorm.weight", 7},
        {"model.layers.1.self_attn.q_proj.weight", 100},
        {"model.layers.0.mlp.down_proj.weight", 333},
        {"model.norm.weight", 2},
        {"lm_head.weight", 11 * 32 + 4},             /* label 11 */
    };
    static const probe gpt2[] = {
        {"transformer.wpe.weight", 2 * 32 + 1},
        {"transformer.h.0.attn.c_attn.weight", 32 * 3 + 70},   /* a value column */
        {"transformer.h.1.attn.c_attn.bias", 40},              /* a key bias */
        {"transformer.h.0.mlp.c_fc.bias", 9},
        {"transformer.ln_f.bias", 30},
    };
    check_model(&env, "llama_gqa", llama, (int)(sizeof llama / sizeof llama[0]));
    check_model(&env, "gpt2", gpt2, (int)(sizeof gpt2 / sizeof gpt2[0]));
    return test_finish(&env);
}
