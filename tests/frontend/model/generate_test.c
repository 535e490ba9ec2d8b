/*
 * Generation: greedy decoding with the KV cache equals greedy decoding that recomputes the
 * whole sequence every token (CPU and Vulkan, Llama GQA and GPT-2), and its first token is the
 * argmax of the PyTorch reference logits; seeded sampling repeats exactly; the sampler's
 * argmax, top-p and temperature behave as specified; stop ids end generation; GPT-2's position
 * limit and bad prompts are refused.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/generate.h"
#include "test_util.h"

enum { MAXN = 12 };

typedef struct ref {
    int32_t prompt[16];
    int n_prompt;
    int32_t argmax;   /* of the reference logits at the prompt's last position */
} ref;

static const char *fixture_dir(const char *name) {
    static char buf[512];
    const char *root = getenv("VKFT_FIXTURES");
    snprintf(buf, sizeof buf, "%s/model/%s", root ? root : "tests/fixtures", name);
    return buf;
}

/* Row 0 of the fixture's tokens and the argmax of its reference logits at position T-1. */
static bool read_ref(const char *name, ref *r) {
    char path[600];
    snprintf(path, sizeof path, "%s/expected.bin", fixture_dir(name));
    FILE *f = fopen(path, "rb");
    int32_t h[9];
    bool ok = f && fseek(f, 12, SEEK_SET) == 0 && fread(h, 4, 9, f) == 9 && h[1] <= 16;
    int B = ok ? h[0] : 0, T = ok ? h[1] : 0, V = ok ? h[2] : 0;
    int32_t *tok = malloc(sizeof *tok * (size_t)(B * T + 1));
    float *lg = malloc(sizeof *lg * (size_t)(B * T * V + 1));
    long skip = (long)B * T * 4 * 2;   /* labels, weights */
    ok = ok && tok && lg && fread(tok, 4, (size_t)(B * T), f) == (size_t)(B * T) &&
         fseek(f, skip, SEEK_CUR) == 0 && fread(lg, 4, (size_t)(B * T * V), f) ==
         (size_t)(B * T * V);
    if (ok) {
        memcpy(r->prompt, tok, sizeof *tok * (size_t)T);
        r->n_prompt = T;
        const float *row = lg + (size_t)(T - 1) * V;
        r->argmax = 0;
        for (int i = 1; i < V; i++)
            if (row[i] > row[r->argmax]) r->argmax = i;
    }
    if (f) fclose(f);
    free(tok);
    free(lg);
    if (!ok) fprintf(stderr, "%s: cannot read\n", path);
    return ok;
}

typedef struct stream {
    int32_t ids[MAXN];
    int n;
} stream;

static vkft_status on_token(void *user, int32_t id, vkft_err *err) {
    stream *s = user;
    (void)err;
    if (s->n < MAXN) s->ids[s->n++] = id;
    return VKFT_OK;
}

