/*
 * bench_matmul_blas: OpenBLAS sgemm and vkft's matmul on a device, on the same shapes, in one
 * process, so their ratio is measured under the same machine load. Figures only, never asserted.
 *
 *   bench_matmul_blas [--device vulkan] [--iters 5] [--trans none|a|b] [--outputs 1]
 *                     [MxNxK ...]
 *
 * Default shapes: 1024x1024x1024, 1024x1376x512, 1024x32000x512 (M x N x K). Each shape warms
 * both up, then alternates sgemm and vkft runs (so load changes hit both alike) and reports the
 * median of each: vkft's time is the device's GPU time where it has timestamps, else wall clock.
 * --outputs N: run i writes output i % N (on both sides), so with N large enough C is no longer
 * in cache when it is written, as in a training step.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vkft/backend.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
}

typedef struct shape { long long m, n, k; } shape;

/* Times one shape; returns 0 on success. */
static int bench_shape(vkft_device *dev, shape s, int iters, int trans, int n_out,
                       double *blas_gf, double *vk_gf) {
    size_t na = (size_t)(s.m * s.k), nb = (size_t)(s.k * s.n), nc = (size_t)(s.m * s.n);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4 * (size_t)n_out);
    double *tb = calloc((size_t)iters, sizeof(double)), *tv = calloc((size_t)iters,
                                                                      sizeof(double));
    vkft_tensor *ta = NULL, *tbt = NULL, **tc = calloc((size_t)n_out, sizeof *tc);
    int rc = 1;
    if (!a || !b || !c || !tb || !tv || !tc) {
        fprintf(stderr, "bench_matmul_blas: out of memory\n");
        goto done;
    }
    memset(c, 0, nc * 4 * (size_t)n_out);  /* touch the host outputs once, as vkft's are */
    fill(a, na, 1);
    fill(b, nb, 2);
    bool ta_t = trans == 1, tb_t = trans == 2;
    int64_t sa[2] = {ta_t ? s.k : s.m, ta_t ? s.m : s.k};
    int64_t sb[2] = {tb_t ? s.n : s.k, tb_t ? s.k : s.n}, sc[2] = {s.m, s.n};
    bool ok = !vkft_tensor_create(dev, VKFT_F32, 2, sa, &ta) &&
              !vkft_tensor_create(dev, VKFT_F32, 2, sb, &tbt) &&
              !vkft_tensor_upload(ta, a, na * 4) && !vkft_tensor_upload(tbt, b, nb * 4);
    for (int o = 0; o < n_out && ok; o++)
        ok = !vkft_tensor_create(dev, VKFT_F32, 2, sc, &tc[o]) &&
             !vkft_tensor_upload(tc[o], c, nc * 4);
    if (!ok) {
        fprintf(stderr, "bench_matmul_blas: %s\n", vkft_device_error(dev));
        goto done;
    }
    vkft_matmul_params mp = {.trans_a = ta_t, .trans_b = tb_t, .alpha = 1};
    vkft_tensor *in[3] = {ta, tbt, NULL};
    for (int it = -n_out; it < iters; it++) {  /* it < 0: warm-up of both, every output once */
        int o = (it + n_out) % n_out;
        double t0 = now_ns();
        cblas_sgemm(CblasRowMajor, ta_t ? CblasTrans : CblasNoTrans,
                    tb_t ? CblasTrans : CblasNoTrans, (int)s.m, (int)s.n, (int)s.k, 1.0f, a,
                    ta_t ? (int)s.m : (int)s.k, b, tb_t ? (int)s.k : (int)s.n, 0.0f,
                    c + nc * (size_t)o, (int)s.n);
        double t1 = now_ns();
        if (vkft_op_run(dev, VKFT_OP_MATMUL, &mp, in, 3, &tc[o], 1)) {
            fprintf(stderr, "bench_matmul_blas: %s\n", vkft_device_error(dev));
            goto done;
        }
        double t2 = now_ns();
        uint64_t gpu = vkft_device_last_run_ns(dev);
        if (it >= 0) {
            tb[it] = t1 - t0;
            tv[it] = gpu ? (double)gpu : t2 - t1;
        }
    }
    qsort(tb, (size_t)iters, sizeof(double), cmp_double);
    qsort(tv, (size_t)iters, sizeof(double), cmp_double);
    double flops = 2.0 * (double)s.m * (double)s.n * (double)s.k;
    *blas_gf = flops / tb[iters / 2];
    *vk_gf = flops / tv[iters / 2];
    rc = 0;
