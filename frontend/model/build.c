/*
 * Building a model graph: the entry point (inputs, decoder, head, loss), the parameter and
 * site bookkeeping, and the small op helpers the architectures share. The decoder layers of
 * each architecture are in build_llama.c and build_gpt2.c; attention and the KV cache in
 * build_attention.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/build_internal.h"

void mb_fail(mbuild *b, vkft_status st, const char *fmt, ...) {
    if (b->st) return;
    b->st = st;
    if (!b->err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err->msg, sizeof b->err->msg, fmt, ap);
    va_end(ap);
}

void mb_hook_fail(mbuild *b, vkft_status st, const char *hook, const char *where) {
    if (b->st) return;
    b->st = st;
    vkft_err_prefix(b->err, st, "model build: %s at %s", hook, where);
}

vkft_value mb_graph_fail(mbuild *b, const char *what) {
    mb_fail(b, VKFT_ERR_INVALID_ARG, "model build: %s: %s", what, vkft_graph_error(b->g));
    return VKFT_NONE;
}

static vkft_model_param *new_param(mbuild *b) {
    vkft_model_built *m = b->out;
    if (m->n_params == b->cap_params) {
        int cap = b->cap_params ? 2 * b->cap_params : 64;
        vkft_model_param *p = realloc(m->params, (size_t)cap * sizeof *p);
        if (!p) {
            mb_fail(b, VKFT_ERR_NO_MEMORY, "model build: out of memory");
            return NULL;
        }
        m->params = p;
        b->cap_params = cap;
    }
    vkft_model_param *p = &m->params[m->n_params];
    memset(p, 0, sizeof *p);
    return p;
}

static vkft_value add_param(mbuild *b, vkft_model_param *p) {
    p->value = vkft_graph_leaf(b->g, p->name, p->role, p->dtype, p->ndim, p->shape);
    if (p->value == VKFT_NONE) return mb_graph_fail(b, p->name);
    b->out->n_params++;
    return p->value;
}

vkft_value mb_param(mbuild *b, vkft_model_param_kind kind, int layer, int ndim,
                    const int64_t *shape, const char *fmt, ...) {
    if (b->st) return VKFT_NONE;
    vkft_model_param *p = new_param(b);
    if (!p) return VKFT_NONE;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof p->name) {
        mb_fail(b, VKFT_ERR_INVALID_ARG, "model build: parameter name too long: %s", p->name);
        return VKFT_NONE;
    }
    p->kind = kind;
    p->layer = layer;
    p->ndim = ndim;
    memcpy(p->shape, shape, sizeof(int64_t) * (size_t)ndim);
    p->role = b->h && b->h->param_role ? b->h->param_role(b->h->user, p->name, kind)
                                       : VKFT_ROLE_WEIGHT;
    if (p->role != VKFT_ROLE_WEIGHT && p->role != VKFT_ROLE_TRAINABLE) {
        mb_fail(b, VKFT_ERR_INVALID_ARG, "model build: param_role gave %s role %d (expected "
                "weight or trainable)", p->name, (int)p->role);
        return VKFT_NONE;
    }
    bool big = kind == VKFT_PARAM_LINEAR_WEIGHT || kind == VKFT_PARAM_EMBEDDING ||
               kind == VKFT_PARAM_POSITION_EMBEDDING;
    p->dtype = p->role == VKFT_ROLE_WEIGHT && big ? b->o->frozen_dtype : VKFT_F32;
    return add_param(b, p);
}

vkft_value mb_buffer(mbuild *b, const char *name, vkft_dtype dtype, int ndim,
                     const int64_t *shape) {
    if (b->st) return VKFT_NONE;
    vkft_model_param *p = new_param(b);
    if (!p) return VKFT_NONE;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = VKFT_PARAM_BUFFER;
    p->role = VKFT_ROLE_WEIGHT;
    p->dtype = dtype;
    p->layer = -1;
    p->ndim = ndim;
    memcpy(p->shape, shape, sizeof(int64_t) * (size_t)ndim);
    return add_param(b, p);
}

vkft_value mb_op(mbuild *b, vkft_op op, const void *params, const vkft_value *in, int n_in) {
    if (b->st) return VKFT_NONE;
    vkft_value v = vkft_graph_op1(b->g, op, params, in, n_in);
    return v == VKFT_NONE ? mb_graph_fail(b, vkft_op_name(op)) : v;
}

vkft_value mb_reshape(mbuild *b, vkft_value x, int ndim, const int64_t *shape) {
    vkft_shape_params p = {.ndim = ndim};
    memcpy(p.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return mb_op(b, VKFT_OP_COPY, &p, &x, 1);
}

vkft_value mb_add(mbuild *b, vkft_value x, vkft_value y) {
    return mb_op(b, VKFT_OP_ADD, NULL, (vkft_value[]){x, y}, 2);
}

vkft_value mb_slice(mbuild *b, vkft_value x, int axis, int64_t start, int64_t len) {
    vkft_slice_params p = {.axis = axis, .start = start, .len = len};
    return mb_op(b, VKFT_OP_SLICE, &p, &x, 1);
}

vkft_value mb_embedding(mbuild *b, vkft_value ids, vkft_value table) {
    return mb_op(b, VKFT_OP_EMBEDDING, NULL, (vkft_value[]){ids, table}, 2);
}

/* Runs an op whose first output is wanted and whose other outputs are required. */
static vkft_value op_first(mbuild *b, vkft_op op, const void *params, const vkft_value *in,
                           int n_in, int n_out) {
    if (b->st) return VKFT_NONE;
    vkft_value out[4] = {0, 0, 0, 0};
    if (vkft_graph_op(b->g, op, params, in, n_in, out, n_out))
        return mb_graph_fail(b, vkft_op_name(op));
    return out[0];
}

