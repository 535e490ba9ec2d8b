/*
 * copy, cast, transpose, slice, pad, concat: the CPU against naive references written here by
 * coordinates, Vulkan against the CPU, gradients against finite differences, bad input.
 *
 * Tolerances: these ops move or convert bits and never compute, so every check is bit-exact
 * (memcmp), for every dtype; CAST's rounding is integer code on both sides, so f32 -> f16/bf16
 * must agree on every bit pattern, subnormals, inf and nan payloads included. The gradient
 * checks are of linear maps: finite differences are exact up to the rounding of x +- eps
 * (|x| < 5, eps 1e-2: relative error < 1e-5), so atol 1e-4, rtol 1e-4.
 * Sizes: several shapes pass 4 KiB, so the (split) run (VKFT_MAX_BUFFER_RANGE=4096) cuts outputs
 * into chunks and sources into windows; odd element counts of 16/8-bit dtypes leave partial
 * words at chunk ends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 11;

static const vkft_dtype dtypes[] = {VKFT_F32, VKFT_I32, VKFT_F16, VKFT_BF16, VKFT_U8};

/* Random contents: normals for f32 (so gradient checks can use them), random bits otherwise. */
static test_io rand_io(vkft_dtype dt, int nd, const int64_t *shape) {
    test_io io = test_io_new(dt, nd, shape);
    size_t n = test_io_numel(&io);
    if (dt == VKFT_F32) {
        test_fill_normal(&rng, io.data, n, 1.0f);
    } else {
        uint8_t *b = io.data;
        for (size_t i = 0; i < n * vkft_dtype_size(dt); i++) b[i] = (uint8_t)test_rand_u64(&rng);
    }
    return io;
}

static test_io desc_io(vkft_dtype dt, int nd, const int64_t *shape) {
    test_io io = {.dtype = dt, .ndim = nd};
    memcpy(io.shape, shape, sizeof(int64_t) * (size_t)nd);
    return io;
}

static void unravel(int64_t i, int nd, const int64_t *shape, int64_t *c) {
    for (int d = nd - 1; d >= 0; d--) {
        c[d] = i % shape[d];
        i /= shape[d];
    }
}

static int64_t ravel(int nd, const int64_t *shape, const int64_t *c) {
    int64_t i = 0;
    for (int d = 0; d < nd; d++) i = i * shape[d] + c[d];
    return i;
}

/*
 * Runs op on the CPU and twice on Vulkan; every output byte must equal want (the naive
 * reference) on both devices, and the two Vulkan runs must agree.
 */
static void check_exact(test_env *env, const char *what, vkft_op op, const void *params,
                        const test_io *in, int n_in, const test_io *desc, const void *want) {
    size_t bytes = test_io_numel(desc) * vkft_dtype_size(desc->dtype);
    vkft_device *devs[3] = {env->cpu, env->vk, env->vk};
    for (int k = 0; k < 3; k++) {
        if (!devs[k]) continue;
        test_io o = *desc;
        o.data = NULL;
        vkft_status st = test_run_op(devs[k], op, params, in, n_in, &o, 1, NULL);
        if (st) {
            fprintf(stderr, "%s: %s run failed: %s\n", what, k ? "vulkan" : "cpu",
                    vkft_device_error(devs[k]));
            test_failures++;
        } else if (memcmp(o.data, want, bytes)) {
            size_t i = 0;
            while (((const uint8_t *)o.data)[i] == ((const uint8_t *)want)[i]) i++;
            fprintf(stderr, "%s: %s run differs from the reference at byte %zu of %zu\n", what,
                    k ? "vulkan" : "cpu", i, bytes);
            test_failures++;
        }
        test_io_free(&o);
    }
}

static void test_copy(test_env *env, vkft_dtype dt, int nd, const int64_t *si, int ndo,
                      const int64_t *so) {
    test_io x = rand_io(dt, nd, si);
    vkft_shape_params p = {.ndim = ndo};
    memcpy(p.shape, so, sizeof(int64_t) * (size_t)ndo);
    test_io out = desc_io(dt, ndo, so);
    check_exact(env, "copy", VKFT_OP_COPY, &p, &x, 1, &out, x.data);
    test_io_free(&x);
}

