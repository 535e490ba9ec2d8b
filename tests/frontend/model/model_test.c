/*
 * Model graphs vs PyTorch: for each fixture in tests/fixtures/model (tools/gen_model_fixtures.py:
 * Llama GQA, Llama 3.1 RoPE + tied head from bf16, Qwen2 biases from f16 with linear RoPE,
 * GPT-2 in the openai layout, GPT-2 untied), builds the training graph, loads the weights,
 * runs it on the CPU backend and on Vulkan, and compares logits, loss_sum and count with the
 * float64 reference. Then the method plumbing: per-layer attention prefixes and prepended
 * prompt embeddings through the hooks, again against the reference; frozen weights kept as
 * f16/bf16; and a deliberately wrong weight to prove the comparison can fail.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test_util.h"

typedef struct fixture {
    int B, T, V, L, P_attn, P_in, kv, D, H;
    int32_t *tokens, *labels;
    float *weights, *logits, loss_sum, count;
    float *prefix_k, *prefix_v, *logits_attn, *input_prefix, *logits_input;
    char dir[512];
} fixture;

static bool read_f32(FILE *f, float **out, size_t n) {
    *out = malloc(n * sizeof **out + 1);
    return *out && fread(*out, sizeof **out, n, f) == n;
}

static bool fixture_load(const char *name, fixture *fx) {
    memset(fx, 0, sizeof *fx);
    const char *root = getenv("VKFT_FIXTURES");
    snprintf(fx->dir, sizeof fx->dir, "%s/model/%s", root ? root : "tests/fixtures", name);
    char path[600];
    snprintf(path, sizeof path, "%s/expected.bin", fx->dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return false;
    }
    char magic[8];
    uint32_t version = 0;
    int32_t h[9];
    bool ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "VKFTMFX1", 8) &&
              fread(&version, 4, 1, f) == 1 && version == 2 && fread(h, 4, 9, f) == 9;
    if (!ok) {
        fprintf(stderr, "%s: bad magic or version (regenerate with tools/gen_model_fixtures.py)\n",
                path);
        fclose(f);
        return false;
    }
    fx->B = h[0], fx->T = h[1], fx->V = h[2], fx->L = h[3], fx->P_attn = h[4], fx->P_in = h[5];
    fx->kv = h[6], fx->D = h[7], fx->H = h[8];
    size_t n = (size_t)fx->B * fx->T, nl = n * (size_t)fx->V;
    size_t np = (size_t)fx->L * fx->P_attn * fx->kv * fx->D;
    fx->tokens = malloc(n * 4);
    fx->labels = malloc(n * 4);
    float ls[2];
    ok = fx->tokens && fx->labels && fread(fx->tokens, 4, n, f) == n &&
         fread(fx->labels, 4, n, f) == n && read_f32(f, &fx->weights, n) &&
         read_f32(f, &fx->logits, nl) && fread(ls, 4, 2, f) == 2 &&
         read_f32(f, &fx->prefix_k, np) && read_f32(f, &fx->prefix_v, np) &&
         read_f32(f, &fx->logits_attn, nl) &&
         read_f32(f, &fx->input_prefix, (size_t)fx->P_in * fx->H) &&
         read_f32(f, &fx->logits_input, nl);
    fx->loss_sum = ls[0];
    fx->count = ls[1];
    fclose(f);
    if (!ok) fprintf(stderr, "%s: truncated\n", path);
    return ok;
}

static void fixture_free(fixture *fx) {
    free(fx->tokens), free(fx->labels), free(fx->weights), free(fx->logits);
    free(fx->prefix_k), free(fx->prefix_v), free(fx->logits_attn), free(fx->input_prefix);
    free(fx->logits_input);
}

/* ---- hooks for the prefix methods: frozen leaves the test fills ---- */

typedef struct prefix_hooks {
    const fixture *fx;
    bool attn, input;
} prefix_hooks;

