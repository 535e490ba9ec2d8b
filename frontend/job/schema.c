/*
 * The job schema table (see schema.h) and its small helpers: lookup by path and method kind,
 * enum choices, typo distance, range and type phrases shared by messages and docs.
 */
#include "job/schema.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define J(field) JOB_BASE_JOB, offsetof(vkft_job, field)
#define D(field) JOB_BASE_DATASET, offsetof(vkft_job_dataset, field)
#define NOFIELD JOB_BASE_NONE, 0
#define B(k) JOB_KIND_BIT(VKFT_METHOD_##k)
#define LORAS (B(LORA) | B(QLORA))

/* The choices strings are in enum order; these asserts catch an enum that grows. */
static_assert(VKFT_METHOD_COUNT == 8, "method.kind choices");
static_assert(VKFT_DATA_FORMAT_COUNT == 6, "data format choices");
static_assert(VKFT_CHAT_TEMPLATE_COUNT == 5, "chat template choices");
static_assert(VKFT_JOB_SCHEDULE_COUNT == 3, "schedule choices");
static_assert(VKFT_JOB_OPTIMIZER_COUNT == 1, "optimizer choices");
static_assert(VKFT_JOB_DTYPE_COUNT == 3, "dtype choices");
static_assert(VKFT_ADAPTER_PLACEMENT_COUNT == 2, "placement choices");
static_assert(VKFT_ADAPTER_ACTIVATION_COUNT == 5, "activation choices");
/* Enum fields are written through an int (job.c). */
static_assert(sizeof(vkft_method_kind) == sizeof(int), "enum size");
static_assert(sizeof(vkft_data_format) == sizeof(int), "enum size");

#define FORMATS "auto|tokens|text|completion|alpaca|chat"
#define FORMAT_DOC "JSONL shape (docs/data.md); auto decides from the first line's keys."

