/* Building graphs: leaves, op nodes (checked by the op's infer), names, phases. */
#include "graph/graph.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static_assert(VKFT_OP_MAX_IN <= 16 && VKFT_OP_MAX_OUT <= 8, "node arrays are small");

vkft_status vkft_graph_create(vkft_graph **out) {
    if (!out) return VKFT_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out) return VKFT_ERR_NO_MEMORY;
    (*out)->n_phases = 1;
    (*out)->bwd_begin = (*out)->bwd_end = -1;
    return VKFT_OK;
}

void vkft_graph_destroy(vkft_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) free(g->values[i].name);
    free(g->values);
    free(g->nodes);
    free(g);
}

const char *vkft_graph_error(const vkft_graph *g) { return g ? g->err.msg : ""; }

static bool grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int n = *cap ? *cap * 2 : 64;
    while (n < need) n *= 2;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return false;
    *arr = p;
    *cap = n;
    return true;
}

bool vkft_graph_grow_nodes(vkft_graph *g, int need) {
    return grow((void **)&g->nodes, &g->cap_nodes, need, sizeof *g->nodes);
}

vkft_value vkft_graph_find(const vkft_graph *g, const char *name) {
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].name && !strcmp(g->values[i].name, name)) return i;
    return VKFT_NONE;
}

vkft_value vkft_graph_add_value(vkft_graph *g, const vkft_desc *desc, vkft_role role,
                                const char *name) {
    if (!grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values)) {
        vkft_fail(&g->err, VKFT_ERR_NO_MEMORY, "graph: out of memory");
        return VKFT_NONE;
    }
    vkft_gvalue *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->desc = *desc;
    v->role = role;
    v->producer = -1;
    v->phase = -1;
    v->store = VKFT_NONE;
    v->grad = VKFT_NONE;
    if (name && !(v->name = strdup(name))) {
        vkft_fail(&g->err, VKFT_ERR_NO_MEMORY, "graph: out of memory");
        return VKFT_NONE;
    }
    return g->n_values++;
}

vkft_value vkft_graph_leaf(vkft_graph *g, const char *name, vkft_role role, vkft_dtype dtype,
                           int ndim, const int64_t *shape) {
    if (!g) return VKFT_NONE;
    if (!name || !*name || !shape) {
        vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_leaf: a leaf needs a name and a shape");
        return VKFT_NONE;
    }
    if ((unsigned)role >= VKFT_ROLE_COUNT || role == VKFT_ROLE_ACTIVATION) {
        vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_leaf %s: role %d is not a leaf role",
                  name, (int)role);
        return VKFT_NONE;
    }
    vkft_desc d = {.dtype = dtype, .ndim = ndim};
    if (ndim >= 1 && ndim <= VKFT_MAX_DIMS) memcpy(d.shape, shape, sizeof(int64_t) * (size_t)ndim);
    vkft_err e;
    if (vkft_desc_check(&d, &e)) {
        vkft_fail(&g->err, VKFT_ERR_SHAPE, "graph_leaf %s: %s", name, e.msg);
        return VKFT_NONE;
    }
    if (role == VKFT_ROLE_TRAINABLE && dtype != VKFT_F32) {
        vkft_fail(&g->err, VKFT_ERR_DTYPE,
                  "graph_leaf %s: trainable parameters are f32 (master weights), not %s", name,
                  vkft_dtype_name(dtype));
        return VKFT_NONE;
    }
    if (vkft_graph_find(g, name) != VKFT_NONE) {
        vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_leaf: the name %s is taken", name);
        return VKFT_NONE;
    }
    return vkft_graph_add_value(g, &d, role, name);
}

static bool valid(const vkft_graph *g, vkft_value v) { return v >= 0 && v < g->n_values; }

