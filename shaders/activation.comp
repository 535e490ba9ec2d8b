#version 450
// GELU, GELU_ERF, SILU, SWIGLU, RELU, TANH and their backwards, elementwise over f32; one
// invocation per element of this dispatch (a split dispatch binds the same chunk of every
// tensor). The formulas are in activation.glsl (shared with activation_cpu.comp, the texel-fed
// variant for CPU-shaped drivers, which sends its remainders of < 4 elements here).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "activation.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint KIND = 0u;   // the op (activation.glsl)
layout(set = 0, binding = 0) readonly buffer A { float a[]; };   // x, or dy (backwards)
layout(set = 0, binding = 1) readonly buffer B { float b[]; };   // x / y / up / gate (or a)
layout(set = 0, binding = 2) readonly buffer C { float c[]; };   // up (swiglu_bw; else a)
layout(set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 4) writeonly buffer Y2 { float y2[]; }; // dup (swiglu_bw; else y)
layout(push_constant) uniform P { uint n; } p;

void main() {
    uint i = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    float av = a[i], bv = ACT_READS_B(KIND) ? b[i] : 0.0, cv = KIND == 5u ? c[i] : 0.0;
    y[i] = act_out(KIND, av, bv, cv);
    if (KIND == 5u) y2[i] = act_out2(av, bv);
}