const job_key job_keys[] = {
    {"model", JOB_T_SECTION, NOFIELD, .doc = "The model to fine-tune."},
    {"model.path", JOB_T_PATH, J(model_path), .required = true,
     .doc = "Hugging Face model folder (config.json, *.safetensors, tokenizer.json)."},

    {"device", JOB_T_DEVICE, J(device), .def = "auto",
     .doc = "auto (first discrete GPU, then integrated, then other Vulkan, then cpu), cpu, "
            "vulkan, or vulkan:N (N as listed by `vkft devices`)."},

    {"method", JOB_T_SECTION, NOFIELD, .doc = "The fine-tuning method and its settings."},
    {"method.kind", JOB_T_ENUM, J(method.kind), .required = true,
     .choices = "full|lora|qlora|adapter|prefix|prompt|ia3|bitfit",
     .doc = "Which weights train. Only the keys of this kind may appear under method."},
    {"method.r", JOB_T_INT, J(method.r), .def = "8", .range = JOB_LO, .lo = 1, .kinds = LORAS,
     .doc = "LoRA rank."},
    {"method.alpha", JOB_T_FLOAT, J(method.alpha), .def = "8", .range = JOB_LO | JOB_LO_OPEN,
     .kinds = LORAS, .doc = "LoRA scale numerator: the update is scaled by alpha / r."},
    {"method.dropout", JOB_T_FLOAT, J(method.dropout), .def = "0.0",
     .range = JOB_LO | JOB_HI | JOB_HI_OPEN, .lo = 0, .hi = 1, .kinds = LORAS,
     .doc = "Dropout on the LoRA branch's input (training only)."},
    {"method.rslora", JOB_T_BOOL, J(method.rslora), .def = "false", .kinds = LORAS,
     .doc = "Rank-stabilised LoRA: scale by alpha / sqrt(r) instead of alpha / r."},
    {"method.targets", JOB_T_STRINGS, J(method.targets), .def = "[q_proj, v_proj]",
     .kinds = LORAS,
     .doc = "Module-name suffixes of the linear layers to adapt (q_proj matches "
            "model.layers.3.self_attn.q_proj), or all-linear (every linear but the LM head)."},
    {"method.targets", JOB_T_STRINGS, J(method.targets), .def = "[k_proj, v_proj, down_proj]",
     .kinds = B(IA3),
     .doc = "Module-name suffixes of the linear layers to rescale, or all-linear."},
    {"method.feedforward", JOB_T_STRINGS, J(method.feedforward), .def = "[down_proj]",
     .kinds = B(IA3),
     .doc = "Those targets whose input (not output) is rescaled; each must be in targets."},
    {"method.init", JOB_T_PATH, J(method.init), .kinds = LORAS,
     .doc = "Start from an existing PEFT LoRA adapter folder (adapter_config.json + "
            "adapter_model.safetensors) instead of B = 0."},
    {"method.use_dora", JOB_T_REJECTED, NOFIELD,
     .doc = "DoRA (weight-decomposed LoRA) is not supported."},
    {"method.compute_dtype", JOB_T_ENUM, J(method.compute_dtype), .choices = "f32|f16|bf16",
     .def = "f32", .kinds = B(QLORA),
     .doc = "Precision the NF4 weights are dequantised to inside the matmul."},
    {"method.placement", JOB_T_ENUM, J(method.placement), .choices = "houlsby|pfeiffer",
     .def = "pfeiffer", .kinds = B(ADAPTER),
     .doc = "houlsby: an adapter after attention and after the MLP; pfeiffer: after the MLP."},
    {"method.reduction_factor", JOB_T_INT, J(method.reduction_factor), .def = "16",
     .range = JOB_LO, .lo = 1, .kinds = B(ADAPTER),
     .doc = "Bottleneck width = hidden size / reduction_factor (unless size is set)."},
    {"method.size", JOB_T_INT, J(method.size), .def = "0", .range = JOB_LO, .lo = 0,
     .kinds = B(ADAPTER), .doc = "Bottleneck width; 0 = from reduction_factor."},
    {"method.activation", JOB_T_ENUM, J(method.activation),
     .choices = "relu|gelu|silu|tanh|gelu_new", .def = "relu", .kinds = B(ADAPTER),
     .doc = "Non-linearity inside the bottleneck (gelu: exact erf GELU; gelu_new: its tanh "
            "approximation)."},
    {"method.num_virtual_tokens", JOB_T_INT, J(method.num_virtual_tokens), .def = "20",
     .range = JOB_LO, .lo = 1, .kinds = B(PREFIX) | B(PROMPT),
     .doc = "Number of trainable virtual tokens (per layer for prefix)."},
    {"method.projection", JOB_T_INT, J(method.projection), .def = "0", .range = JOB_LO,
     .lo = 0, .kinds = B(PREFIX),
     .doc = "Hidden width of an MLP that reparameterises the prefixes; 0 = none."},
    {"method.init_text", JOB_T_STRING, J(method.init_text), .kinds = B(PROMPT),
     .doc = "Initialise the virtual tokens from this text's embeddings (repeated to fit); "
            "unset = random."},
    {"method.include_norms", JOB_T_BOOL, J(method.include_norms), .def = "false",
     .kinds = B(BITFIT), .doc = "Also train the norm weights, not only the biases."},

    {"data", JOB_T_SECTION, NOFIELD, .doc = "Datasets and how examples become rows."},
    {"data.train", JOB_T_DATASETS, J(data.train), .required = true,
     .doc = "Training datasets: a list of mappings (or one mapping)."},
    {"data.train[].path", JOB_T_PATH, D(path), .required = true, .doc = "A JSONL file."},
    {"data.train[].format", JOB_T_ENUM, D(format), .choices = FORMATS, .def = "auto",
     .doc = FORMAT_DOC},
    {"data.train[].weight", JOB_T_FLOAT, D(weight), .zero_unset = true,
     .range = JOB_LO | JOB_LO_OPEN, .lo = 0,
     .doc = "Sampling weight in the mix (normalised); give every dataset a weight or none "
            "(then datasets mix by size). Raised to 1 / data.mix.temperature."},
    {"data.train[].task", JOB_T_STRING, D(task),
     .doc = "Task name for per-task metrics; unset = the file name without extension."},
    {"data.train[].prompt_loss_weight", JOB_T_FLOAT, D(prompt_loss_weight),
     .range = JOB_LO | JOB_HI, .lo = 0, .hi = 1,
     .doc = "This dataset's prompt loss weight; unset = data.prompt_loss_weight."},
    {"data.eval", JOB_T_DATASETS, J(data.eval),
     .doc = "Evaluation datasets: a list of mappings, or one mapping; unset = no eval."},
    {"data.eval[].path", JOB_T_PATH, D(path), .required = true, .doc = "A JSONL file."},
    {"data.eval[].format", JOB_T_ENUM, D(format), .choices = FORMATS, .def = "auto",
     .doc = FORMAT_DOC},
    {"data.eval[].task", JOB_T_STRING, D(task),
     .doc = "Name the eval loss is logged under; unset = the file name without extension."},
    {"data.seq_len", JOB_T_INT, J(data.seq_len), .def = "512", .range = JOB_LO, .lo = 2,
     .doc = "Tokens per row: longer examples are truncated, shorter padded (or packed)."},
    {"data.shuffle", JOB_T_BOOL, J(data.shuffle), .def = "true",
     .doc = "A seeded permutation per epoch; false = file order."},
    {"data.packing", JOB_T_BOOL, J(data.packing), .def = "false",
     .doc = "Concatenate examples into full rows instead of padding each one."},
    {"data.prompt_loss_weight", JOB_T_FLOAT, J(data.prompt_loss_weight), .def = "0.0",
     .range = JOB_LO | JOB_HI, .lo = 0, .hi = 1,
     .doc = "Loss weight of prompt tokens (0 = masked, 1 = trained like completions)."},
    {"data.chat_template", JOB_T_ENUM, J(data.chat_template),
     .choices = "auto|chatml|llama2|llama3|zephyr", .def = "auto",
     .doc = "Template for format chat; auto recognises the tokenizer's, else ChatML."},
    {"data.mix", JOB_T_SECTION, NOFIELD, .doc = "How several training datasets mix."},
    {"data.mix.temperature", JOB_T_FLOAT, J(data.mix_temperature), .def = "1.0",
     .range = JOB_LO | JOB_LO_OPEN, .lo = 0,
     .doc = "p_i proportional to weight_i^(1/T) (or size_i^(1/T)); larger is more uniform."},

    {"train", JOB_T_SECTION, NOFIELD, .doc = "The optimisation loop."},
    {"train.steps", JOB_T_INT, J(train.steps), .zero_unset = true, .range = JOB_LO,
     .lo = 1,
     .doc = "Optimizer steps to run. Set exactly one of steps and epochs."},
    {"train.epochs", JOB_T_INT, J(train.epochs), .zero_unset = true, .range = JOB_LO,
     .lo = 1,
     .doc = "Passes over the training data (the steps follow from its size)."},
    {"train.batch", JOB_T_INT, J(train.batch), .def = "1", .range = JOB_LO, .lo = 1,
     .doc = "Rows per micro-batch."},
    {"train.grad_accum", JOB_T_INT, J(train.grad_accum), .def = "1", .range = JOB_LO, .lo = 1,
     .doc = "Micro-batches per optimizer step (effective batch = batch x grad_accum)."},
    {"train.lr", JOB_T_FLOAT, J(train.lr), .def = "5.0e-5", .range = JOB_LO | JOB_LO_OPEN,
     .lo = 0, .doc = "Peak learning rate."},
    {"train.optimizer", JOB_T_SECTION, NOFIELD, .doc = "The optimizer."},
    {"train.optimizer.kind", JOB_T_ENUM, J(train.optimizer), .choices = "adamw",
     .def = "adamw", .doc = "AdamW with decoupled weight decay and bias correction."},
    {"train.optimizer.betas", JOB_T_FLOATS, J(train.betas), .def = "[0.9, 0.999]",
     .range = JOB_LO | JOB_HI | JOB_HI_OPEN, .lo = 0, .hi = 1, .count = 2,
     .doc = "[beta1, beta2]: decay of the first and second moment estimates."},
    {"train.optimizer.eps", JOB_T_FLOAT, J(train.eps), .def = "1.0e-8",
     .range = JOB_LO | JOB_LO_OPEN, .lo = 0, .doc = "Added to the root of the second moment."},
    {"train.optimizer.weight_decay", JOB_T_FLOAT, J(train.weight_decay), .def = "0.0",
     .range = JOB_LO, .lo = 0, .doc = "Decoupled weight decay (lr x weight_decay per step)."},
    {"train.optimizer.no_decay", JOB_T_STRINGS, J(train.no_decay),
     .doc = "Parameters whose name contains one of these strings get no weight decay (unset: "
            "every trainable decays, as torch.optim.AdamW over all parameters). Hugging Face's "
            "Trainer exempts biases and norm weights: [bias, norm, ln_] does that for "
            "Llama-style and GPT-2 names."},
    {"train.schedule", JOB_T_SECTION, NOFIELD, .doc = "The learning-rate schedule."},
    {"train.schedule.kind", JOB_T_ENUM, J(train.schedule), .choices = "constant|linear|cosine",
     .def = "linear", .doc = "Decay after warm-up, as Hugging Face's get_*_schedule_with_warmup."},
    {"train.schedule.warmup", JOB_T_INT, J(train.warmup), .def = "0", .range = JOB_LO, .lo = 0,
     .doc = "Optimizer steps of linear warm-up from 0; at most train.steps."},
    {"train.clip", JOB_T_FLOAT, J(train.clip), .def = "1.0", .range = JOB_LO, .lo = 0,
     .doc = "Clip the global gradient norm to this; 0 = no clipping."},
    {"train.checkpointing", JOB_T_BOOL, J(train.checkpointing), .def = "false",
     .doc = "Gradient checkpointing: keep only layer outputs, recompute the rest in backward."},
    {"train.eval_every", JOB_T_INT, J(train.eval_every), .def = "0", .range = JOB_LO, .lo = 0,
     .doc = "Evaluate every N optimizer steps (needs data.eval); 0 = only at the end."},
    {"train.save_every", JOB_T_INT, J(train.save_every), .def = "0", .range = JOB_LO, .lo = 0,
     .doc = "Save a checkpoint every N optimizer steps; 0 = only at the end."},
    {"train.log_every", JOB_T_INT, J(train.log_every), .def = "1", .range = JOB_LO, .lo = 1,
     .doc = "Write a progress line and a metrics.jsonl row every N optimizer steps."},
    {"train.seed", JOB_T_UINT, J(train.seed), .def = "0", .range = JOB_LO, .lo = 0,
     .doc = "Seeds initialisation, dropout, shuffling and the mix sampler."},

    {"output", JOB_T_SECTION, NOFIELD, .doc = "Where results go."},
    {"output.dir", JOB_T_PATH, J(output_dir), .def = "out",
     .doc = "Folder for checkpoints, metrics.jsonl and the exported model or adapter."},
};
const int job_n_keys = (int)(sizeof job_keys / sizeof job_keys[0]);

