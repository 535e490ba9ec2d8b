/*
 * gelu, gelu_erf, silu, swiglu, softmax, relu, tanh and their backwards: the CPU against the
 * contracts' formulas in double, Vulkan against the CPU, backwards against finite differences, large
 * inputs, bad input.
 *
 * Inputs mix normals with values up to |x| = 30 (and a few of 1e4 and 1e30, where x^3 overflows):
 * every output must stay finite.
 * Tolerances (Vulkan vs CPU): both sides evaluate the same formulas in f32; they differ by exp
 * (GLSL allows 3 + 2|x| ulp, and lavapipe's exp2(x log2 e) shows that growth: 2.8e-6 relative
 * measured at x = -46; up to 177 ulp = 1.1e-5 before exp underflows at x = -87) and, for
 * softmax, by the order of the row sums (a lane-strided tree on Vulkan, a double sum on the CPU).
 *   forwards: rtol 2e-5 (the exp bound), atol 1e-30 (x sigmoid(x) has no cancellation);
 *   backwards: also atol 1e-6: gelu' and silu' cross 0 (s + x s t cancels to O(1) terms with
 *     f32 rounding 1e-7 each, times |dy| < 5; measured 6e-8);
 *   softmax: rtol 1e-5, atol 1e-12 (y >= e^-60 here; exp args stay in [-60, 0]);
 *   softmax_backward: atol 1e-7 for the cancellation in dy - sum(dy y).
 *   relu and relu_backward: exact (atol 0, rtol 0): a comparison and a copy.
 *   tanh: rtol 1e-6: the same formulas; the polynomial branch (|x| < 0.625) differs only by
 *     FMA contraction, the exp branch damps exp's relative error by 2e / (1 + e)^2 <= 0.35
 *     with e = exp(-2|x|) in [0, 0.29] (measured over 2e6 points in [-12, 12]: 3.2e-7, at
 *     the branch edge); tanh_backward: dy (1 - y)(1 + y) from the same y: rtol 1e-6.
 * gelu_erf (exact GELU) against 0.5 x erfc(-x / sqrt 2) in double: rtol 1e-6 + 1e-7 x^2 (NR's
 * erfc 1.2e-7, f32 rounding of t, the polynomial and two exps a few ulp, and the rounding of
 * x x inside exp(-x x / 2), 3e-8 x^2 relative), atol 1e-36 (exp underflows to 0 below -87.3,
 * where the true value is < 1e-37 |x|); its backward against dy (Phi + x phi) in double:
 * atol 1e-6 |dy| (Phi + x phi crosses 0 at x = -0.75: two O(0.3) terms, f32 rounding) plus
 * the same relative bound. Vulkan vs CPU: the forward/backward tolerances above (2e-5 from
 * GLSL's exp at arguments down to -87).
 * The CPU's tanh against tanh() in double: rtol 4e-7 (Cephes quotes 2.9e-7 peak for its tanhf
 * polynomial; measured 1.5e-7 over the points above), atol 1e-30.
 * Rows of 32001 do not fit the (split) run's 4 KiB range: there Vulkan must refuse cleanly.
 * Elementwise sizes: with VKFT_KERNEL=cpu the whole texels of each chunk run the texel-fed
 * activation_cpu.comp and a remainder of 1-3 elements activation.comp (7, 15, 4773, 1542: both;
 * 1: only the remainder; 352256: whole texels only; 4773: a partly filled last workgroup).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 5;
static uint64_t max_range;  /* VKFT_MAX_BUFFER_RANGE when set (split runs), else 0 */

static test_io desc_io(int nd, const int64_t *shape) {
    test_io io = {.dtype = VKFT_F32, .ndim = nd};
    memcpy(io.shape, shape, sizeof(int64_t) * (size_t)nd);
    return io;
}

/* normal(0, scale); with `wide`, every 11th element is uniform in [-30, 30] and the first few
 * are the extremes (+-30, +-1e4, +-1e30, 0). */
static test_io input(int nd, const int64_t *shape, float scale, bool wide) {
    test_io io = test_io_new(VKFT_F32, nd, shape);
    float *x = io.data;
    size_t n = test_io_numel(&io);
    test_fill_normal(&rng, x, n, scale);
    if (!wide) return io;
    static const float ext[7] = {30.0f, -30.0f, 1e4f, -1e4f, 1e30f, -1e30f, 0.0f};
    for (size_t i = 0; i < n; i++) {
        if (i % 11 == 5) x[i] = test_rand_uniform(&rng, -30.0f, 30.0f);
        if (i < 7 && n > 20) x[i] = ext[i];
    }
    return io;
}

