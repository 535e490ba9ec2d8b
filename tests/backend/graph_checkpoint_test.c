/*
 * Gradient checkpointing (vkft_graph_checkpoint + vkft_compile_options.recompute) on a stack of
 * six transformer layers with dropout (tools/bench_step_graph.h), on the CPU and on Vulkan:
 *   - the planned activation peak drops (the figures are printed);
 *   - the loss and every gradient are bit-identical with and without recompute, and so are the
 *     weights after two AdamW steps (recomputed forward nodes run the same deterministic kernels
 *     on the same inputs; dropout reads the same seed input);
 *   - recompute re-emits forward nodes (more dispatches on Vulkan), and without checkpoint
 *     marks it changes nothing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench_step_graph.h"
#include "test_util.h"

static step_graph_cfg cfg = {.batch = 2, .seq = 16, .hidden = 32, .heads = 4, .kv_heads = 2,
                             .ffn = 64, .vocab = 50, .layers = 6, .dropout = 0.1f,
                             .checkpoint = true, .optimizer = true};

typedef struct {
    vkft_memory_report rep;
    vkft_plan_stats stats;
    float loss[2];
    float *grads, *weights;  /* every trainable's gradient after step 1, weights after step 2 */
    size_t n;
} outcome;

static float *read_all(vkft_plan *p, const vkft_graph *g, const char *prefix, size_t *total) {
    size_t n = 0;
    for (int v = 0; v < vkft_graph_value_count(g); v++)
        if (vkft_graph_value_role(g, v) == VKFT_ROLE_TRAINABLE)
            n += (size_t)vkft_desc_numel(vkft_graph_value_desc(g, v));
    float *all = calloc(n + 1, 4);
    size_t off = 0;
    for (int v = 0; all && v < vkft_graph_value_count(g); v++) {
        if (vkft_graph_value_role(g, v) != VKFT_ROLE_TRAINABLE) continue;
        size_t m = (size_t)vkft_desc_numel(vkft_graph_value_desc(g, v));
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, vkft_graph_value_name(g, v));
        CHECK(!vkft_plan_download(p, name, all + off, m * 4));
        off += m;
    }
    *total = n;
    return all;
}

static bool run(vkft_device *dev, bool recompute, outcome *o) {
    memset(o, 0, sizeof *o);
    char msg[256];
    vkft_graph *g = step_graph_build(&cfg, msg, sizeof msg);
    if (!g) {
        fprintf(stderr, "%s\n", msg);
        test_failures++;
        return false;
    }
    vkft_compile_options co = {.recompute = recompute};
    vkft_plan *p = NULL;
    if (vkft_compile(dev, g, &co, &o->rep, &p)) {
        fprintf(stderr, "compile: %s\n", vkft_device_error(dev));
        test_failures++;
        vkft_graph_destroy(g);
        return false;
    }
    bool ok = !step_graph_init(p, g, &cfg, 7, msg, sizeof msg);
    if (!ok) {
        fprintf(stderr, "%s\n", msg);
        test_failures++;
    }
    for (int step = 1; ok && step <= 2; step++) {
        int32_t seed[2] = {7, step};
        float hyper[2] = {1e-2f, (float)step};
        CHECK(!vkft_plan_upload(p, "seed", seed, sizeof seed));
        CHECK(!vkft_plan_upload(p, "hyper", hyper, sizeof hyper));
        CHECK(vkft_plan_run(p, 0) == VKFT_OK);
        CHECK(!vkft_plan_download(p, "loss", &o->loss[step - 1], 4));
        if (step == 1) o->grads = read_all(p, g, "grad:", &o->n);
        CHECK(vkft_plan_run(p, 1) == VKFT_OK);
    }
    if (ok) o->weights = read_all(p, g, "", &o->n);
    vkft_plan_get_stats(p, &o->stats);
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
    return ok && o->grads && o->weights;
}

static void check_device(vkft_device *dev) {
    const char *spec = vkft_device_get_info(dev)->spec;
    outcome a = {0}, b = {0};
    if (run(dev, false, &a) && run(dev, true, &b)) {
        printf("%s: activations %" PRIu64 " -> %" PRIu64 " bytes with recompute (no reuse: %"
               PRIu64 " -> %" PRIu64 "); phase-0 dispatches %" PRIu64 " -> %" PRIu64 "\n", spec,
               a.rep.activations, b.rep.activations, a.rep.activations_no_reuse,
               b.rep.activations_no_reuse, a.stats.dispatches[0], b.stats.dispatches[0]);
        CHECK(b.rep.activations < a.rep.activations);
        CHECK(b.rep.activations * 2 < a.rep.activations);  /* at least half less */
        CHECK(!memcmp(a.loss, b.loss, sizeof a.loss));
        CHECK(a.n == b.n && !memcmp(a.grads, b.grads, a.n * 4));
        CHECK(a.n == b.n && !memcmp(a.weights, b.weights, a.n * 4));
        if (vkft_device_get_info(dev)->type != VKFT_DEVICE_CPU_BACKEND)
            CHECK(b.stats.dispatches[0] > a.stats.dispatches[0]);
    }
    free(a.grads);
    free(a.weights);
    free(b.grads);
    free(b.weights);
    /* no checkpoint marks: recompute has nothing to do */
    cfg.checkpoint = false;
    memset(&b, 0, sizeof b);
    if (run(dev, false, &a) && run(dev, true, &b)) {
        CHECK(a.rep.activations == b.rep.activations);
        CHECK(!memcmp(a.grads, b.grads, a.n * 4));
    }
    cfg.checkpoint = true;
    free(a.grads);
    free(a.weights);
    free(b.grads);
    free(b.weights);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    check_device(env.cpu);
    if (env.vk) check_device(env.vk);
    return test_finish(&env);
}