static void greedy_cache_vs_recompute(vkft_device *dev, const char *name) {
    ref r;
    if (!read_ref(name, &r)) {
        test_failures++;
        return;
    }
    vkft_model_config cfg;
    vkft_st *st = NULL;
    vkft_err err = {{0}};
    if (vkft_model_config_load(fixture_dir(name), &cfg, &err) ||
        vkft_st_open(fixture_dir(name), &st, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        test_failures++;
        return;
    }
    int n = cfg.arch == VKFT_ARCH_GPT2 ? 16 - r.n_prompt : 8;   /* GPT-2 fixture: 16 positions */
    int32_t a[MAXN], b[MAXN];
    size_t na = 0, nb = 0;
    stream s = {.n = 0};
    vkft_generate_options o;
    vkft_generate_options_default(&o);
    o.max_tokens = n;
    o.on_token = on_token;
    o.user = &s;
    vkft_status st1 = vkft_generate(dev, &cfg, st, r.prompt, (size_t)r.n_prompt, &o, a, &na, &err);
    if (st1) fprintf(stderr, "%s cached: %s\n", name, err.msg);
    o.no_cache = true;
    o.on_token = NULL;
    vkft_status st2 = vkft_generate(dev, &cfg, st, r.prompt, (size_t)r.n_prompt, &o, b, &nb, &err);
    if (st2) fprintf(stderr, "%s recomputed: %s\n", name, err.msg);
    CHECK(!st1 && !st2 && na == (size_t)n && nb == (size_t)n);
    if (memcmp(a, b, sizeof *a * na)) {
        fprintf(stderr, "%s on %s: greedy with cache differs from recomputation:\n", name,
                vkft_device_get_info(dev)->spec);
        for (size_t i = 0; i < na; i++) fprintf(stderr, "  %d vs %d\n", a[i], b[i]);
        test_failures++;
    }
    CHECK(na > 0 && a[0] == r.argmax);                        /* agrees with PyTorch */
    CHECK(s.n == (int)na && !memcmp(s.ids, a, sizeof *a * na));   /* streamed as chosen */
    /* a stop id ends generation right after it */
    o.no_cache = false;
    o.stop_ids = &a[2];
    o.n_stop = 1;
    CHECK(!vkft_generate(dev, &cfg, st, r.prompt, (size_t)r.n_prompt, &o, b, &nb, &err));
    size_t first = 0;
    while (first < na && a[first] != a[2]) first++;
    CHECK(nb == first + 1 && !memcmp(a, b, sizeof *a * nb));
    /* seeded sampling repeats exactly */
    o.stop_ids = NULL;
    o.n_stop = 0;
    o.temperature = 1.5f;
    o.top_p = 0.9f;
    o.seed = 11;
    CHECK(!vkft_generate(dev, &cfg, st, r.prompt, (size_t)r.n_prompt, &o, a, &na, &err));
    CHECK(!vkft_generate(dev, &cfg, st, r.prompt, (size_t)r.n_prompt, &o, b, &nb, &err));
    CHECK(na == nb && !memcmp(a, b, sizeof *a * na));
    /* refusals */
    if (cfg.arch == VKFT_ARCH_GPT2) {
        o.max_tokens = 16;
        CHECK(vkft_generate(dev, &cfg, st, r.prompt, (size_t)r.n_prompt, &o, a, &na, &err) != 0);
        CHECK(strstr(err.msg, "n_positions") != NULL);
    }
    int32_t bad = (int32_t)cfg.vocab;
    o.max_tokens = 2;
    CHECK(vkft_generate(dev, &cfg, st, &bad, 1, &o, a, &na, &err) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "outside the vocab") != NULL);
    vkft_st_close(st);
}

static void test_sampler(void) {
    vkft_rng r;
    vkft_rng_init(&r, 3);
    vkft_err err = {{0}};
    int32_t id = -1;
    float l[5] = {1.0f, 3.0f, 3.0f, -2.0f, 0.0f};
    CHECK(!vkft_sample_token(l, 5, 0.0f, 1.0f, &r, &id, &err) && id == 1);  /* ties: lowest */
    int counts[5] = {0};
    for (int i = 0; i < 4000; i++) {
        float x[5] = {0.0f, (float)log(2.0), (float)log(3.0), -30.0f, -30.0f};
        CHECK(!vkft_sample_token(x, 5, 1.0f, 1.0f, &r, &id, &err) && id >= 0 && id < 5);
        counts[id]++;
    }
    /* probabilities 1/6, 2/6, 3/6: each count within 5 sigma of its mean */
    CHECK(fabs(counts[0] - 4000.0 / 6) < 5 * sqrt(4000 * (1 / 6.0) * (5 / 6.0)));
    CHECK(fabs(counts[2] - 2000.0) < 5 * sqrt(4000 * 0.25));
    CHECK(counts[3] + counts[4] < 3);
    /* top_p 0.5: only id 2 (p = 1/2) is kept */
    for (int i = 0; i < 200; i++) {
        float x[5] = {0.0f, (float)log(2.0), (float)log(3.0), -30.0f, -30.0f};
        CHECK(!vkft_sample_token(x, 5, 1.0f, 0.5f, &r, &id, &err) && id == 2);
    }
    /* top_p 0.6: ids 2 and 1 are kept, never 0 */
    int zero = 0;
    for (int i = 0; i < 400; i++) {
        float x[5] = {0.0f, (float)log(2.0), (float)log(3.0), -30.0f, -30.0f};
        CHECK(!vkft_sample_token(x, 5, 1.0f, 0.6f, &r, &id, &err));
        zero += id == 0;
    }
    CHECK(zero == 0);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_sampler();
    greedy_cache_vs_recompute(env.cpu, "llama_gqa");
    greedy_cache_vs_recompute(env.cpu, "gpt2");
    if (env.vk) {
        greedy_cache_vs_recompute(env.vk, "llama_gqa");
        greedy_cache_vs_recompute(env.vk, "gpt2");
    }
    return test_finish(&env);
}
