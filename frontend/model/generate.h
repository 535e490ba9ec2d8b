/*
 * Text generation from a model: a decode-step graph with a KV cache (vkft_model_build with
 * cache_len), compiled once and replayed per token, with greedy or temperature / top-p
 * sampling; and, for checking, the same loop without a cache (the whole sequence recomputed
 * every token). Works on ids; tokenizing and detokenizing are the caller's.
 *
 *     vkft_generate_options o;  vkft_generate_options_default(&o);
 *     o.max_tokens = 64;  o.temperature = 0;                  // greedy
 *     o.on_token = print_piece;  o.user = tok;               // streaming
 *     int32_t out[64];  size_t n;
 *     vkft_generate(dev, &cfg, st, prompt, n_prompt, &o, out, &n, &err);
 */
#ifndef VKFT_MODEL_GENERATE_H
#define VKFT_MODEL_GENERATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "util/rng.h"

typedef struct vkft_generate_options {
    int max_tokens;             /* new tokens at most (>= 1) */
    float temperature;          /* 0: greedy (ties: the lowest id) */
    float top_p;                /* nucleus sampling, (0, 1]; 1 = off */
    uint64_t seed;              /* sampling stream (frontend/util/rng.h) */
    bool no_cache;              /* recompute the whole sequence every token (slow; a check) */
    const int32_t *stop_ids;    /* generation ends after one of these (it is returned too) */
    int n_stop;
    vkft_dtype frozen_dtype;    /* as vkft_model_build_options.frozen_dtype */
    /* Called with each new token as soon as it is chosen; non-OK stops generation with it. */
    vkft_status (*on_token)(void *user, int32_t id, vkft_err *err);
    void *user;
    /* Method hooks (an adapter) and their uploads after each compile; NULL = plain model. */
    const vkft_model_hooks *hooks;
    vkft_status (*upload)(void *user, vkft_plan *plan, vkft_err *err);
    void *upload_user;
} vkft_generate_options;

void vkft_generate_options_default(vkft_generate_options *o);

/* Generates after prompt[0..n_prompt) (n_prompt >= 1) on dev; writes up to max_tokens ids to
 * out and their number to *n_out (also on failure: what was generated so far). Fails when the
 * prompt plus max_tokens exceeds GPT-2's positions, or on a device / weight error. */
vkft_status vkft_generate(vkft_device *dev, const vkft_model_config *cfg, const vkft_st *st,
                          const int32_t *prompt, size_t n_prompt,
                          const vkft_generate_options *o, int32_t *out, size_t *n_out,
                          vkft_err *err);

/* Picks the next token from logits[0..V) (modified in place) into *id: argmax at
 * temperature 0, else softmax(logits / T) restricted to the smallest set of most likely
 * tokens whose probability reaches top_p, sampled with r. Fails only on allocation. */
vkft_status vkft_sample_token(float *logits, int64_t V, float temperature, float top_p,
                              vkft_rng *r, int32_t *id, vkft_err *err);

#endif
