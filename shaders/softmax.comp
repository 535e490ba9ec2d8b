#version 450
// SOFTMAX over the last dim and SOFTMAX_BACKWARD: one workgroup per row. Each lane reduces a
// strided part of the row in index order, then the workgroup combines the lanes in a fixed tree
// (deterministic, no atomics; a row's result depends only on the workgroup size, never on how
// rows are split over dispatches).
//   forward:  m = max(x), s = sum(exp(x - m)), y = exp(x - m) / s
//   backward: d = sum(dy y), dx = y (dy - d)
// A split dispatch binds a chunk of rows; xs is the element shift of row 0 inside the 16-byte
// aligned bindings (the same for every tensor: they have one shape).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;                  // a power of two
layout(constant_id = 1) const uint BACKWARD = 0u;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };   // x, or dy
layout(set = 0, binding = 1) readonly buffer B { float b[]; };   // y (backward; else a)
layout(set = 0, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint h;         // row length
    uint xs;        // element shift of row 0 in the bindings
} p;

shared float sh[gl_WorkGroupSize.x];

// op 0: sum, 1: max
float wg_reduce(float v, uint op) {
    uint lid = gl_LocalInvocationID.x;
    sh[lid] = v;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
        if (lid < s) sh[lid] = op == 0u ? sh[lid] + sh[lid + s] : max(sh[lid], sh[lid + s]);
        barrier();
    }
    float t = sh[0];
    barrier();
    return t;
}

void main() {
    uint row = vkft_group_id();
    if (row >= p.rows) return;   // the whole workgroup leaves together
    uint lid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    uint base = p.xs + row * p.h;
    if (BACKWARD != 0u) {
        float acc = 0.0;
        for (uint i = lid; i < p.h; i += n) acc += a[base + i] * b[base + i];
        float d = wg_reduce(acc, 0u);
        for (uint i = lid; i < p.h; i += n) o[base + i] = b[base + i] * (a[base + i] - d);
        return;
    }
    float m = uintBitsToFloat(0xff800000u);   // -inf
    for (uint i = lid; i < p.h; i += n) m = max(m, a[base + i]);
    m = wg_reduce(m, 1u);
    float acc = 0.0;
    for (uint i = lid; i < p.h; i += n) acc += exp(a[base + i] - m);
    float s = wg_reduce(acc, 0u);
    for (uint i = lid; i < p.h; i += n) o[base + i] = exp(a[base + i] - m) / s;
}
