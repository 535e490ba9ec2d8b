/*
 * The optimizer phase: global gradient norm, clipping folded into AdamW's hyper vector, AdamW
 * on every trainable that has a gradient, then the accumulated gradients are zeroed for the
 * next step. Trainables are visited in value order, so the norm's sum has a fixed order.
 */
#include <stdio.h>

#include "graph/graph.h"

int vkft_graph_optimizer(vkft_graph *g, const vkft_optimizer_options *o) {
    if (!g || !o) return -1;
    if (vkft_graph_find(g, "hyper") != VKFT_NONE) {
        vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "optimizer: the graph already has one");
        return -1;
    }
    int phase = vkft_graph_begin_phase(g);
    if (phase < 0) return -1;
    vkft_value hyper = vkft_graph_leaf(g, "hyper", VKFT_ROLE_INPUT, VKFT_F32, 1, (int64_t[]){2});
    if (hyper == VKFT_NONE) return -1;
    int n_values = g->n_values;
    vkft_value sumsq = VKFT_NONE;
    for (int v = 0; v < n_values; v++) {
        vkft_value gr = g->values[v].grad;
        if (g->values[v].role != VKFT_ROLE_TRAINABLE || gr == VKFT_NONE) continue;
        vkft_value ss = vkft_graph_op1(g, VKFT_OP_SUM_SQUARES, NULL, &gr, 1);
        if (ss == VKFT_NONE) return -1;
        if (sumsq == VKFT_NONE) {
            sumsq = ss;
        } else {
            vkft_value two[2] = {sumsq, ss};
            if ((sumsq = vkft_graph_op1(g, VKFT_OP_ADD, NULL, two, 2)) == VKFT_NONE) return -1;
        }
    }
    if (sumsq == VKFT_NONE) {
        vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                  "optimizer: no trainable has a gradient (call vkft_graph_backward first)");
        return -1;
    }
    vkft_grad_clip_params cp = {.max_norm = o->clip};
    vkft_value clip_in[2] = {sumsq, hyper};
    vkft_value hyper4 = vkft_graph_op1(g, VKFT_OP_GRAD_CLIP, &cp, clip_in, 2);
    if (hyper4 == VKFT_NONE || vkft_graph_keep(g, hyper4, "step_stats")) return -1;
    vkft_adamw_params ap = {.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps,
                            .weight_decay = o->weight_decay};
    for (int v = 0; v < n_values; v++) {
        vkft_gvalue *t = &g->values[v];
        if (t->role != VKFT_ROLE_TRAINABLE || t->grad == VKFT_NONE) continue;
        char name[512];
        snprintf(name, sizeof name, "adam_m:%s", t->name);
        vkft_value m = vkft_graph_leaf(g, name, VKFT_ROLE_STATE, VKFT_F32, t->desc.ndim,
                                       t->desc.shape);
        snprintf(name, sizeof name, "adam_v:%s", g->values[v].name);
        vkft_value s = vkft_graph_leaf(g, name, VKFT_ROLE_STATE, VKFT_F32,
                                       g->values[v].desc.ndim, g->values[v].desc.shape);
        if (m == VKFT_NONE || s == VKFT_NONE) return -1;
        vkft_value in[5] = {v, g->values[v].grad, m, s, hyper4}, out[3] = {0, 0, 0};
        ap.weight_decay = o->decays && !o->decays(g->values[v].name, o->decays_user)
                              ? 0.0f
                              : o->weight_decay;
        if (vkft_graph_op(g, VKFT_OP_ADAMW, &ap, in, 5, out, 3) ||
            vkft_graph_assign(g, v, out[0]) ||
            vkft_graph_assign(g, m, out[1]) || vkft_graph_assign(g, s, out[2]))
            return -1;
    }
    for (int v = 0; v < n_values; v++) {
        vkft_gvalue *t = &g->values[v];
        if (t->role != VKFT_ROLE_TRAINABLE || t->grad == VKFT_NONE) continue;
        const vkft_desc *d = &g->values[t->grad].desc;
        vkft_value z = vkft_graph_fill(g, VKFT_F32, d->ndim, d->shape, 0.0f);
        if (z == VKFT_NONE || vkft_graph_assign(g, g->values[v].grad, z)) return -1;
    }
    return phase;
}
