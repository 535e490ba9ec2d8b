/* The test harness (see test_util.h). */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_failures;

void test_env_open(test_env *env) {
    memset(env, 0, sizeof *env);
    vkft_context_options opts;
    vkft_context_options_default(&opts);
    char msg[256];
    if (vkft_context_options_from_env(&opts, msg, sizeof msg) != VKFT_OK) {
        fprintf(stderr, "bad environment: %s\n", msg);
        exit(1);
    }
    opts.no_pipeline_cache = getenv("VKFT_CACHE_DIR") == NULL;
    if (vkft_context_create(&opts, &env->ctx) != VKFT_OK) {
        fprintf(stderr, "context: %s\n", vkft_context_error(env->ctx));
        exit(1);
    }
    if (vkft_device_open(env->ctx, "cpu", &env->cpu) != VKFT_OK) {
        fprintf(stderr, "cpu device: %s\n", vkft_context_error(env->ctx));
        exit(1);
    }
    const char *need = getenv("VKFT_TEST_REQUIRE_VULKAN");
    if (vkft_device_open(env->ctx, "vulkan", &env->vk) != VKFT_OK) {
        env->vk = NULL;
        if (need && !strcmp(need, "1")) {
            fprintf(stderr, "Vulkan required but unavailable: %s\n", vkft_context_error(env->ctx));
            exit(1);
        }
        fprintf(stderr, "note: no Vulkan device (%s); Vulkan checks skipped\n",
                vkft_context_error(env->ctx));
    }
}

int test_finish(test_env *env) {
    vkft_device_close(env->vk);
    vkft_device_close(env->cpu);
    uint64_t v = vkft_context_validation_messages(env->ctx);
    if (v) {
        fprintf(stderr, "%llu Vulkan validation message(s)\n", (unsigned long long)v);
        test_failures += (int)v;
    }
    vkft_context_destroy(env->ctx);
    if (test_failures) fprintf(stderr, "FAILED: %d check(s)\n", test_failures);
    return test_failures ? 1 : 0;
}

uint64_t test_rand_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float test_rand_uniform(uint64_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(test_rand_u64(s) >> 11) / 9007199254740992.0);
}

