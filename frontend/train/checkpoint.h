/*
 * Training checkpoints: output.dir/checkpoints/step-N/ holding
 *   state.safetensors     every trainable and every optimizer moment (f32, graph names:
 *                         "<param>", "adam_m:<param>", "adam_v:<param>")
 *   trainer_state.json    {"format": "vkft-checkpoint", "version": 1, "step", "tokens",
 *                          "elapsed_s", "seed", "data": <the dataset cursor>}
 * A checkpoint is written into "step-N.tmp" and renamed into place when complete, so a folder
 * named step-N is always whole; resume takes the highest complete N.
 */
#ifndef VKFT_CHECKPOINT_H
#define VKFT_CHECKPOINT_H

#include <stdint.h>

#include "data/data.h"
#include "util/error.h"
#include "vkft/graph.h"

/* A persistent tensor of the plan (what a checkpoint holds). */
typedef struct vkft_ckpt_tensor {
    char *name;
    int ndim;
    int64_t shape[VKFT_MAX_DIMS];
    size_t bytes;
} vkft_ckpt_tensor;

typedef struct vkft_ckpt_counters {
    int64_t step;
    int64_t tokens;
    double elapsed_s;
    uint64_t seed;
} vkft_ckpt_counters;

vkft_status vkft_ckpt_save(const char *out_dir, vkft_plan *plan, const vkft_ckpt_tensor *tensors,
                           int n, const vkft_ckpt_counters *c, const vkft_dataset *data,
                           vkft_err *err);
/* The newest complete checkpoint folder under out_dir/checkpoints (malloc'd), or NULL. */
char *vkft_ckpt_find_latest(const char *out_dir);
/* Restores tensors, counters and the data cursor from folder dir. */
vkft_status vkft_ckpt_load(const char *dir, vkft_plan *plan, const vkft_ckpt_tensor *tensors,
                           int n, vkft_ckpt_counters *c, vkft_dataset *data, vkft_err *err);

#endif
