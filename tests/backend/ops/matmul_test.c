/*
 * matmul: the CPU kernel (cblas) against the naive oracle, Vulkan against the CPU for every
 * transpose, batched and shared B, the folded linear layer, C0 (in place and not), f16/bf16 B,
 * odd shapes and a long K, the fallback kernel without subgroup operations, gradients (computed
 * with matmul itself) against finite differences, and bad shapes.
 *
 * Tolerance: a K-term f32 dot product computed in two different orders (OpenBLAS's blocked
 * FMAs, the shaders' k-ascending mul+add, chunked sums on the split path) differs by up to about
 * sqrt(K) * eps * |a| |b| (random-walk growth of the rounding errors of the partial sums, each
 * bounded by eps times a partial sum <= |a| |b|). With unit-normal data |a| |b| ~ K, so
 * atol = 2 sqrt(K) eps K |alpha|, plus rtol 4 eps for the C0 term. A dropped or doubled term
 * (magnitude ~1) is far above this for every K tested.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_device.h"
#include "cpu/matmul_ref.h"
#include "test_util.h"
#include "vulkan/ops_matmul.h"

static uint64_t rng = 7;

typedef struct mm_case {
    int nbatch;                 /* batch dims of A (0..2) */
    int64_t batch[2];
    int64_t m, n, k;
    bool trans_a, trans_b;
    bool shared_b;              /* 2-D B with a batched A */
    vkft_dtype b_dtype;
    bool c0;
    float alpha;
    bool cpu_only;              /* too many chunks for the split test's 4 KiB bindings */
} mm_case;

static float tol(const mm_case *c) {
    return 2.0f * sqrtf((float)c->k) * FLT_EPSILON * (float)c->k * fabsf(c->alpha) + 1e-6f;
}

static void shape_of(const mm_case *c, int64_t r, int64_t cl, bool batched, test_io *io) {
    io->ndim = batched ? c->nbatch + 2 : 2;
    int o = 0;
    if (batched)
        for (; o < c->nbatch; o++) io->shape[o] = c->batch[o];
    io->shape[o] = r;
    io->shape[o + 1] = cl;
}

/* A, B (in its dtype), C0 (or absent) and the output desc of case c. */
static void make_case(const mm_case *c, test_io in[3], test_io *out) {
    test_io a = {.dtype = VKFT_F32}, b = {.dtype = c->b_dtype}, o = {.dtype = VKFT_F32};
    shape_of(c, c->trans_a ? c->k : c->m, c->trans_a ? c->m : c->k, true, &a);
    shape_of(c, c->trans_b ? c->n : c->k, c->trans_b ? c->k : c->n, !c->shared_b, &b);
    shape_of(c, c->m, c->n, true, &o);
    in[0] = test_io_new(VKFT_F32, a.ndim, a.shape);
    test_fill_normal(&rng, in[0].data, test_io_numel(&in[0]), 1.0f);
    in[1] = test_io_new(c->b_dtype, b.ndim, b.shape);
    size_t nb = test_io_numel(&in[1]);
    if (c->b_dtype == VKFT_F32) {
        test_fill_normal(&rng, in[1].data, nb, 1.0f);
    } else {
        uint16_t *h = in[1].data;
        for (size_t i = 0; i < nb; i++) {
            float x = test_rand_normal(&rng);
            h[i] = c->b_dtype == VKFT_F16 ? vkft_f32_to_f16(x) : vkft_f32_to_bf16(x);
        }
    }
    in[2] = (test_io){0};
    if (c->c0) {
        in[2] = test_io_new(VKFT_F32, o.ndim, o.shape);
        test_fill_normal(&rng, in[2].data, test_io_numel(&in[2]), 1.0f);
    }
    *out = o;
}

static void free_case(test_io in[3]) {
    for (int i = 0; i < 3; i++) test_io_free(&in[i]);
}

static vkft_desc desc_of(const test_io *io) {
    vkft_desc d = {.dtype = io->dtype, .ndim = io->ndim};
    memcpy(d.shape, io->shape, sizeof d.shape);
    return d;
}

