/*
 * Parameters, sites and weights: the site list and parameter names/shapes of both
 * architectures; parameter counts equal the checkpoints' tensors; load errors name the
 * missing or misshapen tensor; save writes a Hugging Face folder that reads back bit-exact
 * (GPT-2 with "transformer." names, no tied head, no attn.bias); hooks see every site in
 * order and their failures propagate; random init is deterministic with the documented values.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "test_util.h"
#include "util/file.h"

static const char *fixture_dir(const char *name) {
    static char buf[4][512];
    static int k;
    const char *root = getenv("VKFT_FIXTURES");
    char *b = buf[k++ % 4];
    snprintf(b, 512, "%s/model/%s", root ? root : "tests/fixtures", name);
    return b;
}

static void load_cfg(const char *name, vkft_model_config *c) {
    vkft_err err = {{0}};
    if (vkft_model_config_load(fixture_dir(name), c, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
    }
}

static void test_sites(void) {
    vkft_model_config c;
    vkft_model_built m;
    vkft_err err = {{0}};
    load_cfg("llama_gqa", &c);
    CHECK(!vkft_model_describe(&c, NULL, &m, &err));
    CHECK(m.n_sites == 2 * 7 + 1);
    if (m.n_sites == 15) {
        const vkft_model_site *s = &m.sites[1];
        CHECK(!strcmp(s->path, "model.layers.0.self_attn.k_proj") && !strcmp(s->name, "k_proj"));
        CHECK(s->layer == 0 && s->in == 32 && s->out == 16 && !s->conv1d && !s->has_bias);
        s = &m.sites[13];
        CHECK(!strcmp(s->path, "model.layers.1.mlp.down_proj") && s->in == 48 && s->out == 32);
        s = &m.sites[14];
        CHECK(!strcmp(s->path, "lm_head") && s->layer == -1 && s->out == 96);
    }
    const vkft_model_param *p = vkft_model_find_param(&m, "model.layers.1.self_attn.v_proj.weight");
    CHECK(p && p->ndim == 2 && p->shape[0] == 16 && p->shape[1] == 32 && p->layer == 1 &&
          p->role == VKFT_ROLE_WEIGHT && p->kind == VKFT_PARAM_LINEAR_WEIGHT);
    CHECK(vkft_model_find_param(&m, "lm_head.weight") != NULL);
    vkft_model_built_free(&m);

    load_cfg("gpt2", &c);
    CHECK(!vkft_model_describe(&c, NULL, &m, &err));
    CHECK(m.n_sites == 2 * 4 + 1);
    if (m.n_sites == 9) {
        const vkft_model_site *s = &m.sites[0];
        CHECK(!strcmp(s->path, "transformer.h.0.attn.c_attn") && s->conv1d && s->has_bias &&
              s->in == 32 && s->out == 96);
        s = &m.sites[7];
        CHECK(!strcmp(s->path, "transformer.h.1.mlp.c_proj") && s->in == 128 && s->out == 32);
        CHECK(!strcmp(m.sites[8].path, "lm_head") && m.sites[8].weight != VKFT_NONE);
    }
    p = vkft_model_find_param(&m, "transformer.h.0.attn.c_attn.weight");
    CHECK(p && p->shape[0] == 32 && p->shape[1] == 96);   /* Conv1D: [in, out] */
    CHECK(vkft_model_find_param(&m, "lm_head.weight") == NULL);   /* tied */
    vkft_model_built_free(&m);
}

/* Parameter counts equal the checkpoint's tensors (attn.bias buffers aside). */
static void test_counts(void) {
    static const char *const cases[] = {"llama_gqa", "llama3_tied", "qwen2_bias", "gpt2",
                                        "gpt2_untied"};
    for (int i = 0; i < 5; i++) {
        vkft_model_config c;
        vkft_model_built m;
        vkft_err err = {{0}};
        vkft_st *st = NULL;
        load_cfg(cases[i], &c);
        CHECK(!vkft_model_describe(&c, NULL, &m, &err));
        CHECK(!vkft_st_open(fixture_dir(cases[i]), &st, &err));
        int64_t n = 0;
        for (int t = 0; st && t < vkft_st_count(st); t++) {
            const vkft_st_tensor *x = vkft_st_at(st, t);
            if (strstr(x->name, "attn.bias") && !strstr(x->name, "c_attn")) continue;
            int64_t e = 1;
            for (int d = 0; d < x->ndim; d++) e *= x->shape[d];
            n += e;
        }
        if (vkft_model_param_numel(&m) != n) {
            fprintf(stderr, "%s: %lld parameters, checkpoint has %lld\n", cases[i],
                    (long long)vkft_model_param_numel(&m), (long long)n);
            test_failures++;
        }
        vkft_st_close(st);
        vkft_model_built_free(&m);
    }
}