float test_rand_normal(uint64_t *s) {
    double u1 = ((double)(test_rand_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(test_rand_u64(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void test_fill_normal(uint64_t *s, float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * test_rand_normal(s);
}

size_t test_io_numel(const test_io *io) {
    size_t n = 1;
    for (int i = 0; i < io->ndim; i++) n *= (size_t)io->shape[i];
    return n;
}

test_io test_io_new(vkft_dtype dtype, int ndim, const int64_t *shape) {
    test_io io = {.dtype = dtype, .ndim = ndim};
    memcpy(io.shape, shape, sizeof(int64_t) * (size_t)ndim);
    io.data = calloc(test_io_numel(&io) * vkft_dtype_size(dtype) + 4, 1);
    if (!io.data) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return io;
}

void test_io_free(test_io *io) {
    free(io->data);
    io->data = NULL;
}

vkft_tensor *test_tensor_from(vkft_device *dev, const test_io *io) {
    if (!io || !io->data) return NULL;
    vkft_tensor *t = NULL;
    vkft_status st = vkft_tensor_create(dev, io->dtype, io->ndim, io->shape, &t);
    if (st) {
        fprintf(stderr, "tensor_create: %s\n", vkft_device_error(dev));
        test_failures++;
        return NULL;
    }
    CHECK_OK(vkft_tensor_upload(t, io->data, test_io_numel(io) * vkft_dtype_size(io->dtype)),
             dev);
    return t;
}

vkft_status test_run_op(vkft_device *dev, vkft_op op, const void *params, const test_io *in,
                        int n_in, test_io *out, int n_out, const int *alias_in) {
    vkft_tensor *tin[16] = {0}, *tout[8] = {0};
    vkft_status st = VKFT_OK;
    for (int i = 0; i < n_in; i++) tin[i] = test_tensor_from(dev, &in[i]);
    for (int i = 0; i < n_out && !st; i++) {
        if (out[i].ndim == 0) continue;
        if (alias_in && alias_in[i] >= 0) {
            tout[i] = tin[alias_in[i]];
            continue;
        }
        st = vkft_tensor_create(dev, out[i].dtype, out[i].ndim, out[i].shape, &tout[i]);
        /* outputs start as all-ones bytes (NaN as floats): an op that reads an output it was
         * not given as an input, or leaves part of it unwritten, shows */
        size_t bytes = test_io_numel(&out[i]) * vkft_dtype_size(out[i].dtype);
        unsigned char *poison = st ? NULL : malloc(bytes ? bytes : 1);
        if (!st && !poison) st = VKFT_ERR_NO_MEMORY;
        if (!st) {
            memset(poison, 0xff, bytes);
            st = vkft_tensor_upload(tout[i], poison, bytes);
        }
        free(poison);
    }
    if (!st) st = vkft_op_run(dev, op, params, tin, n_in, tout, n_out);
    for (int i = 0; i < n_out && !st; i++) {
        if (!tout[i]) continue;
        size_t bytes = test_io_numel(&out[i]) * vkft_dtype_size(out[i].dtype);
        free(out[i].data);
        out[i].data = malloc(bytes + 4);
        if (!out[i].data) {
            st = VKFT_ERR_NO_MEMORY;
            break;
        }
        st = vkft_tensor_download(tout[i], out[i].data, bytes);
    }
    for (int i = 0; i < n_out; i++)
        if (!(alias_in && alias_in[i] >= 0)) vkft_tensor_destroy(tout[i]);
    for (int i = 0; i < n_in; i++) vkft_tensor_destroy(tin[i]);
    return st;
}

bool test_compare(const char *what, const float *got, const float *want, size_t n, float atol,
                  float rtol) {
    size_t worst = 0, bad = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double lim = atol + rtol * fabs((double)want[i]);
        bool ok = d <= lim || (isnan(got[i]) && isnan(want[i])) ||
                  (isinf(got[i]) && got[i] == want[i]);
        if (!ok) bad++;
        double excess = isnan(d) ? 1e30 : d - lim;
        if (!ok && excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (bad) {
        fprintf(stderr, "%s: %zu of %zu elements differ; worst [%zu]: got %.9g want %.9g "
                        "(atol %g rtol %g)\n", what, bad, n, worst, got[worst], want[worst],
                atol, rtol);
        test_failures++;
        return false;
    }
    return true;
}

static void free_outs(test_io *o, int n) {
    for (int i = 0; i < n; i++) test_io_free(&o[i]);
}

bool test_vk_vs_cpu(test_env *env, const char *what, vkft_op op, const void *params,
                    const test_io *in, int n_in, const test_io *out_desc, int n_out, float atol,
                    float rtol) {
    if (!env->vk) return true;
    test_io c[8], v[8], v2[8];
    for (int i = 0; i < n_out; i++) {
        c[i] = v[i] = v2[i] = out_desc[i];
        c[i].data = v[i].data = v2[i].data = NULL;
    }
    bool ok = true;
    vkft_status st = test_run_op(env->cpu, op, params, in, n_in, c, n_out, NULL);
    if (st) {
        fprintf(stderr, "%s: cpu run failed: %s\n", what, vkft_device_error(env->cpu));
        test_failures++;
        ok = false;
    }
    st = ok ? test_run_op(env->vk, op, params, in, n_in, v, n_out, NULL) : st;
    if (ok && st) {
        fprintf(stderr, "%s: vulkan run failed: %s\n", what, vkft_device_error(env->vk));
        test_failures++;
        ok = false;
    }
    st = ok ? test_run_op(env->vk, op, params, in, n_in, v2, n_out, NULL) : st;
    if (ok && st) {
        fprintf(stderr, "%s: second vulkan run failed: %s\n", what, vkft_device_error(env->vk));
        test_failures++;
        ok = false;
    }
    for (int i = 0; ok && i < n_out; i++) {
        if (!c[i].data) continue;
        size_t n = test_io_numel(&c[i]);
        char name[256];
        snprintf(name, sizeof name, "%s: output %d vulkan vs cpu", what, i);
        if (c[i].dtype == VKFT_F32) {
            ok &= test_compare(name, v[i].data, c[i].data, n, atol, rtol);
        } else if (memcmp(v[i].data, c[i].data, n * vkft_dtype_size(c[i].dtype))) {
            fprintf(stderr, "%s: not bit-identical\n", name);
            test_failures++;
            ok = false;
        }
        if (memcmp(v[i].data, v2[i].data, n * vkft_dtype_size(c[i].dtype))) {
            fprintf(stderr, "%s: output %d differs between two Vulkan runs\n", what, i);
            test_failures++;
            ok = false;
        }
    }
    free_outs(c, n_out);
    free_outs(v, n_out);
    free_outs(v2, n_out);
    return ok;
}

static double fd_loss(test_env *env, vkft_op op, const void *params, const test_io *in,
                      int n_in, const test_io *out_desc, int n_out, float *const *proj,
                      bool *ok) {
    test_io o[8];
    for (int i = 0; i < n_out; i++) {
        o[i] = out_desc[i];
        o[i].data = NULL;
    }
    double L = 0.0;
    if (test_run_op(env->cpu, op, params, in, n_in, o, n_out, NULL) != VKFT_OK) {
        fprintf(stderr, "fd: forward failed: %s\n", vkft_device_error(env->cpu));
        *ok = false;
    } else {
        for (int k = 0; k < n_out; k++) {
            if (!proj[k] || !o[k].data) continue;
            const float *y = o[k].data;
            for (size_t i = 0; i < test_io_numel(&o[k]); i++) L += (double)proj[k][i] * y[i];
        }
    }
    free_outs(o, n_out);
    return L;
}

bool test_grad_fd(test_env *env, const char *what, vkft_op op, const void *params, test_io *in,
                  int n_in, const test_io *out_desc, int n_out, float *const *proj, int wrt,
                  const float *grad, float eps, float atol, float rtol, int max_points) {
    float *x = in[wrt].data;
    size_t n = test_io_numel(&in[wrt]);
    size_t step = n <= (size_t)max_points ? 1 : n / (size_t)max_points;
    bool ok = true;
    int bad = 0;
    for (size_t i = 0; i < n && ok; i += step) {
        float saved = x[i];
        x[i] = saved + eps;
        double lp = fd_loss(env, op, params, in, n_in, out_desc, n_out, proj, &ok);
        x[i] = saved - eps;
        double lm = fd_loss(env, op, params, in, n_in, out_desc, n_out, proj, &ok);
        x[i] = saved;
        double fd = (lp - lm) / (2.0 * (double)eps);
        double d = fabs(fd - grad[i]);
        if (d > atol + rtol * fabs(fd)) {
            if (bad++ < 3)
                fprintf(stderr, "%s: d/d in[%d][%zu]: analytic %.7g, finite differences %.7g\n",
                        what, wrt, i, grad[i], fd);
        }
    }
    if (bad || !ok) {
        fprintf(stderr, "%s: %d gradient element(s) disagree with finite differences\n", what,
                bad);
        test_failures++;
        return false;
    }
    return true;
}
