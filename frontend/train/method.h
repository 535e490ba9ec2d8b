/*
 * Methods as graph rewrites: a method turns a job's `method:` section into model hooks (which
 * parameters train, what a linear site becomes) and, after compiling, initialises and saves its
 * own parameters. The model code never knows which method runs.
 *
 *   full   every model parameter trainable (f32 master copy); saved as a Hugging Face folder.
 *   lora   y = x Wᵀ + s · dropout(x) Aᵀ Bᵀ at every targeted site, s = alpha / r (alpha / √r
 *          with rslora); A [r, in] kaiming-uniform (a = √5, i.e. U(±1/√in)), B [out, r] = 0, or
 *          both from an existing PEFT adapter (method.init). Base weights frozen. Leaves are
 *          named as PEFT names the tensors: "base_model.model.<site>.lora_A.weight", except B,
 *          kept transposed as "<PEFT name>.T" (see method_lora.c).
 *
 *     vkft_method *m;  vkft_method_create(&job->method, &cfg, &m, &err);
 *     vkft_model_build(&cfg, g, &opts, vkft_method_hooks(m), &built, &err);
 *     ... compile ...
 *     vkft_method_init_params(m, plan, seed, &err);         // after vkft_model_load_weights
 *     vkft_method_save(m, &built, plan, out_dir, model_path, &err);
 */
#ifndef VKFT_METHOD_H
#define VKFT_METHOD_H

#include "job/job.h"
#include "model/model.h"

typedef struct vkft_method vkft_method;

vkft_status vkft_method_create(const vkft_job_method *spec, const vkft_model_config *cfg,
                               vkft_method **out, vkft_err *err);
/* The method that reloads the adapter folder dir (adapter_config.json's peft_type picks it),
 * built in eval mode (no dropout): build with its hooks, compile, then init_params uploads the
 * adapter's tensors. */
vkft_status vkft_method_from_adapter(const char *dir, const vkft_model_config *cfg,
                                     vkft_method **out, vkft_err *err);
/* What a method may need from the base model beyond its config: its folder and tokenizer
 * (prompt tuning's init_text reads the text's rows of the embedding table). Optional (either
 * may be NULL); call before vkft_method_init_params. Both are borrowed and must outlive m. */
void vkft_method_set_base(vkft_method *m, const char *model_path,
                          const struct vkft_tokenizer *tok);
/* Builds without dropout (evaluation, generation). Call before the build. */
void vkft_method_set_eval(vkft_method *m, bool eval);
/* The sub-folder of output.dir the result is saved to ("adapter" or "model"). */
const char *vkft_method_output_name(const vkft_method *m);
/* Whether the method prepends input embeddings (prompt tuning), which a KV-cache decode
 * cannot take: generation then recomputes the sequence each token. */
bool vkft_method_needs_full_sequence(const vkft_method *m);
void vkft_method_free(vkft_method *m);
const vkft_model_hooks *vkft_method_hooks(vkft_method *m);
/* Name of the DROPOUT seed input ("dropout_seed", i32 [2] = {seed, step}) or NULL when the
 * graph has no dropout. */
const char *vkft_method_dropout_input(const vkft_method *m);
/* After a build: fails if e.g. a target matched no site (naming the target and the model's
 * layer names). */
vkft_status vkft_method_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err);

/* Uploads the frozen weights the method computes itself (QLoRA: every decoder linear weight,
 * quantised to NF4 on the host) from the model's tensors st. Call right after
 * vkft_model_load_weights; a no-op for methods that use the model's weights as they are. */
vkft_status vkft_method_load_weights(vkft_method *m, const vkft_model_built *b,
                                     const vkft_st *st, vkft_plan *plan, vkft_err *err);
/* Uploads the method's own parameters' initial values (LoRA A and B, from method.init when
 * given, else the random init from seed). Call after the base weights are loaded. */
vkft_status vkft_method_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                    vkft_err *err);
/* Saves what the method trains: lora → dir/adapter_config.json + adapter_model.safetensors
 * (PEFT); full → a Hugging Face model folder (config.json, model.safetensors). */
vkft_status vkft_method_save(const vkft_method *m, const vkft_model_built *built,
                             vkft_plan *plan, const char *dir, const char *base_model,
                             vkft_err *err);

#endif