/* The CPU backend (cblas) against the naive double-accumulating loop. */
static void check_cpu_vs_naive(test_env *env, const char *what, const mm_case *c, test_io in[3],
                               const test_io *out) {
    vkft_matmul_params mp = {.trans_a = c->trans_a, .trans_b = c->trans_b, .alpha = c->alpha};
    test_io got = *out;
    got.data = NULL;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL, &mp, in, 3, &got, 1, NULL), env->cpu);
    if (!got.data) return;
    vkft_desc da = desc_of(&in[0]), db = desc_of(&in[1]);
    vkft_matmul_dims d;
    vkft_matmul_dims_get(&da, &db, &mp, &d);
    size_t nb = test_io_numel(&in[1]), no = test_io_numel(out);
    float *b32 = malloc(nb * sizeof(float)), *want = malloc(no * sizeof(float));
    for (size_t i = 0; i < nb; i++) {
        const uint16_t *h = in[1].data;
        b32[i] = c->b_dtype == VKFT_F32    ? ((float *)in[1].data)[i]
                 : c->b_dtype == VKFT_F16 ? vkft_f16_to_f32(h[i])
                                          : vkft_bf16_to_f32(h[i]);
    }
    if (c->c0) memcpy(want, in[2].data, no * sizeof(float));
    vkft_cpu_matmul_naive(&d, in[0].data, b32, want, c->alpha, c->c0);
    char name[256];
    snprintf(name, sizeof name, "%s: cblas vs naive", what);
    test_compare(name, got.data, want, no, tol(c), 4 * FLT_EPSILON);
    free(b32);
    free(want);
    test_io_free(&got);
}

/* C0 accumulated in place (out aliases C0) on both devices. */
static void check_in_place(test_env *env, const char *what, const mm_case *c, test_io in[3],
                           const test_io *out) {
    if (!env->vk) return;
    vkft_matmul_params mp = {.trans_a = c->trans_a, .trans_b = c->trans_b, .alpha = c->alpha};
    int alias[1] = {2};
    test_io oc = *out, ov = *out;
    oc.data = ov.data = NULL;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL, &mp, in, 3, &oc, 1, alias), env->cpu);
    CHECK_OK(test_run_op(env->vk, VKFT_OP_MATMUL, &mp, in, 3, &ov, 1, alias), env->vk);
    char name[256];
    snprintf(name, sizeof name, "%s: in place, vulkan vs cpu", what);
    if (oc.data && ov.data)
        test_compare(name, ov.data, oc.data, test_io_numel(out), tol(c), 4 * FLT_EPSILON);
    test_io_free(&oc);
    test_io_free(&ov);
}

static void run_case(test_env *env, const mm_case *c) {
    char what[160];
    snprintf(what, sizeof what, "matmul %s%lldx%lldx%lld (M x N x K)%s%s%s %s%s a=%g",
             c->nbatch ? "batched " : "", (long long)c->m, (long long)c->n, (long long)c->k,
             c->trans_a ? " tA" : "", c->trans_b ? " tB" : "", c->shared_b ? " sharedB" : "",
             vkft_dtype_name(c->b_dtype), c->c0 ? " +C0" : "", (double)c->alpha);
    test_io in[3], out;
    make_case(c, in, &out);
    vkft_matmul_params mp = {.trans_a = c->trans_a, .trans_b = c->trans_b, .alpha = c->alpha};
    check_cpu_vs_naive(env, what, c, in, &out);
    if (!c->cpu_only)
        test_vk_vs_cpu(env, what, VKFT_OP_MATMUL, &mp, in, 3, &out, 1, tol(c), 4 * FLT_EPSILON);
    if (c->c0 && !c->cpu_only) check_in_place(env, what, c, in, &out);
    free_case(in);
}

