/*
 * Per-dispatch profiles of plans (vkft_compile_options.profile, vkft_plan_profile) on a
 * one-layer transformer step with AdamW: one entry per dispatch on Vulkan (as many as the plan
 * recorded), one per node on the CPU; every entry names a real op and a node of the graph; the
 * times are sane (each within the run's wall time, their sum positive); recomputed nodes are
 * flagged; and the calls refuse what they must (no profile, a phase not run, a bad phase).
 */
#include <stdlib.h>
#include <string.h>

#include "bench_step_graph.h"
#include "test_util.h"

static const step_graph_cfg cfg = {.batch = 2, .seq = 8, .hidden = 16, .heads = 4,
                                   .kv_heads = 2, .ffn = 24, .vocab = 17, .layers = 2,
                                   .dropout = 0.1f, .checkpoint = true, .optimizer = true};

static void check_entries(vkft_plan *p, int phase, int n_nodes, uint64_t expect, bool recompute,
                          const char *spec) {
    int count = vkft_plan_profile(p, phase, NULL, 0);
    if (count < 0) {
        fprintf(stderr, "%s: plan_profile: %s\n", spec, vkft_plan_error(p));
        test_failures++;
        return;
    }
    CHECK((uint64_t)count == expect);
    vkft_profile_entry *e = calloc((size_t)count + 1, sizeof *e);
    if (!e) return;
    CHECK(vkft_plan_profile(p, phase, e, count) == count);
    vkft_plan_stats s;
    vkft_plan_get_stats(p, &s);
    uint64_t sum = 0, wall = (uint64_t)(s.last_run_ms * 1e6) + 1000000;
    int recomputed = 0, bad = 0;
    for (int i = 0; i < count; i++) {
        bool known = false;
        for (int op = 0; op < VKFT_OP_COUNT && e[i].op; op++)
            known |= !strcmp(e[i].op, vkft_op_name((vkft_op)op));
        bad += !known || e[i].node < 0 || e[i].node >= n_nodes || e[i].ns > wall;
        sum += e[i].ns;
        recomputed += e[i].recomputed;
    }
    if (bad) {
        fprintf(stderr, "%s phase %d: %d of %d profile entries are not sane\n", spec, phase, bad,
                count);
        test_failures++;
    }
    CHECK(sum > 0);
    CHECK(recompute && phase == 0 ? recomputed > 0 : recomputed == 0);
    printf("%s phase %d: %d entries, %.3f ms profiled of %.3f ms wall\n", spec, phase, count,
           (double)sum / 1e6, s.last_run_ms);
    free(e);
}

static void check_device(vkft_device *dev, bool recompute) {
    const char *spec = vkft_device_get_info(dev)->spec;
    bool is_cpu = vkft_device_get_info(dev)->type == VKFT_DEVICE_CPU_BACKEND;
    char msg[256];
    vkft_graph *g = step_graph_build(&cfg, msg, sizeof msg);
    if (!g) {
        fprintf(stderr, "%s\n", msg);
        test_failures++;
        return;
    }
    /* not compiled with profile: refused */
    vkft_plan *p = NULL;
    CHECK_OK(vkft_compile(dev, g, NULL, NULL, &p), dev);
    if (p) {
        CHECK(!step_graph_init(p, g, &cfg, 3, msg, sizeof msg));
        CHECK(vkft_plan_run(p, 0) == VKFT_OK);
        CHECK(vkft_plan_profile(p, 0, NULL, 0) == -1 && strstr(vkft_plan_error(p), "profile"));
        vkft_plan_destroy(p);
    }
    vkft_compile_options o = {.profile = true, .recompute = recompute};
    p = NULL;
    CHECK_OK(vkft_compile(dev, g, &o, NULL, &p), dev);
    if (!p) {
        vkft_graph_destroy(g);
        return;
    }
    CHECK(!step_graph_init(p, g, &cfg, 3, msg, sizeof msg));
    CHECK(vkft_plan_profile(p, 0, NULL, 0) == -1);  /* not run yet */
    CHECK(vkft_plan_profile(p, 5, NULL, 0) == -1);
    /* CPU: one entry per node of the phase (the graph's nodes split over both phases, plus
     * the re-emitted ones with recompute); Vulkan: one per recorded dispatch */
    int n_nodes = vkft_graph_node_count(g), total = 0;
    for (int phase = 0; phase < 2; phase++) {
        CHECK(vkft_plan_run(p, phase) == VKFT_OK);
        vkft_plan_stats s;
        vkft_plan_get_stats(p, &s);
        int c = vkft_plan_profile(p, phase, NULL, 0);
        total += c;
        check_entries(p, phase, n_nodes, is_cpu ? (uint64_t)c : s.dispatches[phase], recompute,
                      spec);
    }
    if (is_cpu) CHECK(recompute ? total > n_nodes : total == n_nodes);
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    check_device(env.cpu, false);
    check_device(env.cpu, true);
    if (env.vk) {
        check_device(env.vk, false);
        check_device(env.vk, true);
    }
    return test_finish(&env);
}
