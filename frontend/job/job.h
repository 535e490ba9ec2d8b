/*
 * Jobs: a YAML job file (model, device, method, data, train, output) parsed with libyaml,
 * overridden with `--set key.path=value`, validated against the schema table
 * (frontend/job/schema.c, also the source of docs/jobs.md) and turned into a vkft_job: a plain
 * struct of typed fields with every default filled in, which the trainer reads directly.
 *
 * Paths: a relative path written in the job file is resolved against the job file's folder;
 * one given with --set is resolved against the current directory (where the user typed it).
 * The struct holds the resolved paths. Whether they exist is checked by vkft_job_check_paths,
 * a separate call, so `vkft check --schema` and tests need no files.
 *
 * Errors read "job.yaml:12:7: train.lr: expected a number > 0, got -1", or, for a value that
 * came from an override, "--set train.lr=-1: train.lr: ...". Unknown keys get a did-you-mean.
 *
 *     vkft_job *job;  vkft_err err;
 *     const char *sets[] = {"train.lr=1e-4", "method.targets=[q_proj,v_proj]"};
 *     if (vkft_job_load("jobs/lora.yaml", sets, 2, &job, &err) ||
 *         vkft_job_check_paths(job, &err)) { fprintf(stderr, "%s\n", err.msg); ... }
 *     ... job->train.lr, job->method.r, job->data.train.items[0].path ...
 *     vkft_job_print(job, stdout, false, &err);     // the validated job with defaults, as YAML
 *     vkft_job_free(job);
 */
#ifndef VKFT_JOB_H
#define VKFT_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/data.h"       /* vkft_data_format, vkft_chat_template (the same names) */
#include "util/error.h"

/* method.kind. Only the keys of the chosen kind may appear under method:. */
typedef enum vkft_method_kind {
    VKFT_METHOD_FULL,      /* every weight trainable */
    VKFT_METHOD_LORA,      /* y = xW^T + (alpha/r) dropout(x) A^T B^T, B = 0 at init */
    VKFT_METHOD_QLORA,     /* LoRA over NF4-quantised frozen weights */
    VKFT_METHOD_ADAPTER,   /* bottleneck adapters (Houlsby / Pfeiffer) */
    VKFT_METHOD_PREFIX,    /* prefix tuning / P-tuning v2: per-layer key/value prefixes */
    VKFT_METHOD_PROMPT,    /* prompt tuning: trainable virtual input embeddings */
    VKFT_METHOD_IA3,       /* (IA)^3: learned rescaling vectors */
    VKFT_METHOD_BITFIT,    /* biases (and optionally norm weights) trainable */
    VKFT_METHOD_COUNT
} vkft_method_kind;

/* train.schedule.kind; same order as vkft_schedule_kind in train/schedule.h. */
typedef enum vkft_job_schedule {
    VKFT_JOB_SCHEDULE_CONSTANT, VKFT_JOB_SCHEDULE_LINEAR, VKFT_JOB_SCHEDULE_COSINE,
    VKFT_JOB_SCHEDULE_COUNT
} vkft_job_schedule;

/* train.optimizer.kind. */
typedef enum vkft_job_optimizer {
    VKFT_JOB_OPTIMIZER_ADAMW, VKFT_JOB_OPTIMIZER_COUNT
} vkft_job_optimizer;

/* method.compute_dtype (qlora): the dtype the dequantised matmul runs in. */
typedef enum vkft_job_dtype {
    VKFT_JOB_DTYPE_F32, VKFT_JOB_DTYPE_F16, VKFT_JOB_DTYPE_BF16, VKFT_JOB_DTYPE_COUNT
} vkft_job_dtype;

/* method.placement (adapter). */
typedef enum vkft_adapter_placement {
    VKFT_ADAPTER_HOULSBY,   /* after attention and after the MLP of every layer */
    VKFT_ADAPTER_PFEIFFER,  /* after the MLP only */
    VKFT_ADAPTER_PLACEMENT_COUNT
} vkft_adapter_placement;

/* method.activation (adapter). */
typedef enum vkft_adapter_activation {
    VKFT_ADAPTER_RELU, VKFT_ADAPTER_GELU, VKFT_ADAPTER_SILU, VKFT_ADAPTER_TANH,
    VKFT_ADAPTER_GELU_NEW,  /* gelu: exact (erf), as transformers' "gelu"; gelu_new: tanh form */
    VKFT_ADAPTER_ACTIVATION_COUNT
} vkft_adapter_activation;

/* A list of owned strings. */
typedef struct vkft_job_strings {
    char **items;
    int n;
} vkft_job_strings;

/* One entry of data.train or data.eval. */
typedef struct vkft_job_dataset {
    char *path;                 /* resolved (see the top of this file) */
    vkft_data_format format;    /* default auto (decided from the first line) */
    double weight;              /* train: sampling weight (> 0), 0 = not given (then no
                                   dataset gives one); eval: 0 */
    char *task;                 /* task name for per-task metrics; default: the file's name
                                   without folder and extension ("data/qa.jsonl" -> "qa") */
    double prompt_loss_weight;  /* train: its own, else data.prompt_loss_weight; eval: the
                                   global one */
} vkft_job_dataset;

typedef struct vkft_job_datasets {
    vkft_job_dataset *items;
    int n;
} vkft_job_datasets;

