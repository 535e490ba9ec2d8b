/*
 * Autograd: reverse-mode differentiation of a graph toward its trainable leaves.
 *
 * 1. Forward sweep: a value "requires grad" if it is a trainable leaf or an output of a node
 *    with an input that requires grad. Only those values ever get gradients, so frozen weights
 *    get no dW while gradients still flow through them to earlier trainables.
 * 2. Reverse sweep over the nodes before the loss: a node with a gradient on any output emits
 *    its row's backward rule for the inputs that require grad; a value reached twice gets the
 *    sum of its gradients (an ADD node), in the order the nodes are visited (deterministic).
 * 3. Each trainable's gradient is added into its persistent accumulator "grad:<name>" (STATE,
 *    zero at compile time, zeroed by the optimizer phase), so K micro-batches accumulate. The
 *    ADD goes right after the backward of the trainable's first reader (when its gradient is
 *    complete), so a layer's weight gradients die inside that layer's backward instead of all
 *    living to the end of the sweep.
 */
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"

/* grad:<name> += dv for trainable v (creating the accumulator on first use). */
static vkft_status accumulate(vkft_graph *g, vkft_value v, vkft_value dv) {
    vkft_value acc = g->values[v].grad;
    if (acc == VKFT_NONE) {
        char name[512];
        snprintf(name, sizeof name, "grad:%s", g->values[v].name);
        acc = vkft_graph_leaf(g, name, VKFT_ROLE_STATE, VKFT_F32, g->values[v].desc.ndim,
                              g->values[v].desc.shape);
        if (acc == VKFT_NONE) return VKFT_ERR_INVALID_ARG;
        g->values[v].grad = acc;
    }
    vkft_value sum[2] = {acc, dv};
    vkft_value s = vkft_graph_op1(g, VKFT_OP_ADD, NULL, sum, 2);
    return s == VKFT_NONE ? VKFT_ERR_NO_MEMORY : vkft_graph_assign(g, acc, s);
}

vkft_status vkft_graph_backward(vkft_graph *g, vkft_value loss, vkft_value seed) {
    if (!g) return VKFT_ERR_INVALID_ARG;
    if (loss < 0 || loss >= g->n_values)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "backward: loss is not a value");
    const vkft_desc *ld = &g->values[loss].desc;
    if (ld->dtype != VKFT_F32 || vkft_desc_numel(ld) != 1)
        return vkft_fail(&g->err, VKFT_ERR_SHAPE, "backward: the loss must be f32 [1]");
    if (seed != VKFT_NONE && (seed < 0 || seed >= g->n_values ||
                              vkft_desc_numel(&g->values[seed].desc) != 1))
        return vkft_fail(&g->err, VKFT_ERR_SHAPE, "backward: the seed must be f32 [1]");
    int n_values = g->n_values, n_nodes = g->n_nodes;
    bool *req = calloc((size_t)n_values, sizeof *req);
    vkft_value *grad = malloc((size_t)n_values * sizeof *grad);
    int *first_use = malloc((size_t)n_values * sizeof *first_use);
    if (!req || !grad || !first_use) {
        free(req);
        free(grad);
        free(first_use);
        return vkft_fail(&g->err, VKFT_ERR_NO_MEMORY, "backward: out of memory");
    }
    for (int v = 0; v < n_values; v++) {
        grad[v] = VKFT_NONE;
        req[v] = g->values[v].role == VKFT_ROLE_TRAINABLE;
        first_use[v] = -1;
    }
    for (int i = n_nodes - 1; i >= 0; i--)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] != VKFT_NONE) first_use[g->nodes[i].in[j]] = i;
    for (int i = 0; i < n_nodes; i++) {
        const vkft_gnode *n = &g->nodes[i];
        bool any = false;
        for (int j = 0; j < n->n_in; j++) any |= n->in[j] != VKFT_NONE && req[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] != VKFT_NONE) req[n->out[j]] = any;
    }
    vkft_status st = VKFT_OK;
    if (!req[loss]) {
        st = vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                       "backward: the loss does not depend on any trainable parameter");
        goto out;
    }
    g->bwd_begin = g->n_nodes;  /* the backward's node range, for recompute.c */
    g->bwd_end = -1;
    g->bwd_phase = g->phase;
    g->n_backward++;
    grad[loss] = seed != VKFT_NONE ? seed : vkft_graph_fill(g, VKFT_F32, 1, (int64_t[]){1}, 1.0f);
    if (grad[loss] == VKFT_NONE) {
        st = VKFT_ERR_NO_MEMORY;
        goto out;
    }
    int last = g->values[loss].producer;
    for (int i = last; i >= 0 && !st; i--) {
        vkft_gnode node = g->nodes[i];  /* a copy: rules append nodes, which may move the array */
        vkft_value dout[VKFT_OP_MAX_OUT];
        bool any = false, need[VKFT_OP_MAX_IN];
        for (int j = 0; j < node.n_out; j++) {
            dout[j] = node.out[j] != VKFT_NONE ? grad[node.out[j]] : VKFT_NONE;
            any |= dout[j] != VKFT_NONE;
        }
        bool any_need = false;
        for (int j = 0; j < node.n_in; j++) {
            need[j] = node.in[j] != VKFT_NONE && req[node.in[j]];
            any_need |= need[j];
        }
        if (!any || !any_need) goto complete;
        const vkft_op_def *def = vkft_op_def_get(node.op);
        if (!def->backward) {
            st = vkft_fail(&g->err, VKFT_ERR_UNSUPPORTED,
                           "backward: a gradient must flow through %s, which has none",
                           def->name);
            break;
        }
        vkft_value din[VKFT_OP_MAX_IN];
        for (int j = 0; j < node.n_in; j++) din[j] = VKFT_NONE;
        g->err.msg[0] = 0;
        st = def->backward(g, &node, dout, need, din);
        for (int j = 0; j < node.n_in && !st; j++) {
            if (!need[j]) continue;
            if (din[j] == VKFT_NONE) {
                st = vkft_fail(&g->err, g->err.msg[0] ? VKFT_ERR_SHAPE : VKFT_ERR_UNSUPPORTED,
                               "backward through %s, input %d: %s", def->name, j,
                               g->err.msg[0] ? g->err.msg : "no gradient rule for it");
                break;
            }
            vkft_value v = node.in[j];
            if (grad[v] == VKFT_NONE) {
                grad[v] = din[j];
            } else {
                vkft_value sum[2] = {grad[v], din[j]};
                grad[v] = vkft_graph_op1(g, VKFT_OP_ADD, NULL, sum, 2);
                if (grad[v] == VKFT_NONE) st = VKFT_ERR_NO_MEMORY;
            }
        }
    complete:  /* trainables first read here have their whole gradient now */
        for (int j = 0; j < node.n_in && !st; j++) {
            vkft_value v = node.in[j];
            if (v == VKFT_NONE || first_use[v] != i ||
                g->values[v].role != VKFT_ROLE_TRAINABLE || grad[v] == VKFT_NONE)
                continue;
            st = accumulate(g, v, grad[v]);
            grad[v] = VKFT_NONE;  /* done (the same input twice in one node adds once) */
        }
    }
    g->bwd_end = g->n_nodes;
out:
    free(req);
    free(grad);
    free(first_use);
    return st;
}

vkft_value vkft_graph_grad(const vkft_graph *g, vkft_value t) {
    if (!g || t < 0 || t >= g->n_values) return VKFT_NONE;
    return g->values[t].grad;
}