/* Every transpose, odd sizes, long K, dtypes, batches, C0. */
static void test_forward(test_env *env) {
    static const int64_t sizes[][3] = {{1, 1, 1},   {3, 5, 7},    {17, 33, 65}, {65, 17, 33},
                                       {33, 127, 3}, {16, 64, 128}, {40, 36, 96},
                                       {20, 24, 16}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++) {
            mm_case c = {.m = sizes[s][0], .n = sizes[s][1], .k = sizes[s][2],
                         .trans_a = t & 1, .trans_b = t & 2, .b_dtype = VKFT_F32, .alpha = 1};
            run_case(env, &c);
        }
    /* long K, both K chunks and the K tail of the kernels */
    mm_case lk = {.m = 5, .n = 3, .k = 3000, .trans_b = true, .b_dtype = VKFT_F32, .alpha = 1};
    run_case(env, &lk);
    lk = (mm_case){.m = 9, .n = 8, .k = 3001, .b_dtype = VKFT_F32, .alpha = 1};
    run_case(env, &lk);
    /* f16 / bf16 B, plain and transposed (the linear layer's weights) */
    for (int t = 0; t < 2; t++) {
        mm_case h = {.m = 19, .n = 37, .k = 70, .trans_b = t, .b_dtype = VKFT_F16, .alpha = 1};
        run_case(env, &h);
        h.b_dtype = VKFT_BF16;
        h.trans_a = true;
        run_case(env, &h);
    }
    /* 16-bit B wider than one conversion panel of the CPU kernel (2^20 elements) */
    for (int t = 0; t < 2; t++) {
        mm_case w = {.m = 3, .n = 700, .k = 3000, .trans_b = t, .b_dtype = t ? VKFT_BF16 : VKFT_F16,
                     .c0 = t, .alpha = 1, .cpu_only = true};
        run_case(env, &w);
    }
    /* C0, alpha */
    mm_case c0 = {.m = 31, .n = 45, .k = 50, .b_dtype = VKFT_F32, .c0 = true, .alpha = 0.5f};
    run_case(env, &c0);
    c0.trans_b = true;
    c0.b_dtype = VKFT_BF16;
    run_case(env, &c0);
    /* C0 whose rows are whole texels (n % 4 == 0): the CPU-shaped kernel reads it as texels */
    mm_case c0t = {.m = 37, .n = 64, .k = 50, .b_dtype = VKFT_F32, .c0 = true, .alpha = 0.5f};
    run_case(env, &c0t);
    /* batched 3-D and 4-D, every transpose */
    for (int t = 0; t < 4; t++) {
        mm_case b3 = {.nbatch = 1, .batch = {3}, .m = 13, .n = 20, .k = 36, .trans_a = t & 1,
                      .trans_b = t & 2, .b_dtype = VKFT_F32, .alpha = 1};
        run_case(env, &b3);
        mm_case b4 = {.nbatch = 2, .batch = {2, 3}, .m = 9, .n = 7, .k = 33, .trans_a = t & 1,
                      .trans_b = t & 2, .b_dtype = VKFT_F32, .c0 = t == 3, .alpha = 1};
        run_case(env, &b4);
    }
    /* A transposed with rows of whole texels (m % 4 == 0): the CPU-shaped kernel reads it as
     * stored; batched, more rows than one block, a K tail, C0 */
    for (int t = 0; t < 2; t++) {
        mm_case ta = {.nbatch = 1, .batch = {3}, .m = 36, .n = 20, .k = 70, .trans_a = true,
                      .trans_b = t, .b_dtype = VKFT_F32, .c0 = t, .alpha = 0.5f};
        run_case(env, &ta);
    }
    /* 2-D B shared by every batch: folded (!trans_a, the linear layer) and not (trans_a) */
    for (int t = 0; t < 4; t++) {
        mm_case s = {.nbatch = 2, .batch = {2, 3}, .m = 11, .n = 24, .k = 40, .trans_a = t & 1,
                     .trans_b = t & 2, .shared_b = true, .b_dtype = t == 2 ? VKFT_F16 : VKFT_F32,
                     .c0 = t == 1, .alpha = 1};
        run_case(env, &s);
    }
    /* at most 16 columns and K > 16 (LoRA's x A^T): the CPU-shaped kernel splits every K
     * block between the two halves of 8 lanes; whole and partial blocks (K tails of 4, 20 and
     * 8: past the first half), whole texels and not, both B layouts, C0, a batch */
    static const int64_t narrow[][3] = {{70, 16, 100}, {33, 12, 52}, {9, 13, 40}, {40, 4, 17}};
    for (size_t s = 0; s < sizeof narrow / sizeof narrow[0]; s++)
        for (int t = 0; t < 2; t++) {
            mm_case nc = {.m = narrow[s][0], .n = narrow[s][1], .k = narrow[s][2],
                          .trans_b = t, .b_dtype = VKFT_F32, .c0 = s == 1, .alpha = 0.5f};
            run_case(env, &nc);
        }
    mm_case nb = {.nbatch = 1, .batch = {3}, .m = 20, .n = 16, .k = 96, .trans_b = true,
                  .shared_b = true, .b_dtype = VKFT_F32, .alpha = 1};
    run_case(env, &nb);
    mm_case lin = {.nbatch = 1, .batch = {4}, .m = 25, .n = 60, .k = 64, .trans_b = true,
                   .shared_b = true, .b_dtype = VKFT_BF16, .alpha = 1};
    run_case(env, &lin);
}

