#version 450
// CROSS_ENTROPY_BACKWARD on CPU-shaped drivers (lavapipe): dz[k] = dloss * w * (exp(z[k] - lse)
// - [k == y]), 0 for an ignored row, as cross_entropy_backward.comp, with the logits read as
// RGBA32F texels and dz stored as vec4s (lavapipe runs one scalar loop over the 8 lanes per
// lane-varying store instruction: a vec4 store is one loop for 4 floats, LAVAPIPE.md). A
// workgroup is 8 lanes on one row, lane l computing texels l, l + 8, ... of it, U = 8 texels per
// step fetched first (a one-texel tail loop after): 8 texels per step made the op ~1.5-2x faster
// on lavapipe than one. The row's scalars are read once per invocation (uniform addresses).
// The recorder takes this path when V % 4 == 0 and the logits and dz start on 16 bytes: a
// chunk's logits binding is a texel view starting at its first row and dz's binding starts at the
// same row; rs is the element shift of the chunk's first row in the labels, weights and lse
// bindings.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

const uint U = 8u;   // texels per lane per step

layout(local_size_x = 8) in;
layout(set = 0, binding = 0) uniform samplerBuffer X;
layout(set = 0, binding = 1) readonly buffer L { int labels[]; };
layout(set = 0, binding = 2) readonly buffer W { float w[]; };     // labels when has_w == 0
layout(set = 0, binding = 3) readonly buffer S { float lse[]; };
layout(set = 0, binding = 4) readonly buffer D { float dloss[]; };
layout(set = 0, binding = 5) writeonly buffer G { vec4 dz4[]; };
layout(push_constant) uniform P {
    uint rows;
    uint v;         // a multiple of 4
    uint rs;
    uint has_w;
    int ignore_index;
} p;

void main() {
    uint row = vkft_group_id();
    if (row >= p.rows) return;
    uint lane = gl_LocalInvocationID.x, v4 = p.v / 4u, base = row * v4, r = p.rs + row;
    int y = labels[r];
    bool ok = y != p.ignore_index && y >= 0 && uint(y) < p.v;
    float coef = dloss[0] * (p.has_w != 0u ? w[r] : 1.0), l = lse[r];
    // the label's texel gets `hot` subtracted (selects, not branches: lavapipe runs both sides)
    uint yt = ok ? uint(y) / 4u : 0xffffffffu;
    vec4 hot = vec4(equal(uvec4(ok ? uint(y) % 4u : 4u), uvec4(0u, 1u, 2u, 3u)));
    uint t = lane;
    for (; t + 8u * (U - 1u) < v4; t += 8u * U) {
        vec4 e[U];
        [[unroll]] for (uint k = 0u; k < U; k++) e[k] = texelFetch(X, int(base + t + 8u * k));
        [[unroll]] for (uint k = 0u; k < U; k++) {
            vec4 g = exp(e[k] - l) - (t + 8u * k == yt ? hot : vec4(0.0));
            dz4[base + t + 8u * k] = ok ? coef * g : vec4(0.0);
        }
    }
    for (; t < v4; t += 8u) {
        vec4 e = exp(texelFetch(X, int(base + t)) - l) - (t == yt ? hot : vec4(0.0));
        dz4[base + t] = ok ? coef * e : vec4(0.0);
    }
}
