/*
 * A whole transformer block stack (tools/bench_step_graph.h: embedding, RMSNorm, q/k/v
 * projections, RoPE, grouped-query causal attention, o-proj + residual, RMSNorm, SwiGLU MLP,
 * dropout + residual, final norm, LM head, cross-entropy) differentiated by autograd and run as a
 * compiled plan on the CPU and on Vulkan:
 *   - every trainable's gradient against central finite differences of the plan's loss, at the
 *     elements with the largest gradients (where a wrong rule shows) and one more;
 *   - values used several times (h by the norm and the residual, the normed input by q, k and v)
 *     get the sum of their gradients (the finite differences would disagree otherwise);
 *   - a frozen weight (layers.0.wk) gets no gradient, yet the gradients upstream of it (embed,
 *     layers.0.ln1) are right;
 *   - Vulkan's gradients match the CPU's.
 * Tolerance of the finite differences: the loss is a sum over 8 tokens (~20) in f32, so each
 * evaluation carries ~2e-6 of rounding; over a step of 2e-2 that is 1e-4 in the difference, plus
 * the O(step^2) truncation of the smooth functions here: atol 3e-3, rtol 3e-2.
 * CPU vs Vulkan: f32 sums in different orders through two layers: atol 1e-4, rtol 2e-3.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_step_graph.h"
#include "test_util.h"

static const step_graph_cfg cfg = {.batch = 2, .seq = 4, .hidden = 16, .heads = 4,
                                   .kv_heads = 2, .ffn = 24, .vocab = 11, .layers = 2,
                                   .dropout = 0.1f, .freeze_k0 = true};

static float run_loss(vkft_plan *p) {
    float l = NAN;
    CHECK(vkft_plan_run(p, 0) == VKFT_OK);
    CHECK(!vkft_plan_download(p, "loss", &l, sizeof l));
    return l;
}

/* The n largest |g| indices (distinct) plus one in the middle. */
static int pick(const float *g, int n, int *idx, int k) {
    int m = 0;
    for (int j = 0; j < k && j < n; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            bool taken = false;
            for (int t = 0; t < m; t++) taken |= idx[t] == i;
            if (!taken && (best < 0 || fabsf(g[i]) > fabsf(g[best]))) best = i;
        }
        idx[m++] = best;
    }
    bool taken = false;
    for (int t = 0; t < m; t++) taken |= idx[t] == n / 2;
    if (!taken) idx[m++] = n / 2;
    return m;
}

/* Gradients of every trainable (concatenated in value order) after one phase-0 run. */
static float *gradients(vkft_plan *p, const vkft_graph *g, size_t *total) {
    size_t n = 0;
    for (int v = 0; v < vkft_graph_value_count(g); v++)
        if (vkft_graph_value_role(g, v) == VKFT_ROLE_TRAINABLE)
            n += (size_t)vkft_desc_numel(vkft_graph_value_desc(g, v));
    float *all = malloc(n * 4 + 4);
    if (!all) return NULL;
    size_t off = 0;
    for (int v = 0; v < vkft_graph_value_count(g); v++) {
        if (vkft_graph_value_role(g, v) != VKFT_ROLE_TRAINABLE) continue;
        size_t m = (size_t)vkft_desc_numel(vkft_graph_value_desc(g, v));
        char name[160];
        snprintf(name, sizeof name, "grad:%s", vkft_graph_value_name(g, v));
        CHECK(!vkft_plan_download(p, name, all + off, m * 4));
        off += m;
    }
    *total = n;
    return all;
}