/* The kernel variant without subgroup operations (chosen where shuffles are unavailable). */
static void test_plain_variant(test_env *env) {
    vkft_vk_matmul_force_plain(env->vk, true);
    mm_case c = {.m = 37, .n = 68, .k = 100, .b_dtype = VKFT_F32, .alpha = 1};
    run_case(env, &c);
    c = (mm_case){.nbatch = 1, .batch = {2}, .m = 17, .n = 33, .k = 65, .trans_a = true,
                  .trans_b = true, .b_dtype = VKFT_F16, .c0 = true, .alpha = 1};
    run_case(env, &c);
    /* A transposed with m % 4 == 0 (packed for this variant) and C0 read as texels */
    c = (mm_case){.m = 36, .n = 20, .k = 45, .trans_a = true, .b_dtype = VKFT_F32, .c0 = true,
                  .alpha = 0.5f};
    run_case(env, &c);
    vkft_vk_matmul_force_plain(env->vk, false);
}

/* Reshapes a batched [..., r, c] io to 2-D [prod(..) r, c] (same data, not owned). */
static test_io flat2(const test_io *x) {
    test_io f = *x;
    f.ndim = 2;
    f.shape[0] = (int64_t)(test_io_numel(x) / (size_t)x->shape[x->ndim - 1]);
    f.shape[1] = x->shape[x->ndim - 1];
    return f;
}

/* dA and dB from matmul itself (the rules of backend/ops/grad_rules.c) vs finite differences of
 * L = sum(dC * C), and dC0 = dC. L is bilinear, so central differences are exact up to f32
 * rounding of C (~1e-6 relative): tolerances 2e-3. */
static void test_grad(test_env *env, const mm_case *c) {
    test_io in[3], out;
    make_case(c, in, &out);
    vkft_matmul_params mp = {.trans_a = c->trans_a, .trans_b = c->trans_b, .alpha = c->alpha};
    test_io dc = test_io_new(VKFT_F32, out.ndim, out.shape);
    test_fill_normal(&rng, dc.data, test_io_numel(&dc), 1.0f);
    /* dA */
    test_io ga = {.dtype = VKFT_F32, .ndim = in[0].ndim}, gb = {.dtype = VKFT_F32,
                                                                 .ndim = in[1].ndim};
    memcpy(ga.shape, in[0].shape, sizeof ga.shape);
    memcpy(gb.shape, in[1].shape, sizeof gb.shape);
    vkft_matmul_params q;
    test_io args[3] = {{0}};
    if (!c->trans_a) {
        q = (vkft_matmul_params){.trans_b = !c->trans_b, .alpha = c->alpha};
        args[0] = dc;
        args[1] = in[1];
    } else {
        q = (vkft_matmul_params){.trans_a = c->trans_b, .trans_b = true, .alpha = c->alpha};
        args[0] = in[1];
        args[1] = dc;
    }
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL, &q, args, 3, &ga, 1, NULL), env->cpu);
    /* dB (a shared B sums over the batch: fold the batch into rows) */
    test_io a = c->shared_b ? flat2(&in[0]) : in[0], d = c->shared_b ? flat2(&dc) : dc;
    if (!c->trans_b) {
        q = (vkft_matmul_params){.trans_a = !c->trans_a, .alpha = c->alpha};
        args[0] = a;
        args[1] = d;
    } else {
        q = (vkft_matmul_params){.trans_a = true, .trans_b = c->trans_a, .alpha = c->alpha};
        args[0] = d;
        args[1] = a;
    }
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_MATMUL, &q, args, 3, &gb, 1, NULL), env->cpu);
    float *proj[1] = {dc.data};
    char what[96];
    snprintf(what, sizeof what, "matmul grad%s%s%s", c->trans_a ? " tA" : "",
             c->trans_b ? " tB" : "", c->shared_b ? " sharedB" : "");
    if (ga.data)
        test_grad_fd(env, what, VKFT_OP_MATMUL, &mp, in, 3, &out, 1, proj, 0, ga.data, 1e-2f,
                     2e-3f, 2e-3f, 48);
    if (gb.data)
        test_grad_fd(env, what, VKFT_OP_MATMUL, &mp, in, 3, &out, 1, proj, 1, gb.data, 1e-2f,
                     2e-3f, 2e-3f, 48);
    if (c->c0)
        test_grad_fd(env, what, VKFT_OP_MATMUL, &mp, in, 3, &out, 1, proj, 2, dc.data, 1e-2f,
                     2e-3f, 2e-3f, 24);
    test_io_free(&ga);
    test_io_free(&gb);
    test_io_free(&dc);
    free_case(in);
}

