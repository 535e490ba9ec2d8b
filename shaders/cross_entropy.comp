#version 450
// CROSS_ENTROPY forward, one workgroup per row of logits [rows, V]. Each lane runs an online
// max / sum of exponentials over a strided part of the row (4 columns per step, one rescale per
// step), then the lanes merge their (max, sum) pairs in a fixed tree: lse = max + log(sum).
// Lane 0 writes lse and the row's partials {w * (lse - z[label]), w} (0, 0 for an ignored row);
// sum_partials.comp adds them in order. No atomics: two runs give identical bits.
// A split dispatch binds a chunk of rows; xs / rs / ps are the element shifts of the chunk's
// first row inside its 16-byte aligned bindings.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;   // a power of two
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer L { int labels[]; };
layout(set = 0, binding = 2) readonly buffer W { float w[]; };     // labels when has_w == 0
layout(set = 0, binding = 3) writeonly buffer S { float lse_out[]; };
layout(set = 0, binding = 4) writeonly buffer Q { float part[]; };  // 2 per row
layout(push_constant) uniform P {
    uint rows;      // rows in this dispatch
    uint v;         // vocabulary (row length)
    uint xs;        // element shift of row 0 in the logits binding
    uint rs;        // element shift of row 0 in the labels, weights and lse bindings
    uint ps;        // element shift of row 0's partials
    uint has_w;
    int ignore_index;
} p;

// Below every finite logit, and exp(NEG - z) is 0 without the inf - inf of -INFINITY.
const float NEG = -3.0e38;

shared float sh_m[gl_WorkGroupSize.x];
shared float sh_s[gl_WorkGroupSize.x];

void main() {
    uint row = vkft_group_id();
    if (row >= p.rows) return;   // the whole workgroup leaves together
    uint lid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    uint base = p.xs + row * p.v;
    float m = NEG, s = 0.0;
    uint i = lid;
    for (; i + 3u * n < p.v; i += 4u * n) {
        float z0 = x[base + i], z1 = x[base + i + n];
        float z2 = x[base + i + 2u * n], z3 = x[base + i + 3u * n];
        float mn = max(max(max(z0, z1), max(z2, z3)), m);
        s = s * exp(m - mn) + ((exp(z0 - mn) + exp(z1 - mn)) + (exp(z2 - mn) + exp(z3 - mn)));
        m = mn;
    }
    for (; i < p.v; i += n) {
        float z = x[base + i], mn = max(m, z);
        s = s * exp(m - mn) + exp(z - mn);
        m = mn;
    }
    sh_m[lid] = m;
    sh_s[lid] = s;
    barrier();
    for (uint h = n / 2u; h > 0u; h >>= 1) {
        if (lid < h) {
            float m1 = sh_m[lid], m2 = sh_m[lid + h], mn = max(m1, m2);
            sh_s[lid] = sh_s[lid] * exp(m1 - mn) + sh_s[lid + h] * exp(m2 - mn);
            sh_m[lid] = mn;
        }
        barrier();
    }
    if (lid == 0u) {
        float lse = sh_m[0] + log(sh_s[0]);
        uint r = p.rs + row;
        lse_out[r] = lse;
        int y = labels[r];
        bool ok = y != p.ignore_index && y >= 0 && uint(y) < p.v;
        float wr = ok ? (p.has_w != 0u ? w[r] : 1.0) : 0.0;
        part[p.ps + 2u * row] = ok ? wr * (lse - x[base + uint(y)]) : 0.0;
        part[p.ps + 2u * row + 1u] = wr;
    }
}
