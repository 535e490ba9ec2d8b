/*
 * A fixed pool of worker threads for the CPU backend. parallel_for splits [0, n) into
 * contiguous ranges, one per thread (the calling thread takes one), and returns when all are
 * done. The split depends only on n and the thread count, so results are deterministic for a
 * given thread count as long as each range writes its own outputs.
 */
#ifndef VKFT_CPU_THREADPOOL_H
#define VKFT_CPU_THREADPOOL_H

#include <stdint.h>

typedef struct vkft_threadpool vkft_threadpool;

/* fn(ctx, begin, end) processes items [begin, end). */
typedef void (*vkft_range_fn)(void *ctx, int64_t begin, int64_t end);

/* NULL on failure (out of memory or threads); a pool of 1 thread runs everything inline. */
vkft_threadpool *vkft_threadpool_create(int threads);
void vkft_threadpool_destroy(vkft_threadpool *pool);
int vkft_threadpool_threads(const vkft_threadpool *pool);
/* Runs fn over [0, n) split in chunks of at least min_chunk items (so tiny loops stay inline). */
void vkft_parallel_for(vkft_threadpool *pool, int64_t n, int64_t min_chunk, vkft_range_fn fn,
                       void *ctx);

#endif