static void test_transpose(test_env *env, vkft_dtype dt, int nd, const int64_t *shape,
                           const int *perm) {
    test_io x = rand_io(dt, nd, shape);
    vkft_transpose_params p = {{0}};
    int64_t so[VKFT_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        p.perm[i] = perm[i];
        so[i] = shape[perm[i]];
    }
    test_io out = desc_io(dt, nd, so);
    size_t n = test_io_numel(&x), es = vkft_dtype_size(dt);
    uint8_t *want = malloc(n * es);
    for (size_t i = 0; i < n; i++) {
        int64_t c[VKFT_MAX_DIMS], ci[VKFT_MAX_DIMS];
        unravel((int64_t)i, nd, so, c);
        for (int d = 0; d < nd; d++) ci[perm[d]] = c[d];
        memcpy(want + i * es, (uint8_t *)x.data + (size_t)ravel(nd, shape, ci) * es, es);
    }
    char what[96];
    snprintf(what, sizeof what, "transpose %s %dd", vkft_dtype_name(dt), nd);
    check_exact(env, what, VKFT_OP_TRANSPOSE, &p, &x, 1, &out, want);
    free(want);
    test_io_free(&x);
}

static void test_slice(test_env *env, vkft_dtype dt, int nd, const int64_t *shape, int axis,
                       int64_t start, int64_t len) {
    test_io x = rand_io(dt, nd, shape);
    vkft_slice_params p = {.axis = axis, .start = start, .len = len};
    int64_t so[VKFT_MAX_DIMS];
    memcpy(so, shape, sizeof(int64_t) * (size_t)nd);
    so[axis] = len;
    test_io out = desc_io(dt, nd, so);
    size_t n = test_io_numel(&out), es = vkft_dtype_size(dt);
    uint8_t *want = malloc(n * es);
    for (size_t i = 0; i < n; i++) {
        int64_t c[VKFT_MAX_DIMS];
        unravel((int64_t)i, nd, so, c);
        c[axis] += start;
        memcpy(want + i * es, (uint8_t *)x.data + (size_t)ravel(nd, shape, c) * es, es);
    }
    char what[96];
    snprintf(what, sizeof what, "slice %s %dd axis %d", vkft_dtype_name(dt), nd, axis);
    check_exact(env, what, VKFT_OP_SLICE, &p, &x, 1, &out, want);
    free(want);
    test_io_free(&x);
}

static void test_pad(test_env *env, vkft_dtype dt, int nd, const int64_t *shape, int axis,
                     int64_t before, int64_t after) {
    test_io x = rand_io(dt, nd, shape);
    vkft_pad_params p = {.axis = axis, .before = before, .after = after};
    int64_t so[VKFT_MAX_DIMS];
    memcpy(so, shape, sizeof(int64_t) * (size_t)nd);
    so[axis] += before + after;
    test_io out = desc_io(dt, nd, so);
    size_t n = test_io_numel(&out), es = vkft_dtype_size(dt);
    uint8_t *want = calloc(n, es);
    for (size_t i = 0; i < n; i++) {
        int64_t c[VKFT_MAX_DIMS];
        unravel((int64_t)i, nd, so, c);
        c[axis] -= before;
        if (c[axis] >= 0 && c[axis] < shape[axis])
            memcpy(want + i * es, (uint8_t *)x.data + (size_t)ravel(nd, shape, c) * es, es);
    }
    char what[96];
    snprintf(what, sizeof what, "pad %s %dd axis %d", vkft_dtype_name(dt), nd, axis);
    check_exact(env, what, VKFT_OP_PAD, &p, &x, 1, &out, want);
    free(want);
    test_io_free(&x);
}

