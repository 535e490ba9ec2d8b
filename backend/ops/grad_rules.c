/*
 * Backward rules: for each differentiable op, the nodes that turn the gradients of its outputs
 * into the gradients of its inputs. Each rule emits only what `need` asks for. Outputs that are
 * saved statistics (rstd, mean, lse, count) never carry a gradient: a rule fails if one does.
 * Shapes in comments follow vkft/ops.h.
 */
#include "ops/grad_rules.h"

#include <string.h>

#include "graph/graph.h"

#define V(i) (n->in[i])
#define DESC(v) (&g->values[(v)].desc)

static vkft_status no_grad_on(vkft_graph *g, const vkft_gnode *n, const int32_t *dout, int i) {
    if (dout[i] == VKFT_NONE) return VKFT_OK;
    return vkft_fail(&g->err, VKFT_ERR_UNSUPPORTED,
                     "autograd: output %d of %s (a saved statistic) cannot carry a gradient", i,
                     vkft_op_name(n->op));
}

static vkft_value op1(vkft_graph *g, vkft_op op, const void *params, vkft_value a, vkft_value b,
                      vkft_value c) {
    vkft_value in[3] = {a, b, c};
    return vkft_graph_op1(g, op, params, in, vkft_op_def_get(op)->n_in);
}

static vkft_value scale(vkft_graph *g, vkft_value x, float alpha) {
    vkft_scale_params p = {.alpha = alpha, .beta = 0.0f};
    return op1(g, VKFT_OP_SCALE, &p, x, VKFT_NONE, VKFT_NONE);
}

static vkft_value reshape(vkft_graph *g, vkft_value x, const vkft_desc *to) {
    if (vkft_desc_equal(DESC(x), to)) return x;
    vkft_shape_params p = {.ndim = to->ndim};
    memcpy(p.shape, to->shape, sizeof p.shape);
    return op1(g, VKFT_OP_COPY, &p, x, VKFT_NONE, VKFT_NONE);
}

/* The adjoint of broadcasting dy (at output shape) to the shape of v. */
static vkft_value unbroadcast(vkft_graph *g, vkft_value dy, vkft_value v) {
    const vkft_desc *t = DESC(v);
    if (vkft_desc_equal(DESC(dy), t)) return dy;
    vkft_shape_params p = {.ndim = t->ndim};
    memcpy(p.shape, t->shape, sizeof p.shape);
    return op1(g, VKFT_OP_SUM_TO, &p, dy, VKFT_NONE, VKFT_NONE);
}

VKFT_GRAD_RULE(copy) {
    if (need[0]) din[0] = reshape(g, dout[0], DESC(V(0)));
    return VKFT_OK;
}

