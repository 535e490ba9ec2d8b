#version 450
// Adds the partial results of a reduction in a fixed order: rows [0, n) of k columns (k = 1 or
// 2); column c's total goes to o0[0] (c = 0) or o1[0] (c = 1), added to the value there when
// accumulate is set (a later chunk of a split reduction). 64 lanes on every device: lane l sums
// rows l, l + 64, ... in order, then a fixed tree adds the lanes. Used by cross_entropy (loss,
// weight per row) and sum_squares (one partial per block).
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer Q { float part[]; };
layout(set = 0, binding = 1) buffer O0 { float o0[]; };
layout(set = 0, binding = 2) buffer O1 { float o1[]; };   // o0's tensor again when k == 1
layout(push_constant) uniform P {
    uint n;            // rows
    uint k;            // columns (1 or 2)
    uint shift;        // element shift of row 0 in the binding
    uint accumulate;
} p;

shared float sh0[64];
shared float sh1[64];

void main() {
    uint lid = gl_LocalInvocationID.x;
    float a0 = 0.0, a1 = 0.0;
    for (uint r = lid; r < p.n; r += 64u) {
        a0 += part[p.shift + r * p.k];
        if (p.k == 2u) a1 += part[p.shift + r * 2u + 1u];
    }
    sh0[lid] = a0;
    sh1[lid] = a1;
    barrier();
    for (uint h = 32u; h > 0u; h >>= 1) {
        if (lid < h) {
            sh0[lid] += sh0[lid + h];
            sh1[lid] += sh1[lid + h];
        }
        barrier();
    }
    if (lid == 0u) {
        o0[0] = p.accumulate != 0u ? o0[0] + sh0[0] : sh0[0];
        if (p.k == 2u) o1[0] = p.accumulate != 0u ? o1[0] + sh1[0] : sh1[0];
    }
}
