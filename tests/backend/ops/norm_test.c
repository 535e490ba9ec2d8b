/*
 * rmsnorm, layernorm and their backward ops: known values, Vulkan vs CPU (odd H 1, 7, 33, 4095,
 * a long row, more rows than one dw block, the benchmark model's [1024 x 512] and an MLP-wide
 * [1024 x 1376]), gradients of x, w, b vs finite differences, the split path (rows in chunks
 * under a tiny buffer range; a row that cannot fit must fail with VKFT_ERR_LIMIT), and bad input.
 * Both kernel families run (meson: VKFT_KERNEL=cpu / gpu). The CPU-shaped (texel) kernels take
 * H % 4 == 0 (H 4, 20, 36, 64, 512, 1376, 16384; 20 and 36 leave lanes idle at a row's end,
 * 300 rows end inside a group of 8 in the dw kernel); odd H falls back to the 8-256 lane ones.
 * Tolerances: the CPU sums row statistics in double, Vulkan in f32 (strided lanes, then a tree
 * over at most 256 lanes: about H/256 + 8 roundings; texel kernels: H/32 per lane and component,
 * then 2 + 3: relative error < 1e-5 for H <= 16384), so y, rstd, dx: atol 1e-5 rtol 1e-5
 * (values are O(1)); dw/db sum over up to 1024 rows in f32 in different groupings (blocks of 64
 * rows on Vulkan; sums ~sqrt(1024) = 32 in size, f32 error ~32 * 6e-8 * 32 = 6e-5): atol 1e-4
 * rtol 1e-5.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 7;
static uint64_t max_range;  /* VKFT_MAX_BUFFER_RANGE when set (split runs), else 0 */

static test_io rand_io(int ndim, const int64_t *shape, float scale, float offset) {
    test_io io = test_io_new(VKFT_F32, ndim, shape);
    float *d = io.data;
    test_fill_normal(&rng, d, test_io_numel(&io), scale);
    for (size_t i = 0; i < test_io_numel(&io); i++) d[i] += offset;
    return io;
}