/* Builds cfg on dev (all trainable when trainable), compiles, loads from dir. */
static vkft_status load_model(vkft_device *dev, const vkft_model_config *c, const char *dir,
                              const vkft_model_hooks *h, vkft_model_built *m, vkft_plan **plan,
                              vkft_err *err) {
    vkft_graph *g = NULL;
    vkft_st *st = NULL;
    *plan = NULL;
    CHECK(!vkft_graph_create(&g));
    vkft_model_build_options o;
    vkft_model_build_options_default(&o);
    o.inference = true;
    o.seq = 4;
    vkft_status s = vkft_model_build(c, g, &o, h, m, err);
    if (!s && vkft_compile(dev, g, NULL, NULL, plan)) {
        fprintf(stderr, "compile: %s\n", vkft_device_error(dev));
        s = VKFT_ERR_DEVICE;
    }
    vkft_graph_destroy(g);
    if (!s) s = vkft_st_open(dir, &st, err);
    if (!s) s = vkft_model_load_weights(m, st, *plan, err);
    vkft_st_close(st);
    return s;
}

static void test_load_errors(test_env *env) {
    vkft_model_config c;
    vkft_model_built m;
    vkft_plan *plan;
    vkft_err err = {{0}};
    load_cfg("llama_gqa", &c);
    c.qkv_bias = true;   /* the checkpoint has no q_proj.bias */
    CHECK(load_model(env->cpu, &c, fixture_dir("llama_gqa"), NULL, &m, &plan, &err) ==
          VKFT_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "model.layers.0.self_attn.q_proj.bias") && strstr(err.msg, "missing"));
    vkft_plan_destroy(plan);
    vkft_model_built_free(&m);
    load_cfg("llama_gqa", &c);
    c.ffn = 50;
    CHECK(load_model(env->cpu, &c, fixture_dir("llama_gqa"), NULL, &m, &plan, &err) ==
          VKFT_ERR_SHAPE);
    CHECK(strstr(err.msg, "model.layers.0.mlp.gate_proj.weight") && strstr(err.msg, "[48, 32]") &&
          strstr(err.msg, "[50, 32]") && strstr(err.msg, "model.safetensors"));
    vkft_plan_destroy(plan);
    vkft_model_built_free(&m);
}

static vkft_role all_trainable(void *user, const char *name, vkft_model_param_kind kind) {
    (void)user, (void)name, (void)kind;
    return VKFT_ROLE_TRAINABLE;
}

/* Saves a loaded model and compares every tensor with the source checkpoint. */
static void save_and_compare(test_env *env, const char *name, vkft_st_dtype dtype,
                             bool gpt2_names) {
    vkft_model_config c;
    vkft_model_built m;
    vkft_plan *plan = NULL;
    vkft_err err = {{0}};
    load_cfg(name, &c);
    vkft_model_hooks h = {.param_role = all_trainable};
    char dir[] = "/tmp/vkft_weights_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    vkft_model_save_options so = {.dtype = dtype};
    vkft_status s = load_model(env->cpu, &c, fixture_dir(name), &h, &m, &plan, &err);
    if (!s) s = vkft_model_save(&m, plan, dir, &so, &err);
    if (s) fprintf(stderr, "%s: %s\n", name, err.msg);
    CHECK(!s);
    vkft_st *a = NULL, *b = NULL;
    vkft_model_config c2;
    CHECK(!vkft_st_open(fixture_dir(name), &a, &err) && !vkft_st_open(dir, &b, &err));
    CHECK(!vkft_model_config_load(dir, &c2, &err) && c2.hidden == c.hidden &&
          c2.tie_word_embeddings == c.tie_word_embeddings);
    int saved = 0;
    for (int i = 0; a && b && i < vkft_st_count(a); i++) {
        const vkft_st_tensor *x = vkft_st_at(a, i);
        if (strstr(x->name, ".attn.bias") && !strstr(x->name, "c_attn")) continue;
        char full[200];
        snprintf(full, sizeof full, "%s%s", gpt2_names && strncmp(x->name, "transformer.", 12)
                                                ? "transformer." : "", x->name);
        const vkft_st_tensor *y = vkft_st_find(b, full);
        if (!y || y->bytes != x->bytes || y->dtype != dtype || memcmp(x->data, y->data, x->bytes)) {
            fprintf(stderr, "%s: saved %s differs from the checkpoint\n", name, full);
            test_failures++;
        }
        saved++;
    }
    CHECK(b && vkft_st_count(b) == saved);   /* nothing else: no tied head, no buffers */
    if (b) CHECK(!vkft_st_find(b, "lm_head.weight") == c.tie_word_embeddings);
    vkft_st_close(a);
    vkft_st_close(b);
    vkft_plan_destroy(plan);
    vkft_model_built_free(&m);
    char p[128];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    CHECK(rmdir(dir) == 0);   /* nothing else was left behind (no temp files) */
}

typedef struct hook_log {
    int calls;
    char first[160], last[160];
    bool fail_at_lm_head;
} hook_log;

static vkft_status log_linear(void *user, vkft_graph *g, const vkft_model_site *site,
                              vkft_value x, vkft_value *y, vkft_err *err) {
    hook_log *l = user;
    (void)g, (void)x;
    if (!l->calls++) snprintf(l->first, sizeof l->first, "%s", site->path);
    snprintf(l->last, sizeof l->last, "%s", site->path);
    if (*y == VKFT_NONE) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "no y");
    if (l->fail_at_lm_head && site->layer < 0)
        return vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "hook refused %s", site->path);
    return VKFT_OK;
}

