/*
 * NF4_QUANTIZE, NF4_DEQUANTIZE, MATMUL_NF4: the tables against bitsandbytes' definitions, the
 * quantisation against a fixture made by tools/gen_nf4_fixture.py (bitsandbytes' algorithm in
 * torch), round-trip properties, Vulkan vs CPU (bit-identical for quantise and dequantise),
 * MATMUL_NF4 vs MATMUL on the dequantised weight (both trans settings, C0, k % 64 != 0,
 * k % 8 != 0, odd n, batched A, both shader variants), its gradient vs finite differences,
 * the bf16 / f16 compute dtypes against a double reference with its own rounding, and bad
 * shapes. Tolerances are stated where used.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/nf4_codebook.h"
#include "test_util.h"
#include "vulkan/ops_matmul.h"

/* ops_nf4.c's switch to the shader variant without subgroup operations. */

static uint64_t rng = 7;

static test_io io1(vkft_dtype dt, int64_t n) { return test_io_new(dt, 1, (int64_t[]){n}); }

/* The packed outputs of NF4_QUANTIZE for numel elements (data NULL: test_run_op fills them). */
static void packed_desc(int64_t numel, test_io *out) {
    out[0] = (test_io){.dtype = VKFT_U8, .ndim = 1, .shape = {numel / 2}};
    out[1] = (test_io){.dtype = VKFT_U8, .ndim = 1, .shape = {vkft_nf4_nb(numel)}};
    out[2] = (test_io){.dtype = VKFT_F32, .ndim = 1, .shape = {vkft_nf4_nb2(numel)}};
    out[3] = (test_io){.dtype = VKFT_F32, .ndim = 1, .shape = {1}};
}

static void free_all(test_io *io, int n) {
    for (int i = 0; i < n; i++) test_io_free(&io[i]);
}

/* A matmul case's operands: A (in[0]), C0 (in[5]), the dequantised W, its NF4 parts, W. */
static void free_operands(test_io *in, test_io *wd, test_io *q, test_io *w) {
    test_io_free(&in[0]);
    test_io_free(&in[5]);
    test_io_free(wd);
    free_all(q, 4);
    test_io_free(w);
}

/* Tables: the NF4 code is the list in bitsandbytes' get_4bit_type("nf4") (as in
 * ../shared/guide/REFERENCE.md), rounded to f32 by the compiler as torch.tensor does. The
 * dynamic map is checked for its shape (256 entries, ascending, -0.99296875 .. 1.0, 0 at 127,
 * the smallest magnitude (0.1 + 1) / 2 * 1e-6 = 5.5e-7 at 128) and re-derived here from
 * create_dynamic_map's formula in double: f32 linspace rounding makes the table differ from
 * that by at most a few f32 ulps (2e-7 relative); the bit-exact proof is the torch fixture. */
static void test_tables(const float *fixture_map) {
    static const float nf4[16] = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    for (int i = 0; i < 16; i++) CHECK(vkft_nf4_code(i) == nf4[i]);
    CHECK(sizeof vkft_nf4_dyn_bits / sizeof vkft_nf4_dyn_bits[0] == 256);
    for (int i = 0; i < 255; i++) CHECK(vkft_nf4_dyn(i) < vkft_nf4_dyn(i + 1));
    CHECK(fabsf(vkft_nf4_dyn(0) + 0.99296875f) < 1e-7f && vkft_nf4_dyn(255) == 1.0f);
    CHECK(vkft_nf4_dyn(127) == 0.0f && fabsf(vkft_nf4_dyn(128) - 5.5e-7f) < 1e-12f);
    double derived[256];
    int nd = 0;
    for (int i = 0; i < 7; i++) {
        int items = (1 << i) + 1;
        for (int j = 0; j + 1 < items; j++) {
            double b0 = 0.1 + 0.9 * j / (items - 1), b1 = 0.1 + 0.9 * (j + 1) / (items - 1);
            double v = pow(10.0, i - 6) * (b0 + b1) / 2;
            derived[nd++] = v;
            derived[nd++] = -v;
        }
    }
    derived[nd++] = 0.0;
    derived[nd++] = 1.0;
    CHECK(nd == 256);
    for (int i = 0; i < 256; i++)  /* sort (insertion: 256 values) */
        for (int j = i; j > 0 && derived[j - 1] > derived[j]; j--) {
            double t = derived[j];
            derived[j] = derived[j - 1];
            derived[j - 1] = t;
        }
    int bad = 0;
    for (int i = 0; i < 256; i++) {
        if (fabs(vkft_nf4_dyn(i) - derived[i]) > 2e-7 * fabs(derived[i])) bad++;
        if (fixture_map && memcmp(&fixture_map[i], &vkft_nf4_dyn_bits[i], 4)) bad++;
    }
    CHECK(bad == 0);
    /* the searches: a midpoint itself takes the lower code (torch.bucketize, right=False) */
    for (int i = 0; i < 15; i++) {
        float mid = (vkft_nf4_code(i) + vkft_nf4_code(i + 1)) * 0.5f;
        CHECK(vkft_nf4_nearest(mid) == i && vkft_nf4_nearest(nextafterf(mid, 2.0f)) == i + 1);
        CHECK(vkft_nf4_nearest(vkft_nf4_code(i)) == i);
    }
    CHECK(vkft_nf4_dyn_nearest(-1.0f) == 0 && vkft_nf4_dyn_nearest(1.0f) == 255 &&
          vkft_nf4_dyn_nearest(0.0f) == 127);
}