static bool all_finite(const float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i])) return false;
    return true;
}

/* Runs op on the CPU, returns output k's data (caller frees); outs of the inputs' shape. */
static float *cpu_run(test_env *env, vkft_op op, const test_io *in, int n_in, int n_out, int k) {
    test_io o[2] = {desc_io(in[0].ndim, in[0].shape), desc_io(in[0].ndim, in[0].shape)};
    CHECK_OK(test_run_op(env->cpu, op, NULL, in, n_in, o, n_out, NULL), env->cpu);
    for (int i = 0; i < n_out; i++)
        if (i != k) test_io_free(&o[i]);
    return o[k].data;
}

/* The contracts in double: gelu_new and silu. */
static double gelu_ref(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double silu_ref(double x) { return x / (1.0 + exp(-x)); }
/* The exact GELU and its derivative in double. */
static double gelu_erf_ref(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double gelu_erf_dref(double x) {
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* gelu_erf and its backward (from x) against the double formulas (tolerances: header). */
static void check_gelu_erf(test_env *env, test_io *x, test_io *dy) {
    size_t n = test_io_numel(x);
    float *y = cpu_run(env, VKFT_OP_GELU_ERF, x, 1, 1, 0);
    test_io in2[2] = {*dy, *x};
    float *d = cpu_run(env, VKFT_OP_GELU_ERF_BACKWARD, in2, 2, 1, 0);
    const float *xs = x->data, *g = dy->data;
    double worst = 0.0, worst_d = 0.0;
    for (size_t i = 0; y && d && i < n; i++) {
        double xi = xs[i], r = gelu_erf_ref(xi), rd = g[i] * gelu_erf_dref(xi);
        double rel = 1e-6 + 1e-7 * (xi * xi < 1e4 ? xi * xi : 1e4);
        double e = fabs(y[i] - r), ed = fabs(d[i] - rd);
        if (fabs(r) > 1e-30) worst = fmax(worst, e / fabs(r));
        if (fabs(rd) > 1e-6) worst_d = fmax(worst_d, ed / fabs(rd));
        if (!isfinite(y[i]) || !isfinite(d[i]) || e > 1e-36 + rel * fabs(r) ||
            ed > 1e-6 * fabs(g[i]) + rel * fabs(rd)) {
            fprintf(stderr, "x = %.9g dy = %.9g: gelu_erf %.9g (want %.9g), gelu_erf' %.9g "
                    "(want %.9g)\n", xs[i], g[i], y[i], r, d[i], rd);
            test_failures++;
            break;
        }
    }
    if (getenv("VKFT_TEST_VERBOSE"))
        printf("gelu_erf [%zu]: worst relative error %.3g, backward %.3g\n", n, worst, worst_d);
    test_io out = desc_io(x->ndim, x->shape);
    char what[96];
    snprintf(what, sizeof what, "gelu_erf [%zu elements]", n);
    test_vk_vs_cpu(env, what, VKFT_OP_GELU_ERF, NULL, x, 1, &out, 1, 1e-30f, 2e-5f);
    snprintf(what, sizeof what, "gelu_erf_backward [%zu elements]", n);
    test_vk_vs_cpu(env, what, VKFT_OP_GELU_ERF_BACKWARD, NULL, in2, 2, &out, 1, 1e-6f, 2e-5f);
    free(y);
    free(d);
}

/* relu and tanh of every x against the contracts (relu exact, tanh 4e-7 relative) and their
 * backwards against dy * the derivative in double from the same y (relu_backward exact). */
static void check_relu_tanh(test_env *env, test_io *x, test_io *dy) {
    size_t n = test_io_numel(x);
    float *r = cpu_run(env, VKFT_OP_RELU, x, 1, 1, 0), *t = cpu_run(env, VKFT_OP_TANH, x, 1, 1, 0);
    const float *xs = x->data, *g = dy->data;
    for (size_t i = 0; r && t && i < n; i++) {
        double rt = tanh((double)xs[i]), rr = xs[i] < 0.0f ? 0.0 : xs[i];
        if (r[i] != rr || fabs(t[i] - rt) > 1e-30 + 4e-7 * fabs(rt) || fabs(t[i]) > 1.0f) {
            fprintf(stderr, "x = %.9g: relu %.9g (want %.9g), tanh %.9g (want %.9g)\n", xs[i],
                    r[i], rr, t[i], rt);
            test_failures++;
            break;
        }
    }
    test_io ry[2] = {*dy, *x}, ty[2] = {*dy, *x};
    ry[1].data = r;
    ty[1].data = t;
    float *dr = r && t ? cpu_run(env, VKFT_OP_RELU_BACKWARD, ry, 2, 1, 0) : NULL;
    float *dt = r && t ? cpu_run(env, VKFT_OP_TANH_BACKWARD, ty, 2, 1, 0) : NULL;
    for (size_t i = 0; dr && dt && i < n; i++) {
        double wr = r[i] > 0.0f ? g[i] : 0.0, wt = g[i] * (1.0 - (double)t[i] * t[i]);
        if (dr[i] != wr || fabs(dt[i] - wt) > 1e-7 * fabs(g[i]) + 1e-6 * fabs(wt)) {
            fprintf(stderr, "x = %.9g dy = %.9g: relu' %.9g (want %.9g), tanh' %.9g (want "
                    "%.9g)\n", xs[i], g[i], dr[i], wr, dt[i], wt);
            test_failures++;
            break;
        }
    }
    test_io out = desc_io(x->ndim, x->shape);
    char what[96];
    snprintf(what, sizeof what, "relu [%zu elements]", n);
    test_vk_vs_cpu(env, what, VKFT_OP_RELU, NULL, x, 1, &out, 1, 0.0f, 0.0f);
    snprintf(what, sizeof what, "tanh [%zu elements]", n);
    test_vk_vs_cpu(env, what, VKFT_OP_TANH, NULL, x, 1, &out, 1, 1e-30f, 1e-6f);
    snprintf(what, sizeof what, "relu_backward [%zu elements]", n);
    if (r) test_vk_vs_cpu(env, what, VKFT_OP_RELU_BACKWARD, NULL, ry, 2, &out, 1, 0.0f, 0.0f);
    snprintf(what, sizeof what, "tanh_backward [%zu elements]", n);
    if (t) test_vk_vs_cpu(env, what, VKFT_OP_TANH_BACKWARD, NULL, ty, 2, &out, 1, 1e-30f, 1e-6f);
    free(r);
    free(t);
    free(dr);
    free(dt);
}

static void test_elementwise(test_env *env, int nd, const int64_t *shape) {
    /* u is not wide: silu(1e30) * 1e30 overflows (correctly) */
    test_io x = input(nd, shape, 3.0f, true), u = input(nd, shape, 3.0f, false);
    test_io dy = input(nd, shape, 1.0f, false);
    size_t n = test_io_numel(&x);
    test_io out[2] = {desc_io(nd, shape), desc_io(nd, shape)};
    /* forwards against the formulas in double; the tanh form cancels in double too where
     * 1 + tanh(u) < 1e-16, hence the atol of 1e-12 |x| */
    float *g = cpu_run(env, VKFT_OP_GELU, &x, 1, 1, 0);
    float *s = cpu_run(env, VKFT_OP_SILU, &x, 1, 1, 0);
    const float *xs = x.data;
    for (size_t i = 0; g && s && i < n; i++) {
        double rg = gelu_ref(xs[i]), rs = silu_ref(xs[i]);
        double ag = 1e-12 * fabs(xs[i]);
        if (fabs(g[i] - rg) > ag + 1e-5 * fabs(rg) || fabs(s[i] - rs) > 1e-30 + 1e-5 * fabs(rs)) {
            fprintf(stderr, "x = %.9g: gelu %.9g (want %.9g), silu %.9g (want %.9g)\n", xs[i],
                    g[i], rg, s[i], rs);
            test_failures++;
            break;
        }
    }
    free(g);
    free(s);
    test_io in2[2] = {dy, x}, sw[2] = {x, u}, sw3[3] = {dy, x, u};
    struct { const char *what; vkft_op op; const test_io *in; int n_in, n_out; float atol; }
    cases[] = {
        {"gelu", VKFT_OP_GELU, &x, 1, 1, 1e-30f},
        {"gelu_backward", VKFT_OP_GELU_BACKWARD, in2, 2, 1, 1e-6f},
        {"silu", VKFT_OP_SILU, &x, 1, 1, 1e-30f},
        {"silu_backward", VKFT_OP_SILU_BACKWARD, in2, 2, 1, 1e-6f},
        {"swiglu", VKFT_OP_SWIGLU, sw, 2, 1, 1e-30f},
        {"swiglu_backward", VKFT_OP_SWIGLU_BACKWARD, sw3, 3, 2, 1e-6f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int k = 0; k < cases[c].n_out; k++) {
            float *y = cpu_run(env, cases[c].op, cases[c].in, cases[c].n_in, cases[c].n_out, k);
            if (y && !all_finite(y, n)) {
                fprintf(stderr, "%s: cpu output %d is not finite\n", cases[c].what, k);
                test_failures++;
            }
            free(y);
        }
        char what[96];
        snprintf(what, sizeof what, "%s [%zu elements]", cases[c].what, n);
        test_vk_vs_cpu(env, what, cases[c].op, NULL, cases[c].in, cases[c].n_in, out,
                       cases[c].n_out, cases[c].atol, 2e-5f);
    }
    check_relu_tanh(env, &x, &dy);
    check_gelu_erf(env, &x, &dy);
    test_io small = input(nd, shape, 0.3f, false);   /* mostly tanh's polynomial branch */
    check_relu_tanh(env, &small, &dy);
    check_gelu_erf(env, &small, &dy);
    test_io_free(&small);
    test_io_free(&x);
    test_io_free(&u);
    test_io_free(&dy);
}

/* gelu_erf on a grid of 28001 points over [-14, 14] (step 1e-3: both tails down to the
 * underflow of exp(-x^2/2), and the zero crossing of its derivative). */
static void test_gelu_erf_grid(test_env *env) {
    int64_t n = 28001;
    test_io x = test_io_new(VKFT_F32, 1, &n), dy = input(1, &n, 1.0f, false);
    float *xs = x.data;
    for (int64_t i = 0; i < n; i++) xs[i] = (float)(-14.0 + 1e-3 * (double)i);
    check_gelu_erf(env, &x, &dy);
    test_io_free(&x);
    test_io_free(&dy);
}

/* Whether one row of h floats fits the storage-buffer range (else Vulkan must refuse). */
static bool row_fits(int64_t h) { return !max_range || (uint64_t)h * 4 + 16 <= max_range; }

static void softmax_vk(test_env *env, const char *what, vkft_op op, const test_io *in, int n_in,
                       int64_t h, float atol, float rtol) {
    test_io out = desc_io(in[0].ndim, in[0].shape);
    if (row_fits(h)) {
        test_vk_vs_cpu(env, what, op, NULL, in, n_in, &out, 1, atol, rtol);
        return;
    }
    if (!env->vk) return;
    vkft_status st = test_run_op(env->vk, op, NULL, in, n_in, &out, 1, NULL);
    CHECK(st == VKFT_ERR_LIMIT && strstr(vkft_device_error(env->vk), vkft_op_name(op)));
    test_io_free(&out);
}

static void test_softmax(test_env *env, int nd, const int64_t *shape) {
    test_io x = input(nd, shape, 3.0f, false), dy = input(nd, shape, 1.0f, false);
    size_t n = test_io_numel(&x);
    int64_t h = shape[nd - 1];
    float *xs = x.data;
    for (size_t i = 5; i < n; i += 11) xs[i] = test_rand_uniform(&rng, -30.0f, 30.0f);
    float *y = cpu_run(env, VKFT_OP_SOFTMAX, &x, 1, 1, 0);
    /* the CPU: rows sum to 1, every y in [0, 1] and finite */
    for (size_t r = 0; y && r < n / (size_t)h; r++) {
        double s = 0;
        bool ok = true;
        for (int64_t i = 0; i < h; i++) {
            float v = y[r * (size_t)h + (size_t)i];
            s += v;
            ok &= v >= 0.0f && v <= 1.0f;
        }
        if (!ok || fabs(s - 1.0) > 1e-5) {
            fprintf(stderr, "softmax row %zu of %lld: sum %.9g\n", r, (long long)h, s);
            test_failures++;
        }
    }
    char what[96];
    snprintf(what, sizeof what, "softmax [%zu x %lld]", n / (size_t)h, (long long)h);
    softmax_vk(env, what, VKFT_OP_SOFTMAX, &x, 1, h, 1e-12f, 1e-5f);
    test_io in[2] = {dy, {.dtype = VKFT_F32, .ndim = nd, .data = y}};
    memcpy(in[1].shape, shape, sizeof(int64_t) * (size_t)nd);
    snprintf(what, sizeof what, "softmax_backward [%zu x %lld]", n / (size_t)h, (long long)h);
    softmax_vk(env, what, VKFT_OP_SOFTMAX_BACKWARD, in, 2, h, 1e-7f, 1e-5f);
    free(y);
    test_io_free(&x);
    test_io_free(&dy);
}

/*
 * Backwards against central differences of L = sum(g * y) on the CPU (f32 forward, loss in
 * double), eps 1e-2. Elementwise: truncation eps^2 |f'''| / 6 < 2e-5; rounding x +- eps at
 * |x| = 30 changes the step by up to 1e-4 relative (y = x there), the rounding of y over 2 eps
 * adds < 1e-5: atol 1e-4, rtol 2e-4 (a 0.1% error in silu' fails it: tried). Softmax: the f32
 * row sum rounds differently in the two runs, moving every y of the row by up to 6e-8
 * relative: noise <= 6e-8 sum|g y| / 2 eps ~ 3e-6, so atol 5e-6, rtol 2e-4.
 */
static void test_grads(test_env *env, int nd, const int64_t *shape) {
    test_io x = input(nd, shape, 2.0f, false), u = input(nd, shape, 1.0f, false);
    test_io g = input(nd, shape, 1.0f, false);
    float *xs = x.data;
    size_t n = test_io_numel(&x);
    if (n > 4) {
        xs[1] = 30.0f;
        xs[2] = -30.0f;
        xs[3] = 6.0f;
    }
    float *proj[2] = {g.data, NULL};
    test_io od[2] = {desc_io(nd, shape), desc_io(nd, shape)};
    test_io in2[2] = {g, x};
    float *d = cpu_run(env, VKFT_OP_GELU_BACKWARD, in2, 2, 1, 0);
    test_grad_fd(env, "gelu grad", VKFT_OP_GELU, NULL, &x, 1, od, 1, proj, 0, d, 1e-2f, 1e-4f,
                 2e-4f, 64);
    free(d);
    d = cpu_run(env, VKFT_OP_GELU_ERF_BACKWARD, in2, 2, 1, 0);
    test_grad_fd(env, "gelu_erf grad", VKFT_OP_GELU_ERF, NULL, &x, 1, od, 1, proj, 0, d, 1e-2f,
                 1e-4f, 2e-4f, 64);
    free(d);
    d = cpu_run(env, VKFT_OP_SILU_BACKWARD, in2, 2, 1, 0);
    test_grad_fd(env, "silu grad", VKFT_OP_SILU, NULL, &x, 1, od, 1, proj, 0, d, 1e-2f, 1e-4f,
                 2e-4f, 64);
    free(d);
    test_io sw[2] = {x, u}, sw3[3] = {g, x, u};
    for (int w = 0; w < 2; w++) {
        d = cpu_run(env, VKFT_OP_SWIGLU_BACKWARD, sw3, 3, 2, w);
        test_grad_fd(env, w ? "swiglu grad up" : "swiglu grad gate", VKFT_OP_SWIGLU, NULL, sw, 2,
                     od, 1, proj, w, d, 1e-2f, 1e-4f, 2e-4f, 64);
        free(d);
    }
    /* relu, tanh: d from *_backward(g, y). relu's kink at 0 is kept 2 eps away from every
     * point (there the difference quotient is of neither side) */
    static const vkft_op fw[2] = {VKFT_OP_RELU, VKFT_OP_TANH};
    static const vkft_op bw[2] = {VKFT_OP_RELU_BACKWARD, VKFT_OP_TANH_BACKWARD};
    for (int k = 0; k < 2; k++) {
        test_io xr = input(nd, shape, 2.0f, false);
        float *xv = xr.data;
        for (size_t i = 0; i < n; i++)
            if (fabsf(xv[i]) < 0.05f) xv[i] = xv[i] < 0.0f ? -0.05f : 0.05f;
        float *y = cpu_run(env, fw[k], &xr, 1, 1, 0);
        test_io yb[2] = {g, xr};
        yb[1].data = y;
        d = y ? cpu_run(env, bw[k], yb, 2, 1, 0) : NULL;
        if (d)
            test_grad_fd(env, k ? "tanh grad" : "relu grad", fw[k], NULL, &xr, 1, od, 1, proj, 0,
                         d, 1e-2f, 1e-4f, 2e-4f, 64);
        free(d);
        free(y);
        test_io_free(&xr);
    }
    /* softmax: d from softmax_backward(g, y) */
    float *y = cpu_run(env, VKFT_OP_SOFTMAX, &x, 1, 1, 0);
    test_io sb[2] = {g, {.dtype = VKFT_F32, .ndim = nd, .data = y}};
    memcpy(sb[1].shape, shape, sizeof(int64_t) * (size_t)nd);
    d = cpu_run(env, VKFT_OP_SOFTMAX_BACKWARD, sb, 2, 1, 0);
    test_grad_fd(env, "softmax grad", VKFT_OP_SOFTMAX, NULL, &x, 1, od, 1, proj, 0, d, 1e-2f,
                 5e-6f, 2e-4f, 64);
    free(d);
    free(y);
    test_io_free(&x);
    test_io_free(&u);
    test_io_free(&g);
}

/* infer must refuse with status want and a message naming the op. */
static void expect_bad(vkft_op op, const vkft_desc *a, const vkft_desc *b, const vkft_desc *c,
                       vkft_status want) {
    const vkft_desc *in[3] = {a, b, c};
    vkft_desc out[2] = {{0}};
    char msg[256] = "";
    int n_in = c ? 3 : b ? 2 : 1, n_out = op == VKFT_OP_SWIGLU_BACKWARD ? 2 : 1;
    vkft_status st = vkft_op_infer(op, NULL, in, n_in, out, n_out, msg, sizeof msg);
    if (st != want || !strstr(msg, vkft_op_name(op))) {
        fprintf(stderr, "bad input to %s: got status %d (%s), want %d\n", vkft_op_name(op),
                (int)st, msg, (int)want);
        test_failures++;
    }
}

static void test_bad_input(test_env *env) {
    vkft_desc f = {VKFT_F32, 2, {3, 4}}, i = {VKFT_I32, 2, {3, 4}}, g = {VKFT_F32, 2, {5, 4}};
    vkft_desc h = {VKFT_F16, 2, {3, 4}};
    expect_bad(VKFT_OP_GELU, &i, NULL, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_GELU_BACKWARD, &f, &g, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SILU, &h, NULL, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_SILU_BACKWARD, &f, &i, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_SWIGLU, &f, &h, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_SWIGLU, &f, &g, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SWIGLU_BACKWARD, &f, &f, &g, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SOFTMAX, &i, NULL, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_SOFTMAX_BACKWARD, &f, &g, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_RELU, &h, NULL, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_RELU_BACKWARD, &f, &g, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_TANH, &i, NULL, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_TANH_BACKWARD, &f, &i, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_GELU_ERF, &h, NULL, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_GELU_ERF_BACKWARD, &f, &g, NULL, VKFT_ERR_SHAPE);
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *a = NULL, *o = NULL;
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, (int64_t[]){3, 4}, &a), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, (int64_t[]){4, 3}, &o), dev);
    CHECK(vkft_op_run(dev, VKFT_OP_SOFTMAX, NULL, &a, 1, &o, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "softmax") != NULL);
    vkft_tensor_destroy(a);
    vkft_tensor_destroy(o);
}

