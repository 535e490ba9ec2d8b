#version 450
// DROPOUT: y = keep ? x * scale : 0, keep = hash(i, stream, step, seed) >= threshold, one
// element per invocation; y may alias x. The hash is backend/ops/dropout.h's
// MurmurHash3_x86_32 of {i lo, i hi, stream, step} seeded with seed, in the same 32-bit integer
// arithmetic, so the mask is the CPU's bit for bit. threshold and scale come from the host.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer S { uint s[]; };   // {seed, step}
layout(set = 0, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P {
    uint n, base_lo, base_hi, threshold, stream;
    float scale;
} p;

uint rotl(uint x, int r) { return (x << r) | (x >> (32 - r)); }

uint block(uint h, uint k) {
    k *= 0xcc9e2d51u;
    k = rotl(k, 15) * 0x1b873593u;
    h ^= k;
    return rotl(h, 13) * 5u + 0xe6546b64u;
}

void main() {
    uint i = vkft_group_id() * 256u + gl_LocalInvocationID.x;
    if (i >= p.n) return;
    uint lo = p.base_lo + i;
    uint hi = p.base_hi + (lo < p.base_lo ? 1u : 0u);
    uint h = s[0];
    h = block(h, lo);
    h = block(h, hi);
    h = block(h, p.stream);
    h = block(h, s[1]);
    h ^= 16u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    // A negative step (evaluation) keeps every element unscaled: an exact copy.
    y[i] = int(s[1]) < 0 ? x[i] : (h >= p.threshold ? x[i] * p.scale : 0.0);
}
