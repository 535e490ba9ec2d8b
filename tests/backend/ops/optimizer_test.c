/*
 * sum_squares and adamw: the CPU kernels against direct double-precision references in this
 * file, Vulkan against the CPU (two Vulkan runs bit-identical), sum_squares bit-identical on CPU
 * devices with 1 and 2 threads, adamw over several steps in place and not, the split path
 * (VKFT_MAX_BUFFER_RANGE=4096: tensors of 28 KB .. 1.2 MB), and bad shapes / dtypes.
 *
 * Tolerances (with their reasons):
 *   sum_squares, CPU vs double: the CPU sums in double, only the final rounding: rtol 1e-7.
 *   sum_squares, Vulkan vs CPU: f32 sums of positive terms; on lavapipe a lane adds up to 512
 *     squares in a row, then a 3-level tree, then the partials (at most ~10 per lane here), so
 *     the error is below ~530 ulps worst case, typically ~sqrt of that: rtol 4e-5.
 *   adamw vs the double PyTorch formulas: f32 arithmetic, a few roundings per step on p, m, v
 *     (p ~ 1: atol 1e-6 over 6 steps), the f32 bias corrections within ~2e-7 relative of double
 *     (they only scale the lr-sized update), m and v rtol 1e-5 (atol 1e-7 for m, which can pass
 *     through 0 where its error is an ulp of its terms, not of itself).
 *   adamw, Vulkan vs CPU: the same operations in the same order; only sqrt / division may differ
 *     by an ulp or two on GPUs (exact on lavapipe): atol 1e-6, rtol 1e-6.
 *   Bias corrections alone (p = m = v = 0, g = 1, eps = 0, one step at a given step count):
 *     -lr (1 - b1) / bc1 * sqrt(bc2) / sqrt(1 - b2) vs double: rtol 4e-6 for steps 1 .. 1e6
 *     (measured 1.7e-7 on the CPU and lavapipe; f32 pow() instead was 6e-5 off on lavapipe).
 * PyTorch computes 1 - beta^step in double from Python-float betas; here the betas are f32
 * (0.999f is 1.3e-5 below 0.999 relative to 1 - 0.999), so against PyTorch itself expect
 * relative differences up to ~1e-5 in bc2 at small steps, mostly cancelling against the same
 * (1 - beta2) factor in v (exactly at step 1).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 99;

static test_io rand_io(int ndim, const int64_t *shape, float scale) {
    test_io io = test_io_new(VKFT_F32, ndim, shape);
    test_fill_normal(&rng, io.data, test_io_numel(&io), scale);
    return io;
}

static float run_sumsq(vkft_device *dev, const test_io *x) {
    test_io o = {.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
    CHECK_OK(test_run_op(dev, VKFT_OP_SUM_SQUARES, NULL, x, 1, &o, 1, NULL), dev);
    float r = o.data ? *(float *)o.data : NAN;
    test_io_free(&o);
    return r;
}

static void test_sum_squares(test_env *env, vkft_device *cpu1, vkft_device *cpu2, int ndim,
                             const int64_t *shape) {
    test_io x = rand_io(ndim, shape, 1.5f);
    size_t n = test_io_numel(&x);
    double ref = 0.0;
    for (size_t i = 0; i < n; i++) ref += (double)((float *)x.data)[i] * ((float *)x.data)[i];
    char name[96];
    snprintf(name, sizeof name, "sum_squares %zu elements", n);
    float got = run_sumsq(env->cpu, &x), want = (float)ref;
    test_compare(name, &got, &want, 1, 0.0f, 1e-7f);
    /* bit-identical whatever the thread count */
    float g1 = run_sumsq(cpu1, &x), g2 = run_sumsq(cpu2, &x);
    CHECK(memcmp(&g1, &got, 4) == 0 && memcmp(&g2, &got, 4) == 0);
    if (memcmp(&g1, &g2, 4)) fprintf(stderr, "%s: 1 thread %.9g, 2 threads %.9g\n", name,
                                     (double)g1, (double)g2);
    test_io o = {.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
    test_vk_vs_cpu(env, name, VKFT_OP_SUM_SQUARES, NULL, &x, 1, &o, 1, 0.0f, 4e-5f);
    test_io_free(&x);
}