/* The fixture: the same w quantised by the torch reference; every output must match bit for
 * bit, on the CPU and on Vulkan (run twice: determinism), and so must the dequantised w. */
static float *check_fixture(test_env *env) {
    static const char rel[] = "fixtures/nf4/nf4_ref.bin";
    char path[1024];
    const char *f = __FILE__, *cut = strstr(f, "backend/ops/nf4_test.c");
    snprintf(path, sizeof path, "%.*s%s", cut ? (int)(cut - f) : 0, f, rel);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "nf4 fixture %s missing (run tools/gen_nf4_fixture.py)\n", path);
        test_failures++;
        return NULL;
    }
    char magic[8];
    uint32_t hdr[4];
    bool ok = fread(magic, 1, 8, fp) == 8 && fread(hdr, 4, 4, fp) == 4 &&
              !memcmp(magic, "VKFTNF4", 8) && hdr[0] == 1;
    int64_t n = ok ? hdr[1] : 0, nb = ok ? hdr[2] : 0, nb2 = ok ? hdr[3] : 0;
    ok = ok && nb == vkft_nf4_nb(n) && nb2 == vkft_nf4_nb2(n);
    float *map = malloc(256 * 4);
    test_io w = io1(VKFT_F32, n), ref[4], deq = io1(VKFT_F32, n);
    packed_desc(n, ref);
    for (int i = 0; i < 4; i++) ref[i] = test_io_new(ref[i].dtype, 1, ref[i].shape);
    ok = ok && fread(map, 4, 256, fp) == 256 && fread(w.data, 4, (size_t)n, fp) == (size_t)n &&
         fread(ref[0].data, 1, (size_t)n / 2, fp) == (size_t)n / 2 &&
         fread(ref[1].data, 1, (size_t)nb, fp) == (size_t)nb &&
         fread(ref[2].data, 4, (size_t)nb2, fp) == (size_t)nb2 &&
         fread(ref[3].data, 4, 1, fp) == 1 && fread(deq.data, 4, (size_t)n, fp) == (size_t)n;
    fclose(fp);
    CHECK(ok);
    if (!ok) {
        free(map);
        map = NULL;
    }
    for (int dev = 0; ok && dev < 2; dev++) {
        vkft_device *d = dev ? env->vk : env->cpu;
        if (!d) continue;
        test_io out[4];
        packed_desc(n, out);
        CHECK_OK(test_run_op(d, VKFT_OP_NF4_QUANTIZE, NULL, &w, 1, out, 4, NULL), d);
        for (int i = 0; i < 4 && out[i].data; i++) {
            size_t bytes = test_io_numel(&out[i]) * (out[i].dtype == VKFT_U8 ? 1 : 4);
            if (memcmp(out[i].data, ref[i].data, bytes)) {
                fprintf(stderr, "nf4 fixture: output %d differs on %s\n", i, dev ? "vk" : "cpu");
                test_failures++;
            }
        }
        vkft_shape_params sp = {.ndim = 1, .shape = {n}};
        test_io got = {.dtype = VKFT_F32, .ndim = 1, .shape = {n}};
        CHECK_OK(test_run_op(d, VKFT_OP_NF4_DEQUANTIZE, &sp, ref, 4, &got, 1, NULL), d);
        CHECK(got.data && !memcmp(got.data, deq.data, (size_t)n * 4));
        test_io_free(&got);
        free_all(out, 4);
    }
    if (ok) {  /* and Vulkan vs CPU through the harness (two Vulkan runs, bitwise) */
        test_io out[4];
        packed_desc(n, out);
        test_vk_vs_cpu(env, "nf4_quantize fixture", VKFT_OP_NF4_QUANTIZE, NULL, &w, 1, out, 4, 0,
                       0);
    }
    free_all(ref, 4);
    test_io_free(&w);
    test_io_free(&deq);
    return map;
}

