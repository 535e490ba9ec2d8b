#version 450
// ADAMW for CPU-shaped drivers (lavapipe): adamw.comp's operations in the same order, with p, g,
// m and v read as RGBA32F texels (4 floats in ~1.2 instructions there, where a storage-buffer
// load with a lane-varying address costs 10-12 per float; LAVAPIPE.md). An invocation updates
// PER_LANE texels, 4 elements each; the chunk's element count is a multiple of 4 (the recorder
// sends a remainder to adamw.comp). The outputs may be the inputs' memory: each element is read
// before the same invocation writes it.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "adamw.glsl"

#define WG 64u
#define PER_LANE 8u
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) uniform samplerBuffer Pi;
layout(set = 0, binding = 1) uniform samplerBuffer Gi;
layout(set = 0, binding = 2) uniform samplerBuffer Mi;
layout(set = 0, binding = 3) uniform samplerBuffer Vi;
layout(set = 0, binding = 4) readonly buffer H { float hyper[]; };   // lr, step, grad_scale
// vec4 outputs: lavapipe stores with one loop over the lanes per store instruction
layout(set = 0, binding = 5) writeonly buffer Po { vec4 p_out[]; };
layout(set = 0, binding = 6) writeonly buffer Mo { vec4 m_out[]; };
layout(set = 0, binding = 7) writeonly buffer Vo { vec4 v_out[]; };
layout(push_constant) uniform P {
    uint n4;    // texels in this chunk
    float beta1, beta2, eps, weight_decay;
} p;

void main() {
    uint i0 = vkft_group_id() * WG * PER_LANE + gl_LocalInvocationID.x;
    if (i0 >= p.n4) return;
    float lr = hyper[0], step = hyper[1], gs = hyper[2];
    float decay = 1.0 - lr * p.weight_decay;
    float step_size = lr / one_minus_pow(p.beta1, step);
    float bc2_sqrt = sqrt(one_minus_pow(p.beta2, step));
    float one_b1 = 1.0 - p.beta1, one_b2 = 1.0 - p.beta2;
    for (uint k = 0u; k < PER_LANE; k++) {
        uint i = i0 + k * WG;
        if (i >= p.n4) break;
        vec4 g = texelFetch(Gi, int(i)) * gs;
        vec4 pv = texelFetch(Pi, int(i)) * decay;
        vec4 m = p.beta1 * texelFetch(Mi, int(i)) + one_b1 * g;
        vec4 v = p.beta2 * texelFetch(Vi, int(i)) + one_b2 * (g * g);
        vec4 denom = sqrt(v) / bc2_sqrt + p.eps;
        vec4 pn = pv - step_size * (m / denom);
        p_out[i] = pn;
        m_out[i] = m;
        v_out[i] = v;
    }
}
