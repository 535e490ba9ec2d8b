/*
 * Gradient checkpointing as a graph rewrite (vkft_compile_options.recompute).
 *
 * The forward nodes of the backward's phase (those added before vkft_graph_backward) are cut
 * into segments by the checkpoints: a node belongs to segment s when s checkpoints are produced
 * before it, so a layer's nodes and its output (the checkpoint) share a segment.
 *
 * A forward value is *saved* (the backward reads the original, which stays alive) when it is a
 * leaf, a checkpoint, kept, assigned to a leaf, read outside the forward and backward (later
 * nodes, other phases), read by a forward node of another segment (e.g. a RoPE table or a mask
 * built once), or produced by a node that cannot be run twice (one that writes a leaf, or reads
 * a leaf some node of the phase overwrites). Every other forward value the backward reads is
 * recomputed: just before the first backward node that needs a value of segment s, the forward
 * nodes of s that lead to the needed values are emitted again with fresh outputs, and the
 * backward reads those. The originals then die inside the forward, so the activations alive at
 * once are the checkpoints plus one segment, instead of every layer's.
 *
 * The recomputed nodes run the same kernels on the same inputs (dropout reads the same seed
 * input), and every kernel is deterministic, so gradients are bit-identical with and without.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"

typedef struct {
    const vkft_graph *g;
    int *seg;            /* per node: segment of a forward node, -1 otherwise */
    bool *saved;         /* per value */
    bool *need;          /* per value: recomputed */
    bool *rc;            /* per node: emitted again */
    bool *emitted;       /* per segment */
    bool *overwritten;   /* per value: a leaf some node of the backward's phase assigns */
    vkft_value *map;     /* per original value: its recomputed copy, or NONE */
    vkft_graph *out;
} rewrite;

static bool forward_node(const vkft_graph *g, int i) {
    return i < g->bwd_begin && g->nodes[i].phase == g->bwd_phase;
}

static bool backward_node(const vkft_graph *g, int i) {
    return i >= g->bwd_begin && i < g->bwd_end;
}

/* Segments, then which values are saved (see the file comment). */
static void classify(rewrite *r) {
    const vkft_graph *g = r->g;
    bool *overwritten = r->overwritten;
    int s = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const vkft_gnode *n = &g->nodes[i];
        r->seg[i] = forward_node(g, i) ? s : -1;
        for (int j = 0; j < n->n_out; j++) {
            if (n->out[j] == VKFT_NONE) continue;
            const vkft_gvalue *v = &g->values[n->out[j]];
            if (r->seg[i] >= 0 && v->checkpoint) s++;
            if (v->store != VKFT_NONE && n->phase == g->bwd_phase)
                overwritten[v->store] = true;
        }
    }
    for (int v = 0; v < g->n_values; v++) {
        const vkft_gvalue *gv = &g->values[v];
        r->saved[v] = gv->producer < 0 || r->seg[gv->producer] < 0 || gv->kept ||
                      gv->checkpoint || gv->store != VKFT_NONE;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const vkft_gnode *n = &g->nodes[i];
        bool once = false;  /* a node that must not run twice */
        for (int j = 0; j < n->n_in; j++)
            once |= n->in[j] != VKFT_NONE && overwritten[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            once |= n->out[j] != VKFT_NONE && g->values[n->out[j]].store != VKFT_NONE;
        if (once && r->seg[i] >= 0)
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] != VKFT_NONE) r->saved[n->out[j]] = true;
        for (int j = 0; j < n->n_in; j++) {
            vkft_value v = n->in[j];
            if (v == VKFT_NONE || r->saved[v]) continue;
            int p = g->values[v].producer;
            bool foreign = r->seg[i] >= 0 ? r->seg[i] != r->seg[p] : !backward_node(g, i);
            if (foreign) r->saved[v] = true;
        }
    }
}

/* need: unsaved forward values the backward reads, closed over their unsaved inputs. */
static void mark_needed(rewrite *r) {
    const vkft_graph *g = r->g;
    for (int i = g->bwd_begin; i < g->bwd_end; i++) {
        const vkft_gnode *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] != VKFT_NONE && !r->saved[n->in[j]]) r->need[n->in[j]] = true;
    }
    for (int i = g->bwd_begin - 1; i >= 0; i--) {
        if (r->seg[i] < 0) continue;
        const vkft_gnode *n = &g->nodes[i];
        for (int j = 0; j < n->n_out; j++) r->rc[i] |= n->out[j] != VKFT_NONE && r->need[n->out[j]];
        if (!r->rc[i]) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] != VKFT_NONE && !r->saved[n->in[j]]) r->need[n->in[j]] = true;
    }
}