VKFT_GRAD_RULE(cast) {
    if (!need[0]) return VKFT_OK;
    vkft_cast_params p = {.dtype = DESC(V(0))->dtype};
    din[0] = p.dtype == DESC(dout[0])->dtype ? dout[0]
                                              : op1(g, VKFT_OP_CAST, &p, dout[0], -1, -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(scale) {
    const vkft_scale_params *p = (const void *)n->params;
    if (need[0]) din[0] = scale(g, dout[0], p->alpha);
    return VKFT_OK;
}

VKFT_GRAD_RULE(add) {
    if (need[0]) din[0] = unbroadcast(g, dout[0], V(0));
    if (need[1]) din[1] = unbroadcast(g, dout[0], V(1));
    return VKFT_OK;
}

VKFT_GRAD_RULE(sub) {
    if (need[0]) din[0] = unbroadcast(g, dout[0], V(0));
    if (need[1]) din[1] = unbroadcast(g, scale(g, dout[0], -1.0f), V(1));
    return VKFT_OK;
}

VKFT_GRAD_RULE(mul) {
    if (need[0]) din[0] = unbroadcast(g, op1(g, VKFT_OP_MUL, NULL, dout[0], V(1), -1), V(0));
    if (need[1]) din[1] = unbroadcast(g, op1(g, VKFT_OP_MUL, NULL, dout[0], V(0), -1), V(1));
    return VKFT_OK;
}

VKFT_GRAD_RULE(div) {
    /* y = a / b: da = dy / b, db = -dy * y / b */
    if (need[0]) din[0] = unbroadcast(g, op1(g, VKFT_OP_DIV, NULL, dout[0], V(1), -1), V(0));
    if (need[1]) {
        vkft_value t = op1(g, VKFT_OP_MUL, NULL, dout[0], n->out[0], -1);
        t = op1(g, VKFT_OP_DIV, NULL, t, V(1), -1);
        din[1] = unbroadcast(g, scale(g, t, -1.0f), V(1));
    }
    return VKFT_OK;
}

VKFT_GRAD_RULE(sum_to) {
    /* broadcast dy back up: 0 + dy */
    if (!need[0]) return VKFT_OK;
    const vkft_desc *d = DESC(V(0));
    vkft_value z = vkft_graph_fill(g, VKFT_F32, d->ndim, d->shape, 0.0f);
    din[0] = op1(g, VKFT_OP_ADD, NULL, z, dout[0], -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(transpose) {
    if (!need[0]) return VKFT_OK;
    const vkft_transpose_params *p = (const void *)n->params;
    vkft_transpose_params inv = {{0}};
    for (int i = 0; i < DESC(V(0))->ndim; i++) inv.perm[p->perm[i]] = i;
    din[0] = op1(g, VKFT_OP_TRANSPOSE, &inv, dout[0], -1, -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(slice) {
    if (!need[0]) return VKFT_OK;
    const vkft_slice_params *p = (const void *)n->params;
    vkft_pad_params pp = {.axis = p->axis, .before = p->start,
                          .after = DESC(V(0))->shape[p->axis] - p->start - p->len};
    din[0] = op1(g, VKFT_OP_PAD, &pp, dout[0], -1, -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(pad) {
    if (!need[0]) return VKFT_OK;
    const vkft_pad_params *p = (const void *)n->params;
    vkft_slice_params sp = {.axis = p->axis, .start = p->before,
                            .len = DESC(V(0))->shape[p->axis]};
    din[0] = op1(g, VKFT_OP_SLICE, &sp, dout[0], -1, -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(concat) {
    const vkft_concat_params *p = (const void *)n->params;
    int64_t la = DESC(V(0))->shape[p->axis], lb = DESC(V(1))->shape[p->axis];
    if (need[0]) {
        vkft_slice_params sp = {.axis = p->axis, .start = 0, .len = la};
        din[0] = op1(g, VKFT_OP_SLICE, &sp, dout[0], -1, -1);
    }
    if (need[1]) {
        vkft_slice_params sp = {.axis = p->axis, .start = la, .len = lb};
        din[1] = op1(g, VKFT_OP_SLICE, &sp, dout[0], -1, -1);
    }
    return VKFT_OK;
}

/* 2-D view of a batched [.., r, c] value: [prod(..)*r, c]. */
static vkft_value flat2(vkft_graph *g, vkft_value x) {
    const vkft_desc *d = DESC(x);
    vkft_desc t = {.dtype = d->dtype, .ndim = 2,
                   .shape = {vkft_desc_rows(d), d->shape[d->ndim - 1]}};
    return reshape(g, x, &t);
}

VKFT_GRAD_RULE(matmul) {
    /* C = alpha op(A) op(B) + C0; op(A) [M,K], op(B) [K,N] (see vkft/ops.h). */
    const vkft_matmul_params *p = (const void *)n->params;
    vkft_value A = V(0), B = V(1), dC = dout[0];
    bool b_shared = DESC(B)->ndim == 2 && DESC(A)->ndim > 2;
    if (need[2]) din[2] = dC;
    if (need[0]) {
        if (!p->trans_a) {
            /* dA [M,K] = alpha dC op(B)^T */
            vkft_matmul_params q = {.trans_a = false, .trans_b = !p->trans_b, .alpha = p->alpha};
            din[0] = op1(g, VKFT_OP_MATMUL, &q, dC, B, -1);
        } else {
            if (DESC(B)->dtype != VKFT_F32 || b_shared)
                return vkft_fail(&g->err, VKFT_ERR_UNSUPPORTED,
                                 "autograd: matmul with trans_a and a %s B has no gradient for A",
                                 b_shared ? "shared 2-D" : vkft_dtype_name(DESC(B)->dtype));
            /* A stored [K,M]: dA = alpha op(B) dC^T */
            vkft_matmul_params q = {.trans_a = p->trans_b, .trans_b = true, .alpha = p->alpha};
            din[0] = op1(g, VKFT_OP_MATMUL, &q, B, dC, -1);
        }
    }
    if (need[1]) {
        vkft_value a = A, dc = dC;
        if (b_shared && !p->trans_a) {  /* the linear layer: fold the batch into the rows */
            a = flat2(g, A);
            dc = flat2(g, dC);
        } else if (b_shared) {
            return vkft_fail(&g->err, VKFT_ERR_UNSUPPORTED,
                             "autograd: matmul with trans_a and a shared 2-D B has no gradient");
        }
        vkft_matmul_params q;
        if (!p->trans_b) {  /* B stored [K,N]: dB = alpha op(A)^T dC */
            q = (vkft_matmul_params){.trans_a = !p->trans_a, .trans_b = false, .alpha = p->alpha};
            din[1] = op1(g, VKFT_OP_MATMUL, &q, a, dc, -1);
        } else {            /* B stored [N,K]: dB = alpha dC^T op(A) */
            q = (vkft_matmul_params){.trans_a = true, .trans_b = p->trans_a, .alpha = p->alpha};
            din[1] = op1(g, VKFT_OP_MATMUL, &q, dc, a, -1);
        }
    }
    return VKFT_OK;
}

VKFT_GRAD_RULE(rmsnorm) {
    vkft_status st = no_grad_on(g, n, dout, 1);
    if (st || (!need[0] && !need[1])) return st;
    vkft_value in[4] = {dout[0], V(0), V(1), n->out[1]};
    vkft_value out[2] = {0, need[1] ? 0 : VKFT_NONE};  /* no dw for a frozen weight */
    st = vkft_graph_op(g, VKFT_OP_RMSNORM_BACKWARD, n->params, in, 4, out, 2);
    if (need[0]) din[0] = out[0];
    if (need[1]) din[1] = out[1];
    return st;
}

VKFT_GRAD_RULE(layernorm) {
    vkft_status st = no_grad_on(g, n, dout, 1);
    if (!st) st = no_grad_on(g, n, dout, 2);
    if (st || (!need[0] && !need[1] && !need[2])) return st;
    vkft_value in[5] = {dout[0], V(0), V(1), n->out[1], n->out[2]};
    /* dw and db come from one pass: dw is made when either is needed */
    vkft_value out[3] = {0, need[1] || need[2] ? 0 : VKFT_NONE,
                         V(2) != VKFT_NONE && need[2] ? 0 : VKFT_NONE};
    st = vkft_graph_op(g, VKFT_OP_LAYERNORM_BACKWARD, n->params, in, 5, out, 3);
    for (int i = 0; i < 3; i++)
        if (need[i]) din[i] = out[i];
    return st;
}

VKFT_GRAD_RULE(gelu) {
    if (need[0]) din[0] = op1(g, VKFT_OP_GELU_BACKWARD, NULL, dout[0], V(0), -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(gelu_erf) {
    if (need[0]) din[0] = op1(g, VKFT_OP_GELU_ERF_BACKWARD, NULL, dout[0], V(0), -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(silu) {
    if (need[0]) din[0] = op1(g, VKFT_OP_SILU_BACKWARD, NULL, dout[0], V(0), -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(swiglu) {
    if (!need[0] && !need[1]) return VKFT_OK;
    vkft_value in[3] = {dout[0], V(0), V(1)}, out[2] = {0, 0};
    vkft_status st = vkft_graph_op(g, VKFT_OP_SWIGLU_BACKWARD, NULL, in, 3, out, 2);
    if (need[0]) din[0] = out[0];
    if (need[1]) din[1] = out[1];
    return st;
}

VKFT_GRAD_RULE(softmax) {
    if (need[0]) din[0] = op1(g, VKFT_OP_SOFTMAX_BACKWARD, NULL, dout[0], n->out[0], -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(relu) {
    if (need[0]) din[0] = op1(g, VKFT_OP_RELU_BACKWARD, NULL, dout[0], n->out[0], -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(tanh) {
    if (need[0]) din[0] = op1(g, VKFT_OP_TANH_BACKWARD, NULL, dout[0], n->out[0], -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(rope) {
    if (need[0]) din[0] = op1(g, VKFT_OP_ROPE_BACKWARD, n->params, dout[0], V(1), V(2));
    return VKFT_OK;
}

VKFT_GRAD_RULE(embedding) {
    if (!need[1]) return VKFT_OK;
    if (DESC(V(1))->dtype != VKFT_F32)
        return vkft_fail(&g->err, VKFT_ERR_UNSUPPORTED,
                         "autograd: a %s embedding table cannot be trained (f32 only)",
                         vkft_dtype_name(DESC(V(1))->dtype));
    vkft_embedding_backward_params p = {.vocab = DESC(V(1))->shape[0]};
    din[1] = op1(g, VKFT_OP_EMBEDDING_BACKWARD, &p, dout[0], V(0), -1);
    return VKFT_OK;
}

VKFT_GRAD_RULE(attention) {
    vkft_status st = no_grad_on(g, n, dout, 1);
    if (st) return st;
    bool prefix = V(3) != VKFT_NONE;
    vkft_value in[9] = {dout[0], V(0), V(1), V(2), V(3), V(4), V(5), n->out[0], n->out[1]};
    vkft_value out[5] = {0, 0, 0, prefix ? 0 : VKFT_NONE, prefix ? 0 : VKFT_NONE};
    st = vkft_graph_op(g, VKFT_OP_ATTENTION_BACKWARD, n->params, in, 9, out, 5);
    for (int i = 0; i < 5; i++)
        if (need[i]) din[i] = out[i];
    return st;
}

VKFT_GRAD_RULE(cross_entropy) {
    vkft_status st = no_grad_on(g, n, dout, 1);
    if (!st) st = no_grad_on(g, n, dout, 2);
    if (st || !need[0]) return st;
    vkft_value in[5] = {V(0), V(1), V(2), n->out[2], dout[0]};
    din[0] = vkft_graph_op1(g, VKFT_OP_CROSS_ENTROPY_BACKWARD, n->params, in, 5);
    return VKFT_OK;
}

VKFT_GRAD_RULE(sum_squares) {
    /* d/dx sum x^2 = 2 x dy (dy is [1], broadcast) */
    if (need[0]) din[0] = scale(g, op1(g, VKFT_OP_MUL, NULL, V(0), dout[0], -1), 2.0f);
    return VKFT_OK;
}

VKFT_GRAD_RULE(matmul_nf4) {
    const vkft_matmul_nf4_params *p = (const void *)n->params;
    if (need[5]) din[5] = dout[0];
    if (!need[0]) return VKFT_OK;
    /* dA = alpha dy W (trans flipped), in the same compute dtype: bitsandbytes' MatMul4Bit
     * backward rounds dy and W to it and the result once, as the forward (q copies compute) */
    vkft_matmul_nf4_params q = *p;
    q.trans = !p->trans;
    vkft_value in[6] = {dout[0], V(1), V(2), V(3), V(4), VKFT_NONE};
    din[0] = vkft_graph_op1(g, VKFT_OP_MATMUL_NF4, &q, in, 6);
    return VKFT_OK;
}

VKFT_GRAD_RULE(dropout) {
    /* y = x * mask * s is linear in x: dx = dropout(dy) with the same seed input and params */
    if (need[0]) din[0] = op1(g, VKFT_OP_DROPOUT, n->params, dout[0], V(1), -1);
    return VKFT_OK;
}
