/*
 * Merging a saved adapter into its base model, writing a Hugging Face folder (config.json and
 * tokenizer files copied, model.safetensors with every tensor):
 *   LoRA (and QLoRA adapters, which are LoRA folders):  W += s · B · A, s = lora_alpha / r
 *        (/ √r with rsLoRA); for GPT-2's Conv1D weights, stored [in, out], Wᵀ is updated.
 *   IA3: output targets ([out, 1] vectors) scale W's output rows and the bias;
 *        feed-forward targets ([1, in]) scale W's input columns (Conv1D: the other way round).
 * Tensors keep their dtype (merged ones rounded back to it) unless out_dtype asks for F32, F16
 * or BF16 for every floating-point tensor (e.g. a QLoRA run exported to f16).
 */
#ifndef VKFT_MERGE_H
#define VKFT_MERGE_H

#include "io/safetensors.h"
#include "util/error.h"

#define VKFT_MERGE_KEEP_DTYPE (-1)

/* out_dtype: VKFT_MERGE_KEEP_DTYPE or a float vkft_st_dtype. Fails, writing nothing into
 * out_dir, when an adapter tensor names a module the model lacks or the shapes disagree.
 * *merged receives the number of layers changed. */
vkft_status vkft_adapter_merge(const char *model_dir, const char *adapter_dir,
                               const char *out_dir, int out_dtype, int *merged, vkft_err *err);

#endif