/* One AdamW step in double, PyTorch's formulas in their order. */
static void adamw_ref(const vkft_adamw_params *a, const float *hyper, const float *g, double *p,
                      double *m, double *v, size_t n) {
    double lr = hyper[0], step = hyper[1], gs = hyper[2];
    double b1 = a->beta1, b2 = a->beta2, eps = a->eps, wd = a->weight_decay;
    double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
    double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        double gi = (double)g[i] * gs;
        p[i] *= 1.0 - lr * wd;
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        double denom = sqrt(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * m[i] / denom;
    }
}

/* Runs one step on dev; state[0..2] = p, m, v are replaced by the results. */
static void adamw_step(vkft_device *dev, const vkft_adamw_params *a, test_io *state,
                       const test_io *g, const test_io *hyper, bool in_place) {
    test_io in[5] = {state[0], *g, state[1], state[2], *hyper};
    test_io out[3];
    for (int i = 0; i < 3; i++) {
        out[i] = state[i];
        out[i].data = NULL;
    }
    static const int alias[3] = {0, 2, 3};
    CHECK_OK(test_run_op(dev, VKFT_OP_ADAMW, a, in, 5, out, 3, in_place ? alias : NULL), dev);
    for (int i = 0; i < 3; i++) {
        if (!out[i].data) continue;
        test_io_free(&state[i]);
        state[i] = out[i];
    }
}

static void compare_d(const char *what, const float *got, const double *want, size_t n,
                      float atol, float rtol) {
    float *w = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) w[i] = (float)want[i];
    test_compare(what, got, w, n, atol, rtol);
    free(w);
}

static void test_adamw(test_env *env, int ndim, const int64_t *shape, float wd, float gs,
                       bool in_place, int steps, float step0) {
    vkft_adamw_params a = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = wd};
    test_io pio = rand_io(ndim, shape, 1.0f);
    size_t n = test_io_numel(&pio);
    test_io cs[3], vs[3];  /* CPU and Vulkan state: p, m, v */
    double *d = malloc(sizeof(double) * 3 * n), *dp = d, *dm = d + n, *dv = d + 2 * n;
    for (int i = 0; i < 3; i++) {
        cs[i] = test_io_new(VKFT_F32, ndim, shape);
        vs[i] = test_io_new(VKFT_F32, ndim, shape);
    }
    memcpy(cs[0].data, pio.data, n * 4);
    memcpy(vs[0].data, pio.data, n * 4);
    for (size_t i = 0; i < n; i++) {
        dp[i] = ((float *)pio.data)[i];
        dm[i] = dv[i] = 0.0;
    }
    test_io hyper = test_io_new(VKFT_F32, 1, (int64_t[]){4});
    float *h = hyper.data;
    char name[160];
    for (int s = 0; s < steps; s++) {
        test_io g = rand_io(ndim, shape, s % 2 ? 0.3f : 2.0f);
        h[0] = 1e-2f;
        h[1] = step0 + (float)s;
        h[2] = gs;
        h[3] = 123.0f;  /* not read */
        snprintf(name, sizeof name, "adamw %zu wd %g gs %g %s step %g", n, (double)wd,
                 (double)gs, in_place ? "in place" : "out of place", (double)h[1]);
        if (s == 0) {  /* Vulkan vs CPU on fresh outputs, with the determinism check */
            test_io in[5] = {cs[0], g, cs[1], cs[2], hyper};
            test_vk_vs_cpu(env, name, VKFT_OP_ADAMW, &a, in, 5, cs, 3, 1e-6f, 1e-6f);
        }
        adamw_ref(&a, h, g.data, dp, dm, dv, n);
        adamw_step(env->cpu, &a, cs, &g, &hyper, in_place);
        if (env->vk) adamw_step(env->vk, &a, vs, &g, &hyper, in_place);
        char what[200];
        snprintf(what, sizeof what, "%s: cpu p vs double", name);
        compare_d(what, cs[0].data, dp, n, 1e-6f, 1e-6f);
        snprintf(what, sizeof what, "%s: cpu m vs double", name);
        compare_d(what, cs[1].data, dm, n, 1e-7f, 1e-5f);
        snprintf(what, sizeof what, "%s: cpu v vs double", name);
        compare_d(what, cs[2].data, dv, n, 1e-12f, 1e-5f);
        for (int i = 0; env->vk && i < 3; i++) {
            snprintf(what, sizeof what, "%s: vulkan vs cpu, output %d", name, i);
            test_compare(what, vs[i].data, cs[i].data, n, 1e-6f, 1e-6f);
        }
        test_io_free(&g);
    }
    for (int i = 0; i < 3; i++) {
        test_io_free(&cs[i]);
        test_io_free(&vs[i]);
    }
    test_io_free(&hyper);
    test_io_free(&pio);
    free(d);
}

