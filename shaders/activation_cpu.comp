#version 450
// The activations of activation.comp on CPU-shaped drivers (lavapipe), for chunks whose tensors
// all start on 16 bytes: inputs read as RGBA32F texels (4 floats in ~1.2 instructions there,
// where a storage-buffer load with a lane-varying address is a scalar loop over the 8 lanes),
// outputs stored as vec4s through a vec4 view of the binding (one loop over the lanes per store
// instruction instead of four). Same formulas as activation.comp (activation.glsl), applied per
// component, so the same bits. An invocation handles PER_LANE texels, WG apart (consecutive lanes
// on consecutive texels); the chunk's element count is a multiple of 4 (the recorder sends the
// remainder to activation.comp). An output may be an input's memory: each element is read before
// the same invocation writes it.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "activation.glsl"

#define WG 64u
#define PER_LANE 4u
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint KIND = 0u;   // the op (activation.glsl)
layout(set = 0, binding = 0) uniform samplerBuffer A;   // x, or dy (backwards)
layout(set = 0, binding = 1) uniform samplerBuffer B;   // x / y / up / gate (or a)
layout(set = 0, binding = 2) uniform samplerBuffer C;   // up (swiglu_bw; else a)
layout(set = 0, binding = 3) writeonly buffer Y { vec4 y[]; };
layout(set = 0, binding = 4) writeonly buffer Y2 { vec4 y2[]; }; // dup (swiglu_bw; else y)
layout(push_constant) uniform P { uint n4; } p;   // texels in this chunk

void main() {
    uint i0 = vkft_group_id() * WG * PER_LANE + gl_LocalInvocationID.x;
    for (uint k = 0u; k < PER_LANE; k++) {
        uint i = i0 + k * WG;
        if (i >= p.n4) break;
        vec4 av = texelFetch(A, int(i));
        vec4 bv = ACT_READS_B(KIND) ? texelFetch(B, int(i)) : vec4(0.0);
        vec4 cv = KIND == 5u ? texelFetch(C, int(i)) : vec4(0.0);
        vec4 o;
        for (int c = 0; c < 4; c++) o[c] = act_out(KIND, av[c], bv[c], cv[c]);
        y[i] = o;
        if (KIND == 5u) {
            for (int c = 0; c < 4; c++) o[c] = act_out2(av[c], bv[c]);
            y2[i] = o;
        }
    }
}
