// The activation formulas shared by activation.comp (storage buffers, any layout) and
// activation_cpu.comp (RGBA32F texels, CPU-shaped drivers), so both compute the same bits. They
// are the CPU's (backend/cpu/activation.c): sigmoid from e = exp(-|x|) <= 1, which never
// overflows, 0.5 (1 + tanh(u)) written as sigmoid(2u), so no tanh of a large argument is taken,
// and tanh by Cephes' polynomial / exp(-2|x|) (GLSL's tanh has no precision bound and Mesa
// lowers it to (e^x - e^-x) / (e^x + e^-x), which cancels near 0). GELU_ERF: Phi(x) from
// Numerical Recipes' erfc (t exp(-z^2) exp(q(t)), relative error < 1.2e-7), as on the CPU.
// KIND (specialization constant 0 of both shaders): 0 gelu, 1 gelu_bw, 2 silu, 3 silu_bw,
// 4 swiglu, 5 swiglu_bw, 6 relu, 7 relu_bw, 8 tanh, 9 tanh_bw, 10 gelu_erf, 11 gelu_erf_bw.

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

// Whether kind reads its second input (the backwards and swiglu).
#define ACT_READS_B(kind) ((kind) % 2u == 1u || (kind) == 4u)

// The first output for inputs (a, b, c) of the same element (a: x, or dy for backwards; b: the
// second input, c: up for swiglu_bw); swiglu_bw's second output is act_out2.
float act_out(uint kind, float a, float b, float c) {
    if (kind == 0u) return gelu_f(a);
    if (kind == 1u) return a * gelu_d(b);
    if (kind == 2u) return silu_f(a);
    if (kind == 3u) return a * silu_d(b);
    if (kind == 4u) return silu_f(a) * b;
    if (kind == 6u) return a < 0.0 ? 0.0 : a;
    if (kind == 7u) return b > 0.0 ? a : 0.0;
    if (kind == 8u) return tanh_f(a);
    if (kind == 9u) return a * ((1.0 - b) * (1.0 + b));
    if (kind == 10u) return gelu_erf_f(a);
    if (kind == 11u) return a * gelu_erf_d(b);
    return a * c * silu_d(b);   // swiglu_bw: dgate = dy up silu'(gate)
}

float act_out2(float a, float b) { return a * silu_f(b); }   // swiglu_bw: dup = dy silu(gate)