int main(void) {
    const char *mr = getenv("VKFT_MAX_BUFFER_RANGE");
    max_range = mr ? strtoull(mr, NULL, 10) : 0;
    test_env env;
    test_env_open(&env);
    test_elementwise(&env, 1, (int64_t[]){1});
    test_elementwise(&env, 1, (int64_t[]){7});
    test_elementwise(&env, 3, (int64_t[]){3, 1, 5});
    test_elementwise(&env, 2, (int64_t[]){37, 129});   /* 19 KB: split into 5 chunks */
    test_elementwise(&env, 2, (int64_t[]){256, 1376});  /* the bench's MLP width */
    test_elementwise(&env, 2, (int64_t[]){3, 514});    /* 1542: 385 texels + 2 */
    test_gelu_erf_grid(&env);
    test_softmax(&env, 2, (int64_t[]){3, 1});
    test_softmax(&env, 2, (int64_t[]){5, 7});
    test_softmax(&env, 3, (int64_t[]){2, 1, 7});
    test_softmax(&env, 2, (int64_t[]){4, 1000});       /* 16 KB: chunks of whole rows */
    test_softmax(&env, 2, (int64_t[]){2, 32001});
    test_grads(&env, 2, (int64_t[]){3, 7});
    test_grads(&env, 2, (int64_t[]){2, 300});
    test_bad_input(&env);
    return test_finish(&env);
}