static void test_concat(test_env *env, vkft_dtype dt, int nd, const int64_t *sa,
                        const int64_t *sb, int axis) {
    test_io in[2] = {rand_io(dt, nd, sa), rand_io(dt, nd, sb)};
    vkft_concat_params p = {.axis = axis};
    int64_t so[VKFT_MAX_DIMS];
    memcpy(so, sa, sizeof(int64_t) * (size_t)nd);
    so[axis] += sb[axis];
    test_io out = desc_io(dt, nd, so);
    size_t n = test_io_numel(&out), es = vkft_dtype_size(dt);
    uint8_t *want = malloc(n * es);
    for (size_t i = 0; i < n; i++) {
        int64_t c[VKFT_MAX_DIMS];
        unravel((int64_t)i, nd, so, c);
        int w = c[axis] >= sa[axis];
        if (w) c[axis] -= sa[axis];
        memcpy(want + i * es, (uint8_t *)in[w].data + (size_t)ravel(nd, w ? sb : sa, c) * es,
               es);
    }
    char what[96];
    snprintf(what, sizeof what, "concat %s %dd axis %d", vkft_dtype_name(dt), nd, axis);
    check_exact(env, what, VKFT_OP_CONCAT, &p, in, 2, &out, want);
    free(want);
    test_io_free(&in[0]);
    test_io_free(&in[1]);
}

static void test_layout_dtype(test_env *env, vkft_dtype dt) {
    static const int p2[2] = {1, 0}, p3[3] = {2, 0, 1}, p4[4] = {3, 1, 0, 2}, p4b[4] = {2, 3, 0, 1};
    static const int id2[2] = {0, 1}, p3b[3] = {0, 2, 1};
    test_transpose(env, dt, 2, (int64_t[]){37, 53}, p2);
    test_transpose(env, dt, 2, (int64_t[]){64, 65}, p2);      /* > 4 KiB for 16-bit too */
    test_transpose(env, dt, 3, (int64_t[]){5, 7, 9}, p3);
    test_transpose(env, dt, 3, (int64_t[]){3, 33, 31}, p3b);
    test_transpose(env, dt, 4, (int64_t[]){3, 4, 5, 6}, p4);
    test_transpose(env, dt, 4, (int64_t[]){1, 9, 1, 5}, p4b);  /* size-1 dims */
    test_transpose(env, dt, 2, (int64_t[]){2, 3}, id2);
    test_transpose(env, dt, 1, (int64_t[]){7}, id2);
    const int64_t s3[3] = {13, 17, 5}, big[2] = {40, 101};
    test_slice(env, dt, 3, s3, 0, 3, 7);                     /* contiguous: a buffer copy */
    test_slice(env, dt, 3, s3, 1, 5, 9);
    test_slice(env, dt, 3, s3, 2, 1, 3);
    test_slice(env, dt, 3, s3, 2, 4, 1);
    test_slice(env, dt, 2, (int64_t[]){1, 300}, 1, 7, 293);   /* outer 1: a buffer copy */
    test_slice(env, dt, 2, big, 1, 50, 51);
    test_slice(env, dt, 2, big, 0, 1, 39);
    test_pad(env, dt, 3, s3, 0, 2, 3);
    test_pad(env, dt, 3, s3, 1, 0, 4);
    test_pad(env, dt, 3, s3, 2, 3, 0);
    test_pad(env, dt, 1, (int64_t[]){1}, 0, 1, 0);
    test_pad(env, dt, 2, big, 1, 1, 2);
    test_pad(env, dt, 2, big, 0, 5, 0);
    test_concat(env, dt, 3, (int64_t[]){13, 4, 5}, (int64_t[]){13, 6, 5}, 1);
    test_concat(env, dt, 2, (int64_t[]){3, 5}, (int64_t[]){3, 1500}, 1);  /* only b splits */
    test_concat(env, dt, 2, (int64_t[]){2, 7}, (int64_t[]){5, 7}, 0);
    test_concat(env, dt, 2, (int64_t[]){6, 1}, (int64_t[]){6, 1}, 1);
    test_concat(env, dt, 2, (int64_t[]){1, 3}, (int64_t[]){1, 4}, 1);
    test_concat(env, dt, 3, (int64_t[]){2, 33, 41}, (int64_t[]){2, 33, 40}, 2);
    test_copy(env, dt, 3, (int64_t[]){3, 5, 7}, 1, (int64_t[]){105});
    test_copy(env, dt, 1, (int64_t[]){3001}, 2, (int64_t[]){1, 3001});
}

