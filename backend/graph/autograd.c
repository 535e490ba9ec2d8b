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
 * Sums fold into matmuls: when the gradient to add was just made by a MATMUL without C0 that
 * nothing reads yet, that matmul takes the other term as C0 (C = C0 + alpha op(A) op(B)) and no
 * ADD node is emitted. Linear layers' input and weight gradients are such matmuls, so a
 * micro-batch's weight gradient lands in its accumulator in the matmul's own pass (the output
 * aliases C0), and a layer input read by several projections sums its gradients in place.
 */
#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"

/* v is base or a reshape (COPY, which the planner may alias) of it. */
static bool views(const vkft_graph *g, vkft_value v, vkft_value base) {
    while (v != base && v != VKFT_NONE && g->values[v].producer >= 0 &&
           g->nodes[g->values[v].producer].op == VKFT_OP_COPY)
        v = g->nodes[g->values[v].producer].in[0];
    return v == base;
}

/*
 * Makes dv = base + dv by giving dv's producer base as C0, when that is a MATMUL without C0 whose
 * output nothing reads yet, no other gradient slot holds (pending[w] == dv for w != self: rules
 * such as ADD's hand one value to several inputs) and base exists before it. Returns false
 * (nothing changed) otherwise.
 * The sum is the same as ADD's except for rounding where a kernel splits K (it adds the chunks
 * to C0 one by one): still deterministic.
 */
static bool fold_into_matmul(vkft_graph *g, vkft_value base, vkft_value dv,
                             const vkft_value *pending, int n_pending, vkft_value self) {
    int p = g->values[dv].producer, bp = g->values[base].producer;
    if (p < 0 || bp >= p) return false;
    for (int w = 0; w < n_pending; w++)
        if (pending[w] == dv && w != self) return false;
    vkft_gnode *n = &g->nodes[p];
    /* base as A or B too would let the output (which may alias C0) overwrite what it reads */
    if (n->op != VKFT_OP_MATMUL || n->in[2] != VKFT_NONE || n->out[0] != dv ||
        views(g, n->in[0], base) || views(g, n->in[1], base) ||
        n->phase != g->phase || !vkft_desc_equal(&g->values[base].desc, &g->values[dv].desc))
        return false;
    for (int i = p + 1; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].in[j] == dv) return false;
    n->in[2] = base;
    return true;
}

/* din[j] is also a later input's gradient (not yet in a slot). */
static bool din_repeats(const vkft_value *din, int n_in, int j) {
    for (int k = j + 1; k < n_in; k++)
        if (din[k] == din[j]) return true;
    return false;
}

/* grad:<name> += dv for trainable v (creating the accumulator on first use). */
static vkft_status accumulate(vkft_graph *g, vkft_value v, vkft_value dv,
                              const vkft_value *pending, int n_pending) {
    vkft_value acc = g->values[v].grad;
    if (acc == VKFT_NONE) {
        char name[512];
        snprintf(name, sizeof name, "grad:%s", g->values[v].name);
        acc = vkft_graph_leaf(g, name, VKFT_ROLE_STATE, VKFT_F32, g->values[v].desc.ndim,
                              g->values[v].desc.shape);
        if (acc == VKFT_NONE) return VKFT_ERR_INVALID_ARG;
        g->values[v].grad = acc;
    }
    if (fold_into_matmul(g, acc, dv, pending, n_pending, v)) return vkft_graph_assign(g, acc, dv);
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
            } else if (!din_repeats(din, node.n_in, j) &&
                       fold_into_matmul(g, grad[v], din[j], grad, n_values, v)) {
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
            st = accumulate(g, v, grad[v], grad, n_values);
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
