/*
 * Merging a PEFT LoRA adapter into its base model: W += s · B · A for every adapted linear
 * layer (Wᵀ for GPT-2's Conv1D weights, stored [in, out]), s = lora_alpha / r (/ √r with
 * rsLoRA). The result is a Hugging Face folder: config.json and tokenizer files copied, every
 * tensor written in its original dtype (merged ones rounded back to it) into model.safetensors.
 */
#ifndef VKFT_MERGE_H
#define VKFT_MERGE_H

#include "util/error.h"

/* Fails, writing nothing into out_dir, when an adapter tensor names a module the model lacks
 * or the shapes disagree. *merged receives the number of layers merged. */
vkft_status vkft_lora_merge(const char *model_dir, const char *adapter_dir, const char *out_dir,
                            int *merged, vkft_err *err);

#endif