/* method: fields of kinds other than `kind` are zero / NULL. */
typedef struct vkft_job_method {
    vkft_method_kind kind;
    /* lora, qlora */
    int64_t r;                  /* rank */
    double alpha;               /* scale alpha / r (alpha / sqrt(r) with rslora) */
    double dropout;             /* on the adapter input, in [0, 1) */
    bool rslora;                /* rank-stabilised scale */
    char *init;                 /* PEFT LoRA adapter folder to start from, or NULL */
    /* lora, qlora, ia3: module-name suffixes; all_linear when written `all-linear` (then
     * targets holds that one word) */
    vkft_job_strings targets;
    bool all_linear;
    /* qlora */
    vkft_job_dtype compute_dtype;
    /* adapter */
    vkft_adapter_placement placement;
    int64_t reduction_factor;   /* bottleneck = hidden / reduction_factor ... */
    int64_t size;               /* ... unless size > 0 (the bottleneck width itself) */
    vkft_adapter_activation activation;
    /* prefix, prompt */
    int64_t num_virtual_tokens;
    int64_t projection;         /* prefix: hidden width of the reparameterising MLP, 0 = none */
    char *init_text;            /* prompt: initialise from this text's embeddings, or NULL */
    /* ia3 */
    vkft_job_strings feedforward;   /* targets whose input (not output) is rescaled */
    /* bitfit */
    bool include_norms;
} vkft_job_method;

typedef struct vkft_job_data {
    vkft_job_datasets train;    /* at least one */
    vkft_job_datasets eval;     /* may be empty */
    int64_t seq_len;
    bool shuffle;
    bool packing;
    double prompt_loss_weight;  /* weight of prompt tokens in the loss, in [0, 1] */
    double mix_temperature;     /* data.mix.temperature, > 0, default 1 */
    vkft_chat_template chat_template;   /* for format chat; default auto */
} vkft_job_data;

typedef struct vkft_job_train {
    int64_t steps;              /* exactly one of steps / epochs is > 0, the other is 0 */
    int64_t epochs;
    int64_t batch;              /* examples per micro-batch */
    int64_t grad_accum;         /* micro-batches per optimizer step */
    double lr;                  /* peak learning rate */
    vkft_job_optimizer optimizer;
    double betas[2];
    double eps;
    double weight_decay;        /* decoupled (AdamW) */
    vkft_job_strings no_decay;  /* trainables whose name contains one of these: no decay */
    vkft_job_schedule schedule;
    int64_t warmup;             /* optimizer steps of linear warm-up */
    double clip;                /* global gradient-norm clip, 0 = off */
    bool checkpointing;         /* recompute per-layer activations in backward */
    int64_t eval_every;         /* optimizer steps between evals, 0 = only at the end */
    int64_t save_every;         /* optimizer steps between checkpoints, 0 = only at the end */
    int64_t log_every;          /* optimizer steps between progress lines / metrics rows */
    uint64_t seed;
} vkft_job_train;

typedef struct vkft_job_loc vkft_job_loc;   /* private: where path-valued keys were written */

typedef struct vkft_job {
    char *file;                 /* the job file as given, or the name given to load_string */
    char *model_path;           /* model.path: a Hugging Face model folder */
    char *device;               /* "auto" | "cpu" | "vulkan" | "vulkan:N": vkft_device_open's */
    vkft_job_method method;
    vkft_job_data data;
    vkft_job_train train;
    char *output_dir;           /* output.dir */
    vkft_job_loc *locs;         /* private */
} vkft_job;

/* Reads, overrides, validates. sets[0..n_sets) are "key.path=value" strings applied in order
 * before validation (the value is parsed as YAML: a scalar or a flow list/mapping; list items
 * are addressed as data.train[0].weight). On success *out owns everything; on failure *out is
 * NULL and err says what and where. Status: VKFT_ERR_IO (cannot read the file),
 * VKFT_ERR_INVALID_ARG (any problem with the content or an override), VKFT_ERR_NO_MEMORY. */
vkft_status vkft_job_load(const char *path, const char *const *sets, int n_sets,
                          vkft_job **out, vkft_err *err);
/* The same from text[0..len): name prefixes messages, base_dir resolves relative paths
 * (NULL = current directory). */
vkft_status vkft_job_load_string(const char *text, size_t len, const char *name,
                                 const char *base_dir, const char *const *sets, int n_sets,
                                 vkft_job **out, vkft_err *err);
/* Checks that model.path and method.init are folders and every data file is a regular file;
 * the message names the key, where it was written and the resolved path. VKFT_ERR_IO. */
vkft_status vkft_job_check_paths(const vkft_job *job, vkft_err *err);
void vkft_job_free(vkft_job *job);

/* The validated job with defaults, as YAML (json false) or JSON, keys in schema order, only
 * the method keys of its kind. format returns a malloc'd NUL-terminated buffer; print writes
 * to f (VKFT_ERR_IO when the write fails). */
vkft_status vkft_job_format(const vkft_job *job, bool json, char **out, size_t *len,
                            vkft_err *err);
vkft_status vkft_job_print(const vkft_job *job, FILE *f, bool json, vkft_err *err);

/* The job reference (docs/jobs.md) generated from the schema table. */
vkft_status vkft_job_schema_markdown(char **out, size_t *len, vkft_err *err);

/* The job file's name of a method kind ("lora"). */
const char *vkft_method_kind_name(vkft_method_kind k);

#endif
