/*
 * Compiled plans (internal view of vkft/graph.h): the memory layout the planner chose, the
 * device tensors, one prepared op call per node, and per backend what runs a phase.
 */
#ifndef VKFT_GRAPH_PLAN_H
#define VKFT_GRAPH_PLAN_H

#include "graph/graph.h"

typedef enum vkft_store {
    VKFT_STORE_NONE = 0,     /* never materialised (absent) */
    VKFT_STORE_PERSISTENT,   /* its own tensor: leaves, kept values, values crossing phases */
    VKFT_STORE_ARENA,        /* a range of the activation arena */
    VKFT_STORE_ALIAS,        /* the storage of another value (in-place ops, assigned state) */
} vkft_store;

typedef struct vkft_value_plan {
    vkft_store store;
    vkft_value alias;        /* ALIAS: the value whose storage this is (never itself an alias) */
    int first, last;         /* node indices where the storage group is born and last used */
    uint64_t offset;         /* ARENA: byte offset */
    uint64_t bytes;          /* ARENA: bytes of the group (rounded to 256) */
} vkft_value_plan;

typedef struct vkft_layout {
    int n_values;
    vkft_value_plan *v;
    uint64_t arena_bytes;
    vkft_memory_report report;
} vkft_layout;

/* Chooses where every value lives and fills the memory report (no device memory touched).
 * *out must be released with vkft_layout_free. */
vkft_status vkft_layout_plan(const vkft_graph *g, vkft_layout *out, vkft_err *err);
void vkft_layout_free(vkft_layout *l);

typedef struct vkft_plan_node {
    vkft_op op;
    int phase;
    int origin;              /* the graph node it came from (profiles report it) */
    bool recomputed;         /* emitted again by gradient checkpointing */
    bool elided;             /* a reshape COPY whose output is a view of its input: no work */
    _Alignas(8) unsigned char params[VKFT_PARAMS_MAX];
    vkft_tensor *in[VKFT_OP_MAX_IN];
    vkft_tensor *out[VKFT_OP_MAX_OUT];
    vkft_op_call call;       /* points at the arrays above */
} vkft_plan_node;

typedef struct vkft_plan_vk vkft_plan_vk;  /* graph/plan_vk.c */

struct vkft_plan {
    vkft_device *dev;
    vkft_err err;
    int n_values;
    vkft_tensor **tensors;   /* per value; NULL where absent */
    bool *owned;             /* per value: tensors[v] is ours to destroy (not the arena's view) */
    char **names;            /* per value: leaf/kept name or NULL */
    vkft_tensor *arena;
    int n_nodes;
    vkft_plan_node *nodes;
    int n_phases;
    vkft_memory_report report;
    vkft_plan_stats stats;
    bool profile;            /* compiled with profile */
    bool profiled[VKFT_MAX_PHASES]; /* the phase ran since compile (its times are valid) */
    uint64_t *node_ns;       /* CPU with profile: per node, wall time of its last run */
    vkft_plan_vk *vk;        /* Vulkan: recorded phases */
};

/* Backends of plan execution. */
vkft_status vkft_plan_cpu_run(vkft_plan *p, int phase);
vkft_status vkft_plan_vk_record(vkft_plan *p, bool profile);
vkft_status vkft_plan_vk_run(vkft_plan *p, int phase);
void vkft_plan_vk_destroy(vkft_plan *p);
/* vkft_plan_profile on Vulkan (the phase has run with profile). */
int vkft_plan_vk_profile(vkft_plan *p, int phase, vkft_profile_entry *e, int n);
/* Adds the device's counters (pipelines, descriptor sets, submits) to s. */
void vkft_plan_vk_stats(const vkft_plan *p, vkft_plan_stats *s);

#endif