/* f32 bits -> expected f16 / bf16 bits (round to nearest even), known by hand. */
static const struct { uint32_t f; uint16_t h, b; } known[] = {
    {0x3f800000u, 0x3c00, 0x3f80},  /* 1 */
    {0x80000000u, 0x8000, 0x8000},  /* -0 */
    {0x477fe000u, 0x7bff, 0x4780},  /* 65504, the largest f16 */
    {0x477ff000u, 0x7c00, 0x4780},  /* 65520: ties to even, overflows f16 */
    {0x477fefffu, 0x7bff, 0x4780},  /* just below 65520 */
    {0x33800000u, 0x0001, 0x3380},  /* 2^-24, the smallest f16 subnormal */
    {0x33000000u, 0x0000, 0x3300},  /* 2^-25: a tie, to even (0) */
    {0x33c00000u, 0x0002, 0x33c0},  /* 1.5 * 2^-24: a tie, to even (2) */
    {0x38800000u, 0x0400, 0x3880},  /* 2^-14, the smallest f16 normal */
    {0x387fe000u, 0x0400, 0x3880},  /* 0x3ff.8 * 2^-24: rounds up into the normals */
    {0x3f801000u, 0x3c00, 0x3f80},  /* f16 tie, even mantissa stays */
    {0x3f803000u, 0x3c02, 0x3f80},  /* f16 tie, odd mantissa rounds up */
    {0x3f808000u, 0x3c04, 0x3f80},  /* bf16 tie, even mantissa stays */
    {0x3f818000u, 0x3c0c, 0x3f82},  /* bf16 tie, odd mantissa rounds up */
    {0xff800000u, 0xfc00, 0xff80},  /* -inf */
    {0x7fc00000u, 0x7e00, 0x7fc0},  /* quiet nan */
    {0x7f800001u, 0x7e00, 0x7fc0},  /* signalling nan: quietened */
    {0x00000001u, 0x0000, 0x0000},  /* f32 subnormal */
    {0x7f7fffffu, 0x7c00, 0x7f80},  /* FLT_MAX: bf16 rounds to inf */
};

static void test_cast_known(test_env *env) {
    size_t n = sizeof known / sizeof known[0];
    test_io x = test_io_new(VKFT_F32, 1, (int64_t[]){(int64_t)n});
    uint16_t *wh = malloc(n * 2), *wb = malloc(n * 2);
    for (size_t i = 0; i < n; i++) {
        memcpy((uint32_t *)x.data + i, &known[i].f, 4);
        wh[i] = known[i].h;
        wb[i] = known[i].b;
    }
    vkft_cast_params ph = {VKFT_F16}, pb = {VKFT_BF16};
    test_io oh = desc_io(VKFT_F16, 1, x.shape), ob = desc_io(VKFT_BF16, 1, x.shape);
    check_exact(env, "cast known f16", VKFT_OP_CAST, &ph, &x, 1, &oh, wh);
    check_exact(env, "cast known bf16", VKFT_OP_CAST, &pb, &x, 1, &ob, wb);
    free(wh);
    free(wb);
    test_io_free(&x);
}

/* Runs cast on the CPU: the reference for the bit-pattern sweeps (checked by test_cast_known
 * and, for 16 -> 32 bits, against the definition of the formats below). */
static void *cpu_cast(test_env *env, const test_io *x, vkft_dtype to) {
    vkft_cast_params p = {to};
    test_io o = desc_io(to, x->ndim, x->shape);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_CAST, &p, x, 1, &o, 1, NULL), env->cpu);
    return o.data;
}