static test_io desc_io(int ndim, const int64_t *shape) {
    test_io io = {.dtype = VKFT_F32, .ndim = ndim};
    memcpy(io.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return io;
}

/* Whether one row of h floats fits the storage-buffer range (else Vulkan must refuse). */
static bool row_fits(int64_t h) { return !max_range || (uint64_t)h * 4 + 16 <= max_range; }

/* Vulkan vs CPU, or, when a row cannot fit, a clean VKFT_ERR_LIMIT naming the op. */
static void vk_vs_cpu(test_env *env, const char *what, vkft_op op, const void *params,
                      const test_io *in, int n_in, const test_io *out, int n_out, int64_t h,
                      float atol, float rtol) {
    if (row_fits(h)) {
        test_vk_vs_cpu(env, what, op, params, in, n_in, out, n_out, atol, rtol);
        return;
    }
    if (!env->vk) return;
    test_io o[3];
    for (int i = 0; i < n_out; i++) o[i] = out[i];
    CHECK(test_run_op(env->vk, op, params, in, n_in, o, n_out, NULL) == VKFT_ERR_LIMIT);
    CHECK(strstr(vkft_device_error(env->vk), vkft_op_name(op)) != NULL);
}

static void test_norm(test_env *env, bool layer, int ndim, const int64_t *shape, bool with_b,
                      bool fd) {
    int64_t h = shape[ndim - 1], rows = 1;
    for (int i = 0; i < ndim - 1; i++) rows *= shape[i];
    vkft_op fwd = layer ? VKFT_OP_LAYERNORM : VKFT_OP_RMSNORM;
    vkft_op bwd = layer ? VKFT_OP_LAYERNORM_BACKWARD : VKFT_OP_RMSNORM_BACKWARD;
    /* H = 1: y = w x / sqrt(x^2 + eps) is a smoothed sign (layernorm: b); a big eps keeps it
     * smooth enough for finite differences of step 1e-2 */
    vkft_norm_params p = {.eps = h == 1 ? 0.5f : layer ? 1e-5f : 1e-6f};
    int n_in = layer ? 3 : 2, n_st = layer ? 2 : 1;
    test_io in[3] = {rand_io(ndim, shape, 1.0f, layer ? 3.0f : 0.0f),
                     rand_io(1, &h, 0.2f, 1.0f), {0}};
    if (layer && with_b) in[2] = rand_io(1, &h, 0.5f, 0.0f);
    test_io out[3] = {desc_io(ndim, shape), desc_io(1, &rows), desc_io(1, &rows)};
    char what[96];
    snprintf(what, sizeof what, "%s [%lld x %lld]%s", vkft_op_name(fwd), (long long)rows,
             (long long)h, with_b ? " +b" : "");
    vk_vs_cpu(env, what, fwd, &p, in, n_in, out, 1 + n_st, h, 1e-5f, 1e-5f);

    /* backward: statistics from the CPU forward, random dy */
    test_io f[3] = {out[0], out[1], out[2]};
    CHECK_OK(test_run_op(env->cpu, fwd, &p, in, n_in, f, 1 + n_st, NULL), env->cpu);
    test_io dy = rand_io(ndim, shape, 1.0f, 0.0f);
    test_io bin[5] = {dy, in[0], in[1], f[1], f[2]};
    test_io bout[3] = {desc_io(ndim, shape), desc_io(1, &h), {0}};
    if (layer && with_b) bout[2] = desc_io(1, &h);
    int n_bin = layer ? 5 : 4, n_bout = layer ? 3 : 2;
    snprintf(what, sizeof what, "%s [%lld x %lld]%s", vkft_op_name(bwd), (long long)rows,
             (long long)h, with_b ? " +db" : "");
    vk_vs_cpu(env, what, bwd, &p, bin, n_bin, bout, n_bout, h, 1e-4f, 1e-5f);
    if (fd) {
        test_io g[3] = {bout[0], bout[1], bout[2]};
        CHECK_OK(test_run_op(env->cpu, bwd, &p, bin, n_bin, g, n_bout, NULL), env->cpu);
        float *proj[3] = {dy.data, NULL, NULL};
        /* f32 forward: step 1e-2 balances rounding noise (~1e-5) and truncation (~1e-4) */
        for (int w = 0; w < n_in; w++) {
            if (!in[w].data) continue;
            snprintf(what, sizeof what, "%s grad wrt %s [%lld x %lld]", vkft_op_name(fwd),
                     w == 0 ? "x" : w == 1 ? "w" : "b", (long long)rows, (long long)h);
            test_grad_fd(env, what, fwd, &p, in, n_in, out, 1 + n_st, proj, w, g[w].data, 1e-2f,
                         3e-3f, 3e-3f, 24);
        }
        for (int i = 0; i < 3; i++) test_io_free(&g[i]);
    }
    for (int i = 0; i < 3; i++) {
        test_io_free(&in[i]);
        test_io_free(&f[i]);
    }
    test_io_free(&dy);
}

/* x = [1, 2, 3, 4], w = [1, 2, 1, 1] (b = 0.5): the formulas by hand, on both devices. */
static void test_known(test_env *env) {
    vkft_device *devs[2] = {env->cpu, env->vk};
    int64_t h = 4, one = 1;
    float xs[4] = {1, 2, 3, 4}, ws[4] = {1, 2, 1, 1}, bs[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    for (int d = 0; d < 2; d++) {
        if (!devs[d]) continue;
        vkft_norm_params p = {.eps = 0.0f};
        test_io in[3] = {{VKFT_F32, 1, {4}, xs}, {VKFT_F32, 1, {4}, ws}, {VKFT_F32, 1, {4}, bs}};
        test_io o[3] = {desc_io(1, &h), desc_io(1, &one), desc_io(1, &one)};
        CHECK_OK(test_run_op(devs[d], VKFT_OP_RMSNORM, &p, in, 2, o, 2, NULL), devs[d]);
        double r = 1.0 / sqrt(7.5);
        float want[4] = {(float)r, (float)(4 * r), (float)(3 * r), (float)(4 * r)};
        if (o[0].data) test_compare("rmsnorm known", o[0].data, want, 4, 1e-6f, 1e-6f);
        float wr = (float)r;
        if (o[1].data) test_compare("rmsnorm known rstd", o[1].data, &wr, 1, 0, 1e-6f);
        test_io_free(&o[0]);
        test_io_free(&o[1]);
        CHECK_OK(test_run_op(devs[d], VKFT_OP_LAYERNORM, &p, in, 3, o, 3, NULL), devs[d]);
        r = 1.0 / sqrt(1.25);
        float lw[4] = {(float)(-1.5 * r + 0.5), (float)(-1.0 * r + 0.5), (float)(0.5 * r + 0.5),
                       (float)(1.5 * r + 0.5)};
        float wm = 2.5f;
        if (o[0].data) test_compare("layernorm known", o[0].data, lw, 4, 1e-6f, 1e-6f);
        if (o[1].data) test_compare("layernorm known mean", o[1].data, &wm, 1, 0, 0);
        for (int i = 0; i < 3; i++) test_io_free(&o[i]);
    }
}

static void test_bad_input(test_env *env) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *x, *w, *y, *r, *xi;
    int64_t sx[2] = {3, 4}, sw[1] = {5}, sr[1] = {3};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sx, &x), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 1, sw, &w), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sx, &y), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 1, sr, &r), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_I32, 2, sx, &xi), dev);
    vkft_norm_params p = {.eps = 1e-5f};
    vkft_tensor *in[3] = {x, w, NULL}, *out[3] = {y, r, r};
    CHECK(vkft_op_run(dev, VKFT_OP_RMSNORM, &p, in, 2, out, 2) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "rmsnorm") && strstr(vkft_device_error(dev), "w"));
    in[0] = xi;
    CHECK(vkft_op_run(dev, VKFT_OP_LAYERNORM, &p, in, 3, out, 3) == VKFT_ERR_DTYPE);
    CHECK(strstr(vkft_device_error(dev), "layernorm") != NULL);
    vkft_tensor *bin[4] = {x, x, w, r}, *bout[2] = {y, w};
    CHECK(vkft_op_run(dev, VKFT_OP_RMSNORM_BACKWARD, NULL, bin, 4, bout, 2) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "rmsnorm_backward") != NULL);
    vkft_tensor_destroy(x);
    vkft_tensor_destroy(w);
    vkft_tensor_destroy(y);
    vkft_tensor_destroy(r);
    vkft_tensor_destroy(xi);
}

