#version 450
// GELU, GELU_ERF, SILU, SWIGLU, RELU, TANH and their backwards, elementwise over f32; one
// invocation per element of this dispatch (a split dispatch binds the same chunk of every
// tensor). The formulas are the CPU's (backend/cpu/activation.c): sigmoid from e = exp(-|x|)
// <= 1, which never overflows, 0.5 (1 + tanh(u)) written as sigmoid(2u), so no tanh of a large
// argument is taken, and tanh by Cephes' polynomial / exp(-2|x|) (GLSL's tanh has no precision
// bound and Mesa lowers it to (e^x - e^-x) / (e^x + e^-x), which cancels near 0). GELU_ERF:
// Phi(x) from Numerical Recipes' erfc (t exp(-z^2) exp(q(t)), relative error < 1.2e-7), as on
// the CPU.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint KIND = 0u;   // 0 gelu, 1 gelu_bw, 2 silu, 3 silu_bw,
                                                // 4 swiglu, 5 swiglu_bw, 6 relu,
                                                // 7 relu_bw, 8 tanh, 9 tanh_bw,
                                                // 10 gelu_erf, 11 gelu_erf_bw
layout(set = 0, binding = 0) readonly buffer A { float a[]; };   // x, or dy (backwards)
layout(set = 0, binding = 1) readonly buffer B { float b[]; };   // x / y / up / gate (or a)
layout(set = 0, binding = 2) readonly buffer C { float c[]; };   // up (swiglu_bw; else a)
layout(set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 4) writeonly buffer Y2 { float y2[]; }; // dup (swiglu_bw; else y)
layout(push_constant) uniform P { uint n; } p;

const float GELU_K = 0.7978845608028654;   // sqrt(2 / pi)
const float GELU_C = 0.044715;

// s = sigmoid(x), t = 1 - s
void sigmoid2(float x, out float s, out float t) {
    float e = exp(-abs(x)), r = 1.0 / (1.0 + e);
    s = x >= 0.0 ? r : e * r;
    t = x >= 0.0 ? e * r : r;
}

float gelu_f(float x) {
    float s, t;
    sigmoid2(2.0 * GELU_K * (x + GELU_C * x * x * x), s, t);
    return x * s;
}

float gelu_d(float x) {
    float s, t;
    sigmoid2(2.0 * GELU_K * (x + GELU_C * x * x * x), s, t);
    float st = s * t;   // 0 where |u| is large: skip the term, whose x^2 may overflow
    return st == 0.0 ? s : s + x * st * 2.0 * GELU_K * (1.0 + 3.0 * GELU_C * x * x);
}

// Phi(x) (cdf) and phi(x) (pdf) of the exact GELU, as backend/cpu/activation.c
void gelu_erf_parts(float x, out float cdf, out float pdf) {
    float z = abs(x) * 0.7071067811865476;
    float t = 1.0 / (1.0 + 0.5 * z);
    float q = 0.17087277;
    q = q * t - 0.82215223;
    q = q * t + 1.48851587;
    q = q * t - 1.13520398;
    q = q * t + 0.27886807;
    q = q * t - 0.18628806;
    q = q * t + 0.09678418;
    q = q * t + 0.37409196;
    q = q * t + 1.00002368;
    q = q * t - 1.26551223;
    float e = exp(-0.5 * x * x);        // exp(-z^2); 0 once z^2 passes ~87 (and x^2 = inf)
    float half_erfc = 0.5 * t * e * exp(q);
    cdf = x >= 0.0 ? 1.0 - half_erfc : half_erfc;
    pdf = e * 0.3989422804014327;
}

float gelu_erf_f(float x) {
    float c, p;
    gelu_erf_parts(x, c, p);
    return x * c;
}

float gelu_erf_d(float x) {
    float c, p;
    gelu_erf_parts(x, c, p);
    return c + x * p;
}

float silu_f(float x) {
    float s, t;
    sigmoid2(x, s, t);
    return x * s;
}

float silu_d(float x) {
    float s, t;
    sigmoid2(x, s, t);
    return s * (1.0 + x * t);
}

float tanh_f(float x) {
    float ax = abs(x);
    if (ax < 0.625) {
        float z = x * x;
        return ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z
                 + 1.33314422036e-1) * z - 3.33332819422e-1) * z * x + x;
    }
    float e = exp(-2.0 * ax);   // ax NaN: e NaN, and so the result
    float t = (1.0 - e) / (1.0 + e);
    return x < 0.0 ? -t : t;
}

void main() {
    uint i = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    if (KIND == 0u) y[i] = gelu_f(a[i]);
    else if (KIND == 1u) y[i] = a[i] * gelu_d(b[i]);
    else if (KIND == 2u) y[i] = silu_f(a[i]);
    else if (KIND == 3u) y[i] = a[i] * silu_d(b[i]);
    else if (KIND == 4u) y[i] = silu_f(a[i]) * b[i];
    else if (KIND == 6u) y[i] = a[i] < 0.0 ? 0.0 : a[i];
    else if (KIND == 7u) y[i] = b[i] > 0.0 ? a[i] : 0.0;
    else if (KIND == 8u) y[i] = tanh_f(a[i]);
    else if (KIND == 9u) y[i] = a[i] * ((1.0 - b[i]) * (1.0 + b[i]));
    else if (KIND == 10u) y[i] = gelu_erf_f(a[i]);
    else if (KIND == 11u) y[i] = a[i] * gelu_erf_d(b[i]);
    else {
        float dy = a[i], g = b[i];
        y[i] = dy * c[i] * silu_d(g);
        y2[i] = dy * silu_f(g);
    }
}