/* Random weights with a scale that varies per 64-block (by powers of 2 up to 2^6). */
static test_io rand_weight(int ndim, const int64_t *shape) {
    test_io w = test_io_new(VKFT_F32, ndim, shape);
    float *x = w.data;
    size_t n = test_io_numel(&w);
    test_fill_normal(&rng, x, n, 1.0f);
    for (size_t i = 0; i < n; i++) x[i] *= ldexpf(1.0f, (int)((i / 64) % 7) - 3);
    return w;
}

/* Quantise (CPU), dequantise, and check every element. Bound: the first level picks the code
 * nearest to w / absmax (checked against all 16); the double quantisation moves absmax by at
 * most half the largest gap of the dynamic map (0.9 / 64 / 2 = 0.00703 of absmax2, between
 * entries in [0.1, 1]) plus f32 rounding: |absmax' - absmax| <= 0.0071 absmax2 + 1e-6 absmax,
 * so |w' - NF4[c] absmax| <= |NF4[c]| (0.0071 absmax2 + 1e-6 absmax). Zeros must stay zero. */
static void check_round_trip(test_env *env, const char *what, const test_io *w) {
    int64_t n = (int64_t)test_io_numel(w);
    test_io q[4], d = {.dtype = VKFT_F32, .ndim = w->ndim};
    memcpy(d.shape, w->shape, sizeof d.shape);
    packed_desc(n, q);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_QUANTIZE, NULL, w, 1, q, 4, NULL), env->cpu);
    vkft_shape_params sp = {.ndim = w->ndim};
    memcpy(sp.shape, w->shape, sizeof sp.shape);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_DEQUANTIZE, &sp, q, 4, &d, 1, NULL), env->cpu);
    if (!q[0].data || !d.data) return;
    const float *x = w->data, *y = d.data, *a2 = q[2].data;
    const uint8_t *codes = q[0].data, *aq = q[1].data;
    int bad = 0;
    for (int64_t b = 0; b < vkft_nf4_nb(n); b++) {
        int64_t e0 = b * 64, e1 = e0 + 64 < n ? e0 + 64 : n;
        float amax = 0.0f;
        for (int64_t e = e0; e < e1; e++) amax = fmaxf(amax, fabsf(x[e]));
        float am = vkft_nf4_absmax(aq[b], a2[b / 256], ((float *)q[3].data)[0]);
        if (fabsf(am - amax) > 0.0071f * a2[b / 256] + 1e-6f * amax) bad++;
        for (int64_t e = e0; e < e1; e++) {
            int c = e & 1 ? codes[e / 2] & 15 : codes[e / 2] >> 4;
            float s = amax > 0 ? x[e] / amax : 0.0f;
            for (int j = 0; j < 16; j++)  /* nearest, up to an ulp-level tie */
                if (fabsf(s - vkft_nf4_code(j)) < fabsf(s - vkft_nf4_code(c)) - 1e-6f) bad++;
            float want = vkft_nf4_code(c) * amax;
            if (fabsf(y[e] - want) > fabsf(vkft_nf4_code(c)) * (0.0071f * a2[b / 256] +
                                                                1e-6f * amax)) bad++;
            if (x[e] == 0.0f && y[e] != 0.0f) bad++;
        }
    }
    if (bad) fprintf(stderr, "%s: %d round-trip violations\n", what, bad);
    CHECK(bad == 0);
    free_all(q, 4);
    test_io_free(&d);
}

