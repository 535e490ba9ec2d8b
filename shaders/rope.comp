#version 450
// ROPE and ROPE_BACKWARD (Hugging Face rotate-half layout, partial rotary): one invocation per
// (token, j): j < half rotates the pair (j, j + half) of every head, j >= half copies the
// pass-through dim R + (j - half) of every head. The backward op is the rotation by -angle
// (sign = -1).
// Angles are computed like PyTorch: angle = float(pos) * inv_freq in f32, then cos and sin of
// that f32 value. GLSL's cos/sin are only specified on [-pi, pi] (GPUs lose accuracy far beyond
// it), so they are computed here: Cody-Waite reduction by pi/2 (four-part constant, exact for
// |k| < 2^16, i.e. angles up to ~100000 rad) and Cephes' minimax polynomials on [-pi/4, pi/4].
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer F { float inv_freq[]; };
layout(set = 0, binding = 2) readonly buffer POS { int positions[]; };  // inv_freq when absent
layout(set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint tokens;    // tokens in this dispatch
    uint t_len;     // T
    uint heads;     // nH
    uint d;         // D
    uint half_r;    // R / 2
    uint t0;        // global index (b * T + t) of this dispatch's first token
    int pos_offset;
    float scaling;  // attention_scaling
    float sign_;    // 1: forward, -1: backward
    uint has_pos;
    uint xs;        // element shift of token 0 in the x and y bindings
    uint ps;        // element shift of token 0 in the positions binding
} p;

// sin and cos of a, both.
void sincos_f32(float a, out float s, out float c) {
    precise float k = roundEven(a * 0.636619772367581343);
    precise float r = a - k * 1.5703125;
    r = r - k * 4.825592041015625e-4;
    r = r - k * 1.2665987014770508e-6;
    r = r - k * 9.920936294705031e-10;
    float z = r * r;
    float sr = r + r * z * ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1);
    float cr = 1.0 - 0.5 * z
             + z * z * ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z
                        + 4.166664568298827e-2);
    int q = int(k) & 3;
    s = q == 0 ? sr : q == 1 ? cr : q == 2 ? -sr : -cr;
    c = q == 0 ? cr : q == 1 ? -sr : q == 2 ? -cr : sr;
}

void main() {
    uint width = p.d - p.half_r;   // half pairs + (D - R) pass-through dims
    uint gid = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (gid >= p.tokens * width) return;
    uint tok = gid / width, j = gid % width;
    uint base = p.xs + tok * p.heads * p.d;
    if (j >= p.half_r) {
        uint i = 2u * p.half_r + (j - p.half_r);
        for (uint hd = 0u; hd < p.heads; hd++) y[base + hd * p.d + i] = x[base + hd * p.d + i];
        return;
    }
    int pos = p.has_pos != 0u ? positions[p.ps + tok] : p.pos_offset + int((p.t0 + tok) % p.t_len);
    precise float angle = float(pos) * inv_freq[j];
    float s, c;
    sincos_f32(angle, s, c);
    c *= p.scaling;
    s *= p.scaling * p.sign_;
    for (uint hd = 0u; hd < p.heads; hd++) {
        uint i = base + hd * p.d + j;
        float a = x[i], b = x[i + p.half_r];
        y[i] = a * c + (-b) * s;
        y[i + p.half_r] = b * c + a * s;
    }
}