/* Appends a copy of original node i. With `fresh` (a recomputed forward node) its outputs are
 * new values (recorded in map), else the originals. Recomputed copies and backward nodes read
 * the copies of recomputed values; the original forward reads the originals. */
static vkft_status emit(rewrite *r, int i, bool fresh) {
    vkft_graph *o = r->out;
    vkft_gnode n = r->g->nodes[i];
    for (int j = 0; j < n.n_in && (fresh || i >= r->g->bwd_begin); j++)
        if (n.in[j] != VKFT_NONE && r->need[n.in[j]]) n.in[j] = r->map[n.in[j]];
    n.recomputed = fresh;
    int idx = o->n_nodes;
    for (int j = 0; j < n.n_out; j++) {
        vkft_value v = n.out[j];
        if (v == VKFT_NONE) continue;
        if (fresh) {
            vkft_value c = vkft_graph_add_value(o, &r->g->values[v].desc, VKFT_ROLE_ACTIVATION,
                                                NULL);
            if (c == VKFT_NONE) return VKFT_ERR_NO_MEMORY;
            r->map[v] = c;
            n.out[j] = c;
        }
        o->values[n.out[j]].producer = idx;
        o->values[n.out[j]].phase = n.phase;
    }
    if (!vkft_graph_grow_nodes(o, o->n_nodes + 1)) return VKFT_ERR_NO_MEMORY;
    o->nodes[o->n_nodes++] = n;
    return VKFT_OK;
}

/* The original values (names copied) with no nodes yet. */
static vkft_status copy_values(const vkft_graph *g, vkft_graph *o) {
    o->values = calloc((size_t)g->n_values + 64, sizeof *o->values);
    if (!o->values) return VKFT_ERR_NO_MEMORY;
    o->cap_values = g->n_values + 64;
    for (int v = 0; v < g->n_values; v++) {
        o->values[v] = g->values[v];
        o->values[v].name = NULL;
        o->n_values = v + 1;
        if (g->values[v].name && !(o->values[v].name = strdup(g->values[v].name)))
            return VKFT_ERR_NO_MEMORY;
    }
    o->phase = g->phase;
    o->n_phases = g->n_phases;
    o->bwd_begin = o->bwd_end = -1;
    return VKFT_OK;
}

static vkft_status build(rewrite *r) {
    const vkft_graph *g = r->g;
    vkft_status st = copy_values(g, r->out);
    for (int i = 0; i < g->bwd_begin && !st; i++) st = emit(r, i, false);
    for (int i = g->bwd_begin; i < g->n_nodes && !st; i++) {
        const vkft_gnode *n = &g->nodes[i];
        for (int j = 0; j < n->n_in && !st && backward_node(g, i); j++) {
            vkft_value v = n->in[j];
            if (v == VKFT_NONE || !r->need[v]) continue;
            int s = r->seg[g->values[v].producer];
            if (r->emitted[s]) continue;
            r->emitted[s] = true;
            for (int k = 0; k < g->bwd_begin && !st; k++)
                if (r->rc[k] && r->seg[k] == s) st = emit(r, k, true);
        }
        if (!st) st = emit(r, i, false);
    }
    return st;
}

vkft_status vkft_graph_recompute(const vkft_graph *g, vkft_graph **out, vkft_err *err) {
    *out = NULL;
    if (g->n_backward != 1 || g->bwd_end < 0 || !g->n_checkpoints) return VKFT_OK;
    rewrite r = {.g = g};
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    r.seg = malloc(nn * sizeof *r.seg);
    r.saved = calloc(nv, 1);
    r.need = calloc(nv, 1);
    r.rc = calloc(nn, 1);
    r.emitted = calloc(nn, 1);
    r.overwritten = calloc(nv, 1);
    r.map = malloc(nv * sizeof *r.map);
    r.out = calloc(1, sizeof *r.out);
    vkft_status st = VKFT_OK;
    if (!r.seg || !r.saved || !r.need || !r.rc || !r.emitted || !r.overwritten || !r.map ||
        !r.out) {
        st = VKFT_ERR_NO_MEMORY;
    } else {
        for (size_t v = 0; v < nv; v++) r.map[v] = VKFT_NONE;
        classify(&r);
        mark_needed(&r);
        st = build(&r);
    }
    if (st) {
        vkft_graph_destroy(r.out);
        r.out = NULL;
        vkft_fail(err, st, "recompute: out of memory");
    }
    *out = r.out;
    free(r.seg);
    free(r.saved);
    free(r.need);
    free(r.rc);
    free(r.emitted);
    free(r.overwritten);
    free(r.map);
    return st;
}
