/* The transformer-stack training graph of bench_step_graph.h (public API only). */
#include "bench_step_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    vkft_graph *g;
    const step_graph_cfg *c;
    vkft_value inv_freq, seed;
    bool failed;
} builder;

static vkft_value leaf(builder *b, const char *name, vkft_role role, int ndim, int64_t d0,
                       int64_t d1) {
    int64_t shape[2] = {d0, d1};
    vkft_value v = vkft_graph_leaf(b->g, name, role, VKFT_F32, ndim, shape);
    b->failed |= v == VKFT_NONE;
    return v;
}

/* One node; n inputs (a, x, y, then absent ones), its first output. */
static vkft_value op(builder *b, vkft_op o, const void *params, int n, vkft_value a,
                     vkft_value x, vkft_value y) {
    vkft_value in[6] = {a, x, y, VKFT_NONE, VKFT_NONE, VKFT_NONE};
    vkft_value v = b->failed ? VKFT_NONE : vkft_graph_op1(b->g, o, params, in, n);
    b->failed |= v == VKFT_NONE;
    return v;
}

static vkft_value linear(builder *b, vkft_value x, vkft_value w) {
    vkft_matmul_params p = {.trans_b = true, .alpha = 1.0f};
    return op(b, VKFT_OP_MATMUL, &p, 3, x, w, VKFT_NONE);
}

