/*
 * The plain triple-loop matmul that tests use as an oracle for the cblas path of the CPU kernel
 * (cpu/matmul.c). Not used by the library itself.
 */
#ifndef VKFT_CPU_MATMUL_REF_H
#define VKFT_CPU_MATMUL_REF_H

#include "ops/matmul.h"

/* c = alpha op(a) op(b) (+ c when accumulate) for every batch of d (vkft_matmul_dims_get), with
 * b already in f32. Sums each dot product in double, in order of k. */
void vkft_cpu_matmul_naive(const vkft_matmul_dims *d, const float *a, const float *b, float *c,
                           float alpha, bool accumulate);

#endif