static void test_round_trip(test_env *env) {
    int64_t s1[2] = {37, 72}, s2[1] = {64 * 300 + 10};  /* straddling rows; partial blocks */
    test_io w = rand_weight(2, s1);
    for (int i = 0; i < 64; i++) ((float *)w.data)[100 + i] = 0.0f;  /* zeros, one whole block */
    check_round_trip(env, "round trip [37, 72]", &w);
    test_io_free(&w);
    w = rand_weight(1, s2);
    check_round_trip(env, "round trip [19210]", &w);
    test_io_free(&w);
    /* Codebook points times one power-of-two absmax in every block (each block holds -1 and 1):
     * the offset is that absmax exactly, absmax - offset = 0, so w round-trips exactly. */
    int64_t s3[1] = {64 * 5};
    w = test_io_new(VKFT_F32, 1, s3);
    float *x = w.data;
    for (int i = 0; i < 320; i++) x[i] = vkft_nf4_code((i * 7) % 16) * 0.25f;
    test_io q[4], d = {.dtype = VKFT_F32, .ndim = 1, .shape = {320}};
    packed_desc(320, q);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_QUANTIZE, NULL, &w, 1, q, 4, NULL), env->cpu);
    vkft_shape_params sp = {.ndim = 1, .shape = {320}};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_DEQUANTIZE, &sp, q, 4, &d, 1, NULL), env->cpu);
    CHECK(d.data && !memcmp(d.data, x, 320 * 4));
    CHECK(q[3].data && ((float *)q[3].data)[0] == 0.25f && ((float *)q[2].data)[0] == 0.0f);
    free_all(q, 4);
    test_io_free(&d);
    test_io_free(&w);
}

/* Vulkan vs CPU, bitwise (atol = rtol = 0): quantisation of several sizes (one block; a partial
 * block; > 4 KiB so the split path cuts both levels), and dequantisation of every absmax code
 * 0..255 with random codes, absmax2 and offset. */
static void test_vk_exact(test_env *env) {
    const int64_t sizes[] = {2, 322, 300 * 72, 64 * 257 * 4 + 6};
    for (int i = 0; i < 4; i++) {
        test_io w = rand_weight(1, &sizes[i]), out[4];
        packed_desc(sizes[i], out);
        test_vk_vs_cpu(env, "nf4_quantize", VKFT_OP_NF4_QUANTIZE, NULL, &w, 1, out, 4, 0, 0);
        test_io_free(&w);
    }
    int64_t n = 64 * 600 + 14;
    test_io in[4];
    packed_desc(n, in);
    for (int i = 0; i < 4; i++) in[i] = test_io_new(in[i].dtype, 1, in[i].shape);
    for (int64_t i = 0; i < n / 2; i++) ((uint8_t *)in[0].data)[i] = (uint8_t)test_rand_u64(&rng);
    for (int64_t i = 0; i < vkft_nf4_nb(n); i++) ((uint8_t *)in[1].data)[i] = (uint8_t)(i * 7);
    test_fill_normal(&rng, in[2].data, (size_t)vkft_nf4_nb2(n), 1.0f);
    ((float *)in[3].data)[0] = 0.3f;
    vkft_shape_params sp = {.ndim = 2, .shape = {2, n / 2}};
    test_io out = {.dtype = VKFT_F32, .ndim = 2, .shape = {2, n / 2}};
    test_vk_vs_cpu(env, "nf4_dequantize", VKFT_OP_NF4_DEQUANTIZE, &sp, in, 4, &out, 1, 0, 0);
    free_all(in, 4);
}

/* A random [n, k] weight *w, its NF4 code q (4 tensors, quantized on the CPU) and, returned, its
 * dequantization: the operands of the MATMUL_NF4 cases. */
static test_io nf4_weight(test_env *env, int64_t n, int64_t k, test_io *w, test_io q[4]) {
    int64_t ws[2] = {n, k};
    *w = rand_weight(2, ws);
    packed_desc(n * k, q);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_QUANTIZE, NULL, w, 1, q, 4, NULL), env->cpu);
    test_io wd = {.dtype = VKFT_F32, .ndim = 2, .shape = {n, k}};
    vkft_shape_params sp = {.ndim = 2, .shape = {n, k}};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_DEQUANTIZE, &sp, q, 4, &wd, 1, NULL), env->cpu);
    return wd;
}

/*
 * MATMUL_NF4 on W [n, k] and A [rows, red] (red = trans ? n : k), optionally batched and with
 * C0. Against MATMUL on the dequantised W (CPU, both OpenBLAS: only the blocking differs:
 * 1e-5), Vulkan against the CPU (a sequential f32 sum against OpenBLAS's blocked one over up
 * to 130 terms of magnitude <= ~10: atol 1e-4 + rtol 1e-4), and the gradient wrt A against
 * finite differences (a linear op: only f32 rounding of the outputs, ~1e-6 |y| / eps: 2e-3).
 */