vkft_value mb_rmsnorm(mbuild *b, vkft_value x, vkft_value w) {
    vkft_norm_params p = {.eps = (float)b->cfg->norm_eps};
    return op_first(b, VKFT_OP_RMSNORM, &p, (vkft_value[]){x, w}, 2, 2);
}

vkft_value mb_layernorm(mbuild *b, vkft_value x, vkft_value w, vkft_value bias) {
    vkft_norm_params p = {.eps = (float)b->cfg->norm_eps};
    return op_first(b, VKFT_OP_LAYERNORM, &p, (vkft_value[]){x, w, bias}, 3, 3);
}

static vkft_model_site *new_site(mbuild *b) {
    vkft_model_built *m = b->out;
    if (m->n_sites == b->cap_sites) {
        int cap = b->cap_sites ? 2 * b->cap_sites : 32;
        vkft_model_site *s = realloc(m->sites, (size_t)cap * sizeof *s);
        if (!s) {
            mb_fail(b, VKFT_ERR_NO_MEMORY, "model build: out of memory");
            return NULL;
        }
        m->sites = s;
        b->cap_sites = cap;
    }
    vkft_model_site *s = &m->sites[m->n_sites];
    memset(s, 0, sizeof *s);
    return s;
}

vkft_value mb_linear(mbuild *b, vkft_value x, const char *path, const char *name, int layer,
                     int64_t in, int64_t out, bool bias, bool conv1d, vkft_value tied) {
    if (b->st) return VKFT_NONE;
    vkft_model_site *sp = new_site(b);
    if (!sp) return VKFT_NONE;
    vkft_model_site s = {.name = name, .layer = layer, .in = in, .out = out, .conv1d = conv1d,
                         .has_bias = bias, .weight = VKFT_NONE, .bias = VKFT_NONE};
    snprintf(s.path, sizeof s.path, "%s", path);
    const vkft_model_hooks *h = b->h;
    vkft_value y = VKFT_NONE, xw = x;   /* xw: what the weight multiplies */
    if (h && h->linear_input) {
        vkft_status st = h->linear_input(h->user, b->g, &s, &xw, b->err);
        if (st) {
            mb_hook_fail(b, st, "linear_input hook", s.path);
            return VKFT_NONE;
        }
    }
    if (h && h->linear_replace) {
        vkft_status st = h->linear_replace(h->user, b->g, &s, xw, &y, b->err);
        if (st) {
            mb_hook_fail(b, st, "linear_replace hook", s.path);
            return VKFT_NONE;
        }
    }
    if (y == VKFT_NONE) {
        if (tied != VKFT_NONE) {
            s.weight = tied;
        } else {
            int64_t shape[2] = {conv1d ? in : out, conv1d ? out : in};
            s.weight = mb_param(b, VKFT_PARAM_LINEAR_WEIGHT, layer, 2, shape, "%s.weight", path);
        }
        vkft_matmul_params mp = {.trans_b = !conv1d, .alpha = 1.0f};
        y = mb_op(b, VKFT_OP_MATMUL, &mp, (vkft_value[]){xw, s.weight, VKFT_NONE}, 3);
    }
    if (bias) {
        s.bias = mb_param(b, VKFT_PARAM_LINEAR_BIAS, layer, 1, &out, "%s.bias", path);
        y = mb_add(b, y, s.bias);
    }
    if (b->st) return VKFT_NONE;
    if (h && h->linear) {
        vkft_status st = h->linear(h->user, b->g, &s, x, &y, b->err);
        if (st) {
            mb_hook_fail(b, st, "linear hook", s.path);
            return VKFT_NONE;
        }
    }
    *sp = s;
    b->out->n_sites++;
    return y;
}

vkft_value mb_block_residual(mbuild *b, int layer, vkft_model_block block, vkft_value x,
                             vkft_value h) {
    if (!b->st && b->h && b->h->block_output) {
        vkft_status st = b->h->block_output(b->h->user, b->g, layer, block, x, &h, b->err);
        if (st) {
            char where[48];
            snprintf(where, sizeof where, "layer %d %s", layer, block ? "mlp" : "attention");
            mb_hook_fail(b, st, "block_output hook", where);
        }
    }
    return mb_add(b, x, h);
}

vkft_value mb_embed_tokens(mbuild *b, vkft_value tokens, vkft_value table) {
    vkft_value e = mb_embedding(b, tokens, table);          /* [B, seq, H] */
    int64_t P = b->out->prefix_tokens;
    if (!P || b->st) return e;
    /* [P, H] -> [B, P, H] by adding to zeros (broadcast), then prepend along the positions */
    int64_t shape[3] = {b->B, P, b->cfg->hidden};
    vkft_value z = vkft_graph_fill(b->g, VKFT_F32, 3, shape, 0.0f);
    if (z == VKFT_NONE) return mb_graph_fail(b, "fill");
    vkft_value pre = mb_add(b, z, b->input_prefix);
    vkft_concat_params cp = {.axis = 1};
    return mb_op(b, VKFT_OP_CONCAT, &cp, (vkft_value[]){pre, e}, 2);
}
