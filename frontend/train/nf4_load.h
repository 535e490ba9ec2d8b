/*
 * NF4 weights for QLoRA: turning a linear site's weight from a checkpoint into the four packed
 * leaves MATMUL_NF4 reads (codes u8 [n/2], absmax_q u8 [nb], absmax2 f32 [nb2], offset f32 [1];
 * nb = ceil(n/64), nb2 = ceil(nb/256); bitsandbytes' quantize_4bit with double quantisation).
 *
 * A float weight (F32/F16/BF16) is quantised on the host by the backend's own NF4_QUANTIZE
 * kernel on a private CPU device, one weight at a time; a pre-quantised bitsandbytes weight
 * (U8 `weight` with `weight.absmax`, `.quant_map`, `.nested_absmax`, `.nested_quant_map` and
 * the JSON `weight.quant_state.bitsandbytes__nf4`) is checked and copied as it is. Either way
 * only the packed tensors are uploaded to the plan, to the leaves "<site>.weight",
 * "<site>.weight.absmax", "<site>.weight.nested_absmax", "<site>.weight.nested_offset".
 * Weights are [out, in] as bitsandbytes stores them; GPT-2's Conv1D ([in, out] on file) is
 * transposed before quantising.
 *
 *     vkft_nf4_loader *ld;  vkft_nf4_loader_create(&ld, &err);
 *     for each replaced site: vkft_nf4_load_site(ld, gpt2, site, st, plan, &err);
 *     vkft_nf4_loader_free(ld);
 */
#ifndef VKFT_NF4_LOAD_H
#define VKFT_NF4_LOAD_H

#include <stdbool.h>

#include "io/safetensors.h"
#include "model/model.h"

/* Blocks of 64 values and second-level blocks of 256 absmax values of an n-element weight. */
static inline int64_t vkft_nf4_blocks(int64_t n) { return (n + 63) / 64; }
static inline int64_t vkft_nf4_nested_blocks(int64_t n) { return (vkft_nf4_blocks(n) + 255) / 256; }

typedef struct vkft_nf4_loader vkft_nf4_loader;

/* Opens the private CPU device (VKFT_THREADS applies). */
vkft_status vkft_nf4_loader_create(vkft_nf4_loader **out, vkft_err *err);
void vkft_nf4_loader_free(vkft_nf4_loader *ld);

/* Reads site's weight "<path>.weight" from st (GPT-2: also without "transformer."), quantises
 * it unless it is pre-quantised, and uploads the packed leaves to plan. A missing tensor, a
 * wrong shape, an unsupported quant state (fp4, no double quantisation, other block sizes or
 * code maps) fails naming the tensor and the file. */
vkft_status vkft_nf4_load_site(vkft_nf4_loader *ld, bool gpt2, const vkft_model_site *site,
                               const vkft_st *st, vkft_plan *plan, vkft_err *err);

#endif