static void test_matmul(test_env *env, int64_t batch, int64_t rows, int64_t n, int64_t k,
                        bool trans, bool c0, bool grad) {
    int64_t red = trans ? n : k, cols = trans ? k : n;
    test_io w, q[4], wd = nf4_weight(env, n, k, &w, q);
    int nd = batch > 1 ? 3 : 2;
    int64_t as[3] = {batch, rows, red}, ys[3] = {batch, rows, cols};
    test_io in[6] = {test_io_new(VKFT_F32, nd, as + 3 - nd), q[0], q[1], q[2], q[3]};
    test_fill_normal(&rng, in[0].data, test_io_numel(&in[0]), 1.0f);
    if (c0) {
        in[5] = test_io_new(VKFT_F32, nd, ys + 3 - nd);
        test_fill_normal(&rng, in[5].data, test_io_numel(&in[5]), 1.0f);
    }
    vkft_matmul_nf4_params p = {.n = n, .k = k, .trans = trans, .alpha = 0.75f};
    test_io out = {.dtype = VKFT_F32, .ndim = nd};
    memcpy(out.shape, ys + 3 - nd, sizeof(int64_t) * (size_t)nd);
    char what[96];
    snprintf(what, sizeof what, "matmul_nf4 %lldx[%lld,%lld] W[%lld,%lld]%s%s",
             (long long)batch, (long long)rows, (long long)red, (long long)n, (long long)k,
             trans ? " trans" : "", c0 ? " +C0" : "");
    test_io got = out, want = out;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL_NF4, &p, in, 6, &got, 1, NULL), env->cpu);
    vkft_matmul_params mp = {.trans_a = false, .trans_b = !trans, .alpha = 0.75f};
    test_io min[3] = {in[0], wd, in[5]};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL, &mp, min, 3, &want, 1, NULL), env->cpu);
    if (got.data && want.data)
        test_compare(what, got.data, want.data, test_io_numel(&got), 1e-5f, 1e-5f);
    test_vk_vs_cpu(env, what, VKFT_OP_MATMUL_NF4, &p, in, 6, &out, 1, 1e-4f, 1e-4f);
    if (grad) {  /* dL/dA = alpha proj W (trans flipped): the grad rule's MATMUL_NF4 */
        test_io pr = out, g = {.dtype = VKFT_F32, .ndim = nd};
        pr = test_io_new(VKFT_F32, nd, out.shape);
        test_fill_normal(&rng, pr.data, test_io_numel(&pr), 1.0f);
        memcpy(g.shape, in[0].shape, sizeof g.shape);
        vkft_matmul_nf4_params pg = p;
        pg.trans = !trans;
        test_io gin[6] = {pr, q[0], q[1], q[2], q[3]};
        CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL_NF4, &pg, gin, 6, &g, 1, NULL), env->cpu);
        float *proj[1] = {pr.data};
        snprintf(what + strlen(what), sizeof what - strlen(what), " grad");
        if (g.data)
            test_grad_fd(env, what, VKFT_OP_MATMUL_NF4, &p, in, 6, &out, 1, proj, 0, g.data,
                         1e-2f, 2e-3f, 2e-3f, 48);
        test_io_free(&g);
        test_io_free(&pr);
    }
    test_io_free(&got);
    test_io_free(&want);
    free_operands(in, &wd, q, &w);
}

static void test_matmuls(test_env *env) {
    for (int t = 0; t < 2; t++) {
        bool tr = t == 1;
        test_matmul(env, 1, 5, 8, 64, tr, false, true);     /* one block per row */
        test_matmul(env, 1, 33, 40, 72, tr, true, true);    /* blocks straddle rows; C0 */
        test_matmul(env, 1, 19, 13, 64, tr, false, false);  /* odd n */
        test_matmul(env, 1, 17, 10, 37, tr, true, true);    /* k % 8 != 0: the slow path */
        test_matmul(env, 1, 1, 2, 1, tr, false, false);     /* size-1 dims */
        /* > 4 KiB A, y and codes: the split path cuts rows of A and of W */
        test_matmul(env, 2, 20, 130, 96, tr, true, false);
    }
    if (env->vk) {  /* the shader variant without subgroup operations */
        vkft_vk_matmul_force_plain(env->vk, true);
        test_matmul(env, 1, 33, 40, 72, false, true, false);
        test_matmul(env, 1, 17, 10, 37, true, false, false);
        vkft_vk_matmul_force_plain(env->vk, false);
    }
}

/*
 * compute dtype bf16 / f16. The reference: rounding written independently of the kernels (in
 * double: the value's quantum from its exponent, nearbyint ties to even, f16's subnormal
 * quantum 2^-24 and overflow past 65504 to inf; bf16 keeps f32's range), the products and the
 * sum in double.
 */
