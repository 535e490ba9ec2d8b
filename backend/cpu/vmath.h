/*
 * Short SIMD helpers for the CPU kernels: 4-float vectors (GCC/Clang vector extensions, so SSE
 * on x86-64 and NEON on AArch64 with no flags and no intrinsics) and a vectorised exp.
 *
 * Why: the build is -O2, where GCC 12 vectorises only loops whose trip count it knows to be a
 * multiple of the vector width, so the kernels' exp and row loops ran one float at a time
 * (expf alone was ~60% of cross-entropy and of attention's softmax). Loops written over
 * vkft_f4 are vector code at any -O level.
 *
 * vkft_f4_exp(x): Cephes' expf: n = round(x log2 e), r = x - n ln 2 (in two parts), exp(r) by
 * a degree-6 polynomial, scaled by 2^n through the exponent bits. Relative error <= 2 ulp on
 * [-87.3, 88]; x < -87.3 (and -INFINITY) gives 0, x > 88 gives exp(88) (no infinity), NaN
 * gives NaN. Results are the same bits on every thread; they differ from libm's expf in the
 * last bit or two.
 */
#ifndef VKFT_CPU_VMATH_H
#define VKFT_CPU_VMATH_H

#include <stdint.h>
#include <string.h>

typedef float vkft_f4 __attribute__((vector_size(16)));
typedef int32_t vkft_i4 __attribute__((vector_size(16)));

static inline vkft_f4 vkft_f4_load(const float *p) {
    vkft_f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vkft_f4_store(float *p, vkft_f4 v) { memcpy(p, &v, sizeof v); }

static inline vkft_f4 vkft_f4_splat(float x) { return (vkft_f4){x, x, x, x}; }

static inline vkft_f4 vkft_f4_max(vkft_f4 a, vkft_f4 b) {
    vkft_i4 gt = a > b;
    return (vkft_f4)(((vkft_i4)a & gt) | ((vkft_i4)b & ~gt));
}

/* Lanes summed in a fixed order. */
static inline float vkft_f4_sum(vkft_f4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

static inline float vkft_f4_hmax(vkft_f4 v) {
    float a = v[0] > v[1] ? v[0] : v[1], b = v[2] > v[3] ? v[2] : v[3];
    return a > b ? a : b;
}

static inline vkft_f4 vkft_f4_exp(vkft_f4 x) {
    const vkft_f4 lo = vkft_f4_splat(-87.33654f), hi = vkft_f4_splat(88.0f);
    vkft_i4 keep = x >= lo;                          /* false for -INF and below; NaN too */
    vkft_i4 nan = x != x;
    vkft_f4 xc = vkft_f4_max(x, lo);
    xc = (vkft_f4)(((vkft_i4)hi & (xc > hi)) | ((vkft_i4)xc & ~(xc > hi)));
    const vkft_f4 magic = vkft_f4_splat(12582912.0f);   /* 1.5 * 2^23: round to nearest */
    vkft_f4 t = xc * vkft_f4_splat(1.44269504088896341f) + magic;
    vkft_i4 n = (vkft_i4)t - (vkft_i4)magic;
    vkft_f4 fn = t - magic;
    vkft_f4 r = xc - fn * vkft_f4_splat(0.693359375f) - fn * vkft_f4_splat(-2.12194440e-4f);
    vkft_f4 z = r * r;
    vkft_f4 y = vkft_f4_splat(1.9875691500e-4f);
    y = y * r + vkft_f4_splat(1.3981999507e-3f);
    y = y * r + vkft_f4_splat(8.3334519073e-3f);
    y = y * r + vkft_f4_splat(4.1665795894e-2f);
    y = y * r + vkft_f4_splat(1.6666665459e-1f);
    y = y * r + vkft_f4_splat(5.0000001201e-1f);
    y = y * z + r + vkft_f4_splat(1.0f);
    vkft_f4 scale = (vkft_f4)((n + 127) << 23);
    y = y * scale;
    return (vkft_f4)(((vkft_i4)y & keep) | ((vkft_i4)x & nan));
}

/* The scalar form (same bits as a lane of vkft_f4_exp). */
static inline float vkft_expf(float x) { return vkft_f4_exp(vkft_f4_splat(x))[0]; }

/* y[i] = exp(x[i] - shift) for i < n (y may be x); returns their sum, added in a fixed order
 * (four lane sums, then the tail). */
static inline float vkft_exp_shift_sum(const float *x, float shift, float *y, int64_t n) {
    vkft_f4 acc = vkft_f4_splat(0.0f), s = vkft_f4_splat(shift);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        vkft_f4 e = vkft_f4_exp(vkft_f4_load(x + i) - s);
        vkft_f4_store(y + i, e);
        acc += e;
    }
    float sum = vkft_f4_sum(acc);
    for (; i < n; i++) {
        y[i] = vkft_expf(x[i] - shift);
        sum += y[i];
    }
    return sum;
}

/* max of x[0..n) (-INFINITY for n == 0; NaNs are skipped). */
static inline float vkft_max_f32(const float *x, int64_t n) {
    vkft_f4 m = vkft_f4_splat(-__builtin_inff());
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) m = vkft_f4_max(vkft_f4_load(x + i), m);
    float r = vkft_f4_hmax(m);
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

#endif