static vkft_role norms_trainable(void *user, const char *name, vkft_model_param_kind kind) {
    (void)user, (void)name;
    return kind == VKFT_PARAM_NORM_WEIGHT ? VKFT_ROLE_TRAINABLE : VKFT_ROLE_WEIGHT;
}

static void test_hooks(void) {
    vkft_model_config c;
    vkft_model_built m;
    vkft_err err = {{0}};
    load_cfg("qwen2_bias", &c);
    hook_log l = {0};
    vkft_model_hooks h = {.user = &l, .linear = log_linear, .param_role = norms_trainable};
    CHECK(!vkft_model_describe(&c, &h, &m, &err));
    CHECK(l.calls == 15 && !strcmp(l.first, "model.layers.0.self_attn.q_proj") &&
          !strcmp(l.last, "lm_head"));
    const vkft_model_param *p = vkft_model_find_param(&m, "model.layers.0.input_layernorm.weight");
    CHECK(p && p->role == VKFT_ROLE_TRAINABLE && p->dtype == VKFT_F32);
    p = vkft_model_find_param(&m, "model.layers.0.self_attn.q_proj.bias");
    CHECK(p && p->role == VKFT_ROLE_WEIGHT && p->kind == VKFT_PARAM_LINEAR_BIAS);
    CHECK(!vkft_model_find_param(&m, "model.layers.0.self_attn.o_proj.bias"));
    vkft_model_built_free(&m);
    l = (hook_log){.fail_at_lm_head = true};
    CHECK(vkft_model_describe(&c, &h, &m, &err) == VKFT_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "hook refused lm_head") != NULL && m.n_params == 0 && !m.params);
}

static void test_init(void) {
    vkft_model_config c;
    vkft_model_config_default(&c, VKFT_ARCH_GPT2);
    c.layers = 2;
    char d1[] = "/tmp/vkft_init_test_XXXXXX", d2[] = "/tmp/vkft_init_test_XXXXXX";
    CHECK(mkdtemp(d1) && mkdtemp(d2));
    vkft_err err = {{0}};
    CHECK(!vkft_model_init_random(&c, 7, d1, &err) && !vkft_model_init_random(&c, 7, d2, &err));
    char p1[128], p2[128];
    snprintf(p1, sizeof p1, "%s/model.safetensors", d1);
    snprintf(p2, sizeof p2, "%s/model.safetensors", d2);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(!vkft_file_read(p1, &a, &na, &err) && !vkft_file_read(p2, &b, &nb, &err));
    CHECK(a && b && na == nb && !memcmp(a, b, na));   /* same seed, same bytes */
    free(b);
    b = NULL;
    CHECK(!vkft_model_init_random(&c, 8, d2, &err) && !vkft_file_read(p2, &b, &nb, &err));
    CHECK(a && b && na == nb && memcmp(a, b, na));    /* another seed, other weights */
    free(a);
    free(b);
    vkft_st *st = NULL;
    CHECK(!vkft_st_open(d1, &st, &err));
    const vkft_st_tensor *t = st ? vkft_st_find(st, "transformer.h.0.mlp.c_fc.weight") : NULL;
    if (t) {
        const float *x = t->data;
        size_t n = t->bytes / 4;
        double s2 = 0;
        for (size_t i = 0; i < n; i++) s2 += (double)x[i] * x[i];
        double sd = sqrt(s2 / (double)n);
        CHECK(fabs(sd - 0.02) < 0.002);   /* 16384 draws: the sample sd is within ~1% */
    } else {
        test_failures++;
    }
    t = st ? vkft_st_find(st, "transformer.h.1.attn.c_proj.weight") : NULL;
    CHECK(t != NULL);   /* std 0.02 / sqrt(2 * layers) = 0.01 */
    t = st ? vkft_st_find(st, "transformer.ln_f.weight") : NULL;
    CHECK(t && ((const float *)t->data)[5] == 1.0f);
    t = st ? vkft_st_find(st, "transformer.h.1.mlp.c_fc.bias") : NULL;
    CHECK(t && ((const float *)t->data)[3] == 0.0f);
    vkft_st_close(st);
    for (int i = 0; i < 2; i++) {
        const char *d = i ? d2 : d1;
        char p[128];
        snprintf(p, sizeof p, "%s/model.safetensors", d);
        unlink(p);
        snprintf(p, sizeof p, "%s/config.json", d);
        unlink(p);
        rmdir(d);
    }
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_sites();
    test_counts();
    test_load_errors(&env);
    save_and_compare(&env, "llama_gqa", VKFT_ST_F32, false);
    save_and_compare(&env, "llama3_tied", VKFT_ST_BF16, false);  /* bf16 -> f32 -> bf16 exact */
    save_and_compare(&env, "qwen2_bias", VKFT_ST_F16, false);
    save_and_compare(&env, "gpt2", VKFT_ST_F32, true);
    save_and_compare(&env, "gpt2_untied", VKFT_ST_F32, false);
    test_hooks();
    test_init();
    return test_finish(&env);
}