static double ref_round(double x, vkft_dtype cd) {
    if (isnan(x) || isinf(x) || x == 0.0) return x;
    int p = cd == VKFT_BF16 ? 8 : 11, emin = cd == VKFT_BF16 ? -126 : -14;
    double maxf = cd == VKFT_BF16 ? ldexp(2.0 - ldexp(1.0, -7), 127) : 65504.0;
    int e = ilogb(x) < emin ? emin : ilogb(x);
    double quantum = ldexp(1.0, e - p + 1), r = nearbyint(x / quantum) * quantum;
    return fabs(r) > maxf ? copysign(INFINITY, x) : r;
}

/* A cd quantum at |v| (one ulp of the compute dtype). */
static double cd_ulp(double v, vkft_dtype cd) {
    int p = cd == VKFT_BF16 ? 8 : 11, emin = cd == VKFT_BF16 ? -126 : -14;
    int e = v == 0.0 || ilogb(v) < emin ? emin : ilogb(v);
    return ldexp(1.0, e - p + 1);
}

static const char *cd_name(vkft_dtype cd) { return cd == VKFT_BF16 ? "bf16" : "f16"; }

/* W = I [64, 64] in NF4 (one 1 per block: absmax 1 everywhere, offset 1, so it dequantises
 * exactly): y = rnd(rnd(A) I) is the rounding of each element of A alone, checked bit for bit
 * (NaN as NaN) on both devices, both trans settings: ties both ways, carries into the
 * exponent, f16 overflow at 65520 and its subnormals, bf16 near FLT_MAX, inf, NaN. An inf or
 * NaN in a row makes the row's other outputs NaN (inf * 0), as the reference's double sum. */
static void test_cd_rounding(test_env *env, vkft_dtype cd) {
    int64_t ws[2] = {64, 64}, as[2] = {8, 64};
    test_io w = test_io_new(VKFT_F32, 2, ws), q[4];
    for (int i = 0; i < 64; i++) ((float *)w.data)[i * 64 + i] = 1.0f;
    packed_desc(64 * 64, q);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_NF4_QUANTIZE, NULL, &w, 1, q, 4, NULL), env->cpu);
    test_io in[6] = {test_io_new(VKFT_F32, 2, as), q[0], q[1], q[2], q[3]};
    float *a = in[0].data;
    test_fill_normal(&rng, a, 8 * 64, 3.0f);
    const float edge[] = {
        1.0f + 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-23f, 1.0f + 3 * 0x1p-8f,   /* bf16 ties / above */
        1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 1.0f - 0x1p-24f, 2.0f - 0x1p-12f,  /* f16 */
        -(1.0f + 0x1p-8f), -(1.0f + 3 * 0x1p-11f), 65504.0f, 65519.0f, -65519.99f,
        0x1p-24f, 0x1.8p-24f, 0x1p-25f, 0x1.000002p-25f, 3 * 0x1p-26f, 0x1p-26f, 0x1.ffcp-15f,
        0x1.ffep-15f, 0x1p-14f, 6.1e-5f, -3e-7f, 123.456f, 0.1f, -0.0f, 0x1.fffp-1f,
    };
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) a[i] = edge[i];
    a[64 + 5] = 65520.0f;                      /* row 1: f16 -> inf, bf16 finite */
    a[128 + 7] = 0x1.fffffep127f;              /* row 2: bf16 -> inf */
    a[192 + 9] = INFINITY;                     /* row 3 */
    a[256 + 11] = NAN;                         /* row 4 */
    a[320 + 13] = 1e6f;                        /* row 5: f16 -> inf */
    int64_t ys[2] = {8, 64};
    for (int tr = 0; tr < 2; tr++) {
        vkft_matmul_nf4_params p = {.n = 64, .k = 64, .trans = tr, .alpha = 1.0f, .compute = cd};
        int bad = 0;
        for (int dev = 0; dev < 2; dev++) {
            vkft_device *d = dev ? env->vk : env->cpu;
            if (!d) continue;
            test_io got = {.dtype = VKFT_F32, .ndim = 2, .shape = {ys[0], ys[1]}};
            CHECK_OK(test_run_op(d, VKFT_OP_MATMUL_NF4, &p, in, 6, &got, 1, NULL), d);
            for (int i = 0; got.data && i < 8; i++)
                for (int j = 0; j < 64; j++) {
                    double s = 0.0;
                    for (int t = 0; t < 64; t++) s += ref_round(a[i * 64 + t], cd) * (t == j);
                    float want = (float)ref_round(s, cd), g = ((float *)got.data)[i * 64 + j];
                    if (isnan(want) ? !isnan(g) : g != want) {
                        if (bad++ < 5)
                            fprintf(stderr, "%s rounding %s%s: A %a -> %a, want %a\n",
                                    cd_name(cd), dev ? "vk" : "cpu", tr ? " trans" : "",
                                    a[i * 64 + j], g, want);
                    }
                }
            test_io_free(&got);
        }
        CHECK(bad == 0);
    }
    test_io_free(&in[0]);
    free_all(q, 4);
    test_io_free(&w);
}

