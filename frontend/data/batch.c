/*
 * Rows of a batch from a stream of examples: truncation and right padding (one example per
 * row), or packing (the stream cut into rows of seq_len tokens), then the causal-LM shift
 * (labels[t] = label of token t+1 of the row, -100 at the last position) - or, with the
 * first_target option (prompt tuning), no shift: labels[t] = label of token t itself, the
 * target of the position before it (for t = 0 the last virtual token, as PEFT trains it).
 *
 * Two streams feed rows: training (data_order_next: endless, mixed, maybe shuffled) and eval
 * (every example of every source once, in file order). Each keeps its own carry: the example
 * being consumed and the offset reached, which only packing leaves active across rows.
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

typedef bool (*next_fn)(vkft_dataset *d, int *src, int64_t *ex);

static bool next_train(vkft_dataset *d, int *src, int64_t *ex)
{
    data_order_next(d, src, ex);
    return true;
}

static bool next_eval(vkft_dataset *d, int *src, int64_t *ex)
{
    while (d->eval_src < d->n && d->eval_ex >= d->src[d->eval_src].store.n_examples) {
        d->eval_src++;
        d->eval_ex = 0;
    }
    if (d->eval_src >= d->n) return false;
    *src = d->eval_src;
    *ex = d->eval_ex++;
    return true;
}

void vkft_dataset_eval_reset(vkft_dataset *d)
{
    d->eval_src = 0;
    d->eval_ex = 0;
    memset(&d->eval_carry, 0, sizeof d->eval_carry);
}

/* Fills row r of out from the stream; returns the number of real (non-padding) tokens. */
static int64_t fill_row(vkft_dataset *d, data_carry *carry, next_fn next, vkft_batch *out,
                        int64_t r)
{
    const int64_t T = d->opt.seq_len;
    int32_t *tok = out->tokens + r * T, *lab = out->labels + r * T;
    float *w = out->weights + r * T;
    int32_t *seg = out->segment ? out->segment + r * T : NULL;
    int32_t *tt = out->token_task ? out->token_task + r * T : NULL;
    int64_t p = 0;
    int32_t seg_no = 0, row_task = -1;
    while (p < T) {
        if (!carry->active) {
            int src;
            int64_t ex;
            if (!next(d, &src, &ex)) break;
            *carry = (data_carry){.active = true, .src = src, .ex = ex, .off = 0};
            out->examples++;
        }
        const data_store *s = &d->src[carry->src].store;
        int64_t base = s->off[carry->ex], n = s->off[carry->ex + 1] - base;
        int64_t take = n - carry->off < T - p ? n - carry->off : T - p;
        base += carry->off;
        memcpy(tok + p, s->ids + base, (size_t)take * sizeof *tok);
        memcpy(lab + p, s->labels + base, (size_t)take * sizeof *lab);
        memcpy(w + p, s->weights + base, (size_t)take * sizeof *w);
        for (int64_t t = p; t < p + take; t++) {
            if (seg) seg[t] = seg_no;
            if (tt) tt[t] = carry->src;
        }
        if (row_task < 0) row_task = carry->src;
        carry->off += take;
        p += take;
        seg_no++;
        /* Without packing the rest of a long example is dropped (truncation). */
        if (carry->off == n || !d->opt.packing) carry->active = false;
        if (!d->opt.packing) break;
    }
    for (int64_t t = p; t < T; t++) {
        tok[t] = d->pad_id;
        lab[t] = VKFT_IGNORE_INDEX;
        w[t] = 0.0f;
        if (seg) seg[t] = -1;
        if (tt) tt[t] = -1;
    }
    if (out->key_mask)
        for (int64_t t = 0; t < T; t++) out->key_mask[r * T + t] = t < p ? 1.0f : 0.0f;
    if (d->opt.first_target) {
        /* No shift: entry t is token t's own target (predicted from the position before it). */
        for (int64_t t = 0; tt && t < T; t++)
            if (lab[t] == VKFT_IGNORE_INDEX) tt[t] = -1;
    } else {
        /* The shift: position t is trained on the target that token t+1 carries. */
        for (int64_t t = 0; t + 1 < T; t++) {
            lab[t] = lab[t + 1];
            w[t] = w[t + 1];
            if (tt) tt[t] = lab[t] == VKFT_IGNORE_INDEX ? -1 : tt[t + 1];
        }
        lab[T - 1] = VKFT_IGNORE_INDEX;
        w[T - 1] = 0.0f;
        if (tt) tt[T - 1] = -1;
    }
    for (int64_t t = 0; t < T; t++) {
        out->target_tokens += lab[t] != VKFT_IGNORE_INDEX;
        out->weight_sum += w[t];
    }
    out->task[r] = row_task;
    return p;
}

static vkft_status check_batch(const vkft_dataset *d, int64_t batch, const vkft_batch *out,
                               vkft_err *err)
{
    if (!d || !out)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "batch: no dataset or batch");
    if (batch < 1 || batch > INT32_MAX / d->opt.seq_len)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "batch: %lld rows of %lld tokens is "
                            "out of range", (long long)batch, (long long)d->opt.seq_len);
    if (!out->tokens || !out->labels || !out->weights || !out->task)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "batch: tokens, labels, weights and "
                            "task arrays are required");
    return VKFT_OK;
}

static void clear_counts(vkft_batch *out)
{
    out->rows = 0;
    out->examples = 0;
    out->real_tokens = 0;
    out->target_tokens = 0;
    out->weight_sum = 0.0;
}

vkft_status vkft_dataset_next_batch(vkft_dataset *d, int64_t batch, vkft_batch *out,
                                    vkft_err *err)
{
    vkft_status st = check_batch(d, batch, out, err);
    if (st) return st;
    clear_counts(out);
    for (int64_t r = 0; r < batch; r++) out->real_tokens += fill_row(d, &d->carry, next_train,
                                                                     out, r);
    out->rows = batch;
    return VKFT_OK;
}

vkft_status vkft_dataset_eval_next(vkft_dataset *d, int64_t batch, vkft_batch *out, bool *done,
                                   vkft_err *err)
{
    vkft_status st = check_batch(d, batch, out, err);
    if (st) return st;
    if (!done) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "eval batch: no done flag");
    clear_counts(out);
    for (int64_t r = 0; r < batch; r++) {
        int64_t p = fill_row(d, &d->eval_carry, next_eval, out, r);
        out->real_tokens += p;
        if (p > 0) out->rows++;
    }
    *done = out->rows == 0;
    return VKFT_OK;
}
