#version 450
// ADAMW, PyTorch semantics, elementwise over a chunk; the same operations in the same order as
// backend/cpu/optimizer.c:
//   g' = g * grad_scale; p *= 1 - lr * wd; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
//   p -= (lr / bc1) * (m / (sqrt(v) / sqrt(bc2) + eps)),  bc = 1 - b^step.
// The outputs may be the inputs' ranges (in place): each element is read before it is written
// by the same invocation. Each invocation takes PER_LANE elements so the bias corrections are
// computed once per PER_LANE elements (on lavapipe their loop cost as much as the update itself
// with one element per invocation).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#define WG 64u
#define PER_LANE 8u
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Pi { float p_in[]; };
layout(set = 0, binding = 1) readonly buffer Gi { float g_in[]; };
layout(set = 0, binding = 2) readonly buffer Mi { float m_in[]; };
layout(set = 0, binding = 3) readonly buffer Vi { float v_in[]; };
layout(set = 0, binding = 4) readonly buffer H { float hyper[]; };   // lr, step, grad_scale
layout(set = 0, binding = 5) writeonly buffer Po { float p_out[]; };
layout(set = 0, binding = 6) writeonly buffer Mo { float m_out[]; };
layout(set = 0, binding = 7) writeonly buffer Vo { float v_out[]; };
layout(push_constant) uniform P {
    uint n;
    float beta1, beta2, eps, weight_decay;
} p;

#include "adamw.glsl"

void main() {
    uint i0 = vkft_group_id() * WG * PER_LANE + gl_LocalInvocationID.x;
    if (i0 >= p.n) return;
    float lr = hyper[0], step = hyper[1], gs = hyper[2];
    float decay = 1.0 - lr * p.weight_decay;
    float step_size = lr / one_minus_pow(p.beta1, step);
    float bc2_sqrt = sqrt(one_minus_pow(p.beta2, step));
    float one_b1 = 1.0 - p.beta1, one_b2 = 1.0 - p.beta2;
    for (uint k = 0u; k < PER_LANE; k++) {
        uint i = i0 + k * WG;
        if (i >= p.n) break;
        float g = g_in[i] * gs;
        float pv = p_in[i] * decay;
        float m = p.beta1 * m_in[i] + one_b1 * g;
        float v = p.beta2 * v_in[i] + one_b2 * (g * g);
        float denom = sqrt(v) / bc2_sqrt + p.eps;
        p_out[i] = pv - step_size * (m / denom);
        m_out[i] = m;
        v_out[i] = v;
    }
}
