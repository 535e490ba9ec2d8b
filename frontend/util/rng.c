/*
 * Counter-based RNG (see rng.h). Output n of seed s is mix(key(s) + (n + 1) * G), where mix is
 * splitmix64's finaliser, G the golden-ratio increment 0x9e3779b97f4a7c15 and key(s) = mix(s)
 * (so seeds 0, 1, 2 ... start far apart on the Weyl sequence). For seed 0 (mix(0) = 0) it is the
 * splitmix64 stream; splitmix64 passes BigCrush, which is plenty for shuffles and init.
 */
#include "util/rng.h"

#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15u

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void vkft_rng_init(vkft_rng *r, uint64_t seed) {
    r->seed = seed;
    r->counter = 0;
}

uint64_t vkft_rng_u64(vkft_rng *r) {
    uint64_t n = r->counter++;
    return mix(mix(r->seed) + (n + 1) * GOLDEN);
}

uint32_t vkft_rng_below(vkft_rng *r, uint32_t n) {
    if (n == 0) return 0;
    /* Lemire: the high half of x * n is uniform in [0, n) once the low half's biased region
     * (low < 2^32 mod n) is rejected. */
    uint64_t m = (vkft_rng_u64(r) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (vkft_rng_u64(r) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double vkft_rng_uniform(vkft_rng *r) {
    return (double)(vkft_rng_u64(r) >> 11) * 0x1.0p-53;
}

float vkft_rng_normal(vkft_rng *r) {
    double u1 = 1.0 - vkft_rng_uniform(r);  /* (0, 1]: log is finite */
    double u2 = vkft_rng_uniform(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void vkft_rng_shuffle_u32(vkft_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        uint32_t j = vkft_rng_below(r, (uint32_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