static void test_grads(test_env *env) {
    for (int t = 0; t < 4; t++) {
        mm_case c = {.m = 6, .n = 5, .k = 7, .trans_a = t & 1, .trans_b = t & 2,
                     .b_dtype = VKFT_F32, .c0 = t == 0, .alpha = t == 3 ? 0.5f : 1.0f};
        test_grad(env, &c);
        c.nbatch = 1;
        c.batch[0] = 2;
        test_grad(env, &c);
    }
    for (int t = 0; t < 2; t++) {  /* the linear layer, W shared ([N,K] with trans_b) */
        mm_case c = {.nbatch = 1, .batch = {3}, .m = 4, .n = 5, .k = 6, .trans_b = t,
                     .shared_b = true, .b_dtype = VKFT_F32, .alpha = 1};
        test_grad(env, &c);
    }
}

static void expect_shape_error(vkft_device *dev, int na, const int64_t *sa, int nb,
                               const int64_t *sb, vkft_dtype bt, const int64_t *sc0, int no,
                               const int64_t *so, bool trans_a, vkft_status want,
                               const char *shape_text) {
    vkft_tensor *a = NULL, *b = NULL, *c0 = NULL, *o = NULL;
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, na, sa, &a), dev);
    CHECK_OK(vkft_tensor_create(dev, bt, nb, sb, &b), dev);
    if (sc0) CHECK_OK(vkft_tensor_create(dev, VKFT_F32, no, sc0, &c0), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, no, so, &o), dev);
    vkft_matmul_params mp = {.trans_a = trans_a, .alpha = 1};
    vkft_tensor *in[3] = {a, b, c0};
    vkft_status st = vkft_op_run(dev, VKFT_OP_MATMUL, &mp, in, 3, &o, 1);
    CHECK(st == want);
    const char *msg = vkft_device_error(dev);
    if (st != want || !strstr(msg, "matmul") || !strstr(msg, shape_text))
        fprintf(stderr, "bad-shape message: %s\n", msg);
    CHECK(strstr(msg, "matmul") && strstr(msg, shape_text));
    vkft_tensor_destroy(a);
    vkft_tensor_destroy(b);
    vkft_tensor_destroy(c0);
    vkft_tensor_destroy(o);
}

static void test_bad_shapes(test_env *env) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    int64_t a[2] = {3, 4}, b[2] = {5, 6}, o[2] = {3, 6};
    expect_shape_error(dev, 2, a, 2, b, VKFT_F32, NULL, 2, o, false, VKFT_ERR_SHAPE, "[5, 6]");
    int64_t a3[3] = {2, 3, 4}, b3[3] = {3, 4, 6}, o3[3] = {2, 3, 6};
    expect_shape_error(dev, 3, a3, 3, b3, VKFT_F32, NULL, 3, o3, false, VKFT_ERR_SHAPE,
                       "[2, 3, 4]");
    int64_t b4[2] = {4, 6}, c0[2] = {3, 5};
    expect_shape_error(dev, 2, a, 2, b4, VKFT_F32, c0, 2, c0, false, VKFT_ERR_SHAPE, "[3, 5]");
    expect_shape_error(dev, 2, a, 3, b3, VKFT_F32, NULL, 2, o, false, VKFT_ERR_SHAPE, "[3, 4]");
    expect_shape_error(dev, 2, a, 2, b4, VKFT_I32, NULL, 2, o, false, VKFT_ERR_DTYPE, "i32");
    /* trans_a: A [3, 4] is K=3 x M=4: B [4, 6] does not fit */
    int64_t ot[2] = {4, 6};
    expect_shape_error(dev, 2, a, 2, b4, VKFT_F32, NULL, 2, ot, true, VKFT_ERR_SHAPE, "[4, 6]");
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_forward(&env);
    test_plain_variant(&env);
    test_grads(&env);
    test_bad_shapes(&env);
    return test_finish(&env);
}
