/*
 * Thread safety: threads, each with its own context, device, graph and plan, train a
 * two-layer transformer stack (with dropout and AdamW) at the same time; every thread's losses
 * and final weights must equal, bit for bit, those of the same training run alone. Four threads
 * at once: two on the CPU and two on Vulkan (two on the CPU when there is no Vulkan device).
 * Validation messages of every context fail the test. Under ASan/UBSan this also checks that
 * nothing is shared unsafely (contexts share only the process-wide, load-once Vulkan loader
 * table, vulkan/vk_instance.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench_step_graph.h"
#include "test_util.h"

enum { STEPS = 3 };

static const step_graph_cfg cfg = {.batch = 2, .seq = 8, .hidden = 32, .heads = 4,
                                   .kv_heads = 2, .ffn = 48, .vocab = 37, .layers = 2,
                                   .dropout = 0.1f, .optimizer = true};

typedef struct {
    const char *spec;       /* "cpu" or "vulkan" */
    bool ok;
    char msg[256];
    float loss[STEPS];
    float *weights;         /* every trainable, value order */
    size_t n;
    uint64_t validation;
} job;

static bool train(job *j, vkft_device *dev) {
    vkft_graph *g = step_graph_build(&cfg, j->msg, sizeof j->msg);
    if (!g) return false;
    vkft_plan *p = NULL;
    bool ok = vkft_compile(dev, g, NULL, NULL, &p) == VKFT_OK &&
              !step_graph_init(p, g, &cfg, 11, j->msg, sizeof j->msg);
    if (!p) snprintf(j->msg, sizeof j->msg, "compile: %s", vkft_device_error(dev));
    for (int s = 0; ok && s < STEPS; s++) {
        int32_t seed[2] = {11, s + 1};
        float hyper[2] = {1e-2f, (float)(s + 1)};
        ok = !vkft_plan_upload(p, "seed", seed, sizeof seed) &&
             !vkft_plan_upload(p, "hyper", hyper, sizeof hyper) && !vkft_plan_run(p, 0) &&
             !vkft_plan_download(p, "loss", &j->loss[s], 4) && !vkft_plan_run(p, 1);
        if (!ok) snprintf(j->msg, sizeof j->msg, "step %d: %s", s + 1, vkft_plan_error(p));
    }
    for (int v = 0; v < vkft_graph_value_count(g); v++)
        if (vkft_graph_value_role(g, v) == VKFT_ROLE_TRAINABLE)
            j->n += (size_t)vkft_desc_numel(vkft_graph_value_desc(g, v));
    j->weights = calloc(j->n + 1, 4);
    size_t off = 0;
    for (int v = 0; ok && j->weights && v < vkft_graph_value_count(g); v++) {
        if (vkft_graph_value_role(g, v) != VKFT_ROLE_TRAINABLE) continue;
        size_t m = (size_t)vkft_desc_numel(vkft_graph_value_desc(g, v));
        ok = !vkft_plan_download(p, vkft_graph_value_name(g, v), j->weights + off, m * 4);
        off += m;
    }
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
    return ok && j->weights;
}

static void *run_job(void *arg) {
    job *j = arg;
    vkft_context_options o;
    vkft_context_options_default(&o);
    vkft_context *ctx = NULL;
    vkft_device *dev = NULL;
    if (vkft_context_options_from_env(&o, j->msg, sizeof j->msg)) return NULL;
    o.cpu_threads = 2;
    o.no_vulkan = !strcmp(j->spec, "cpu");  /* a CPU job needs no instance (nor its layers) */
    if (vkft_context_create(&o, &ctx) || vkft_device_open(ctx, j->spec, &dev)) {
        snprintf(j->msg, sizeof j->msg, "%s: %s", j->spec, vkft_context_error(ctx));
    } else {
        j->ok = train(j, dev);
    }
    vkft_device_close(dev);
    j->validation = vkft_context_validation_messages(ctx);
    vkft_context_destroy(ctx);
    return NULL;
}

static void check(const job *alone, const job *j, const char *what) {
    if (!j->ok) {
        fprintf(stderr, "%s (%s): %s\n", what, j->spec, j->msg);
        test_failures++;
        return;
    }
    CHECK(j->validation == 0);
    if (memcmp(alone->loss, j->loss, sizeof j->loss) || alone->n != j->n ||
        memcmp(alone->weights, j->weights, j->n * 4)) {
        fprintf(stderr, "%s (%s): results differ from the run alone\n", what, j->spec);
        test_failures++;
    }
}

/* Runs n jobs on n threads at once; each must equal its reference run alone. */
static void concurrently(const job *const *refs, int n) {
    job jobs[4];
    pthread_t t[4];
    bool started[4];
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){.spec = refs[i]->spec};
        started[i] = pthread_create(&t[i], NULL, run_job, &jobs[i]) == 0;
    }
    for (int i = 0; i < n; i++) {
        if (started[i]) pthread_join(t[i], NULL);
        CHECK(started[i]);
        check(refs[i], &jobs[i], "concurrent");
        free(jobs[i].weights);
    }
}

int main(void) {
    test_env env;
    test_env_open(&env);  /* says whether Vulkan is there; its devices stay idle */
    job cpu = {.spec = "cpu"}, vk = {.spec = "vulkan"};
    run_job(&cpu);
    if (!cpu.ok) {
        fprintf(stderr, "cpu alone: %s\n", cpu.msg);
        test_failures++;
    }
    if (env.vk) {
        run_job(&vk);
        if (!vk.ok) {
            fprintf(stderr, "vulkan alone: %s\n", vk.msg);
            test_failures++;
        }
    }
    /* CPU + CPU + Vulkan + Vulkan at once (each Vulkan context compiles its pipelines: the
     * costly part, so there are two, not more) */
    if (cpu.ok && vk.ok) concurrently((const job *const[]){&cpu, &cpu, &vk, &vk}, 4);
    else if (cpu.ok) concurrently((const job *const[]){&cpu, &cpu}, 2);
    free(cpu.weights);
    free(vk.weights);
    return test_finish(&env);
}