/* The bias corrections alone: p = m = v = 0, g = 1, eps = 0, wd = 0 gives
 * p = -lr (1 - b1) / bc1 * sqrt(bc2) / sqrt(1 - b2). */
static void test_bias_correction(test_env *env) {
    static const float steps[] = {1, 2, 3, 10, 100, 1000, 4321, 10000, 1e6f};
    vkft_adamw_params a = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 0.0f, .weight_decay = 0.0f};
    double worst = 0.0;
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        int64_t shape[1] = {8};
        test_io st[3] = {test_io_new(VKFT_F32, 1, shape), test_io_new(VKFT_F32, 1, shape),
                         test_io_new(VKFT_F32, 1, shape)};
        test_io g = test_io_new(VKFT_F32, 1, shape);
        test_io hyper = test_io_new(VKFT_F32, 1, (int64_t[]){4});
        for (int i = 0; i < 8; i++) ((float *)g.data)[i] = 1.0f;
        float *h = hyper.data;
        h[0] = 1e-3f;
        h[1] = steps[k];
        h[2] = 1.0f;
        double b1 = a.beta1, b2 = a.beta2;
        double want = -(double)h[0] * (1.0 - b1) / (1.0 - pow(b1, h[1])) *
                      sqrt(1.0 - pow(b2, h[1])) / sqrt(1.0 - b2);
        vkft_device *devs[2] = {env->cpu, env->vk};
        for (int d = 0; d < 2; d++) {
            if (!devs[d]) continue;
            test_io s2[3];
            for (int i = 0; i < 3; i++) {
                s2[i] = test_io_new(VKFT_F32, 1, shape);
                memcpy(s2[i].data, st[i].data, 32);
            }
            adamw_step(devs[d], &a, s2, &g, &hyper, false);
            double got = ((float *)s2[0].data)[0], rel = fabs(got - want) / fabs(want);
            worst = rel > worst ? rel : worst;
            if (rel > 4e-6)
                fprintf(stderr, "bias correction, %s, step %g: got %.9g want %.9g (rel %.3g)\n",
                        d ? "vulkan" : "cpu", (double)h[1], got, want, rel);
            CHECK(rel <= 4e-6);
            for (int i = 0; i < 3; i++) test_io_free(&s2[i]);
        }
        for (int i = 0; i < 3; i++) test_io_free(&st[i]);
        test_io_free(&g);
        test_io_free(&hyper);
    }
    printf("bias corrections: worst relative difference from double %.3g\n", worst);
}

/* A call must fail with `want` and a message naming the op. */
static void expect_error(test_env *env, vkft_op op, const void *params, const test_io *in,
                         int n_in, test_io *out, int n_out, vkft_status want) {
    vkft_device *devs[2] = {env->cpu, env->vk};
    for (int d = 0; d < 2; d++) {
        if (!devs[d]) continue;
        vkft_status st = test_run_op(devs[d], op, params, in, n_in, out, n_out, NULL);
        CHECK(st == want);
        CHECK(strstr(vkft_device_error(devs[d]), vkft_op_name(op)) != NULL);
        if (st != want) fprintf(stderr, "  got %d: %s\n", (int)st, vkft_device_error(devs[d]));
        for (int i = 0; i < n_out; i++) test_io_free(&out[i]);
    }
}

