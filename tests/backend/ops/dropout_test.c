/*
 * dropout: the hash against MurmurHash3_x86_32's published test vectors, the CPU against the
 * contract (kept elements are x * s exactly, dropped ones 0, the keep rate is 1 - p within five
 * standard deviations, streams and steps give independent masks), Vulkan against the CPU bit for
 * bit (no tolerance: both compare the same integers and multiply by the same float), in place,
 * p = 0 and a negative step (evaluation) as exact copies, the backward through autograd (the gradient is dy through the same
 * mask) on both devices, fresh masks per step in a replayed plan, and bad calls refused.
 * In the (split) run the 4 KiB range cuts every tensor here into many chunks, so the chunk
 * base index reaches the shader's hash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/dropout.h"
#include "test_util.h"
#include "vkft/graph.h"

static uint64_t rng = 17;

static void test_hash_vectors(void) {
    /* MurmurHash3_x86_32 test vectors (whole 32-bit words, little-endian) */
    static const struct { uint32_t w; int n; uint32_t seed, want; } v[] = {
        {0, 0, 0u, 0u},
        {0, 0, 1u, 0x514e28b7u},
        {0, 0, 0xffffffffu, 0x81f16f39u},
        {0, 1, 0u, 0x2362f9deu},
        {0x61616161u, 1, 0x9747b28cu, 0x5a97808au},  /* "aaaa" */
        {0x87654321u, 1, 0u, 0xf55b516bu},
        {0x87654321u, 1, 0x5082edeeu, 0x2362f9deu},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t h = vkft_murmur3_words(&v[i].w, v[i].n, v[i].seed);
        if (h != v[i].want) {
            fprintf(stderr, "murmur3 vector %zu: got %08x want %08x\n", i, h, v[i].want);
            test_failures++;
        }
    }
    CHECK(vkft_dropout_threshold(0.0f) == 0u);
    CHECK(vkft_dropout_threshold(0.5f) == 0x80000000u);
    CHECK(vkft_dropout_scale(0.5f) == 2.0f);
}

static test_io seed_io(int32_t seed, int32_t step) {
    test_io s = test_io_new(VKFT_I32, 1, (int64_t[]){2});
    ((int32_t *)s.data)[0] = seed;
    ((int32_t *)s.data)[1] = step;
    return s;
}

/* Runs dropout on dev; returns y (caller frees) or NULL. */
static float *run(vkft_device *dev, const test_io *x, int32_t seed, int32_t step, float p,
                  uint32_t stream, bool in_place) {
    test_io in[2] = {*x, seed_io(seed, step)};
    test_io out = {.dtype = VKFT_F32, .ndim = x->ndim};
    memcpy(out.shape, x->shape, sizeof out.shape);
    vkft_dropout_params dp = {.p = p, .stream = stream};
    int alias[1] = {0};
    vkft_status st = test_run_op(dev, VKFT_OP_DROPOUT, &dp, in, 2, &out, 1,
                                 in_place ? alias : NULL);
    test_io_free(&in[1]);
    if (st) {
        fprintf(stderr, "dropout on %s: %s\n", vkft_device_get_info(dev)->spec,
                vkft_device_error(dev));
        test_failures++;
        free(out.data);
        return NULL;
    }
    return out.data;
}

