/*
 * The trainer: one job, end to end. Create loads the model config, tokenizer and data, builds
 * the step graph (model + method rewrite + backward + AdamW), compiles it against the device
 * (the memory report comes first; an over-budget plan is refused) and loads the weights.
 * Run trains until train.steps (or epochs) optimizer steps are done, writing
 *   output.dir/metrics.jsonl      one line per optimizer step (+ eval_loss on eval steps)
 *   output.dir/checkpoints/step-N trainables, AdamW moments, data cursor, counters (atomic)
 *   output.dir/adapter | model    the result (PEFT adapter folder / Hugging Face folder)
 * A step: K = grad_accum micro-batches each run phase 0 (forward, backward with seed
 * 1 / (K · weight_sum_k), gradients accumulated), then phase 1 (clip + AdamW) with the
 * schedule's lr. The step's loss is the mean over its micro-batches of sum(w·CE) / sum(w),
 * taken before the update (Hugging Face's mean of micro-batch means).
 *
 *     vkft_trainer *t;
 *     vkft_trainer_create(job, ctx, &opts, &t, &err);    // or fails with the message
 *     vkft_trainer_run(t, &err);
 *     vkft_trainer_free(t);
 */
#ifndef VKFT_TRAINER_H
#define VKFT_TRAINER_H

#include <signal.h>
#include <stdio.h>

#include "job/job.h"
#include "vkft/graph.h"

typedef struct vkft_trainer vkft_trainer;

/* One optimizer step's numbers (also the metrics.jsonl row). */
typedef struct vkft_step_metrics {
    int64_t step;               /* 1-based: the step just done */
    int64_t total_steps;
    double loss;                /* before this step's update */
    double lr;                  /* used by this step's update */
    double grad_norm;           /* global L2 norm before clipping */
    int64_t tokens;             /* real (non-padding) tokens of this step */
    double tokens_per_s;
    double elapsed_s;           /* since the run started (resumed runs continue the count) */
    bool has_eval;
    double eval_loss;
    /* Multi-dataset jobs: the loss of each training task in this step (token-weighted over its
     * micro-batches; NaN when the task had no target this step) and, on eval steps, each eval
     * dataset's loss. Names are the datasets' task names. */
    int n_tasks, n_eval_tasks;
    const char *task_names[16], *eval_task_names[16];
    double task_loss[16], eval_task_loss[16];
} vkft_step_metrics;

typedef struct vkft_trainer_options {
    bool resume;                /* continue from the newest checkpoint in output.dir */
    const char *device;         /* overrides job->device when non-NULL */
    bool dry_run;               /* create: plan and report only, allocate nothing */
    /* Progress: called after every step (NULL = silent). */
    void (*on_step)(void *user, const vkft_step_metrics *m);
    void (*on_message)(void *user, const char *line);   /* notices ("resumed from ...") */
    void *user;
    /* Set (e.g. from a SIGINT handler) to stop after the current step with a checkpoint. */
    volatile sig_atomic_t *stop;
} vkft_trainer_options;

typedef struct vkft_trainer_info {
    int64_t params_total;       /* model parameters (+ method parameters) */
    int64_t params_trainable;
    int64_t total_steps;
    int64_t tokens_per_step;    /* batch · seq_len · grad_accum positions */
    double flops_per_step;      /* ~ 6 · trainable-path params · tokens (see trainer.c) */
    vkft_memory_report memory;
    char device_name[256];
    int64_t train_examples;
    int64_t truncated_examples;
} vkft_trainer_info;

vkft_status vkft_trainer_create(const vkft_job *job, vkft_context *ctx,
                                const vkft_trainer_options *opts, vkft_trainer **out,
                                vkft_err *err);
const vkft_trainer_info *vkft_trainer_get_info(const vkft_trainer *t);
/* Trains to the end (or until *opts->stop). VKFT_ERR_INVALID_ARG with the message on a
 * non-finite loss (the last checkpoint is kept, nothing is updated). */
vkft_status vkft_trainer_run(vkft_trainer *t, vkft_err *err);
/* Mean loss over the eval datasets with the current weights. */
vkft_status vkft_trainer_eval(vkft_trainer *t, double *loss, vkft_err *err);
/* Whether the last run stopped early because *stop was set. */
bool vkft_trainer_interrupted(const vkft_trainer *t);
void vkft_trainer_free(vkft_trainer *t);

#endif
