/*
 * The graph IR (internal view of vkft/graph.h): values and nodes in arrays, nodes in the order
 * they were added — which is a topological order, since a node's inputs must exist first.
 */
#ifndef VKFT_GRAPH_GRAPH_H
#define VKFT_GRAPH_GRAPH_H

#include "core/error.h"
#include "ops/op_def.h"
#include "vkft/graph.h"

#define VKFT_PARAMS_MAX 64
#define VKFT_MAX_PHASES 8

typedef struct vkft_gvalue {
    vkft_desc desc;
    vkft_role role;
    char *name;                 /* leaves and kept values; NULL otherwise */
    int producer;               /* node index; -1 for leaves */
    int phase;                  /* phase of the producer (leaves: -1) */
    bool kept;                  /* readable after a run */
    bool checkpoint;            /* saved across the backward when recomputing (gradient
                                   checkpointing); ends a recompute segment */
    vkft_value store;           /* leaf whose storage this value is written into, or NONE */
    vkft_value grad;            /* trainables: the accumulated-gradient state, or NONE */
} vkft_gvalue;

typedef struct vkft_gnode {
    vkft_op op;
    int phase;
    int origin;                 /* its index in the graph as built (copies keep the original's) */
    bool recomputed;            /* a forward node emitted again by recompute.c */
    int n_in, n_out;
    vkft_value in[VKFT_OP_MAX_IN];
    vkft_value out[VKFT_OP_MAX_OUT];
    _Alignas(8) unsigned char params[VKFT_PARAMS_MAX];
} vkft_gnode;

struct vkft_graph {
    vkft_gvalue *values;
    int n_values, cap_values;
    vkft_gnode *nodes;
    int n_nodes, cap_nodes;
    int phase;                  /* current phase */
    int n_phases;
    int n_backward;             /* vkft_graph_backward calls so far */
    int bwd_begin, bwd_end;     /* nodes [bwd_begin, bwd_end) are the last backward's */
    int bwd_phase;              /* its phase */
    int n_checkpoints;
    vkft_err err;
};

/* Adds a value; returns its index or VKFT_NONE (out of memory, message in g->err). */
vkft_value vkft_graph_add_value(vkft_graph *g, const vkft_desc *desc, vkft_role role,
                                const char *name);
/* Makes room for `need` nodes in all; false when out of memory. */
bool vkft_graph_grow_nodes(vkft_graph *g, int need);
/* Looks a value up by name; VKFT_NONE if absent. */
vkft_value vkft_graph_find(const vkft_graph *g, const char *name);

/*
 * Gradient checkpointing (graph/recompute.c): a copy of g in which the backward reads no
 * forward activation other than the checkpoints (and values that cannot be recomputed); the
 * forward nodes of each segment between checkpoints are emitted again just before the first
 * backward node that needs them. *out is NULL when there is nothing to rewrite (no backward or
 * no checkpoint): use g. Fails only for lack of memory.
 */
vkft_status vkft_graph_recompute(const vkft_graph *g, vkft_graph **out, vkft_err *err);

#endif
