/*
 * The test harness: opens the CPU backend and (unless unavailable) the first Vulkan device with
 * validation on, runs ops from host arrays, compares results with stated tolerances, and checks
 * gradients against central finite differences. A test file is a main() that calls these and
 * returns test_finish(): 0 when every check passed and no validation message was seen.
 */
#ifndef VKFT_TEST_UTIL_H
#define VKFT_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkft/backend.h"

typedef struct test_env {
    vkft_context *ctx;
    vkft_device *cpu;
    vkft_device *vk;                /* NULL when no Vulkan device (then Vulkan checks skip) */
} test_env;

/* Host-side tensor data for an op's input or output; data == NULL means absent. */
typedef struct test_io {
    vkft_dtype dtype;
    int ndim;
    int64_t shape[VKFT_MAX_DIMS];
    void *data;
} test_io;

extern int test_failures;

/* Opens the environment; on failure prints why and exits 1 (a test cannot go on without it). */
void test_env_open(test_env *env);
/* Closes everything; adds a failure per validation message. Returns the process exit code. */
int test_finish(test_env *env);

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

/* A status that must be VKFT_OK; prints the device's message otherwise. */
#define CHECK_OK(st, dev)                                                                      \
    do {                                                                                       \
        vkft_status st_ = (st);                                                                \
        if (st_ != VKFT_OK) {                                                                  \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #st, (int)st_,  \
                    vkft_device_error(dev));                                                   \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

/* Deterministic random numbers (splitmix64). */
uint64_t test_rand_u64(uint64_t *state);
float test_rand_uniform(uint64_t *state, float lo, float hi);
float test_rand_normal(uint64_t *state);
/* Fills n floats with normal(0, scale). */
void test_fill_normal(uint64_t *state, float *x, size_t n, float scale);

/* An io of f32/i32/... with freshly allocated zeroed data (free with test_io_free). */
test_io test_io_new(vkft_dtype dtype, int ndim, const int64_t *shape);
void test_io_free(test_io *io);
size_t test_io_numel(const test_io *io);

/* Creates a tensor on dev holding io's data (NULL for an absent io). Counts failures. */
vkft_tensor *test_tensor_from(vkft_device *dev, const test_io *io);

/* Runs op on dev: inputs from host data; outputs' dtype/shape from out[i] (data NULL on entry
 * for absent optional outputs: set ndim 0), their data allocated and filled. in-place outputs:
 * alias_in[i] >= 0 makes out[i] the same tensor as in[alias_in[i]] (NULL: no aliasing).
 * Returns the op's status. */
vkft_status test_run_op(vkft_device *dev, vkft_op op, const void *params, const test_io *in,
                        int n_in, test_io *out, int n_out, const int *alias_in);

/* Compares n floats: |got - want| <= atol + rtol * |want|; prints the worst element on failure.
 * Returns true when they match. */
bool test_compare(const char *what, const float *got, const float *want, size_t n, float atol,
                  float rtol);

/*
 * Runs op on the CPU backend and on Vulkan and compares every f32 output with atol/rtol
 * (non-f32 outputs must be equal bit for bit). Also runs it twice on Vulkan and requires
 * bit-identical results (determinism). Skips (passing) without a Vulkan device.
 */
bool test_vk_vs_cpu(test_env *env, const char *what, vkft_op op, const void *params,
                    const test_io *in, int n_in, const test_io *out_desc, int n_out, float atol,
                    float rtol);

/*
 * Finite-difference check of a gradient on the CPU backend. The loss is
 * L = sum_k sum_i proj[k][i] * out_k[i] over the outputs k with proj[k] != NULL (accumulated
 * in double). grad is the analytic dL/d in[wrt] (same element count). Checks up to max_points
 * elements spread over the tensor with central differences of step eps:
 * |fd - grad| <= atol + rtol * |fd|.
 */
bool test_grad_fd(test_env *env, const char *what, vkft_op op, const void *params, test_io *in,
                  int n_in, const test_io *out_desc, int n_out, float *const *proj, int wrt,
                  const float *grad, float eps, float atol, float rtol, int max_points);

#include <stdio.h>

#endif
