/*
 * CPU kernels of the activation ops (see ops/activation.c); the reference the Vulkan shaders
 * (shaders/activation.comp, softmax.comp) are tested against, with the same formulas.
 *
 * Numerics: sigmoid(x) and 1 - sigmoid(x) come from e = exp(-|x|) <= 1, which never overflows.
 * GELU uses 0.5 (1 + tanh(u)) = sigmoid(2u), the same function written without tanh: it does not
 * overflow for large |x| (where tanh built from exp(u) gives inf/inf) and does not lose the
 * small values of 1 + tanh(u) for negative x to cancellation.
 *   gelu(x)  = x s,            s = sigmoid(2u), u = k (x + c x^3), k = sqrt(2/pi), c = 0.044715
 *   gelu'(x) = s + x s (1 - s) 2k (1 + 3c x^2)
 *   silu(x)  = x s,            s = sigmoid(x);   silu'(x) = s (1 + x (1 - s))
 * TANH: Cephes' tanhf: an odd degree-11 polynomial for |x| < 0.625 (where (1 - e) / (1 + e)
 * would lose bits to cancellation), else sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) <= 0.29
 * (no overflow; e underflows to 0 for large |x|, giving exactly +-1). Its backward takes y:
 * dx = dy (1 - y)(1 + y), which loses no bits forming 1 - y near |y| = 1 (PyTorch's is
 * dy (1 - y^2)). RELU: y = x < 0 ? 0 : x (NaN propagates); dx = y > 0 ? dy : 0.
 * GELU_ERF (the exact GELU x Phi(x)): with z = |x| / sqrt(2) and t = 1 / (1 + z/2),
 * erfc(z) = t exp(-z^2) exp(q(t)), q the degree-9 polynomial of Numerical Recipes' erfcc
 * (Press et al., Chebyshev fitting; relative error < 1.2e-7 for every z >= 0, measured 1.05e-7),
 * and Phi(x) = x >= 0 ? 1 - erfc(z)/2 : erfc(z)/2. No cancellation for either sign, so Phi keeps
 * its relative accuracy far into the negative tail (PyTorch's 0.5 (1 + erf(z)) in f32 does not);
 * exp(q) stays in [0.28, 1]. exp(-z^2) is formed as exp(-x x / 2) (one rounding fewer): the
 * rounding of x x moves it by up to 6e-8 x^2 / 2 relative (3e-6 at the underflow edge).
 *   gelu_erf(x) = x Phi(x);  gelu_erf'(x) = Phi(x) + x phi(x),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
 * exp(-x^2/2) underflows to 0 for |x| > 13.2 (and x^2 = inf for |x| > 1.8e19 gives exp(-inf) =
 * 0): Phi is then exactly 0 or 1 and x phi 0, so every finite x gives a finite result.
 * The elementwise ops run four floats at a time with vmath.h's exp (<= 2 ulp; the scalar tail
 * uses the same function, so an element's value does not depend on where it falls).
 * Softmax subtracts the row max; row sums are accumulated in double, in index order, by one
 * thread per row (deterministic for any thread count).
 */
#include <math.h>

#include "cpu/kernels.h"
#include "cpu/vmath.h"

#define GELU_K 0.7978845608028654f  /* sqrt(2 / pi) */
#define GELU_C 0.044715f

typedef vkft_f4 f4;

static inline f4 sel(vkft_i4 m, f4 a, f4 b) { return (f4)(((vkft_i4)a & m) | ((vkft_i4)b & ~m)); }
static inline f4 splat(float x) { return vkft_f4_splat(x); }

/* s = sigmoid(x), t = 1 - s, lane by lane. */
static inline void sigmoid2(f4 x, f4 *s, f4 *t) {
    f4 e = vkft_f4_exp(-(f4)((vkft_i4)x & 0x7fffffff)), r = splat(1.0f) / (splat(1.0f) + e);
    vkft_i4 pos = x >= splat(0.0f);
    *s = sel(pos, r, e * r);
    *t = sel(pos, e * r, r);
}

static inline f4 gelu_f(f4 x) {
    f4 s, t;
    sigmoid2(splat(2.0f * GELU_K) * (x + splat(GELU_C) * x * x * x), &s, &t);
    return x * s;
}

static inline f4 gelu_d(f4 x) {
    f4 s, t;
    sigmoid2(splat(2.0f * GELU_K) * (x + splat(GELU_C) * x * x * x), &s, &t);
    f4 st = s * t;  /* 0 where |u| is large: skip the term, whose x^2 may overflow */
    f4 d = s + x * st * splat(2.0f * GELU_K) * (splat(1.0f) + splat(3.0f * GELU_C) * x * x);
    return sel(st == splat(0.0f), s, d);
}