bool job_key_applies(const job_key *k, int kind)
{
    return k->kinds == 0 || kind < 0 || (k->kinds & JOB_KIND_BIT(kind)) != 0;
}

const job_key *job_key_find(const char *path, int kind)
{
    for (int i = 0; i < job_n_keys; i++)
        if (!strcmp(job_keys[i].path, path) && job_key_applies(&job_keys[i], kind))
            return &job_keys[i];
    return NULL;
}

void job_key_parent(const char *path, char *buf, size_t size)
{
    const char *dot = strrchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : 0;
    if (n >= size) n = size - 1;
    memcpy(buf, path, n);
    buf[n] = '\0';
}

const char *job_key_leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

int job_choice_index(const char *choices, const char *name)
{
    size_t len = strlen(name);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !memcmp(p, name, n)) return i;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

const char *job_choice_at(const char *choices, int i, char *buf, size_t size)
{
    const char *p = choices;
    for (; i > 0 && p; i--) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p) {
        buf[0] = '\0';
        return buf;
    }
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n >= size) n = size - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

int job_edit_distance(const char *a, const char *b)
{
    enum { MAX = 64 };
    size_t la = strnlen(a, MAX), lb = strnlen(b, MAX);
    int row[MAX + 1];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

bool job_close_enough(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t shorter = la < lb ? la : lb;
    /* One edit for short names, about a third of the name for longer ones. */
    int limit = shorter <= 4 ? 1 : (int)(shorter + 2) / 3;
    return job_edit_distance(a, b) <= limit;
}

void job_range_text(const job_key *k, char *buf, size_t size)
{
    unsigned r = k->range;
    if ((r & JOB_LO) && (r & JOB_HI))
        snprintf(buf, size, "in %c%g, %g%c", (r & JOB_LO_OPEN) ? '(' : '[', k->lo, k->hi,
                 (r & JOB_HI_OPEN) ? ')' : ']');
    else if (r & JOB_LO)
        snprintf(buf, size, "%s %g", (r & JOB_LO_OPEN) ? ">" : ">=", k->lo);
    else if (r & JOB_HI)
        snprintf(buf, size, "%s %g", (r & JOB_HI_OPEN) ? "<" : "<=", k->hi);
    else if (size)
        buf[0] = '\0';
}

const char *job_type_phrase(const job_key *k)
{
    switch (k->type) {
    case JOB_T_SECTION: return "a mapping";
    case JOB_T_INT: return "an integer";
    case JOB_T_UINT: return "an integer";
    case JOB_T_FLOAT: return "a number";
    case JOB_T_BOOL: return "true or false";
    case JOB_T_STRING: return "a string";
    case JOB_T_PATH: return "a path";
    case JOB_T_DEVICE: return "a device (auto, cpu, vulkan or vulkan:N)";
    case JOB_T_ENUM: return "one of";
    case JOB_T_STRINGS: return "a list of names";
    case JOB_T_FLOATS: return "a list of numbers";
    case JOB_T_DATASETS: return "a list of datasets";
    case JOB_T_REJECTED: return "nothing";
    }
    return "?";
}