/* The contract on the CPU: values, keep rate, independence of streams and steps. */
static void test_contract(test_env *env) {
    enum { N = 200003 };
    test_io x = test_io_new(VKFT_F32, 2, (int64_t[]){N / 7, 7});
    float *xs = x.data;
    size_t n = test_io_numel(&x);
    test_fill_normal(&rng, xs, n, 1.0f);
    for (size_t i = 0; i < n; i++)
        if (xs[i] == 0.0f) xs[i] = 1.0f;  /* so that y == 0 means dropped */
    static const float ps[] = {0.05f, 0.1f, 0.5f, 0.9f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        float p = ps[k], s = (float)(1.0 / (1.0 - (double)p));
        float *a = run(env->cpu, &x, 1234, 1, p, 0, false);
        float *b = run(env->cpu, &x, 1234, 1, p, 1, false);   /* another site */
        float *c = run(env->cpu, &x, 1234, 2, p, 0, false);   /* the next step */
        float *a2 = run(env->cpu, &x, 1234, 1, p, 0, false);
        if (!a || !b || !c || !a2) goto next;
        size_t kept = 0, bad = 0, same_b = 0, same_c = 0;
        for (size_t i = 0; i < n; i++) {
            bool ka = a[i] != 0.0f;
            kept += ka;
            bad += ka ? a[i] != xs[i] * s : a[i] != 0.0f;
            same_b += ka == (b[i] != 0.0f);
            same_c += ka == (c[i] != 0.0f);
        }
        double q = 1.0 - p, sd = sqrt(p * q / (double)n);
        double agree = p * p + q * q, sd2 = sqrt(agree * (1 - agree) / (double)n);
        double rate = (double)kept / (double)n;
        if (bad || fabs(rate - q) > 5 * sd || fabs((double)same_b / (double)n - agree) > 5 * sd2 ||
            fabs((double)same_c / (double)n - agree) > 5 * sd2) {
            fprintf(stderr, "p %g: %zu wrong values, keep rate %.5f (want %.5f +- %.5f), "
                    "stream agreement %.5f, step agreement %.5f (want %.5f +- %.5f)\n", p, bad,
                    rate, q, 5 * sd, (double)same_b / (double)n, (double)same_c / (double)n,
                    agree, 5 * sd2);
            test_failures++;
        }
        CHECK(!memcmp(a, a2, n * sizeof *a));  /* deterministic */
    next:
        free(a);
        free(b);
        free(c);
        free(a2);
    }
    float *y0 = run(env->cpu, &x, 5, 9, 0.0f, 3, false);
    CHECK(y0 && !memcmp(y0, xs, n * sizeof *xs));  /* p = 0: an exact copy */
    free(y0);
    y0 = run(env->cpu, &x, 5, -1, 0.5f, 3, false);
    CHECK(y0 && !memcmp(y0, xs, n * sizeof *xs));  /* a negative step (evaluation): a copy */
    free(y0);
    test_io_free(&x);
}

/* Vulkan == CPU bit for bit, out of place and in place, several shapes. */
static void test_vulkan(test_env *env) {
    if (!env->vk) return;
    static const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {64, 33, 17}, {2, 1000, 129}};
    static const float ps[] = {0.0f, 0.1f, 0.5f, 0.9f};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        test_io x = test_io_new(VKFT_F32, 3, shapes[si]);
        size_t n = test_io_numel(&x);
        test_fill_normal(&rng, x.data, n, 2.0f);
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            int32_t seed = (int32_t)(test_rand_u64(&rng) >> 33);
            int32_t step = k == 2 && si == 2 ? -1 : (int32_t)k + 1;  /* one evaluation run */
            uint32_t stream = (uint32_t)(si * 7 + k);
            float *c = run(env->cpu, &x, seed, step, ps[k], stream, false);
            float *v = run(env->vk, &x, seed, step, ps[k], stream, false);
            float *vi = run(env->vk, &x, seed, step, ps[k], stream, true);
            if (c && v && vi && (memcmp(c, v, n * 4) || memcmp(c, vi, n * 4))) {
                fprintf(stderr, "dropout [%zu elements] p %g: vulkan differs from the cpu\n", n,
                        ps[k]);
                test_failures++;
            }
            free(c);
            free(v);
            free(vi);
        }
        test_io_free(&x);
    }
}

/*
 * loss = sum(dropout(x) * c): dL/dx = c through the mask, i.e. dropout(c) with the same seed
 * and stream; checked on each device, and the mask must change when the step input does.
 */