static void test_cast_sweep(test_env *env) {
    /* every 16-bit pattern, as f16 and as bf16, to every other float dtype */
    test_io h = test_io_new(VKFT_F16, 1, (int64_t[]){65536});
    for (uint32_t i = 0; i < 65536; i++) ((uint16_t *)h.data)[i] = (uint16_t)i;
    for (int from = 0; from < 2; from++) {
        h.dtype = from ? VKFT_BF16 : VKFT_F16;
        float *f = cpu_cast(env, &h, VKFT_F32);
        /* the definition: bf16 is the top half of f32; f16 finite values are m * 2^(e-25) */
        for (uint32_t i = 0; f && i < 65536; i++) {
            uint32_t bits;
            memcpy(&bits, &f[i], 4);
            if (from) {
                CHECK(bits == i << 16);
                continue;
            }
            uint32_t e = i >> 10 & 31, m = i & 1023;
            double v = e ? ldexp(1024 + m, (int)e - 25) : ldexp(m, -24);
            if (i & 0x8000) v = -v;
            if (e == 31) CHECK(bits == ((i & 0x8000u) << 16 | 0x7f800000u | m << 13));
            else CHECK(f[i] == v && !!signbit(f[i]) == !!(i & 0x8000));
        }
        check_exact(env, from ? "cast bf16 -> f32" : "cast f16 -> f32", VKFT_OP_CAST,
                    &(vkft_cast_params){VKFT_F32}, &h, 1, &(test_io){.dtype = VKFT_F32, .ndim = 1,
                                                                      .shape = {65536}}, f);
        free(f);
        vkft_dtype other = from ? VKFT_F16 : VKFT_BF16;
        void *w = cpu_cast(env, &h, other);
        check_exact(env, "cast f16 <-> bf16", VKFT_OP_CAST, &(vkft_cast_params){other}, &h, 1,
                    &(test_io){.dtype = other, .ndim = 1, .shape = {65536}}, w);
        free(w);
    }
    test_io_free(&h);
    /* random f32 bit patterns (every exponent, nan payloads) and odd lengths */
    static const int64_t lens[] = {1, 7, 4099};
    for (int li = 0; li < 3; li++) {
        test_io x = test_io_new(VKFT_F32, 1, &lens[li]);
        for (int64_t i = 0; i < lens[li]; i++) {
            uint32_t r = (uint32_t)test_rand_u64(&rng);
            if (i % 3 == 1) r = (r & 0x8fffffffu) | 0x30000000u;  /* near the f16 range */
            memcpy((uint32_t *)x.data + i, &r, 4);
        }
        for (int k = 0; k < 2; k++) {
            vkft_dtype to = k ? VKFT_BF16 : VKFT_F16;
            void *w = cpu_cast(env, &x, to);
            char what[64];
            snprintf(what, sizeof what, "cast f32 -> %s, %lld random patterns",
                     vkft_dtype_name(to), (long long)lens[li]);
            check_exact(env, what, VKFT_OP_CAST, &(vkft_cast_params){to}, &x, 1,
                        &(test_io){.dtype = to, .ndim = 1, .shape = {lens[li]}}, w);
            free(w);
        }
        test_io_free(&x);
    }
    /* f32 -> f32 is a copy */
    test_io x = rand_io(VKFT_F32, 2, (int64_t[]){3, 5});
    check_exact(env, "cast f32 -> f32", VKFT_OP_CAST, &(vkft_cast_params){VKFT_F32}, &x, 1,
                &(test_io){.dtype = VKFT_F32, .ndim = 2, .shape = {3, 5}}, x.data);
    test_io_free(&x);
}

/* f32 -> bf16 -> f32 on Vulkan, bit-exact against the same chain on the CPU. */
static void test_cast_round_trip(test_env *env) {
    int64_t shape[2] = {37, 81};
    test_io x = rand_io(VKFT_F32, 2, shape);
    float *xf = x.data;
    for (int i = 0; i < 37 * 81; i += 5) xf[i] *= 1e-38f;  /* subnormals after bf16 rounding */
    test_io b = desc_io(VKFT_BF16, 2, shape), back = desc_io(VKFT_F32, 2, shape);
    vkft_device *devs[2] = {env->cpu, env->vk};
    void *res[2] = {NULL, NULL};
    for (int k = 0; k < 2 && devs[k]; k++) {
        test_io tb = b, tf = back;
        CHECK_OK(test_run_op(devs[k], VKFT_OP_CAST, &(vkft_cast_params){VKFT_BF16}, &x, 1, &tb,
                             1, NULL), devs[k]);
        CHECK_OK(test_run_op(devs[k], VKFT_OP_CAST, &(vkft_cast_params){VKFT_F32}, &tb, 1, &tf,
                             1, NULL), devs[k]);
        test_io_free(&tb);
        res[k] = tf.data;
    }
    const float *r = res[0];
    /* bf16 keeps 8 significant bits; its subnormals are 2^-133 apart */
    for (int i = 0; r && i < 37 * 81; i++)
        CHECK(fabsf(r[i] - xf[i]) <= fabsf(xf[i]) * (1.0f / 256.0f) + ldexpf(1.0f, -134));
    if (res[0] && res[1] && memcmp(res[0], res[1], 37 * 81 * 4)) {
        fprintf(stderr, "cast round trip f32 -> bf16 -> f32: vulkan differs from cpu\n");
        test_failures++;
    }
    free(res[0]);
    free(res[1]);
    test_io_free(&x);
}