/* Phi(x) and phi(x) of the exact GELU (see the header comment). */
static inline void gelu_erf_parts(f4 x, f4 *cdf, f4 *pdf) {
    f4 z = (f4)((vkft_i4)x & 0x7fffffff) * splat(0.7071067811865476f);
    f4 t = splat(1.0f) / (splat(1.0f) + splat(0.5f) * z);
    f4 q = splat(0.17087277f);
    q = q * t + splat(-0.82215223f);
    q = q * t + splat(1.48851587f);
    q = q * t + splat(-1.13520398f);
    q = q * t + splat(0.27886807f);
    q = q * t + splat(-0.18628806f);
    q = q * t + splat(0.09678418f);
    q = q * t + splat(0.37409196f);
    q = q * t + splat(1.00002368f);
    q = q * t + splat(-1.26551223f);
    f4 e = vkft_f4_exp(splat(-0.5f) * x * x);           /* = exp(-z^2), one rounding less */
    f4 half = splat(0.5f) * t * e * vkft_f4_exp(q);     /* erfc(z) / 2 */
    *cdf = sel(x >= splat(0.0f), splat(1.0f) - half, half);
    *pdf = e * splat(0.3989422804014327f);
}

static inline f4 gelu_erf_f(f4 x) {
    f4 c, p;
    gelu_erf_parts(x, &c, &p);
    return x * c;
}

static inline f4 gelu_erf_d(f4 x) {
    f4 c, p;
    gelu_erf_parts(x, &c, &p);
    return c + x * p;
}

static inline f4 silu_f(f4 x) {
    f4 s, t;
    sigmoid2(x, &s, &t);
    return x * s;
}

static inline f4 silu_d(f4 x) {
    f4 s, t;
    sigmoid2(x, &s, &t);
    return s * (splat(1.0f) + x * t);
}

/* tanh, lane by lane (see the header comment) */
static inline f4 tanh_f(f4 x) {
    f4 ax = (f4)((vkft_i4)x & 0x7fffffff), z = x * x;
    f4 p = ((((splat(-5.70498872745e-3f) * z + splat(2.06390887954e-2f)) * z
              + splat(-5.37397155531e-2f)) * z + splat(1.33314422036e-1f)) * z
            + splat(-3.33332819422e-1f)) * z * x + x;
    f4 e = vkft_f4_exp(splat(-2.0f) * ax);
    f4 big = (f4)((vkft_i4)((splat(1.0f) - e) / (splat(1.0f) + e))
                  | ((vkft_i4)x & (vkft_i4)splat(-0.0f)));
    return sel(ax < splat(0.625f), p, big);
}

typedef enum {
    GELU, GELU_BW, SILU, SILU_BW, SWIGLU, SWIGLU_BW, RELU, RELU_BW, TANH, TANH_BW, GELU_ERF,
    GELU_ERF_BW,
} act_kind;

typedef struct {
    act_kind kind;
    const float *a, *b, *c;   /* inputs in row order */
    float *y, *y2;            /* outputs */
} act_job;

/* Elements [i, i + n) of x (n <= 4) as a vector; missing lanes are 0. */
static inline f4 load_n(const float *x, int64_t i, int n) {
    if (!x) return splat(0.0f);
    if (n == 4) return vkft_f4_load(x + i);
    f4 v = splat(0.0f);
    for (int k = 0; k < n; k++) v[k] = x[i + k];
    return v;
}

static inline void store_n(float *y, int64_t i, int n, f4 v) {
    if (n == 4) vkft_f4_store(y + i, v);
    else for (int k = 0; k < n; k++) y[i + k] = v[k];
}

static void act_range(void *ctx, int64_t b, int64_t e) {
    const act_job *j = ctx;
    for (int64_t i = b; i < e; i += 4) {
        int n = e - i < 4 ? (int)(e - i) : 4;
        f4 a = load_n(j->a, i, n), bv = load_n(j->b, i, n);
        switch (j->kind) {
        case GELU: store_n(j->y, i, n, gelu_f(a)); break;
        case GELU_BW: store_n(j->y, i, n, a * gelu_d(bv)); break;
        case SILU: store_n(j->y, i, n, silu_f(a)); break;
        case SILU_BW: store_n(j->y, i, n, a * silu_d(bv)); break;
        case SWIGLU: store_n(j->y, i, n, silu_f(a) * bv); break;
        case RELU: store_n(j->y, i, n, sel(a < splat(0.0f), splat(0.0f), a)); break;
        case RELU_BW: store_n(j->y, i, n, sel(bv > splat(0.0f), a, splat(0.0f))); break;
        case TANH: store_n(j->y, i, n, tanh_f(a)); break;
        case TANH_BW: store_n(j->y, i, n, a * ((splat(1.0f) - bv) * (splat(1.0f) + bv))); break;
        case GELU_ERF: store_n(j->y, i, n, gelu_erf_f(a)); break;
        case GELU_ERF_BW: store_n(j->y, i, n, a * gelu_erf_d(bv)); break;
        case SWIGLU_BW: {  /* in: dy, gate, up. out: dgate = dy up silu'(gate), dup = dy silu */
            f4 s, t, c = load_n(j->c, i, n);
            sigmoid2(bv, &s, &t);
            store_n(j->y, i, n, a * c * (s * (splat(1.0f) + bv * t)));
            store_n(j->y2, i, n, a * (bv * s));
            break;
        }
        }
    }
}