vkft_status vkft_graph_op(vkft_graph *g, vkft_op op, const void *params, const vkft_value *in,
                          int n_in, vkft_value *out, int n_out) {
    if (!g) return VKFT_ERR_INVALID_ARG;
    const vkft_op_def *def = vkft_op_def_get(op);
    if (!def) return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_op: unknown op %d", op);
    if (n_in != def->n_in || n_out != def->n_out || (n_in && !in) || !out)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                         "graph_op %s: takes %d inputs and %d outputs, not %d/%d", def->name,
                         def->n_in, def->n_out, n_in, n_out);
    if (def->params_size > VKFT_PARAMS_MAX)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_op %s: params too big",
                         def->name);
    if (def->params_size && !params)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_op %s: params are required",
                         def->name);
    const vkft_desc *ind[VKFT_OP_MAX_IN];
    for (int i = 0; i < n_in; i++) {
        if (in[i] == VKFT_NONE) {
            ind[i] = NULL;
            continue;
        }
        if (!valid(g, in[i]))
            return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_op %s: input %d is not a "
                             "value of this graph", def->name, i);
        ind[i] = &g->values[in[i]].desc;
    }
    vkft_desc outd[VKFT_OP_MAX_OUT];
    memset(outd, 0, sizeof outd);
    for (int i = 0; i < n_out; i++) {
        bool optional = def->optional_out >> i & 1;
        /* optional outputs are wanted when the caller passes a non-NONE placeholder */
        if (optional && out[i] == VKFT_NONE) continue;
        outd[i].ndim = 1;
    }
    char msg[VKFT_ERR_MSG_LEN];
    vkft_status st = vkft_op_infer(op, params, ind, n_in, outd, n_out, msg, sizeof msg);
    if (st) return vkft_fail(&g->err, st, "%s", msg);
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
        return vkft_fail(&g->err, VKFT_ERR_NO_MEMORY, "graph: out of memory");
    vkft_gnode node = {.op = op, .phase = g->phase, .origin = g->n_nodes, .n_in = n_in,
                       .n_out = n_out};
    for (int i = 0; i < n_in; i++) node.in[i] = in[i];
    if (def->params_size) memcpy(node.params, params, def->params_size);
    for (int i = 0; i < n_out; i++) {
        bool optional = def->optional_out >> i & 1;
        if (optional && out[i] == VKFT_NONE) {
            node.out[i] = VKFT_NONE;
            continue;
        }
        vkft_value v = vkft_graph_add_value(g, &outd[i], VKFT_ROLE_ACTIVATION, NULL);
        if (v == VKFT_NONE) return VKFT_ERR_NO_MEMORY;
        g->values[v].producer = g->n_nodes;
        g->values[v].phase = g->phase;
        node.out[i] = v;
    }
    g->nodes[g->n_nodes++] = node;
    for (int i = 0; i < n_out; i++) out[i] = node.out[i];
    return VKFT_OK;
}

vkft_value vkft_graph_op1(vkft_graph *g, vkft_op op, const void *params, const vkft_value *in,
                          int n_in) {
    vkft_value out[VKFT_OP_MAX_OUT];
    const vkft_op_def *def = vkft_op_def_get(op);
    if (!g || !def) return VKFT_NONE;
    out[0] = 0;
    for (int i = 1; i < def->n_out; i++) out[i] = VKFT_NONE;
    if (vkft_graph_op(g, op, params, in, n_in, out, def->n_out)) return VKFT_NONE;
    return out[0];
}

vkft_value vkft_graph_fill(vkft_graph *g, vkft_dtype dtype, int ndim, const int64_t *shape,
                           float value) {
    if (!g || !shape || ndim < 1 || ndim > VKFT_MAX_DIMS) return VKFT_NONE;
    vkft_desc d = {.dtype = dtype, .ndim = ndim};
    memcpy(d.shape, shape, sizeof(int64_t) * (size_t)ndim);
    vkft_err e;
    if (vkft_desc_check(&d, &e) || (dtype != VKFT_F32 && dtype != VKFT_I32)) {
        vkft_fail(&g->err, VKFT_ERR_SHAPE, "graph_fill: bad desc");
        return VKFT_NONE;
    }
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) {
        vkft_fail(&g->err, VKFT_ERR_NO_MEMORY, "graph: out of memory");
        return VKFT_NONE;
    }
    vkft_value v = vkft_graph_add_value(g, &d, VKFT_ROLE_ACTIVATION, NULL);
    if (v == VKFT_NONE) return VKFT_NONE;
    vkft_gnode node = {.op = VKFT_OP_FILL, .phase = g->phase, .origin = g->n_nodes, .n_in = 0,
                       .n_out = 1};
    vkft_fill_params fp = {.value = value};
    memcpy(node.params, &fp, sizeof fp);
    node.out[0] = v;
    g->values[v].producer = g->n_nodes;
    g->values[v].phase = g->phase;
    g->nodes[g->n_nodes++] = node;
    return v;
}

