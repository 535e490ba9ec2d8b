/*
 * PEFT adapter folders: adapter_config.json + adapter_model.safetensors, as the Hugging Face
 * PEFT library writes and reads them (tensors F32, metadata {"format": "pt"}, names
 * "base_model.model.<module>.lora_A.weight" [r, in] / ".lora_B.weight" [out, r]).
 */
#ifndef VKFT_PEFT_H
#define VKFT_PEFT_H

#include <stdbool.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "util/error.h"

typedef struct vkft_peft_lora_config {
    int64_t r;
    double alpha;
    double dropout;
    bool rslora;
    bool fan_in_fan_out;        /* GPT-2 Conv1D sites */
    const char *const *targets; /* module-name suffixes, or the single "all-linear" */
    int n_targets;
    const char *base_model;     /* base_model_name_or_path */
} vkft_peft_lora_config;

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors (each atomically; dir is
 * created). tensors are added to w by the caller; this writes the metadata and finishes w. */
vkft_status vkft_peft_lora_write(const char *dir, const vkft_peft_lora_config *cfg,
                                 vkft_st_writer *w, vkft_err *err);

/* Reads dir/adapter_config.json: r, lora_alpha, use_rslora, peft_type must be "LORA". */
typedef struct vkft_peft_lora_info {
    int64_t r;
    double alpha;
    bool rslora;
    bool fan_in_fan_out;
} vkft_peft_lora_info;
vkft_status vkft_peft_lora_read_config(const char *dir, vkft_peft_lora_info *info,
                                       vkft_err *err);

#endif