static void test_backward(test_env *env, vkft_device *dev) {
    enum { R = 37, C = 29 };
    const float p = 0.3f;
    vkft_graph *g;
    CHECK(vkft_graph_create(&g) == VKFT_OK);
    vkft_value x = vkft_graph_leaf(g, "x", VKFT_ROLE_TRAINABLE, VKFT_F32, 2, (int64_t[]){R, C});
    vkft_value c = vkft_graph_leaf(g, "c", VKFT_ROLE_INPUT, VKFT_F32, 2, (int64_t[]){R, C});
    vkft_value sd = vkft_graph_leaf(g, "seed", VKFT_ROLE_INPUT, VKFT_I32, 1, (int64_t[]){2});
    vkft_dropout_params dp = {.p = p, .stream = 11};
    vkft_value y = vkft_graph_op1(g, VKFT_OP_DROPOUT, &dp, (vkft_value[]){x, sd}, 2);
    vkft_value yc = vkft_graph_op1(g, VKFT_OP_MUL, NULL, (vkft_value[]){y, c}, 2);
    vkft_shape_params one = {.ndim = 1, .shape = {1}};
    vkft_value loss = vkft_graph_op1(g, VKFT_OP_SUM_TO, &one, &yc, 1);
    CHECK(vkft_graph_keep(g, y, "y") == VKFT_OK);
    CHECK(vkft_graph_backward(g, loss, VKFT_NONE) == VKFT_OK);
    vkft_plan *plan = NULL;
    vkft_status st = vkft_compile(dev, g, NULL, NULL, &plan);
    vkft_graph_destroy(g);
    if (st) {
        fprintf(stderr, "compile: %s\n", vkft_device_error(dev));
        test_failures++;
        return;
    }
    test_io xi = test_io_new(VKFT_F32, 2, (int64_t[]){R, C});
    test_io ci = test_io_new(VKFT_F32, 2, (int64_t[]){R, C});
    test_fill_normal(&rng, xi.data, R * C, 1.0f);
    test_fill_normal(&rng, ci.data, R * C, 1.0f);
    float grad[R * C], y1[R * C], y2[R * C];
    int32_t seed[2] = {77, 1};
    CHECK(!vkft_plan_upload(plan, "x", xi.data, sizeof grad));
    CHECK(!vkft_plan_upload(plan, "c", ci.data, sizeof grad));
    CHECK(!vkft_plan_upload(plan, "seed", seed, sizeof seed));
    CHECK(vkft_plan_run(plan, 0) == VKFT_OK);
    CHECK(!vkft_plan_download(plan, "grad:x", grad, sizeof grad));
    CHECK(!vkft_plan_download(plan, "y", y1, sizeof y1));
    float *want = run(env->cpu, &ci, 77, 1, p, 11, false);
    float *want_y = run(env->cpu, &xi, 77, 1, p, 11, false);
    if (want && want_y) {
        size_t bad = 0;
        for (int i = 0; i < R * C; i++) bad += grad[i] != want[i] || y1[i] != want_y[i];
        if (bad) {
            fprintf(stderr, "%s: dropout backward: %zu of %d elements differ from the mask\n",
                    vkft_device_get_info(dev)->spec, bad, R * C);
            test_failures++;
        }
    }
    seed[1] = 2;  /* the next step: the same plan, a new mask */
    CHECK(!vkft_plan_upload(plan, "seed", seed, sizeof seed));
    CHECK(vkft_plan_run(plan, 0) == VKFT_OK);
    CHECK(!vkft_plan_download(plan, "y", y2, sizeof y2));
    CHECK(memcmp(y1, y2, sizeof y1) != 0);
    free(want);
    free(want_y);
    test_io_free(&xi);
    test_io_free(&ci);
    vkft_plan_destroy(plan);
}

static void test_bad_calls(test_env *env) {
    test_io x = test_io_new(VKFT_F32, 1, (int64_t[]){8});
    test_io out = {.dtype = VKFT_F32, .ndim = 1, .shape = {8}};
    const float bad_p[] = {1.0f, -0.1f, NAN};
    for (size_t k = 0; k < sizeof bad_p / sizeof bad_p[0]; k++) {
        test_io in[2] = {x, seed_io(1, 1)};
        vkft_dropout_params dp = {.p = bad_p[k]};
        CHECK(test_run_op(env->cpu, VKFT_OP_DROPOUT, &dp, in, 2, &out, 1, NULL) ==
              VKFT_ERR_INVALID_ARG);
        test_io_free(&in[1]);
    }
    vkft_dropout_params dp = {.p = 0.5f};
    test_io s3 = test_io_new(VKFT_I32, 1, (int64_t[]){3}), sf = test_io_new(VKFT_F32, 1,
                                                                             (int64_t[]){2});
    CHECK(test_run_op(env->cpu, VKFT_OP_DROPOUT, &dp, (test_io[]){x, s3}, 2, &out, 1, NULL) ==
          VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(env->cpu), "seed"));
    CHECK(test_run_op(env->cpu, VKFT_OP_DROPOUT, &dp, (test_io[]){x, sf}, 2, &out, 1, NULL) ==
          VKFT_ERR_DTYPE);
    test_io_free(&s3);
    test_io_free(&sf);
    test_io_free(&out);
    test_io_free(&x);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_hash_vectors();
    test_contract(&env);
    test_vulkan(&env);
    test_backward(&env, env.cpu);
    if (env.vk) test_backward(&env, env.vk);
    test_bad_calls(&env);
    return test_finish(&env);
}
