#version 450
// ROPE and ROPE_BACKWARD on CPU-shaped drivers (lavapipe) when R / 2 and D are multiples of 4
// and x, y start on 16 bytes: rope.comp's computation 4 dims at a time. One invocation per
// (token, texel column c): c < R / 8 rotates the pairs (4c + i, 4c + i + R/2), i < 4, of every
// head, the other columns copy 4 pass-through dims of every head. x is read as RGBA32F texels
// (4 floats in ~1.2 instructions there, where a storage-buffer load with a lane-varying address
// is a scalar loop over the 8 lanes) and y stored as vec4s (one loop over the lanes per store,
// not four). The angles, sin and cos are rope.comp's operations per component: the same bits.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) readonly buffer F { vec4 inv_freq[]; };
layout(set = 0, binding = 2) readonly buffer POS { int positions[]; };  // inv_freq when absent
layout(set = 0, binding = 3) writeonly buffer Y { vec4 y[]; };
layout(push_constant) uniform P {
    uint tokens;    // tokens in this dispatch
    uint t_len;     // T
    uint heads;     // nH
    uint d4;        // D / 4
    uint half4;     // R / 8: texels of each half of the rotated dims
    uint t0;        // global index (b * T + t) of this dispatch's first token
    int pos_offset;
    float scaling;  // attention_scaling
    float sign_;    // 1: forward, -1: backward
    uint has_pos;
    uint ps;        // element shift of token 0 in the positions binding
} p;

// sin and cos of a, both: rope.comp's sincos_f32 per component.
void sincos4(vec4 a, out vec4 s, out vec4 c) {
    precise vec4 k = roundEven(a * 0.636619772367581343);
    precise vec4 r = a - k * 1.5703125;
    r = r - k * 4.825592041015625e-4;
    r = r - k * 1.2665987014770508e-6;
    r = r - k * 9.920936294705031e-10;
    vec4 z = r * r;
    vec4 sr = r + r * z * ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1);
    vec4 cr = 1.0 - 0.5 * z
            + z * z * ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z
                       + 4.166664568298827e-2);
    ivec4 q = ivec4(k) & 3;
    bvec4 q0 = equal(q, ivec4(0)), q1 = equal(q, ivec4(1)), q2 = equal(q, ivec4(2));
    s = mix(mix(mix(-cr, -sr, q2), cr, q1), sr, q0);
    c = mix(mix(mix(sr, -cr, q2), -sr, q1), cr, q0);
}

void main() {
    uint width = p.d4 - p.half4;   // half4 rotation columns + (D - R) / 4 pass-through ones
    uint gid = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (gid >= p.tokens * width) return;
    uint tok = gid / width, col = gid % width;
    bool rot = col < p.half4;
    // first texel of this column in head 0, and its partner's distance (0: pass-through, the
    // "pair" is the texel itself and both stores write it unchanged)
    uint t = tok * p.heads * p.d4 + (rot ? col : col + p.half4);
    uint off = rot ? p.half4 : 0u;
    int pos = p.has_pos != 0u ? positions[p.ps + tok] : p.pos_offset + int((p.t0 + tok) % p.t_len);
    precise vec4 angle = float(pos) * inv_freq[min(col, p.half4 - 1u)];
    vec4 s, c;
    sincos4(angle, s, c);
    c *= p.scaling;
    s *= p.scaling * p.sign_;
    for (uint hd = 0u; hd < p.heads; hd++) {
        vec4 a = texelFetch(X, int(t)), b = texelFetch(X, int(t + off));
        y[t] = rot ? a * c + (-b) * s : a;
        y[t + off] = rot ? b * c + a * s : a;
        t += p.d4;
    }
}
