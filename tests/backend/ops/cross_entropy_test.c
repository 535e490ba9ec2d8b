/*
 * cross_entropy and cross_entropy_backward: the CPU kernels against a direct double-precision
 * log-softmax in this file, Vulkan against the CPU (and two Vulkan runs bit-identical), the
 * backward against central finite differences of loss_sum, the split path (VKFT_MAX_BUFFER_RANGE
 * =4096: shapes with V <= 1000 whose logits pass 4 KiB, N > 512 so the row partials split too),
 * and bad shapes / dtypes. Run under VKFT_KERNEL=cpu and =gpu: on CPU-shaped drivers rows of
 * whole texels (V % 4 == 0: 1000, 300, 32000 through their 8-texel steps and one-texel tails;
 * 36, 64, 8, 4 through the tails only) take the texel kernels (cross_entropy*_cpu.comp, 8 lanes
 * a row) and the other V (3, 1, 777, 50, 7) the storage-buffer kernels.
 *
 * Tolerances (with their reasons):
 *   CPU vs double: the CPU sums expf in double, so its lse is within ~2 ulps of the exact value:
 *     lse atol 1e-6, rtol 4e-7. dlogits use exp(z - lse) with the f32 lse (half an ulp of |lse|
 *     off): atol 1e-6 + 4e-7 (1 + max |z|), rtol 1e-5. loss_sum: atol 1e-6 + 1e-7 S, with
 *     S = sum over counted rows of w (|lse| + |z_label|) (the size of what is summed); count is
 *     a sum of the given weights (the same bound with S = sum w).
 *   Vulkan vs CPU: Vulkan sums in f32 in a lane/tree order and its exp may be a few ulps off;
 *     every lse can differ by a few ulps of |lse| (up to ~100 with |z| = 100), each row's loss by
 *     as much, so atol = 1e-5 + 1e-6 S and rtol 4e-6 for all outputs; dlogits (from the same
 *     lse input): atol 1e-6 + 8e-6 |dloss w|, rtol 1e-5, for the exp implementations.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 1234;

typedef struct ce_case {
    const char *what;
    int64_t n, v;
    float scale;          /* logits ~ normal(0, scale), or uniform(-scale, scale) when uniform */
    bool uniform;
    bool weights;
    int ignore_every;     /* every k-th row gets ignore_index (0: none) */
    int bad_every;        /* every k-th row gets an out-of-range label (0: none) */
    bool all_ignored;
    int32_t ignore_index;
} ce_case;

typedef struct ce_inputs {
    test_io in[3];        /* logits, labels, weights (data NULL when absent) */
} ce_inputs;

static ce_inputs make_inputs(const ce_case *c) {
    ce_inputs x;
    x.in[0] = test_io_new(VKFT_F32, 2, (int64_t[]){c->n, c->v});
    x.in[1] = test_io_new(VKFT_I32, 1, (int64_t[]){c->n});
    x.in[2] = (test_io){.dtype = VKFT_F32, .ndim = 1, .shape = {c->n}};
    float *z = x.in[0].data;
    for (int64_t i = 0; i < c->n * c->v; i++)
        z[i] = c->uniform ? test_rand_uniform(&rng, -c->scale, c->scale)
                          : c->scale * test_rand_normal(&rng);
    int32_t *y = x.in[1].data;
    for (int64_t r = 0; r < c->n; r++) {
        y[r] = (int32_t)(test_rand_u64(&rng) % (uint64_t)c->v);
        if (c->ignore_every && r % c->ignore_every == 1) y[r] = c->ignore_index;
        if (c->bad_every && r % c->bad_every == 2) y[r] = r % 2 ? (int32_t)c->v : -7;
        if (c->all_ignored) y[r] = c->ignore_index;
    }
    if (c->weights) {
        x.in[2] = test_io_new(VKFT_F32, 1, (int64_t[]){c->n});
        float *w = x.in[2].data;
        for (int64_t r = 0; r < c->n; r++) w[r] = test_rand_uniform(&rng, 0.1f, 2.0f);
    }
    return x;
}

static void free_inputs(ce_inputs *x) {
    for (int i = 0; i < 3; i++) test_io_free(&x->in[i]);
}