int main(void) {
    const char *mr = getenv("VKFT_MAX_BUFFER_RANGE");
    max_range = mr ? strtoull(mr, NULL, 10) : 0;
    test_env env;
    test_env_open(&env);
    test_known(&env);
    for (int layer = 0; layer < 2; layer++) {
        test_norm(&env, layer, 2, (int64_t[]){3, 1}, layer, true);
        test_norm(&env, layer, 2, (int64_t[]){5, 7}, false, true);
        test_norm(&env, layer, 2, (int64_t[]){37, 33}, layer, true);
        test_norm(&env, layer, 3, (int64_t[]){2, 3, 33}, true, true);
        test_norm(&env, layer, 2, (int64_t[]){2, 4095}, layer, true);
        test_norm(&env, layer, 2, (int64_t[]){300, 20}, layer, true);
        test_norm(&env, layer, 2, (int64_t[]){200, 64}, true, false);
        test_norm(&env, layer, 2, (int64_t[]){1, 16384}, true, false);
        test_norm(&env, layer, 2, (int64_t[]){6, 36}, layer, true);
        test_norm(&env, layer, 2, (int64_t[]){1024, 512}, layer, false);
        test_norm(&env, layer, 2, (int64_t[]){1024, 1376}, true, false);
    }
    test_bad_input(&env);
    return test_finish(&env);
}