/* Runs op on the CPU into a fresh f32 io of shape so (a helper for the gradients). */
static test_io cpu_f32(test_env *env, vkft_op op, const void *params, const test_io *in, int nd,
                       const int64_t *so) {
    test_io o = desc_io(VKFT_F32, nd, so);
    CHECK_OK(test_run_op(env->cpu, op, params, in, 1, &o, 1, NULL), env->cpu);
    return o;
}

/* Each op's gradient is its adjoint applied to the projection g (see grad_rules.c). */
static void test_grads(test_env *env) {
    const float eps = 1e-2f, atol = 1e-4f, rtol = 1e-4f;
    const int64_t s[3] = {4, 6, 3};
    test_io x = rand_io(VKFT_F32, 3, s);
    /* slice axis 1 [1, 4): adjoint pad 1 before, 2 after */
    vkft_slice_params sp = {.axis = 1, .start = 1, .len = 3};
    const int64_t ss[3] = {4, 3, 3};
    test_io g = rand_io(VKFT_F32, 3, ss);
    vkft_pad_params pp = {.axis = 1, .before = 1, .after = 2};
    test_io gx = cpu_f32(env, VKFT_OP_PAD, &pp, &g, 3, s);
    float *proj[1] = {g.data};
    test_io od = desc_io(VKFT_F32, 3, ss);
    test_grad_fd(env, "slice grad", VKFT_OP_SLICE, &sp, &x, 1, &od, 1, proj, 0, gx.data, eps,
                 atol, rtol, 64);
    test_io_free(&gx);
    /* pad: adjoint slice */
    const int64_t ps[3] = {4, 9, 3};
    test_io gp = rand_io(VKFT_F32, 3, ps);
    vkft_pad_params pp2 = {.axis = 1, .before = 2, .after = 1};
    vkft_slice_params sp2 = {.axis = 1, .start = 2, .len = 6};
    gx = cpu_f32(env, VKFT_OP_SLICE, &sp2, &gp, 3, s);
    proj[0] = gp.data;
    od = desc_io(VKFT_F32, 3, ps);
    test_grad_fd(env, "pad grad", VKFT_OP_PAD, &pp2, &x, 1, &od, 1, proj, 0, gx.data, eps, atol,
                 rtol, 64);
    test_io_free(&gx);
    /* transpose {1, 2, 0}: adjoint the inverse {2, 0, 1} */
    vkft_transpose_params tp = {{1, 2, 0}}, inv = {{2, 0, 1}};
    const int64_t ts[3] = {6, 3, 4};
    test_io gt = rand_io(VKFT_F32, 3, ts);
    gx = cpu_f32(env, VKFT_OP_TRANSPOSE, &inv, &gt, 3, s);
    proj[0] = gt.data;
    od = desc_io(VKFT_F32, 3, ts);
    test_grad_fd(env, "transpose grad", VKFT_OP_TRANSPOSE, &tp, &x, 1, &od, 1, proj, 0, gx.data,
                 eps, atol, rtol, 64);
    test_io_free(&gx);
    /* concat along 1 of [4, 6, 3] and [4, 2, 3]: adjoints slices [0, 6) and [6, 8) */
    test_io in[2] = {x, rand_io(VKFT_F32, 3, (int64_t[]){4, 2, 3})};
    const int64_t cs[3] = {4, 8, 3};
    test_io gc = rand_io(VKFT_F32, 3, cs);
    proj[0] = gc.data;
    od = desc_io(VKFT_F32, 3, cs);
    vkft_concat_params cp = {.axis = 1};
    for (int w = 0; w < 2; w++) {
        vkft_slice_params csp = {.axis = 1, .start = w ? 6 : 0, .len = w ? 2 : 6};
        gx = cpu_f32(env, VKFT_OP_SLICE, &csp, &gc, 3, in[w].shape);
        test_grad_fd(env, w ? "concat grad b" : "concat grad a", VKFT_OP_CONCAT, &cp, in, 2, &od,
                     1, proj, w, gx.data, eps, atol, rtol, 64);
        test_io_free(&gx);
    }
    test_io_free(&in[1]);
    test_io_free(&gc);
    test_io_free(&gt);
    test_io_free(&gp);
    test_io_free(&g);
    test_io_free(&x);
}

