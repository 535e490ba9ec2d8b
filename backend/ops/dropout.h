/*
 * The dropout mask, shared by the CPU kernel (backend/cpu/dropout.c) and the Vulkan recording
 * (which passes the threshold and scale to shaders/dropout.comp, where the same hash is written
 * in GLSL). Element i is kept iff hash(i, stream, step, seed) >= threshold(p); kept elements are
 * multiplied by scale(p). Both numbers are computed once on the host, so the CPU and the shader
 * compare the same integers and multiply by the same float: identical bits.
 *
 * The hash is MurmurHash3_x86_32 (public domain, Austin Appleby) of the four little-endian
 * words {i mod 2^32, i / 2^32, stream, step} with `seed` as its seed: each word goes through the
 * block mix, then the length (16) and the fmix32 finalizer, whose full avalanche makes
 * consecutive counters independent-looking.
 */
#ifndef VKFT_OPS_DROPOUT_H
#define VKFT_OPS_DROPOUT_H

#include <math.h>
#include <stdint.h>

static inline uint32_t vkft_rotl32(uint32_t x, int r) { return x << r | x >> (32 - r); }

/* MurmurHash3_x86_32 of n whole little-endian 32-bit words. */
static inline uint32_t vkft_murmur3_words(const uint32_t *w, int n, uint32_t seed) {
    uint32_t h = seed;
    for (int i = 0; i < n; i++) {
        uint32_t k = w[i] * 0xcc9e2d51u;
        k = vkft_rotl32(k, 15) * 0x1b873593u;
        h ^= k;
        h = vkft_rotl32(h, 13) * 5u + 0xe6546b64u;
    }
    h ^= (uint32_t)n * 4u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static inline uint32_t vkft_dropout_hash(uint64_t i, uint32_t stream, uint32_t step,
                                         uint32_t seed) {
    uint32_t w[4] = {(uint32_t)i, (uint32_t)(i >> 32), stream, step};
    return vkft_murmur3_words(w, 4, seed);
}

/* ceil(p * 2^32) for p in [0, 1): the smallest kept hash; 0 keeps everything. */
static inline uint32_t vkft_dropout_threshold(float p) {
    double t = ceil((double)p * 4294967296.0);
    return t >= 4294967295.0 ? 0xffffffffu : (uint32_t)t;
}

/* 1 / (1 - p), rounded to f32 once. */
static inline float vkft_dropout_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }

#endif
