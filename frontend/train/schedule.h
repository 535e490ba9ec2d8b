/*
 * Learning-rate schedules, with Hugging Face transformers' semantics so runs compare with
 * PyTorch: the lr of optimizer step s (0-based: the first update is s = 0) is
 *   warm-up    s < W:  lr * s / W                (so the first update of a warm-up has lr 0)
 *   constant:          lr
 *   linear:            lr * max(0, (S - s) / (S - W))
 *   cosine:            lr * 0.5 * (1 + cos(pi * (s - W) / (S - W)))
 * with S the total number of optimizer steps (get_{constant,linear,cosine}_schedule_with_warmup).
 */
#ifndef VKFT_SCHEDULE_H
#define VKFT_SCHEDULE_H

#include <stdint.h>

typedef enum vkft_schedule_kind {
    VKFT_SCHEDULE_CONSTANT, VKFT_SCHEDULE_LINEAR, VKFT_SCHEDULE_COSINE,
} vkft_schedule_kind;

typedef struct vkft_schedule {
    vkft_schedule_kind kind;
    double lr;          /* peak learning rate */
    int64_t warmup;     /* W */
    int64_t total;      /* S */
} vkft_schedule;

double vkft_schedule_lr(const vkft_schedule *s, int64_t step);

#endif
