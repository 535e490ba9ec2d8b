/*
 * What the bottleneck-adapter, prefix-tuning and prompt-tuning methods share (method_adapter.c,
 * method_prefix.c, method_prompt.c):
 *
 *   seeded fills     initial values from one vkft_rng stream per tensor, so a method's random
 *                    init is a pure function of (train.seed, stream) and a script can redo it
 *                    (tools/gen_h2_fixtures.py mirrors util/rng.c);
 *   graph pieces     y = x Wᵀ + b, tanh, and the adapter activations;
 *   adapter folders  adapter_config.json + adapter_model.safetensors written atomically, tensors
 *                    read back with their shape checked, config keys read with their range.
 *
 *     float *w = ...;  vkft_method_fill_uniform(w, n, seed, 3, 1 / sqrt(in));
 *     vkft_value y = vkft_method_affine(g, x, w_leaf, b_leaf, err);
 *     vkft_method_folder_write(dir, &json, st_writer, err);
 */
#ifndef VKFT_METHOD_COMMON_H
#define VKFT_METHOD_COMMON_H

#include "io/safetensors.h"
#include "job/job.h"
#include "util/json.h"
#include "vkft/graph.h"

/* ---- seeded initial values ---- */

/* buf[0..n) uniform in [-bound, bound), drawn in order from the stream (seed, stream). */
void vkft_method_fill_uniform(float *buf, size_t n, uint64_t seed, uint64_t stream,
                              double bound);
/* buf[0..n) standard normal (vkft_rng_normal), in order from the stream (seed, stream). */
void vkft_method_fill_normal(float *buf, size_t n, uint64_t seed, uint64_t stream);

/* ---- graph pieces (VKFT_NONE with the message in err on failure) ---- */

/* y = x Wᵀ + b: x [..., in], w [out, in], b [out] or VKFT_NONE. */
vkft_value vkft_method_affine(vkft_graph *g, vkft_value x, vkft_value w, vkft_value b,
                              vkft_err *err);
/* tanh(x) of any f32 x: the backend's TANH op (its gradient is TANH_BACKWARD from y). */
vkft_value vkft_method_tanh(vkft_graph *g, vkft_value x, vkft_err *err);
/* The bottleneck activation: relu, gelu (exact, GELU_ERF), silu, tanh, gelu_new (the tanh
 * approximation, GELU), each one backend op.
 * vkft_method_activation_check refuses a value outside the enum (VKFT_ERR_INVALID_ARG). */
vkft_value vkft_method_activation(vkft_graph *g, vkft_adapter_activation act, vkft_value x,
                                  vkft_err *err);
vkft_status vkft_method_activation_check(vkft_adapter_activation act, vkft_err *err);
/* "relu", "gelu", "silu", "tanh", "gelu_new"; parse gives false for another name. */
const char *vkft_method_activation_name(vkft_adapter_activation act);
bool vkft_method_activation_parse(const char *s, vkft_adapter_activation *out);

/* ---- adapter folders ---- */

/* Writes dir/adapter_config.json from config (finished here) and dir/adapter_model.safetensors
 * from w's tensors with metadata {"format": "pt"} (each atomically; dir is created). */
vkft_status vkft_method_folder_write(const char *dir, vkft_json_writer *config,
                                     vkft_st_writer *w, vkft_err *err);
/* Opens dir/adapter_model.safetensors. */
vkft_status vkft_method_folder_open(const char *dir, vkft_st **st, vkft_err *err);
/* Reads tensor name of exactly the given shape from st (opened from dir) as f32 into a malloc'd
 * *out; a missing tensor or another shape fails naming dir, the tensor and the shapes. */
vkft_status vkft_method_folder_read(const vkft_st *st, const char *dir, const char *name,
                                    int ndim, const int64_t *shape, float **out, vkft_err *err);
/* An integer config key in [lo, hi]; missing keys fail unless *out keeps a default (required
 * false). Messages name dir/adapter_config.json and the key. */
vkft_status vkft_method_config_int(const vkft_json *cfg, const char *dir, const char *key,
                                   bool required, int64_t lo, int64_t hi, int64_t *out,
                                   vkft_err *err);

#endif