/* grads: gradients() of the first run (later runs accumulate more into grad:*). */
static void check_fd(vkft_device *dev, vkft_plan *p, const vkft_graph *g, const float *grads) {
    int checked = 0;
    size_t off = 0;
    for (int v = 0; v < vkft_graph_value_count(g); v++) {
        if (vkft_graph_value_role(g, v) != VKFT_ROLE_TRAINABLE) continue;
        const char *name = vkft_graph_value_name(g, v);
        int n = (int)vkft_desc_numel(vkft_graph_value_desc(g, v));
        const float *gr = grads + off;
        off += (size_t)n;
        float *w = malloc((size_t)n * 4);
        if (!w || vkft_plan_download(p, name, w, (size_t)n * 4)) {
            fprintf(stderr, "%s: cannot read %s\n", vkft_device_get_info(dev)->spec, name);
            test_failures++;
            free(w);
            continue;
        }
        int idx[4];
        int m = pick(gr, n, idx, 3);
        for (int t = 0; t < m; t++) {
            const float eps = 2e-2f;
            float w0 = w[idx[t]];
            w[idx[t]] = w0 + eps;
            CHECK(!vkft_plan_upload(p, name, w, (size_t)n * 4));
            double lp = run_loss(p);
            w[idx[t]] = w0 - eps;
            CHECK(!vkft_plan_upload(p, name, w, (size_t)n * 4));
            double lm = run_loss(p);
            w[idx[t]] = w0;
            CHECK(!vkft_plan_upload(p, name, w, (size_t)n * 4));
            double fd = (lp - lm) / (2.0 * eps), an = gr[idx[t]];
            checked++;
            if (fabs(fd - an) > 3e-3 + 3e-2 * fabs(fd)) {
                fprintf(stderr, "%s: d loss / d %s[%d] = %.6g, finite differences %.6g\n",
                        vkft_device_get_info(dev)->spec, name, idx[t], an, fd);
                test_failures++;
            }
        }
        free(w);
    }
    CHECK(checked >= 40);
}

/* Runs the checks on dev; returns the gradients (caller frees) for the cross-device check. */
static float *check_device(vkft_device *dev, size_t *n) {
    char msg[256];
    vkft_graph *g = step_graph_build(&cfg, msg, sizeof msg);
    if (!g) {
        fprintf(stderr, "%s\n", msg);
        test_failures++;
        return NULL;
    }
    /* the frozen weight: no gradient value, no accumulator in the plan */
    vkft_value wk0 = VKFT_NONE;
    for (int v = 0; v < vkft_graph_value_count(g); v++) {
        const char *name = vkft_graph_value_name(g, v);
        if (name && !strcmp(name, "layers.0.wk")) wk0 = v;
    }
    CHECK(wk0 != VKFT_NONE && vkft_graph_value_role(g, wk0) == VKFT_ROLE_WEIGHT &&
          vkft_graph_grad(g, wk0) == VKFT_NONE);
    vkft_plan *p = NULL;
    if (vkft_compile(dev, g, NULL, NULL, &p)) {
        fprintf(stderr, "compile: %s\n", vkft_device_error(dev));
        test_failures++;
        vkft_graph_destroy(g);
        return NULL;
    }
    float *grads = NULL;
    if (step_graph_init(p, g, &cfg, 42, msg, sizeof msg)) {
        fprintf(stderr, "%s\n", msg);
        test_failures++;
    } else {
        float loss = run_loss(p);
        CHECK(isfinite(loss) && loss > 0);
        grads = gradients(p, g, n);
        float dummy[16];
        CHECK(vkft_plan_download(p, "grad:layers.0.wk", dummy, sizeof dummy) ==
              VKFT_ERR_INVALID_ARG);
        if (grads) check_fd(dev, p, g, grads);
    }
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
    return grads;
}

int main(void) {
    test_env env;
    test_env_open(&env);
    size_t nc = 0, nv = 0;
    float *gc = check_device(env.cpu, &nc);
    if (env.vk) {
        float *gv = check_device(env.vk, &nv);
        if (gc && gv && nc == nv)
            test_compare("block gradients: vulkan vs cpu", gv, gc, nc, 1e-4f, 2e-3f);
        else
            test_failures++;
        free(gv);
    }
    free(gc);
    return test_finish(&env);
}