/*
 * Random MATMUL_NF4 with a compute dtype against the double reference want = rnd(alpha sum
 * rnd(A) rnd(W)) [+ C0 in f32]. The products are exact in f32 (8- or 11-bit significands);
 * the kernels' f32 sums (and alpha) are off by at most err = (red + 1) 2^-24 alpha sum |products|
 * (the recursive-summation bound), so the rounding may flip by one cd ulp where the exact sum
 * lies that close to a rounding boundary, or by err itself where the sum cancels. Every element
 * must be within one cd ulp (at |exact| + err) + err (+ an f32 ulp for the C0 add) of the
 * reference, and at most 1% of them may differ at all (measured: 0-5 of 1000-5000; rounding
 * that is not to nearest, or inputs left unrounded, would fail most). Vulkan against the CPU:
 * the same with 2 err.
 */
static void test_matmul_cd(test_env *env, int64_t rows, int64_t n, int64_t k, bool trans,
                           bool c0, vkft_dtype cd) {
    int64_t red = trans ? n : k, cols = trans ? k : n;
    test_io w, q[4], wd = nf4_weight(env, n, k, &w, q);
    int64_t as[2] = {rows, red}, ys[2] = {rows, cols};
    test_io in[6] = {test_io_new(VKFT_F32, 2, as), q[0], q[1], q[2], q[3]};
    test_fill_normal(&rng, in[0].data, test_io_numel(&in[0]), 1.0f);
    if (c0) {
        in[5] = test_io_new(VKFT_F32, 2, ys);
        test_fill_normal(&rng, in[5].data, test_io_numel(&in[5]), 1.0f);
    }
    size_t ny = (size_t)(rows * cols);
    float *want = malloc(ny * sizeof(float));
    double *exact = malloc(ny * sizeof(double)), *err = malloc(ny * sizeof(double));
    const float *a = in[0].data, *wv = wd.data, *cz = in[5].data;
    for (int64_t i = 0; wd.data && i < rows; i++)
        for (int64_t c = 0; c < cols; c++) {
            double s = 0.0, sa = 0.0;
            for (int64_t t = 0; t < red; t++) {
                double pr = ref_round(a[i * red + t], cd) *
                            ref_round(wv[trans ? t * k + c : c * k + t], cd);
                s += pr;
                sa += fabs(pr);
            }
            exact[i * cols + c] = 0.75 * s;
            err[i * cols + c] = (double)(red + 1) * 0x1p-24 * 0.75 * sa;
            float r = (float)ref_round(0.75 * s, cd);
            want[i * cols + c] = c0 ? cz[i * cols + c] + r : r;
        }
    vkft_matmul_nf4_params p = {.n = n, .k = k, .trans = trans, .alpha = 0.75f, .compute = cd};
    float *res[2] = {NULL, NULL};
    test_io got[2];
    for (int dev = 0; dev < 2; dev++) {
        got[dev] = (test_io){.dtype = VKFT_F32, .ndim = 2, .shape = {rows, cols}};
        vkft_device *d = dev ? env->vk : env->cpu;
        if (!d || !wd.data) continue;
        CHECK_OK(test_run_op(d, VKFT_OP_MATMUL_NF4, &p, in, 6, &got[dev], 1, NULL), d);
        res[dev] = got[dev].data;
        if (!res[dev]) continue;
        size_t diff = 0, far = 0;
        for (size_t e = 0; e < ny; e++) {
            if (res[dev][e] == want[e]) continue;
            diff++;
            double tol = cd_ulp(fabs(exact[e]) + err[e], cd) + err[e] + 0x1p-23 * fabs(want[e]);
            if (!(fabs((double)res[dev][e] - want[e]) <= tol) && far++ < 3)
                fprintf(stderr, "got %a want %a exact %a\n", res[dev][e], want[e], exact[e]);
        }
        printf("matmul_nf4 %s %s [%lld,%lld] W[%lld,%lld]%s%s: %zu of %zu differ by one ulp\n",
               cd_name(cd), dev ? "vk" : "cpu", (long long)rows, (long long)red, (long long)n,
               (long long)k, trans ? " trans" : "", c0 ? " +C0" : "", diff, ny);
        CHECK(far == 0 && diff * 100 <= ny);
    }
    if (res[0] && res[1]) {  /* Vulkan vs CPU: the same rule */
        size_t diff = 0, far = 0;
        for (size_t e = 0; e < ny; e++) {
            if (res[0][e] == res[1][e]) continue;
            diff++;
            double tol = cd_ulp(fabs(exact[e]) + err[e], cd) + 2 * err[e] +
                         0x1p-23 * fabs(res[0][e]);
            if (!(fabs((double)res[0][e] - res[1][e]) <= tol) && far++ < 3)
                fprintf(stderr, "vk %a cpu %a want %a exact %a\n", res[1][e], res[0][e],
                        want[e], exact[e]);
        }
        CHECK(far == 0 && diff * 100 <= ny);
    }
    test_io_free(&got[0]);
    test_io_free(&got[1]);
    free(want);
    free(exact);
    free(err);
    free_operands(in, &wd, q, &w);
}

