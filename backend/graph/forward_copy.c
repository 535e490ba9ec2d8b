/*
 * Forward-only copies of earlier nodes (vkft_graph_copy_forward): the nodes that some outputs
 * depend on, back to the leaves, appended again to the current phase with fresh output values.
 * Run in a phase of their own, they compute those outputs from the leaves' current contents
 * without any of the backward that follows the originals: an evaluation costs one forward pass
 * instead of a training step.
 */
#include <stdlib.h>

#include "graph/graph.h"

/* Marks in `need` the nodes that v depends on (iteratively: deep graphs would overflow a
 * recursive walk). */
static vkft_status mark(const vkft_graph *g, vkft_value v, bool *need) {
    int cap = 64, top = 0;
    vkft_value *stack = malloc((size_t)cap * sizeof *stack);
    if (!stack) return VKFT_ERR_NO_MEMORY;
    stack[top++] = v;
    while (top > 0) {
        int p = g->values[stack[--top]].producer;
        if (p < 0 || need[p]) continue;
        need[p] = true;
        const vkft_gnode *n = &g->nodes[p];
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] == VKFT_NONE) continue;
            if (top == cap) {
                vkft_value *s = realloc(stack, (size_t)(cap *= 2) * sizeof *s);
                if (!s) {
                    free(stack);
                    return VKFT_ERR_NO_MEMORY;
                }
                stack = s;
            }
            stack[top++] = n->in[j];
        }
    }
    free(stack);
    return VKFT_OK;
}

/* Appends a copy of node i reading the copies in map, with fresh outputs recorded in map. */
static vkft_status emit(vkft_graph *g, int i, vkft_value *map) {
    vkft_gnode n = g->nodes[i];
    for (int j = 0; j < n.n_in; j++)
        if (n.in[j] != VKFT_NONE && map[n.in[j]] != VKFT_NONE) n.in[j] = map[n.in[j]];
    n.phase = g->phase;
    n.origin = g->n_nodes;
    n.recomputed = false;
    for (int j = 0; j < n.n_out; j++) {
        vkft_value v = n.out[j];
        if (v == VKFT_NONE) continue;
        vkft_desc d = g->values[v].desc;  /* a copy: adding a value may move the array */
        vkft_value c = vkft_graph_add_value(g, &d, VKFT_ROLE_ACTIVATION, NULL);
        if (c == VKFT_NONE) return VKFT_ERR_NO_MEMORY;
        g->values[c].producer = g->n_nodes;
        g->values[c].phase = g->phase;
        map[v] = c;
        n.out[j] = c;
    }
    if (!vkft_graph_grow_nodes(g, g->n_nodes + 1)) return VKFT_ERR_NO_MEMORY;
    g->nodes[g->n_nodes++] = n;
    return VKFT_OK;
}

vkft_status vkft_graph_copy_forward(vkft_graph *g, const vkft_value *outputs, int n,
                                    vkft_value *copies) {
    if (!g || n < 0 || (n && (!outputs || !copies))) return VKFT_ERR_INVALID_ARG;
    int n_nodes = g->n_nodes, n_values = g->n_values;
    for (int i = 0; i < n; i++)
        if (outputs[i] < 0 || outputs[i] >= n_values)
            return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                             "copy_forward: output %d is not a value of this graph", i);
    bool *need = calloc((size_t)n_nodes + 1, sizeof *need);
    vkft_value *map = malloc(((size_t)n_values + 1) * sizeof *map);
    vkft_status st = need && map ? VKFT_OK : VKFT_ERR_NO_MEMORY;
    for (int v = 0; map && v < n_values; v++) map[v] = VKFT_NONE;
    for (int i = 0; i < n && !st; i++) st = mark(g, outputs[i], need);
    for (int i = 0; i < n_nodes && !st; i++) {
        if (!need[i]) continue;
        const vkft_gnode *node = &g->nodes[i];
        for (int j = 0; j < node->n_out && !st; j++)
            if (node->out[j] != VKFT_NONE && g->values[node->out[j]].store != VKFT_NONE)
                st = vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                               "copy_forward: %s (node %d) writes into the leaf %s and cannot "
                               "run twice", vkft_op_def_get(node->op)->name, i,
                               g->values[g->values[node->out[j]].store].name);
        if (!st) st = emit(g, i, map);
    }
    for (int i = 0; i < n && !st; i++)
        copies[i] = map[outputs[i]] != VKFT_NONE ? map[outputs[i]] : outputs[i];
    if (st == VKFT_ERR_NO_MEMORY) vkft_fail(&g->err, st, "copy_forward: out of memory");
    free(need);
    free(map);
    return st;
}