done:
    vkft_tensor_destroy(ta);
    vkft_tensor_destroy(tbt);
    for (int o = 0; tc && o < n_out; o++) vkft_tensor_destroy(tc[o]);
    free(tc);
    free(a);
    free(b);
    free(c);
    free(tb);
    free(tv);
    return rc;
}

int main(int argc, char **argv) {
    const char *spec = "vulkan";
    int iters = 5, trans = 0, n_out = 1, n_shapes = 0;
    shape shapes[32];
    for (int i = 1; i < argc; i++) {
        shape s;
        if (!strcmp(argv[i], "--device") && i + 1 < argc) {
            spec = argv[++i];
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
            iters = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--outputs") && i + 1 < argc) {
            n_out = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--trans") && i + 1 < argc) {
            i++;
            trans = !strcmp(argv[i], "a") ? 1 : !strcmp(argv[i], "b") ? 2 : 0;
        } else if (sscanf(argv[i], "%lldx%lldx%lld", &s.m, &s.n, &s.k) == 3 && s.m > 0 &&
                   s.n > 0 && s.k > 0 && n_shapes < 32) {
            shapes[n_shapes++] = s;
        } else {
            fprintf(stderr, "usage: bench_matmul_blas [--device D] [--iters N] "
                            "[--trans none|a|b] [--outputs N] [MxNxK ...]\n");
            return 2;
        }
    }
    if (iters < 1) iters = 1;
    if (n_out < 1) n_out = 1;
    if (!n_shapes) {
        shapes[0] = (shape){1024, 1024, 1024};
        shapes[1] = (shape){1024, 1376, 512};
        shapes[2] = (shape){1024, 32000, 512};
        n_shapes = 3;
    }
    vkft_context_options opts;
    vkft_context_options_default(&opts);
    char msg[256];
    vkft_context *ctx = NULL;
    vkft_device *dev = NULL;
    if (vkft_context_options_from_env(&opts, msg, sizeof msg)) {
        fprintf(stderr, "bench_matmul_blas: %s\n", msg);
        return 1;
    }
    if (vkft_context_create(&opts, &ctx) || vkft_device_open(ctx, spec, &dev)) {
        fprintf(stderr, "bench_matmul_blas: %s\n", ctx ? vkft_context_error(ctx) : "no context");
        vkft_context_destroy(ctx);
        return 1;
    }
    printf("device %s: %s; OpenBLAS %s, %d threads; trans %s; %d output%s; median of %d\n",
           vkft_device_get_info(dev)->spec, vkft_device_get_info(dev)->name, openblas_get_config(),
           openblas_get_num_threads(), trans == 1 ? "a" : trans == 2 ? "b" : "none", n_out,
           n_out == 1 ? "" : "s", iters);
    printf("%-22s %14s %14s %8s\n", "M x N x K", "sgemm GFLOPS", "vkft GFLOPS", "ratio");
    int rc = 0;
    for (int i = 0; i < n_shapes; i++) {
        double gb = 0, gv = 0;
        if (bench_shape(dev, shapes[i], iters, trans, n_out, &gb, &gv)) {
            rc = 1;
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%lldx%lldx%lld", shapes[i].m, shapes[i].n, shapes[i].k);
        printf("%-22s %14.2f %14.2f %8.3f\n", name, gb, gv, gv / gb);
        fflush(stdout);
    }
    vkft_device_close(dev);
    vkft_context_destroy(ctx);
    return rc;
}
