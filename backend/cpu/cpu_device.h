/*
 * The CPU backend: tensors in host memory, ops as plain C kernels (cpu/<family>.c), matmul
 * through OpenBLAS, a thread pool for the hot loops. It is also the reference every Vulkan
 * kernel is tested against.
 */
#ifndef VKFT_CPU_DEVICE_H
#define VKFT_CPU_DEVICE_H

#include "core/internal.h"
#include "cpu/threadpool.h"

struct vkft_cpu {
    vkft_threadpool *pool;
    int threads;
};

void vkft_cpu_device_probe(const vkft_context_options *opts, vkft_device_info *info);

/* Typed views of a host tensor's data (NULL tensor -> NULL). */
static inline float *vkft_cpu_f32(const vkft_tensor *t) { return t ? (float *)t->host : 0; }
static inline int32_t *vkft_cpu_i32(const vkft_tensor *t) { return t ? (int32_t *)t->host : 0; }
static inline uint16_t *vkft_cpu_u16(const vkft_tensor *t) { return t ? (uint16_t *)t->host : 0; }
static inline uint8_t *vkft_cpu_u8(const vkft_tensor *t) { return t ? (uint8_t *)t->host : 0; }

/* Half-precision conversions (round to nearest even), shared by every kernel that reads them. */
float vkft_f16_to_f32(uint16_t h);
uint16_t vkft_f32_to_f16(float f);
float vkft_bf16_to_f32(uint16_t h);
uint16_t vkft_f32_to_bf16(float f);
/* Element i of a f32/f16/bf16 tensor as f32. */
float vkft_cpu_load(const vkft_tensor *t, int64_t i);
/* Converts n elements of a f32/f16/bf16 buffer starting at element i0 into dst (f32). */
void vkft_cpu_load_row(const vkft_tensor *t, int64_t i0, int64_t n, float *dst);

#endif