static void test_matmuls_cd(test_env *env) {
    const vkft_dtype cds[2] = {VKFT_BF16, VKFT_F16};
    for (int c = 0; c < 2; c++) {
        test_cd_rounding(env, cds[c]);
        for (int t = 0; t < 2; t++) {
            test_matmul_cd(env, 33, 40, 72, t, true, cds[c]);   /* blocks straddle rows; C0 */
            test_matmul_cd(env, 17, 10, 37, t, false, cds[c]);  /* k % 8 != 0: slow path */
            test_matmul_cd(env, 16, 32, 64, t, false, cds[c]);  /* the h1 model's shapes */
            test_matmul_cd(env, 16, 64, 32, t, false, cds[c]);
            /* > 4 KiB codes: with trans the split path cuts the reduction (no rounded partials) */
            test_matmul_cd(env, 40, 130, 96, t, t == 1, cds[c]);
        }
    }
    if (env->vk) {  /* the shader variant without subgroup operations */
        vkft_vk_matmul_force_plain(env->vk, true);
        test_matmul_cd(env, 33, 40, 72, false, true, VKFT_BF16);
        test_matmul_cd(env, 40, 130, 96, true, true, VKFT_F16);
        vkft_vk_matmul_force_plain(env->vk, false);
    }
}

static void test_bad_input(test_env *env) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *w, *o[4];
    int64_t odd[1] = {65}, s[1] = {32};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 1, odd, &w), dev);
    for (int i = 0; i < 4; i++) CHECK_OK(vkft_tensor_create(dev, VKFT_U8, 1, s, &o[i]), dev);
    CHECK(vkft_op_run(dev, VKFT_OP_NF4_QUANTIZE, NULL, &w, 1, o, 4) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "odd"));
    /* codes of the wrong size for W [8, 16] (needs 64 bytes) */
    vkft_tensor *a, *y, *in[6];
    int64_t sa[2] = {3, 16}, sy[2] = {3, 8};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sa, &a), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sy, &y), dev);
    in[0] = a, in[1] = o[0], in[2] = o[1], in[3] = o[2], in[4] = o[3], in[5] = NULL;
    vkft_matmul_nf4_params p = {.n = 8, .k = 16, .alpha = 1.0f};
    CHECK(vkft_op_run(dev, VKFT_OP_MATMUL_NF4, &p, in, 6, &y, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "codes"));
    p.compute = VKFT_U8;  /* not a compute dtype */
    CHECK(vkft_op_run(dev, VKFT_OP_MATMUL_NF4, &p, in, 6, &y, 1) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(vkft_device_error(dev), "compute dtype"));
    vkft_tensor_destroy(a);
    vkft_tensor_destroy(y);
    vkft_tensor_destroy(w);
    for (int i = 0; i < 4; i++) vkft_tensor_destroy(o[i]);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    float *map = check_fixture(&env);
    test_tables(map);
    free(map);
    test_round_trip(&env);
    test_vk_exact(&env);
    test_matmuls(&env);
    test_matmuls_cd(&env);
    test_bad_input(&env);
    return test_finish(&env);
}