/* infer must refuse with status want and a message naming the op. */
static void expect_bad(vkft_op op, const void *params, const vkft_desc *a, const vkft_desc *b,
                       vkft_status want) {
    const vkft_desc *in[2] = {a, b};
    vkft_desc out[1] = {{0}};
    char msg[256] = "";
    vkft_status st = vkft_op_infer(op, params, in, b ? 2 : 1, out, 1, msg, sizeof msg);
    if (st != want || !strstr(msg, vkft_op_name(op))) {
        fprintf(stderr, "bad input to %s: got status %d (%s), want %d\n", vkft_op_name(op),
                (int)st, msg, (int)want);
        test_failures++;
    }
}

static void test_bad_input(test_env *env) {
    vkft_desc f = {VKFT_F32, 2, {3, 4}}, i = {VKFT_I32, 2, {3, 4}}, g = {VKFT_F32, 2, {5, 4}};
    vkft_desc f3 = {VKFT_F32, 3, {3, 4, 1}};
    vkft_shape_params sp = {.ndim = 1, .shape = {13}};
    expect_bad(VKFT_OP_COPY, &sp, &f, NULL, VKFT_ERR_SHAPE);
    sp = (vkft_shape_params){.ndim = 5};
    expect_bad(VKFT_OP_COPY, &sp, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_CAST, &(vkft_cast_params){VKFT_F16}, &i, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_CAST, &(vkft_cast_params){VKFT_U8}, &f, NULL, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_TRANSPOSE, &(vkft_transpose_params){{0, 0}}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_TRANSPOSE, &(vkft_transpose_params){{1, 2}}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_TRANSPOSE, &(vkft_transpose_params){{-1, 0}}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SLICE, &(vkft_slice_params){2, 0, 1}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SLICE, &(vkft_slice_params){-1, 0, 1}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SLICE, &(vkft_slice_params){1, 2, 3}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SLICE, &(vkft_slice_params){1, 1, 0}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_SLICE, &(vkft_slice_params){1, -1, 2}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_PAD, &(vkft_pad_params){3, 1, 1}, &f3, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_PAD, &(vkft_pad_params){0, -1, 1}, &f, NULL, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_CONCAT, &(vkft_concat_params){0}, &f, &i, VKFT_ERR_DTYPE);
    expect_bad(VKFT_OP_CONCAT, &(vkft_concat_params){1}, &f, &g, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_CONCAT, &(vkft_concat_params){0}, &f, &f3, VKFT_ERR_SHAPE);
    expect_bad(VKFT_OP_CONCAT, &(vkft_concat_params){2}, &f, &f, VKFT_ERR_SHAPE);
    /* through vkft_op_run: a wrong output shape is refused before anything runs */
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *a = NULL, *o = NULL;
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, (int64_t[]){3, 4}, &a), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, (int64_t[]){3, 4}, &o), dev);
    vkft_transpose_params tp = {{1, 0}};
    CHECK(vkft_op_run(dev, VKFT_OP_TRANSPOSE, &tp, &a, 1, &o, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "transpose") != NULL);
    CHECK(vkft_op_run(dev, VKFT_OP_CAST, &(vkft_cast_params){VKFT_I32}, &a, 1, &o, 1) ==
          VKFT_ERR_DTYPE);
    CHECK(strstr(vkft_device_error(dev), "cast") != NULL);
    vkft_tensor_destroy(a);
    vkft_tensor_destroy(o);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        test_layout_dtype(&env, dtypes[i]);
    test_cast_known(&env);
    test_cast_sweep(&env);
    test_cast_round_trip(&env);
    test_grads(&env);
    test_bad_input(&env);
    return test_finish(&env);
}
