/*
 * Inside the methods: each fine-tuning method is one vkft_method_ops in its own file
 * (method_full.c, method_lora.c, ...), listed in method.c's table by vkft_method_kind. A method
 * sets model hooks at create, creates its parameter leaves from those hooks during the build,
 * initialises them after compile, and saves / reloads them in the format users load elsewhere
 * (PEFT adapter folders; a Hugging Face folder for full fine-tuning).
 */
#ifndef VKFT_METHOD_IMPL_H
#define VKFT_METHOD_IMPL_H

#include "train/method.h"

typedef struct vkft_method_ops {
    const char *output;         /* sub-folder of output.dir the result goes to */
    const char *peft_type;      /* adapter_config.json's peft_type ("LORA"), NULL if none */
    /* Fills m->spec (kind set already; strings owned through owned_*) from a saved adapter's
     * parsed adapter_config.json so the adapter can be rebuilt and reloaded (spec.init = dir).
     * NULL = the method has no adapter folders. */
    vkft_status (*from_adapter)(vkft_method *m, const vkft_json *config, const char *dir,
                                vkft_err *err);
    /* Sets m->hooks and allocates m->impl. */
    vkft_status (*create)(vkft_method *m, vkft_err *err);
    void (*destroy)(vkft_method *m);
    /* After the model is built: e.g. every target matched a site. NULL = nothing to check. */
    vkft_status (*after_build)(vkft_method *m, const vkft_model_built *b, vkft_err *err);
    /* After vkft_model_load_weights: uploads the frozen weights the method took over from the
     * model through linear_replace (QLoRA's NF4 weights), read from the model's tensors st.
     * NULL = none. */
    vkft_status (*load_weights)(vkft_method *m, const vkft_model_built *b, const vkft_st *st,
                                vkft_plan *plan, vkft_err *err);
    /* Initial values of the method's own leaves (random, or from m->spec.init). NULL = none. */
    vkft_status (*init_params)(vkft_method *m, vkft_plan *plan, uint64_t seed, vkft_err *err);
    /* Writes the trained result into dir. */
    vkft_status (*save)(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                        const char *dir, const char *base_model, vkft_err *err);
} vkft_method_ops;

struct vkft_method {
    const vkft_method_ops *ops;
    vkft_job_method spec;       /* strings borrowed from the job (or owned, see owned_*) */
    vkft_model_config cfg;
    vkft_model_hooks hooks;     /* hooks.user == this method */
    vkft_value dropout_seed;    /* the shared DROPOUT seed input, VKFT_NONE until made */
    uint32_t dropout_streams;   /* next DROPOUT stream id */
    bool eval_mode;             /* built for evaluation: no dropout */
    void *impl;                 /* the method's own state */
    char *owned_init;           /* spec.init when the method owns it */
    char **owned_targets;       /* spec.targets.items when the method owns them */
    const char *base_path;      /* the base model folder, or NULL (vkft_method_set_base) */
    const struct vkft_tokenizer *tokenizer;     /* its tokenizer, or NULL */
};

/* Shared by the methods (method.c). */
/* param_role for methods that train only their own parameters: every model weight frozen. */
vkft_role vkft_method_frozen_role(void *user, const char *name, vkft_model_param_kind kind);
/* PEFT's suffix rule: target equals the module path or ends it after a '.'. */
bool vkft_method_target_matches(const char *target, const char *path);
/* dropout(x) with rate p (x itself when p == 0 or in eval mode): one DROPOUT node reading the
 * shared "dropout_seed" input. Returns VKFT_NONE with the message in err on failure. */
vkft_value vkft_method_dropout(vkft_method *m, vkft_graph *g, vkft_value x, double p,
                               vkft_err *err);
/* A TRAINABLE f32 leaf; VKFT_NONE with the graph's message in err on failure. */
vkft_value vkft_method_leaf(vkft_graph *g, const char *name, int ndim, const int64_t *shape,
                            vkft_err *err);
/* Downloads the f32 leaf `name` of n elements into a malloc'd buffer. */
vkft_status vkft_method_download(vkft_plan *plan, const char *name, size_t n, float **out,
                                 vkft_err *err);
vkft_status vkft_method_upload(vkft_plan *plan, const char *name, const float *data, size_t n,
                               vkft_err *err);

extern const vkft_method_ops vkft_method_full_ops;
extern const vkft_method_ops vkft_method_lora_ops;
extern const vkft_method_ops vkft_method_adapter_ops;
extern const vkft_method_ops vkft_method_prefix_ops;
extern const vkft_method_ops vkft_method_prompt_ops;
extern const vkft_method_ops vkft_method_qlora_ops;
extern const vkft_method_ops vkft_method_ia3_ops;
extern const vkft_method_ops vkft_method_bitfit_ops;

#endif