static vkft_status attn_prefix(void *user, vkft_graph *g, int layer, int64_t kv, int64_t d,
                               vkft_value *pk, vkft_value *pv, vkft_err *err) {
    const prefix_hooks *ph = user;
    char name[64];
    int64_t shape[3] = {ph->fx->P_attn, kv, d};
    snprintf(name, sizeof name, "test.prefix_k.%d", layer);
    *pk = vkft_graph_leaf(g, name, VKFT_ROLE_WEIGHT, VKFT_F32, 3, shape);
    snprintf(name, sizeof name, "test.prefix_v.%d", layer);
    *pv = vkft_graph_leaf(g, name, VKFT_ROLE_WEIGHT, VKFT_F32, 3, shape);
    if (*pk == VKFT_NONE || *pv == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s", vkft_graph_error(g));
    return VKFT_OK;
}

static vkft_status input_prefix(void *user, vkft_graph *g, int64_t hidden, vkft_value *p,
                                vkft_err *err) {
    const prefix_hooks *ph = user;
    *p = vkft_graph_leaf(g, "test.input_prefix", VKFT_ROLE_WEIGHT, VKFT_F32, 2,
                         (int64_t[]){ph->fx->P_in, hidden});
    if (*p == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s", vkft_graph_error(g));
    return VKFT_OK;
}

typedef enum { PLAIN, ATTN_PREFIX, INPUT_PREFIX } variant;

/* Builds, compiles, loads and runs one variant; fills logits (and loss/count for PLAIN).
 * corrupt: perturb one weight after loading (the failure-proving run). */
static bool run_model(vkft_device *dev, const fixture *fx, variant var, vkft_dtype frozen,
                      bool corrupt, float *logits, float *loss) {
    vkft_err err = {{0}};
    vkft_model_config cfg;
    vkft_st *st = NULL;
    vkft_graph *g = NULL;
    vkft_plan *plan = NULL;
    vkft_model_built m = {0};
    bool ok = false;
    if (vkft_model_config_load(fx->dir, &cfg, &err) || vkft_st_open(fx->dir, &st, &err)) {
        fprintf(stderr, "%s: %s\n", fx->dir, err.msg);
        goto done;
    }
    CHECK(vkft_graph_create(&g) == VKFT_OK);
    vkft_model_build_options o;
    vkft_model_build_options_default(&o);
    o.batch = fx->B;
    o.seq = fx->T;
    o.frozen_dtype = frozen;
    o.inference = var != PLAIN;
    prefix_hooks ph = {.fx = fx};
    vkft_model_hooks hooks = {.user = &ph};
    if (var == ATTN_PREFIX) hooks.attention_prefix = attn_prefix;
    if (var == INPUT_PREFIX) hooks.input_prefix = input_prefix;
    if (vkft_model_build(&cfg, g, &o, &hooks, &m, &err)) {
        fprintf(stderr, "%s: build: %s\n", fx->dir, err.msg);
        goto done;
    }
    if (var == PLAIN) CHECK(vkft_graph_keep(g, m.logits, "logits") == VKFT_OK);
    if (vkft_compile(dev, g, NULL, NULL, &plan)) {
        fprintf(stderr, "%s: compile: %s\n", fx->dir, vkft_device_error(dev));
        goto done;
    }
    if (vkft_model_load_weights(&m, st, plan, &err)) {
        fprintf(stderr, "%s: load: %s\n", fx->dir, err.msg);
        goto done;
    }
    size_t n = (size_t)fx->B * fx->T;
    CHECK(!vkft_plan_upload(plan, "tokens", fx->tokens, n * 4));
    if (var == PLAIN) {
        CHECK(!vkft_plan_upload(plan, "labels", fx->labels, n * 4));
        CHECK(!vkft_plan_upload(plan, "loss_weights", fx->weights, n * 4));
    }
    size_t np = (size_t)fx->P_attn * fx->kv * fx->D;
    for (int l = 0; var == ATTN_PREFIX && l < fx->L; l++) {
        char name[64];
        snprintf(name, sizeof name, "test.prefix_k.%d", l);
        CHECK(!vkft_plan_upload(plan, name, fx->prefix_k + l * np, np * 4));
        snprintf(name, sizeof name, "test.prefix_v.%d", l);
        CHECK(!vkft_plan_upload(plan, name, fx->prefix_v + l * np, np * 4));
    }
    if (var == INPUT_PREFIX)
        CHECK(!vkft_plan_upload(plan, "test.input_prefix", fx->input_prefix,
                                (size_t)fx->P_in * fx->H * 4));
    if (corrupt) {   /* add 0.5 to the first final-norm weight */
        const vkft_model_param *p = vkft_model_find_param(&m, cfg.arch == VKFT_ARCH_GPT2
                                                                  ? "transformer.ln_f.weight"
                                                                  : "model.norm.weight");
        float *w = malloc((size_t)cfg.hidden * 4);
        CHECK(p && w && !vkft_plan_download(plan, p->name, w, (size_t)cfg.hidden * 4));
        if (p && w) w[0] += 0.5f;
        CHECK(p && w && !vkft_plan_upload(plan, p->name, w, (size_t)cfg.hidden * 4));
        free(w);
    }
    if (vkft_plan_run(plan, 0)) {
        fprintf(stderr, "%s: run: %s\n", fx->dir, vkft_plan_error(plan));
        goto done;
    }
    CHECK(!vkft_plan_download(plan, "logits", logits, n * (size_t)fx->V * 4));
    if (var == PLAIN) {
        CHECK(!vkft_plan_download(plan, "loss_sum", &loss[0], 4));
        CHECK(!vkft_plan_download(plan, "count", &loss[1], 4));
    }
    ok = true;
done:
    if (!ok) test_failures++;
    vkft_plan_destroy(plan);
    vkft_graph_destroy(g);
    vkft_model_built_free(&m);
    vkft_st_close(st);
    return ok;
}

/*
 * Tolerances: the reference is float64 on the same stored weights, so the gap is vkft's f32
 * arithmetic (summation orders, expf/tanhf) through two layers, on logits of magnitude up to
 * ~30 (std-1 tied embeddings). Measured worst: 7e-6 absolute (CPU and lavapipe alike);
 * 1e-4 + 2e-5 relative leaves ~10x room, and the deliberate 0.5 perturbation of one norm weight
 * moves logits by ~0.2. Frozen f16/bf16 copies of f32 weights round every weight (bf16: 8 bits
 * of mantissa), hence the loose bounds there.
 */
static void check_case(test_env *env, const char *name) {
    fixture fx;
    if (!fixture_load(name, &fx)) {
        test_failures++;
        fixture_free(&fx);
        return;
    }
    size_t nl = (size_t)fx.B * fx.T * fx.V;
    float *lg = malloc(nl * 4);
    float loss[2] = {0, 0};
    vkft_device *devs[2] = {env->cpu, env->vk};
    for (int d = 0; d < 2 && lg; d++) {
        if (!devs[d]) continue;
        char what[160];
        const char *dn = d ? "vulkan" : "cpu";
        if (run_model(devs[d], &fx, PLAIN, VKFT_F32, false, lg, loss)) {
            snprintf(what, sizeof what, "%s %s: logits", name, dn);
            test_compare(what, lg, fx.logits, nl, 1e-4f, 2e-5f);
            snprintf(what, sizeof what, "%s %s: loss_sum", name, dn);
            test_compare(what, &loss[0], &fx.loss_sum, 1, 1e-4f, 2e-5f);
            snprintf(what, sizeof what, "%s %s: count", name, dn);
            test_compare(what, &loss[1], &fx.count, 1, 0.0f, 0.0f);
        }
        if (run_model(devs[d], &fx, ATTN_PREFIX, VKFT_F32, false, lg, NULL)) {
            snprintf(what, sizeof what, "%s %s: logits with attention prefixes", name, dn);
            test_compare(what, lg, fx.logits_attn, nl, 1e-4f, 2e-5f);
        }
        if (run_model(devs[d], &fx, INPUT_PREFIX, VKFT_F32, false, lg, NULL)) {
            snprintf(what, sizeof what, "%s %s: logits with prompt embeddings", name, dn);
            test_compare(what, lg, fx.logits_input, nl, 1e-4f, 2e-5f);
        }
    }
    fixture_free(&fx);
    free(lg);
}

/* Frozen f16 / bf16 weights on one model, and the failure-proving perturbation. */
static void check_dtypes_and_fault(test_env *env) {
    fixture fx;
    if (!fixture_load("llama_gqa", &fx)) {
        test_failures++;
        fixture_free(&fx);
        return;
    }
    size_t nl = (size_t)fx.B * fx.T * fx.V;
    float *lg = malloc(nl * 4), loss[2];
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    /* f16 keeps 11 significant bits, bf16 8: logits of magnitude ~5 move by ~1e-2 / 1e-1 */
    if (lg && run_model(dev, &fx, PLAIN, VKFT_F16, false, lg, loss))
        test_compare("llama_gqa: frozen f16 weights", lg, fx.logits, nl, 3e-2f, 1e-2f);
    if (lg && run_model(dev, &fx, PLAIN, VKFT_BF16, false, lg, loss))
        test_compare("llama_gqa: frozen bf16 weights", lg, fx.logits, nl, 2e-1f, 5e-2f);
    if (lg && run_model(env->cpu, &fx, PLAIN, VKFT_F32, true, lg, loss)) {
        fprintf(stderr, "(the next mismatch is expected: a perturbed weight)\n");
        int before = test_failures;
        bool same = test_compare("llama_gqa: perturbed norm weight", lg, fx.logits, nl, 1e-4f,
                                 2e-5f);
        test_failures = before;
        CHECK(!same);
    }
    fixture_free(&fx);
    free(lg);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    static const char *const cases[] = {"llama_gqa", "llama3_tied", "qwen2_bias", "gpt2",
                                        "gpt2_untied"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&env, cases[i]);
    check_dtypes_and_fault(&env);
    return test_finish(&env);
}
