#version 450
// y = alpha * x + beta, one element per invocation; y may alias x.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha, beta; } p;

void main() {
    uint i = vkft_group_id() * 256u + gl_LocalInvocationID.x;
    if (i < p.n) y[i] = p.alpha * x[i] + p.beta;
}