/* The direct double-precision reference: log-softmax per row. Returns S (see the tolerances). */
static double reference(const ce_case *c, const ce_inputs *x, double *lse, double *loss,
                        double *count, double *sw) {
    const float *z = x->in[0].data, *w = x->in[2].data;
    const int32_t *y = x->in[1].data;
    double s_mag = 0.0;
    *loss = *count = *sw = 0.0;
    for (int64_t r = 0; r < c->n; r++) {
        const float *zr = z + r * c->v;
        double m = -INFINITY, s = 0.0;
        for (int64_t k = 0; k < c->v; k++) m = zr[k] > m ? zr[k] : m;
        for (int64_t k = 0; k < c->v; k++) s += exp((double)zr[k] - m);
        lse[r] = m + log(s);
        int32_t lab = y[r];
        if (lab == c->ignore_index || lab < 0 || lab >= c->v) continue;
        double wr = w ? w[r] : 1.0;
        *loss += wr * (lse[r] - zr[lab]);
        *count += wr;
        *sw += fabs(wr);
        s_mag += fabs(wr) * (fabs(lse[r]) + fabs(zr[lab]));
    }
    return s_mag;
}

/* Whether a row of v logits fits in one binding of the Vulkan device (else its ops refuse). */
static bool row_fits(const test_env *env, int64_t v) {
    return env->vk &&
           (uint64_t)v * 4 + 16 <= vkft_device_get_info(env->vk)->max_storage_buffer_range;
}

static void run_case(test_env *env, const ce_case *c) {
    ce_inputs x = make_inputs(c);
    vkft_cross_entropy_params p = {.ignore_index = c->ignore_index};
    test_io out[3] = {{.dtype = VKFT_F32, .ndim = 1, .shape = {1}},
                      {.dtype = VKFT_F32, .ndim = 1, .shape = {1}},
                      {.dtype = VKFT_F32, .ndim = 1, .shape = {c->n}}};
    double *lse = malloc(sizeof(double) * (size_t)c->n), loss, count, sw;
    double s_mag = reference(c, &x, lse, &loss, &count, &sw);
    char name[160];

    /* CPU vs the double reference */
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_CROSS_ENTROPY, &p, x.in, 3, out, 3, NULL), env->cpu);
    if (out[0].data && out[1].data && out[2].data) {
        float got_l = *(float *)out[0].data, got_c = *(float *)out[1].data;
        snprintf(name, sizeof name, "%s: cpu loss_sum vs double", c->what);
        float want_l = (float)loss, want_c = (float)count;
        test_compare(name, &got_l, &want_l, 1, 1e-6f + 1e-7f * (float)s_mag, 0.0f);
        snprintf(name, sizeof name, "%s: cpu count vs double", c->what);
        test_compare(name, &got_c, &want_c, 1, 1e-6f + 1e-7f * (float)sw, 0.0f);
        float *want_lse = malloc(sizeof(float) * (size_t)c->n);
        for (int64_t r = 0; r < c->n; r++) want_lse[r] = (float)lse[r];
        snprintf(name, sizeof name, "%s: cpu lse vs double", c->what);
        test_compare(name, out[2].data, want_lse, (size_t)c->n, 1e-6f, 4e-7f);
        free(want_lse);
        if (c->all_ignored) CHECK(got_l == 0.0f && got_c == 0.0f);
        for (int64_t r = 0; r < c->n; r++) CHECK(isfinite(((float *)out[2].data)[r]));
    }

    /* Vulkan vs CPU (only where a row fits one binding: V = 32000 under the tiny range not) */
    if (row_fits(env, c->v)) {
        snprintf(name, sizeof name, "%s: forward", c->what);
        test_vk_vs_cpu(env, name, VKFT_OP_CROSS_ENTROPY, &p, x.in, 3, out, 3,
                       1e-5f + 1e-6f * (float)s_mag, 4e-6f);
    }

    /* Backward: CPU vs double, Vulkan vs CPU, with dloss 1 and 0.7 */
    static const float dls[2] = {1.0f, 0.7f};
    for (int k = 0; k < 2 && out[2].data; k++) {
        test_io bin[5] = {x.in[0], x.in[1], x.in[2], out[2],
                          test_io_new(VKFT_F32, 1, (int64_t[]){1})};
        *(float *)bin[4].data = dls[k];
        test_io dz = {.dtype = VKFT_F32, .ndim = 2, .shape = {c->n, c->v}};
        CHECK_OK(test_run_op(env->cpu, VKFT_OP_CROSS_ENTROPY_BACKWARD, &p, bin, 5, &dz, 1, NULL),
                 env->cpu);
        if (dz.data) {
            const float *z = x.in[0].data, *w = x.in[2].data;
            const int32_t *y = x.in[1].data;
            float *want = malloc(sizeof(float) * (size_t)(c->n * c->v));
            for (int64_t r = 0; r < c->n; r++) {
                bool ok = y[r] != c->ignore_index && y[r] >= 0 && y[r] < c->v;
                double cf = ok ? dls[k] * (w ? w[r] : 1.0) : 0.0;
                for (int64_t j = 0; j < c->v; j++)
                    want[r * c->v + j] =
                        (float)(cf * (exp(z[r * c->v + j] - lse[r]) - (j == y[r] ? 1.0 : 0.0)));
            }
            snprintf(name, sizeof name, "%s: cpu dlogits vs double (dloss %g)", c->what,
                     (double)dls[k]);
            /* the CPU's exp(z - lse) uses its f32 lse: relative error ~ulp(|lse|) */
            test_compare(name, dz.data, want, (size_t)(c->n * c->v),
                         1e-6f + 4e-7f * (1.0f + c->scale), 1e-5f);
            free(want);
        }
        if (row_fits(env, c->v)) {
            snprintf(name, sizeof name, "%s: backward (dloss %g)", c->what, (double)dls[k]);
            test_vk_vs_cpu(env, name, VKFT_OP_CROSS_ENTROPY_BACKWARD, &p, bin, 5, &dz, 1,
                           1e-6f + 8e-6f * 2.0f * dls[k], 1e-5f);
        }
        test_io_free(&dz);
        test_io_free(&bin[4]);
    }
    free(lse);
    for (int i = 0; i < 3; i++) test_io_free(&out[i]);
    free_inputs(&x);
}

