/*
 * vkft graphs: a training step as one static graph of ops, built once, compiled once against a
 * device (schedule, memory plan, pipelines, descriptor sets, command buffers) and run many times.
 *
 * Values are SSA: every op output is a new value; leaves are inputs (fed before each run),
 * frozen weights, trainable parameters and persistent state. A graph has phases: nodes are added
 * to the current phase, and a compiled plan runs one phase at a time (a training step is
 * phase 0 = forward + backward + gradient accumulation, K times, then phase 1 = clip + AdamW).
 *
 * Usage (a linear layer with a loss, trained by AdamW):
 *     vkft_graph *g;  vkft_graph_create(&g);
 *     vkft_value x = vkft_graph_leaf(g, "x", VKFT_ROLE_INPUT, VKFT_F32, 2, (int64_t[]){8, 4});
 *     vkft_value w = vkft_graph_leaf(g, "w", VKFT_ROLE_TRAINABLE, VKFT_F32, 2, (int64_t[]){3, 4});
 *     vkft_matmul_params mp = {.trans_b = true, .alpha = 1};
 *     vkft_value y = vkft_graph_op1(g, VKFT_OP_MATMUL, &mp, (vkft_value[]){x, w, VKFT_NONE}, 3);
 *     ... loss (f32 [1]) ...
 *     vkft_graph_backward(g, loss, VKFT_NONE);        // gradients of every trainable
 *     vkft_graph_optimizer(g, &adamw_opts);           // phase 1: clipping + AdamW
 *     vkft_plan *p;  vkft_memory_report rep;
 *     vkft_compile(dev, g, NULL, &rep, &p);
 *     vkft_plan_upload(p, "w", w_data, bytes);
 *     for (step...) { vkft_plan_upload(p, "x", ...); vkft_plan_run(p, 0); vkft_plan_run(p, 1); }
 */
#ifndef VKFT_GRAPH_H
#define VKFT_GRAPH_H

#include "vkft/backend.h"
#include "vkft/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t vkft_value;
#define VKFT_NONE ((vkft_value)-1)

typedef enum vkft_role {
    VKFT_ROLE_INPUT = 0,    /* fed before each run: batch data, per-step scalars */
    VKFT_ROLE_WEIGHT,       /* frozen parameter: no gradient (gradients still flow through it) */
    VKFT_ROLE_TRAINABLE,    /* f32 parameter with a gradient and optimizer state */
    VKFT_ROLE_STATE,        /* persistent across runs: optimizer moments, accumulated gradients */
    VKFT_ROLE_ACTIVATION,   /* produced by a node; transient unless named with vkft_graph_keep */
    VKFT_ROLE_COUNT
} vkft_role;

typedef struct vkft_graph vkft_graph;
typedef struct vkft_plan vkft_plan;

vkft_status vkft_graph_create(vkft_graph **out);
void vkft_graph_destroy(vkft_graph *g);
/* The message of the last failed call on g. */
const char *vkft_graph_error(const vkft_graph *g);

/* A leaf value. Names are unique within the graph ("model.layers.0.self_attn.q_proj.weight").
 * Returns VKFT_NONE on failure (bad desc, duplicate name). */
vkft_value vkft_graph_leaf(vkft_graph *g, const char *name, vkft_role role, vkft_dtype dtype,
                           int ndim, const int64_t *shape);
/* Appends one application of op to the current phase. in has the row's n_in entries (VKFT_NONE
 * for absent optional inputs); out receives n_out new values (VKFT_NONE for absent optional
 * outputs; to request an optional output, set out[i] to 0 before the call, else VKFT_NONE).
 * Shapes are checked now (vkft_op_infer), with the message naming the op and shapes. */
vkft_status vkft_graph_op(vkft_graph *g, vkft_op op, const void *params, const vkft_value *in,
                          int n_in, vkft_value *out, int n_out);
/* Shorthand for ops whose first output is the one wanted (others must be optional). */
vkft_value vkft_graph_op1(vkft_graph *g, vkft_op op, const void *params, const vkft_value *in,
                          int n_in);