static vkft_value reshape(builder *b, vkft_value x, int ndim, const int64_t *shape) {
    vkft_shape_params p = {.ndim = ndim};
    memcpy(p.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return op(b, VKFT_OP_COPY, &p, 1, x, VKFT_NONE, VKFT_NONE);
}

static vkft_value rmsnorm(builder *b, vkft_value x, vkft_value w) {
    vkft_norm_params p = {.eps = 1e-5f};
    return op(b, VKFT_OP_RMSNORM, &p, 2, x, w, VKFT_NONE);
}

static vkft_value layer(builder *b, int l, vkft_value h) {
    const step_graph_cfg *c = b->c;
    int64_t B = c->batch, T = c->seq, H = c->hidden, D = c->hidden / c->heads;
    int64_t KV = (int64_t)c->kv_heads * D;
    char name[64];
#define W(field, role, d0, d1)                                                                 \
    (snprintf(name, sizeof name, "layers.%d." field, l), leaf(b, name, role, 2, d0, d1))
    vkft_value ln1 = (snprintf(name, sizeof name, "layers.%d.ln1", l),
                      leaf(b, name, VKFT_ROLE_TRAINABLE, 1, H, 0));
    vkft_value wq = W("wq", VKFT_ROLE_TRAINABLE, H, H);
    vkft_value wk = W("wk", l == 0 && c->freeze_k0 ? VKFT_ROLE_WEIGHT : VKFT_ROLE_TRAINABLE, KV,
                      H);
    vkft_value wv = W("wv", VKFT_ROLE_TRAINABLE, KV, H);
    vkft_value wo = W("wo", VKFT_ROLE_TRAINABLE, H, H);
    vkft_value ln2 = (snprintf(name, sizeof name, "layers.%d.ln2", l),
                      leaf(b, name, VKFT_ROLE_TRAINABLE, 1, H, 0));
    vkft_value wg = W("wg", VKFT_ROLE_TRAINABLE, c->ffn, H);
    vkft_value wu = W("wu", VKFT_ROLE_TRAINABLE, c->ffn, H);
    vkft_value wd = W("wd", VKFT_ROLE_TRAINABLE, H, c->ffn);
#undef W
    vkft_value a = rmsnorm(b, h, ln1);
    vkft_value q = reshape(b, linear(b, a, wq), 4, (int64_t[]){B, T, c->heads, D});
    vkft_value k = reshape(b, linear(b, a, wk), 4, (int64_t[]){B, T, c->kv_heads, D});
    vkft_value v = reshape(b, linear(b, a, wv), 4, (int64_t[]){B, T, c->kv_heads, D});
    vkft_rope_params rp = {.pos_offset = 0, .attention_scaling = 1.0f};
    q = op(b, VKFT_OP_ROPE, &rp, 3, q, b->inv_freq, VKFT_NONE);
    k = op(b, VKFT_OP_ROPE, &rp, 3, k, b->inv_freq, VKFT_NONE);
    vkft_attention_params ap = {.causal = true, .scale = 1.0f / sqrtf((float)D)};
    vkft_value o = op(b, VKFT_OP_ATTENTION, &ap, 6, q, k, v);
    o = reshape(b, o, 3, (int64_t[]){B, T, H});
    h = op(b, VKFT_OP_ADD, NULL, 2, h, linear(b, o, wo), VKFT_NONE);
    vkft_value m = rmsnorm(b, h, ln2);
    vkft_value gate = linear(b, m, wg), up = linear(b, m, wu);
    vkft_value s = op(b, VKFT_OP_SWIGLU, NULL, 2, gate, up, VKFT_NONE);
    vkft_value d = linear(b, s, wd);
    if (c->dropout > 0.0f) {
        vkft_dropout_params dp = {.p = c->dropout, .stream = (uint32_t)l};
        d = op(b, VKFT_OP_DROPOUT, &dp, 2, d, b->seed, VKFT_NONE);
    }
    h = op(b, VKFT_OP_ADD, NULL, 2, h, d, VKFT_NONE);
    if (!b->failed && c->checkpoint) b->failed |= vkft_graph_checkpoint(b->g, h) != VKFT_OK;
    return h;
}

vkft_graph *step_graph_build(const step_graph_cfg *c, char *msg, size_t msg_len) {
    if (c->heads <= 0 || c->kv_heads <= 0 || c->hidden % c->heads || c->heads % c->kv_heads ||
        (c->hidden / c->heads) % 2) {
        snprintf(msg, msg_len, "step graph: hidden %d, heads %d, kv_heads %d do not fit",
                 c->hidden, c->heads, c->kv_heads);
        return NULL;
    }
    builder b = {.c = c};
    if (vkft_graph_create(&b.g)) {
        snprintf(msg, msg_len, "step graph: out of memory");
        return NULL;
    }
    int64_t B = c->batch, T = c->seq, D = c->hidden / c->heads;
    vkft_graph *g = b.g;
    vkft_value ids = vkft_graph_leaf(g, "ids", VKFT_ROLE_INPUT, VKFT_I32, 2, (int64_t[]){B, T});
    vkft_value labels = vkft_graph_leaf(g, "labels", VKFT_ROLE_INPUT, VKFT_I32, 1,
                                        (int64_t[]){B * T});
    b.seed = vkft_graph_leaf(g, "seed", VKFT_ROLE_INPUT, VKFT_I32, 1, (int64_t[]){2});
    b.inv_freq = leaf(&b, "inv_freq", VKFT_ROLE_INPUT, 1, D / 2, 0);
    vkft_value embed = leaf(&b, "embed", VKFT_ROLE_TRAINABLE, 2, c->vocab, c->hidden);
    b.failed |= ids == VKFT_NONE || labels == VKFT_NONE || b.seed == VKFT_NONE;
    vkft_value h = op(&b, VKFT_OP_EMBEDDING, NULL, 2, ids, embed, VKFT_NONE);
    for (int l = 0; l < c->layers; l++) h = layer(&b, l, h);
    vkft_value norm = leaf(&b, "norm", VKFT_ROLE_TRAINABLE, 1, c->hidden, 0);
    vkft_value head = leaf(&b, "head", VKFT_ROLE_TRAINABLE, 2, c->vocab, c->hidden);
    vkft_value logits = linear(&b, rmsnorm(&b, h, norm), head);
    logits = reshape(&b, logits, 2, (int64_t[]){B * T, c->vocab});
    vkft_cross_entropy_params cp = {.ignore_index = -100};
    vkft_value ce[3] = {0, 0, 0};
    if (!b.failed)
        b.failed |= vkft_graph_op(g, VKFT_OP_CROSS_ENTROPY, &cp,
                                  (vkft_value[]){logits, labels, VKFT_NONE}, 3, ce, 3) != VKFT_OK;
    if (!b.failed) b.failed |= vkft_graph_keep(g, ce[0], "loss") != VKFT_OK;
    if (!b.failed) b.failed |= vkft_graph_backward(g, ce[0], VKFT_NONE) != VKFT_OK;
    vkft_optimizer_options oo = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                 .weight_decay = 0.01f, .clip = 1.0f};
    if (!b.failed && c->optimizer) b.failed |= vkft_graph_optimizer(g, &oo) < 0;
    if (b.failed) {
        snprintf(msg, msg_len, "step graph: %s", vkft_graph_error(g));
        vkft_graph_destroy(g);
        return NULL;
    }
    return g;
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* normal(0, 1) by Box-Muller from two 53-bit uniforms */
static float normal(uint64_t *s) {
    double u1 = ((double)(splitmix(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(splitmix(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

int step_graph_init(vkft_plan *p, const vkft_graph *g, const step_graph_cfg *c, uint64_t seed,
                    char *msg, size_t msg_len) {
    uint64_t s = seed;
    int rc = 0;
    for (int v = 0; v < vkft_graph_value_count(g) && !rc; v++) {
        vkft_role role = vkft_graph_value_role(g, v);
        const char *name = vkft_graph_value_name(g, v);
        const vkft_desc *d = vkft_graph_value_desc(g, v);
        if ((role != VKFT_ROLE_TRAINABLE && role != VKFT_ROLE_WEIGHT &&
             role != VKFT_ROLE_INPUT) || !name)
            continue;
        size_t n = (size_t)vkft_desc_numel(d);
        float *x = malloc(n * 4 + 4);
        if (!x) {
            snprintf(msg, msg_len, "step graph: out of memory");
            return -1;
        }
        int32_t *ix = (int32_t *)x;
        if (!strcmp(name, "ids") || !strcmp(name, "labels")) {
            for (size_t i = 0; i < n; i++) ix[i] = (int32_t)(splitmix(&s) % (uint64_t)c->vocab);
        } else if (!strcmp(name, "seed")) {
            ix[0] = (int32_t)(seed & 0x7fffffff);
            ix[1] = 1;
        } else if (!strcmp(name, "hyper")) {
            x[0] = 1e-3f;
            x[1] = 1.0f;
        } else if (!strcmp(name, "inv_freq")) {
            for (size_t i = 0; i < n; i++)
                x[i] = (float)pow(10000.0, -2.0 * (double)i / (2.0 * (double)n));
        } else if (d->ndim == 1) {  /* norm weights */
            for (size_t i = 0; i < n; i++) x[i] = 1.0f + 0.1f * normal(&s);
        } else {
            float scale = 1.0f / sqrtf((float)d->shape[d->ndim - 1]);
            for (size_t i = 0; i < n; i++) x[i] = scale * normal(&s);
        }
        if (vkft_plan_upload(p, name, x, n * 4)) {
            snprintf(msg, msg_len, "step graph: %s", vkft_plan_error(p));
            rc = -1;
        }
        free(x);
    }
    return rc;
}