/* d loss_sum / d logits by central differences on the CPU (projection: dloss on loss_sum). */
static void grad_case(test_env *env, const ce_case *c, float dloss) {
    ce_inputs x = make_inputs(c);
    vkft_cross_entropy_params p = {.ignore_index = c->ignore_index};
    test_io out[3] = {{.dtype = VKFT_F32, .ndim = 1, .shape = {1}},
                      {.dtype = VKFT_F32, .ndim = 1, .shape = {1}},
                      {.dtype = VKFT_F32, .ndim = 1, .shape = {c->n}}};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_CROSS_ENTROPY, &p, x.in, 3, out, 3, NULL), env->cpu);
    test_io bin[5] = {x.in[0], x.in[1], x.in[2], out[2], test_io_new(VKFT_F32, 1, (int64_t[]){1})};
    *(float *)bin[4].data = dloss;
    test_io dz = {.dtype = VKFT_F32, .ndim = 2, .shape = {c->n, c->v}};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_CROSS_ENTROPY_BACKWARD, &p, bin, 5, &dz, 1, NULL),
             env->cpu);
    float proj0[1] = {dloss};
    float *proj[3] = {proj0, NULL, NULL};
    char name[160];
    snprintf(name, sizeof name, "%s: d loss_sum / d logits (dloss %g)", c->what, (double)dloss);
    /* loss_sum ~ 10 in f32 (ulp 1e-6, over 2 eps = 2e-2: 5e-5) and O(eps^2) truncation */
    if (dz.data)
        test_grad_fd(env, name, VKFT_OP_CROSS_ENTROPY, &p, x.in, 3, out, 3, proj, 0, dz.data,
                     1e-2f, 2e-4f, 2e-3f, 256);
    test_io_free(&dz);
    test_io_free(&bin[4]);
    for (int i = 0; i < 3; i++) test_io_free(&out[i]);
    free_inputs(&x);
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
    vkft_cross_entropy_params p = {.ignore_index = -100};
    test_io z3 = test_io_new(VKFT_F32, 3, (int64_t[]){2, 3, 5});
    test_io z = test_io_new(VKFT_F32, 2, (int64_t[]){6, 5});
    test_io y = test_io_new(VKFT_I32, 1, (int64_t[]){6});
    test_io yf = test_io_new(VKFT_F32, 1, (int64_t[]){6});
    test_io w4 = test_io_new(VKFT_F32, 1, (int64_t[]){4});
    test_io lse = test_io_new(VKFT_F32, 1, (int64_t[]){6});
    test_io lse_bad = test_io_new(VKFT_F32, 1, (int64_t[]){5});
    test_io dl = test_io_new(VKFT_F32, 1, (int64_t[]){1});
    test_io out[3] = {{.dtype = VKFT_F32, .ndim = 1, .shape = {1}},
                      {.dtype = VKFT_F32, .ndim = 1, .shape = {1}},
                      {.dtype = VKFT_F32, .ndim = 1, .shape = {6}}};
    test_io absent = {.dtype = VKFT_F32, .ndim = 1, .shape = {6}};
    expect_error(env, VKFT_OP_CROSS_ENTROPY, &p, (test_io[]){z3, y, absent}, 3, out, 3,
                 VKFT_ERR_SHAPE);
    expect_error(env, VKFT_OP_CROSS_ENTROPY, &p, (test_io[]){z, yf, absent}, 3, out, 3,
                 VKFT_ERR_DTYPE);
    expect_error(env, VKFT_OP_CROSS_ENTROPY, &p, (test_io[]){z, y, w4}, 3, out, 3,
                 VKFT_ERR_SHAPE);
    test_io dz = {.dtype = VKFT_F32, .ndim = 2, .shape = {6, 5}};
    expect_error(env, VKFT_OP_CROSS_ENTROPY_BACKWARD, &p, (test_io[]){z, y, absent, lse_bad, dl},
                 5, &dz, 1, VKFT_ERR_SHAPE);
    expect_error(env, VKFT_OP_CROSS_ENTROPY_BACKWARD, &p, (test_io[]){z, y, absent, lse, lse}, 5,
                 &dz, 1, VKFT_ERR_SHAPE);
    expect_error(env, VKFT_OP_CROSS_ENTROPY_BACKWARD, &p, (test_io[]){z, yf, absent, lse, dl}, 5,
                 &dz, 1, VKFT_ERR_DTYPE);
    test_io *all[] = {&z3, &z, &y, &yf, &w4, &lse, &lse_bad, &dl};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) test_io_free(all[i]);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    static const ce_case cases[] = {
        /* split: 148 KB of logits, one 4000-byte row per chunk under the tiny range */
        {"37x1000 weights, ignored and out-of-range labels", 37, 1000, 3.0f, false, true, 5, 7,
         false, -100},
        /* split: 1100 rows of 3 (13 KB) and 8.8 KB of row partials, summed in 3 chunks */
        {"1100x3", 1100, 3, 1.0f, false, false, 9, 0, false, -100},
        {"large logits |z| <= 100", 20, 300, 100.0f, true, true, 4, 0, false, -100},
        {"V=1", 5, 1, 2.0f, false, true, 3, 0, false, -100},
        {"N=1 V=1", 1, 1, 1.0f, false, false, 0, 0, false, -100},
        {"N=1 V=777", 1, 777, 2.0f, false, false, 0, 0, false, -100},
        {"all rows ignored", 9, 50, 1.0f, false, true, 0, 0, true, -100},
        {"ignore_index 3", 40, 7, 1.0f, false, false, 0, 0, false, 3},
        /* whole texels: 9 texels per row (tails only); split: 28 rows per chunk, 37 chunks */
        {"1024x36 weights, ignored and out-of-range labels", 1024, 36, 2.0f, false, true, 6, 11,
         false, -100},
        {"all rows ignored V=64", 9, 64, 1.0f, false, true, 0, 0, true, -100},
        {"ignore_index 3 V=8", 40, 8, 1.0f, false, false, 0, 0, false, 3},
        /* one texel per row: lanes 1..7 hold no logits */
        {"V=4 large logits", 33, 4, 100.0f, true, true, 5, 0, false, -100},
        /* the vocabulary of Llama: the row (128 KB) does not fit the tiny range, so its split run
         * checks only the CPU against double */
        {"V=32000", 3, 32000, 2.0f, false, true, 0, 0, false, -100},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&env, &cases[i]);
    static const ce_case gcase = {"fd 4x13", 4, 13, 1.5f, false, true, 3, 0, false, -100};
    grad_case(&env, &gcase, 1.0f);
    grad_case(&env, &gcase, 0.7f);
    static const ce_case gcase2 = {"fd 3x8 no weights", 3, 8, 1.0f, false, false, 0, 0, false,
                                   -100};
    grad_case(&env, &gcase2, 1.0f);
    test_bad_input(&env);
    return test_finish(&env);
}
