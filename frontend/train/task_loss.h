/*
 * Per-task losses for multi-task mixes: with several datasets, the step graph gets one INPUT
 * "task_weights:<k>" f32 [B*T] per task (the loss weights of the positions whose target comes
 * from dataset k, 0 elsewhere) and one extra CROSS_ENTROPY over the same logits per task, kept
 * as "task_loss_sum:<k>" / "task_count:<k>". They are outputs only (the backward seeds from
 * the total loss), at the cost of one more pass over the logits per task. The trainer's
 * evaluation phase reads forward-only copies of them, kept with the prefix "eval:".
 */
#ifndef VKFT_TASK_LOSS_H
#define VKFT_TASK_LOSS_H

#include "data/data.h"
#include "model/model.h"

#define VKFT_MAX_TASKS 16

/* values (may be NULL) receives each task's loss sum and count: values[2k], values[2k + 1]. */
vkft_status vkft_task_loss_build(vkft_graph *g, const vkft_model_built *m, int n_tasks,
                                 vkft_value *values, vkft_err *err);
/* Fills the task weights of batch b (n positions; b->token_task and b->weights set) into
 * tw[n_tasks * n] and uploads them. */
vkft_status vkft_task_loss_upload(vkft_plan *plan, const vkft_batch *b, int64_t n, int n_tasks,
                                  float *tw, vkft_err *err);
/* Adds each task's loss sum and weight count of the last run to sums[k] / counts[k], read from
 * the values kept as prefix + "task_loss_sum:<k>" / prefix + "task_count:<k>". */
vkft_status vkft_task_loss_read(vkft_plan *plan, const char *prefix, int n_tasks, double *sums,
                                double *counts, vkft_err *err);

#endif
