/*
 * A small deterministic random number generator for shuffles, initialisation and sampling.
 *
 * Counter-based: the n-th 64-bit output is a pure function of (seed, n) (splitmix64's output
 * mix applied to a seed-derived key plus n times the golden-ratio increment), and the state is
 * just those two numbers. Saving {seed, counter} and restoring it later continues the stream
 * exactly, bit for bit, which is what --resume needs; streams for different seeds do not
 * overlap in practice because the seed is mixed before it is used.
 *
 * Every call advances counter by the number of 64-bit outputs it used: u64 and uniform by 1,
 * normal by 2, below by 1 or more (rejection sampling keeps it unbiased). Not cryptographic.
 *
 *     vkft_rng r;
 *     vkft_rng_init(&r, 42);
 *     uint32_t i = vkft_rng_below(&r, 10);      // 0..9, unbiased
 *     float z = vkft_rng_normal(&r);            // N(0, 1)
 *     saved = r;  ...  r = saved;              // resume: same stream from here on
 */
#ifndef VKFT_RNG_H
#define VKFT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct vkft_rng {
    uint64_t seed, counter;
} vkft_rng;

/* Starts the stream of seed at counter 0. */
void vkft_rng_init(vkft_rng *r, uint64_t seed);
/* The next 64 uniformly distributed bits. */
uint64_t vkft_rng_u64(vkft_rng *r);
/* Uniform in [0, n), without modulo bias (Lemire's multiply-and-reject); 0 when n == 0. */
uint32_t vkft_rng_below(vkft_rng *r, uint32_t n);
/* Uniform in [0, 1) with 53 random bits. */
double vkft_rng_uniform(vkft_rng *r);
/* Standard normal (Box-Muller; the second value of the pair is dropped so the state stays
 * {seed, counter} with nothing cached). */
float vkft_rng_normal(vkft_rng *r);
/* Fisher-Yates shuffle of a[0..n) (n <= UINT32_MAX); the same (seed, counter) gives the same
 * permutation. */
void vkft_rng_shuffle_u32(vkft_rng *r, uint32_t *a, size_t n);

#endif