static void test_bad_input(test_env *env) {
    int64_t s[2] = {4, 5};
    test_io xi = test_io_new(VKFT_I32, 2, s), x = test_io_new(VKFT_F32, 2, s);
    test_io x2 = test_io_new(VKFT_F32, 2, (int64_t[]){5, 4});
    test_io h4 = test_io_new(VKFT_F32, 1, (int64_t[]){4});
    test_io h3 = test_io_new(VKFT_F32, 1, (int64_t[]){3});
    test_io o1 = {.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
    expect_error(env, VKFT_OP_SUM_SQUARES, NULL, &xi, 1, &o1, 1, VKFT_ERR_DTYPE);
    vkft_adamw_params a = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f};
    test_io out[3] = {{.dtype = VKFT_F32, .ndim = 2, .shape = {4, 5}},
                      {.dtype = VKFT_F32, .ndim = 2, .shape = {4, 5}},
                      {.dtype = VKFT_F32, .ndim = 2, .shape = {4, 5}}};
    expect_error(env, VKFT_OP_ADAMW, &a, (test_io[]){x, x2, x, x, h4}, 5, out, 3,
                 VKFT_ERR_SHAPE);
    expect_error(env, VKFT_OP_ADAMW, &a, (test_io[]){x, x, x, x, h3}, 5, out, 3,
                 VKFT_ERR_SHAPE);
    expect_error(env, VKFT_OP_ADAMW, &a, (test_io[]){x, x, xi, x, h4}, 5, out, 3,
                 VKFT_ERR_DTYPE);
    vkft_adamw_params bad = a;
    bad.beta2 = 1.0f;
    expect_error(env, VKFT_OP_ADAMW, &bad, (test_io[]){x, x, x, x, h4}, 5, out, 3,
                 VKFT_ERR_INVALID_ARG);
    test_io *all[] = {&xi, &x, &x2, &h4, &h3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) test_io_free(all[i]);
}

static vkft_context *cpu_context(int threads, vkft_device **dev) {
    vkft_context_options opts;
    vkft_context_options_default(&opts);
    opts.no_vulkan = true;
    opts.cpu_threads = threads;
    vkft_context *ctx = NULL;
    if (vkft_context_create(&opts, &ctx) != VKFT_OK ||
        vkft_device_open(ctx, "cpu", dev) != VKFT_OK) {
        fprintf(stderr, "cpu context with %d threads: %s\n", threads, vkft_context_error(ctx));
        exit(1);
    }
    CHECK(vkft_device_get_info(*dev)->cpu_threads == threads);
    return ctx;
}

int main(void) {
    test_env env;
    test_env_open(&env);
    vkft_device *cpu1, *cpu2;
    vkft_context *ctx1 = cpu_context(1, &cpu1), *ctx2 = cpu_context(2, &cpu2);
    test_sum_squares(&env, cpu1, cpu2, 1, (int64_t[]){1});
    test_sum_squares(&env, cpu1, cpu2, 2, (int64_t[]){7, 13});
    test_sum_squares(&env, cpu1, cpu2, 4, (int64_t[]){3, 5, 7, 11});
    test_sum_squares(&env, cpu1, cpu2, 1, (int64_t[]){4097});
    test_sum_squares(&env, cpu1, cpu2, 2, (int64_t[]){1001, 301});  /* 1.2 MB, 74 blocks */
    /* whole texels only (lavapipe: all through sum_squares_cpu), a partial last block */
    test_sum_squares(&env, cpu1, cpu2, 2, (int64_t[]){3, 4100});
    vkft_device_close(cpu1);
    vkft_device_close(cpu2);
    vkft_context_destroy(ctx1);
    vkft_context_destroy(ctx2);

    test_adamw(&env, 2, (int64_t[]){1000, 7}, 0.0f, 1.0f, false, 6, 1.0f);
    test_adamw(&env, 2, (int64_t[]){1000, 7}, 0.1f, 0.37f, true, 6, 1.0f);
    test_adamw(&env, 1, (int64_t[]){5}, 0.1f, 1.0f, true, 3, 1.0f);
    test_adamw(&env, 4, (int64_t[]){3, 1, 1, 1}, 0.0f, 2.5f, false, 3, 1.0f);
    test_adamw(&env, 1, (int64_t[]){1333}, 0.1f, 0.5f, false, 3, 1000.0f);
    test_bias_correction(&env);
    test_bad_input(&env);
    return test_finish(&env);
}
