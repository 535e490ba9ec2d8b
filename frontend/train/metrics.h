/*
 * output.dir/metrics.jsonl: one JSON object per optimizer step,
 *   {"step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s"[, "eval_loss"]}
 * Each line is written whole and flushed. A resumed run first rewrites the file (atomically)
 * keeping only the rows up to the checkpoint's step, so the file reads as one run.
 */
#ifndef VKFT_METRICS_H
#define VKFT_METRICS_H

#include "train/trainer.h"
#include "util/error.h"

typedef struct vkft_metrics vkft_metrics;

/* keep_steps: rows with step <= keep_steps survive (0 = start a new file). */
vkft_status vkft_metrics_open(const char *out_dir, int64_t keep_steps, vkft_metrics **out,
                              vkft_err *err);
vkft_status vkft_metrics_write(vkft_metrics *m, const vkft_step_metrics *s, vkft_err *err);
/* Formats one row (no newline) into buf; returns its length. */
size_t vkft_metrics_format(const vkft_step_metrics *s, char *buf, size_t cap);
void vkft_metrics_close(vkft_metrics *m);

#endif