static vkft_status act(vkft_cpu *cpu, const vkft_op_call *call, act_kind kind) {
    act_job j = {kind, vkft_cpu_f32(call->in[0]),
                 call->n_in > 1 ? vkft_cpu_f32(call->in[1]) : NULL,
                 call->n_in > 2 ? vkft_cpu_f32(call->in[2]) : NULL, vkft_cpu_f32(call->out[0]),
                 call->n_out > 1 ? vkft_cpu_f32(call->out[1]) : NULL};
    vkft_parallel_for(cpu->pool, vkft_desc_numel(&call->out[0]->desc), 1 << 14, act_range, &j);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(gelu) { (void)err; return act(cpu, call, GELU); }
VKFT_CPU_KERNEL(gelu_backward) { (void)err; return act(cpu, call, GELU_BW); }
VKFT_CPU_KERNEL(silu) { (void)err; return act(cpu, call, SILU); }
VKFT_CPU_KERNEL(silu_backward) { (void)err; return act(cpu, call, SILU_BW); }
VKFT_CPU_KERNEL(swiglu) { (void)err; return act(cpu, call, SWIGLU); }
VKFT_CPU_KERNEL(swiglu_backward) { (void)err; return act(cpu, call, SWIGLU_BW); }
VKFT_CPU_KERNEL(relu) { (void)err; return act(cpu, call, RELU); }
VKFT_CPU_KERNEL(relu_backward) { (void)err; return act(cpu, call, RELU_BW); }
VKFT_CPU_KERNEL(tanh) { (void)err; return act(cpu, call, TANH); }
VKFT_CPU_KERNEL(tanh_backward) { (void)err; return act(cpu, call, TANH_BW); }
VKFT_CPU_KERNEL(gelu_erf) { (void)err; return act(cpu, call, GELU_ERF); }
VKFT_CPU_KERNEL(gelu_erf_backward) { (void)err; return act(cpu, call, GELU_ERF_BW); }

typedef struct {
    const float *a, *b;   /* softmax: x; backward: dy, y */
    float *o;
    int64_t h;
} softmax_job;

/* y = exp(x - max) / sum(exp(x - max)) per row. */
static void softmax_rows(void *ctx, int64_t r0, int64_t r1) {
    const softmax_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->a + r * j->h;
        float *y = j->o + r * j->h, m = -INFINITY;
        for (int64_t i = 0; i < j->h; i++) m = x[i] > m ? x[i] : m;
        double s = 0.0;
        for (int64_t i = 0; i < j->h; i++) s += expf(x[i] - m);
        float sf = (float)s;
        for (int64_t i = 0; i < j->h; i++) y[i] = expf(x[i] - m) / sf;
    }
}

/* dx = y (dy - sum(dy y)) per row. */
static void softmax_bw_rows(void *ctx, int64_t r0, int64_t r1) {
    const softmax_job *j = ctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *dy = j->a + r * j->h, *y = j->b + r * j->h;
        float *dx = j->o + r * j->h;
        double d = 0.0;
        for (int64_t i = 0; i < j->h; i++) d += (double)dy[i] * y[i];
        float df = (float)d;
        for (int64_t i = 0; i < j->h; i++) dx[i] = y[i] * (dy[i] - df);
    }
}

static vkft_status softmax(vkft_cpu *cpu, const vkft_op_call *call, bool backward) {
    const vkft_desc *d = &call->out[0]->desc;
    softmax_job j = {vkft_cpu_f32(call->in[0]), backward ? vkft_cpu_f32(call->in[1]) : NULL,
                     vkft_cpu_f32(call->out[0]), d->shape[d->ndim - 1]};
    int64_t min_rows = j.h >= 4096 ? 1 : 4096 / j.h;
    vkft_parallel_for(cpu->pool, vkft_desc_rows(d), min_rows,
                      backward ? softmax_bw_rows : softmax_rows, &j);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(softmax) { (void)err; return softmax(cpu, call, false); }
VKFT_CPU_KERNEL(softmax_backward) { (void)err; return softmax(cpu, call, true); }
