#version 450
// TRANSPOSE, SLICE, PAD and CONCAT as one gather: output element at coordinates c (4 dims,
// left-padded) comes from source A when c[ax] is in [a_lo, a_hi), from source B when it is in
// [b_lo, b_hi), else it is 0 (PAD). A source's element index is dot(c, stride) + base (uint
// arithmetic wraps, so a negative base works).
//
// Elements of 1, 2 or 4 bytes live in packed uint words (no 8/16-bit storage feature needed);
// each invocation produces one whole output word (1, 2 or 4 elements), so no two invocations
// write the same word. Split path: a dispatch binds a chunk of output words and a window of
// each source ([aw0, aw0 + awn) elements); it writes only the elements whose source lies in the
// window (plus zeros), merging them into the word with a read-modify-write when the word is
// not written whole. Dispatches are ordered by barriers, so the windows fill every word.
//
// Coordinates come from the element index by multiply-high division (Granlund-Montgomery, exact
// for every 32-bit index): lavapipe has no vector integer divide, and with plain `/` and `%`
// (scalarised per lane) a 4096^2 f32 transpose took 365 ms, against 180-250 ms now (2 busy
// cores; the CPU backend takes ~47 ms: lane-varying loads and stores dominate what is left).
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint ES_LOG = 0u;  // log2(elements per word): 0, 1 (16-bit), 2
layout(set = 0, binding = 0) readonly buffer A { uint a[]; };
layout(set = 0, binding = 1) readonly buffer B { uint b[]; };   // A again when there is no B
layout(set = 0, binding = 2) buffer O { uint o[]; };
layout(push_constant) uniform P {
    uint nw;        // output words in this dispatch
    uint w0;        // first output word (global) of this dispatch
    uint n;         // output elements in all (the last word may be partial)
    uint ax;        // the dim whose coordinate picks the source
    uint d1, d2, d3;        // output dims 1..3 (dim 0 is what remains)
    uint m1, m2, m3;        // their division magic numbers
    uint shifts;            // byte k-1: sh1 | sh2 << 1 for d_k
    uint a_lo, a_hi, a_base, aw0, awn;
    uint sa[4];
    uint b_lo, b_hi, b_base, bw0, bwn;
    uint sb[4];
} p;

const uint PER = 1u << ES_LOG, BITS = 32u >> ES_LOG;
const uint EMASK = BITS == 32u ? 0xffffffffu : (1u << BITS) - 1u;

// x / d for the divisor whose magic is m and shift byte sh.
uint fdiv(uint x, uint m, uint sh) {
    uint hi, lo;
    umulExtended(x, m, hi, lo);
    return (hi + ((x - hi) >> (sh & 1u))) >> (sh >> 1);
}

// The source bits of output element e (have = false: the source is outside this window).
uint element(uint e, out bool have) {
    uint q3 = fdiv(e, p.m3, p.shifts >> 16 & 255u), c3 = e - q3 * p.d3;
    uint q2 = fdiv(q3, p.m2, p.shifts >> 8 & 255u), c2 = q3 - q2 * p.d2;
    uint c0 = fdiv(q2, p.m1, p.shifts & 255u), c1 = q2 - c0 * p.d1;
    uint j = p.ax == 0u ? c0 : p.ax == 1u ? c1 : p.ax == 2u ? c2 : c3;
    have = true;
    if (j >= p.a_lo && j < p.a_hi) {
        uint pos = c0 * p.sa[0] + c1 * p.sa[1] + c2 * p.sa[2] + c3 * p.sa[3] + p.a_base - p.aw0;
        have = pos < p.awn;
        return have ? (a[pos >> ES_LOG] >> ((pos & (PER - 1u)) * BITS)) & EMASK : 0u;
    }
    if (j >= p.b_lo && j < p.b_hi) {
        uint pos = c0 * p.sb[0] + c1 * p.sb[1] + c2 * p.sb[2] + c3 * p.sb[3] + p.b_base - p.bw0;
        have = pos < p.bwn;
        return have ? (b[pos >> ES_LOG] >> ((pos & (PER - 1u)) * BITS)) & EMASK : 0u;
    }
    return 0u;
}

void main() {
    uint wi = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (wi >= p.nw) return;
    uint e = (p.w0 + wi) << ES_LOG;
    uint word = 0u, mask = 0u;
    for (uint k = 0u; k < PER; k++) {
        bool have = false;
        uint v = e + k < p.n ? element(e + k, have) : 0u;
        if (e + k < p.n && have) {
            word |= v << (k * BITS);
            mask |= EMASK << (k * BITS);
        }
    }
    if (mask == 0xffffffffu) o[wi] = word;
    else if (mask != 0u) o[wi] = (o[wi] & ~mask) | word;
}
