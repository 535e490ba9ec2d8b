#version 450
// NF4_QUANTIZE, first level: one invocation per 64-element block computes its absmax (into a
// scratch f32 array for the second level) and its 32 code bytes, written as 8 whole words (an
// invocation owns whole words, so no two invocations write the same word). Rules and tables:
// nf4.glsl / backend/ops/nf4_codebook.h.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "nf4.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer W { float w[]; };
layout(set = 0, binding = 1) writeonly buffer Codes { uint codes[]; };
layout(set = 0, binding = 2) writeonly buffer Absmax { float absmax[]; };
layout(push_constant) uniform P {
    uint n;         // elements in this chunk (the chunk starts on a block)
    uint blocks;    // blocks in this chunk
} p;

void main() {
    uint b = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (b >= p.blocks) return;
    uint e0 = b * 64u, len = min(64u, p.n - e0);
    float a = 0.0;
    for (uint i = 0u; i < len; i++) a = max(a, abs(w[e0 + i]));
    a = nf4_flush(a);
    absmax[b] = a;
    bool partial = len < 64u;
    uint zero = nf4_nearest(0.0);
    // len is even (n is even and e0 a multiple of 64): the last word may hold 1..3 bytes
    for (uint wd = 0u; wd < (len + 7u) / 8u; wd++) {
        uint word = 0u;
        for (uint j = 0u; j < 8u; j++) {
            uint i = wd * 8u + j;
            uint q = 0u;
            if (i < len) q = a == 0.0 ? zero : nf4_nearest(nf4_scaled(w[e0 + i], a, partial));
            // element j of the word: byte j / 2, the even element in the high nibble
            word |= q << ((j >> 1) * 8u + ((j & 1u) == 0u ? 4u : 0u));
        }
        codes[b * 8u + wd] = word;
    }
}