/* A new f32/i32 value of the given shape filled with value (a FILL node). */
vkft_value vkft_graph_fill(vkft_graph *g, vkft_dtype dtype, int ndim, const int64_t *shape,
                           float value);
/* Makes the value v (produced by a node of the current phase) the new content of the STATE or
 * TRAINABLE leaf `leaf`: the node writes straight into the leaf's storage. The leaf must not be
 * read after that node in the same phase, except by that node through an input it may alias. */
vkft_status vkft_graph_assign(vkft_graph *g, vkft_value leaf, vkft_value v);
/* Names a value so it can be read after a run (and keeps it alive to the end of its phase). */
vkft_status vkft_graph_keep(vkft_graph *g, vkft_value v, const char *name);
/*
 * Gradient checkpointing: marks v (typically a transformer layer's output) as saved for the
 * backward. When compiled with vkft_compile_options.recompute, the backward keeps only the
 * checkpoints (and values that cannot be recomputed) of the forward pass alive; the forward
 * nodes between two checkpoints run again just before the backward of that segment needs them.
 * Gradients are bit-identical; the activation peak drops to about the checkpoints plus one
 * segment. Marking a leaf does nothing (leaves are always kept).
 */
vkft_status vkft_graph_checkpoint(vkft_graph *g, vkft_value v);
const vkft_desc *vkft_graph_value_desc(const vkft_graph *g, vkft_value v);
vkft_role vkft_graph_value_role(const vkft_graph *g, vkft_value v);
const char *vkft_graph_value_name(const vkft_graph *g, vkft_value v);
int vkft_graph_value_count(const vkft_graph *g);
int vkft_graph_node_count(const vkft_graph *g);
/* Starts a new phase; later nodes belong to it. Returns its index. */
int vkft_graph_begin_phase(vkft_graph *g);

/*
 * Autograd: adds nodes (to the current phase) that compute d loss / d t for every trainable
 * leaf t that loss depends on, and accumulate it into t's persistent gradient "grad:<name>"
 * (STATE, f32, zero at compile time). loss is f32 [1]; seed (f32 [1] or VKFT_NONE for 1.0) is
 * d final / d loss, e.g. 1 / (token count * K) for a mean over K micro-batches.
 * Frozen weights get no gradient; gradients still flow through them. Gradients of a value used
 * twice are summed. Fails naming the op if a gradient must flow through an op without one.
 */
vkft_status vkft_graph_backward(vkft_graph *g, vkft_value loss, vkft_value seed);
/* The accumulated-gradient state value of trainable t (after vkft_graph_backward). */
vkft_value vkft_graph_grad(const vkft_graph *g, vkft_value t);

typedef struct vkft_optimizer_options {
    float beta1, beta2, eps, weight_decay;  /* AdamW, PyTorch semantics */
    float clip;                             /* global L2-norm clip; 0 = off */
    /* Which trainables weight_decay applies to: decays(name, decays_user) false exempts one
     * (Hugging Face's Trainer exempts biases and norm weights). NULL: every trainable. */
    bool (*decays)(const char *name, void *user);
    void *decays_user;
} vkft_optimizer_options;

/*
 * Adds, in a new phase, the optimizer step: the global gradient norm (kept as "grad_norm",
 * f32 [1], before clipping), the clip factor, AdamW on every trainable with moments
 * "adam_m:<name>" / "adam_v:<name>" (STATE, f32), then zeroes every accumulated gradient.
 * The learning rate and step count are the INPUT "hyper" f32 [2] = {lr, step}: schedules
 * update it between runs and never re-record anything. Returns the phase index.
 */
int vkft_graph_optimizer(vkft_graph *g, const vkft_optimizer_options *opts);

/*
 * Forward-only evaluation: appends to the current phase copies of every node that outputs[0..n)
 * depend on (back to the leaves), with fresh values, and sets copies[i] to the copy of
 * outputs[i] (outputs[i] itself when it is a leaf). Called in a phase of its own (e.g. after
 * vkft_graph_optimizer), running that phase computes the outputs from the leaves' current
 * contents - trainables after their last update - without the backward that follows the
 * originals. Name the copies with vkft_graph_keep to read them. Fails if a node to copy writes
 * into a leaf (vkft_graph_assign): it cannot run twice.
 */