vkft_status vkft_graph_assign(vkft_graph *g, vkft_value leaf, vkft_value v) {
    if (!g) return VKFT_ERR_INVALID_ARG;
    if (!valid(g, leaf) || !valid(g, v))
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_assign: not values of this graph");
    vkft_gvalue *L = &g->values[leaf], *V = &g->values[v];
    if (L->role != VKFT_ROLE_STATE && L->role != VKFT_ROLE_TRAINABLE)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                         "graph_assign: %s is not a state or trainable leaf",
                         L->name ? L->name : "(unnamed)");
    if (V->producer < 0 || V->phase != g->phase || V->store != VKFT_NONE)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                         "graph_assign: the value must be a new output of the current phase");
    if (!vkft_desc_equal(&L->desc, &V->desc)) {
        char a[96], b[96];
        return vkft_fail(&g->err, VKFT_ERR_SHAPE, "graph_assign %s: %s vs %s", L->name,
                         vkft_desc_str(&L->desc, a, sizeof a),
                         vkft_desc_str(&V->desc, b, sizeof b));
    }
    /* The producing node may read the leaf only through an input its output may alias. */
    const vkft_gnode *n = &g->nodes[V->producer];
    const vkft_op_def *def = vkft_op_def_get(n->op);
    int out_i = 0;
    while (n->out[out_i] != v) out_i++;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] == leaf && def->out_alias[out_i] != i)
            return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG,
                             "graph_assign %s: %s reads it through input %d, which its output "
                             "cannot overwrite", L->name, def->name, i);
    V->store = leaf;
    return VKFT_OK;
}

vkft_status vkft_graph_keep(vkft_graph *g, vkft_value v, const char *name) {
    if (!g) return VKFT_ERR_INVALID_ARG;
    if (!valid(g, v) || !name || !*name)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_keep: bad value or name");
    vkft_value other = vkft_graph_find(g, name);
    if (other != VKFT_NONE && other != v)
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_keep: the name %s is taken", name);
    vkft_gvalue *V = &g->values[v];
    if (V->role == VKFT_ROLE_ACTIVATION) {
        char *copy = strdup(name);
        if (!copy) return vkft_fail(&g->err, VKFT_ERR_NO_MEMORY, "graph: out of memory");
        free(V->name);
        V->name = copy;
        V->kept = true;
    }
    return VKFT_OK;
}

vkft_status vkft_graph_checkpoint(vkft_graph *g, vkft_value v) {
    if (!g) return VKFT_ERR_INVALID_ARG;
    if (!valid(g, v))
        return vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph_checkpoint: not a value of this "
                         "graph");
    vkft_gvalue *V = &g->values[v];
    if (V->producer < 0 || V->checkpoint) return VKFT_OK;  /* leaves are always kept */
    V->checkpoint = true;
    g->n_checkpoints++;
    return VKFT_OK;
}

const vkft_desc *vkft_graph_value_desc(const vkft_graph *g, vkft_value v) {
    return g && valid(g, v) ? &g->values[v].desc : NULL;
}
vkft_role vkft_graph_value_role(const vkft_graph *g, vkft_value v) {
    return g && valid(g, v) ? g->values[v].role : VKFT_ROLE_COUNT;
}
const char *vkft_graph_value_name(const vkft_graph *g, vkft_value v) {
    return g && valid(g, v) ? g->values[v].name : NULL;
}
int vkft_graph_value_count(const vkft_graph *g) { return g ? g->n_values : 0; }
int vkft_graph_node_count(const vkft_graph *g) { return g ? g->n_nodes : 0; }

int vkft_graph_begin_phase(vkft_graph *g) {
    if (!g) return -1;
    if (g->n_phases == VKFT_MAX_PHASES) {
        vkft_fail(&g->err, VKFT_ERR_INVALID_ARG, "graph: at most %d phases", VKFT_MAX_PHASES);
        return -1;
    }
    g->phase = g->n_phases++;
    return g->phase;
}
