/* Worker threads for the CPU backend: one generation counter wakes the workers for each job. */
#include "cpu/threadpool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct vkft_threadpool {
    int threads;                    /* workers + the calling thread */
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    uint64_t generation;            /* bumped for each job */
    int pending;                    /* workers still running the current job */
    bool stop;
    /* the current job */
    vkft_range_fn fn;
    void *ctx;
    int64_t n;
    int parts;
};

static void run_part(vkft_threadpool *p, int part) {
    if (part >= p->parts) return;
    int64_t begin = p->n * part / p->parts, end = p->n * (part + 1) / p->parts;
    if (begin < end) p->fn(p->ctx, begin, end);
}

typedef struct { vkft_threadpool *pool; int index; } worker_arg;

static void *worker_main(void *arg_) {
    worker_arg *arg = arg_;
    vkft_threadpool *p = arg->pool;
    int index = arg->index;
    free(arg);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_part(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

vkft_threadpool *vkft_threadpool_create(int threads) {
    if (threads < 1) threads = 1;
    vkft_threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        if (!p->workers) goto fail;
        for (int i = 1; i < threads; i++) {
            worker_arg *arg = malloc(sizeof *arg);
            if (!arg) goto fail_started;
            arg->pool = p;
            arg->index = i;
            if (pthread_create(&p->workers[i - 1], NULL, worker_main, arg)) {
                free(arg);
                goto fail_started;
            }
            continue;
        fail_started:
            p->threads = i;  /* only i-1 workers exist: destroy joins them */
            vkft_threadpool_destroy(p);
            return NULL;
        }
    }
    return p;
fail:
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
    return NULL;
}

void vkft_threadpool_destroy(vkft_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->threads - 1; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int vkft_threadpool_threads(const vkft_threadpool *p) { return p ? p->threads : 1; }

void vkft_parallel_for(vkft_threadpool *p, int64_t n, int64_t min_chunk, vkft_range_fn fn,
                       void *ctx) {
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    int parts = p ? p->threads : 1;
    if (n / min_chunk < parts) parts = (int)(n / min_chunk);
    if (parts <= 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->parts = parts;
    p->pending = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_part(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