vkft_status vkft_graph_copy_forward(vkft_graph *g, const vkft_value *outputs, int n,
                                    vkft_value *copies);

/* ---- compiling and running ---- */

typedef struct vkft_memory_report {
    uint64_t frozen_weights;   /* WEIGHT leaves */
    uint64_t trainables;       /* TRAINABLE leaves */
    uint64_t gradients;        /* accumulated gradients */
    uint64_t optimizer_state;  /* other STATE */
    uint64_t inputs;           /* INPUT leaves */
    uint64_t activations;      /* the activation arena: peak of live transient values */
    uint64_t activations_no_reuse; /* what the arena would be without reuse */
    uint64_t workspace;        /* kernels' scratch (Vulkan) */
    uint64_t total;
    uint64_t budget;           /* what the device offers (0 = unknown) */
} vkft_memory_report;

typedef struct vkft_compile_options {
    uint64_t memory_budget;    /* bytes; 0 = the device's heap size */
    bool profile;              /* per-dispatch timestamps (vkft_plan_profile) */
    bool recompute;            /* gradient checkpointing at vkft_graph_checkpoint marks */
    bool plan_only;            /* fill the report (and check the budget) only: *out = NULL */
} vkft_compile_options;

/* Plans memory and fills *report first; if the plan exceeds the budget, fails with
 * VKFT_ERR_NO_MEMORY and a message naming the biggest part and what would help. Otherwise
 * allocates everything, records every phase, and returns the plan. The graph may be destroyed
 * after compiling. opts may be NULL. */
vkft_status vkft_compile(vkft_device *dev, const vkft_graph *g, const vkft_compile_options *opts,
                         vkft_memory_report *report, vkft_plan **out);
void vkft_plan_destroy(vkft_plan *p);
const char *vkft_plan_error(const vkft_plan *p);
/* Host <-> named leaf/kept value. Sizes must match. */
vkft_status vkft_plan_upload(vkft_plan *p, const char *name, const void *src, size_t bytes);
vkft_status vkft_plan_download(vkft_plan *p, const char *name, void *dst, size_t bytes);
/* Runs one phase and waits for it. Records nothing, allocates nothing. */
vkft_status vkft_plan_run(vkft_plan *p, int phase);
int vkft_plan_phase_count(const vkft_plan *p);
/* Bytes the plan holds on its device. */
uint64_t vkft_plan_device_bytes(const vkft_plan *p);

typedef struct vkft_plan_stats {
    uint64_t dispatches[8];    /* per phase: recorded dispatches (0 on the CPU) */
    uint64_t barriers[8];      /* per phase: recorded barriers */
    uint64_t pipelines_created, descriptor_sets_allocated, submits; /* device totals so far */
    double last_run_ms;        /* wall time of the last vkft_plan_run */
    double last_gpu_ms;        /* GPU time of the last run (timestamps), 0 if unknown */
} vkft_plan_stats;
void vkft_plan_get_stats(const vkft_plan *p, vkft_plan_stats *stats);

typedef struct vkft_profile_entry {
    const char *op;            /* the op's name (static storage) */
    int node;                  /* index of its node in the graph (vkft_graph_node_count order) */
    bool recomputed;           /* a forward node run again by gradient checkpointing */
    uint64_t ns;               /* Vulkan: GPU time of the dispatch (timestamps before and after
                                  it); CPU: wall time of the node */
} vkft_profile_entry;

/*
 * Times of the last vkft_plan_run of phase, in execution order: one entry per dispatch on
 * Vulkan (a node may record several, or none when it is only a copy or fill), one per node on
 * the CPU. Writes min(n, count) entries (entries may be NULL when n is 0) and returns count; -1
 * when the plan was not compiled with profile, the phase has not run yet, or the device has no
 * timestamps (the reason is in vkft_plan_error).
 */
int vkft_plan_profile(vkft_plan *p, int phase, vkft_profile_entry *entries, int n);

#ifdef __cplusplus
}
#endif

#endif
