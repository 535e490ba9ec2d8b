/*
 * The memory planner: where every value of a graph lives.
 *
 * Leaves, kept values and values read in a later phase than their producer get tensors of their
 * own. A node output that its row lets alias an input, where that input is a transient value
 * whose last reader is this node, reuses the input's storage (in-place ADD chains, SCALE...).
 * An output assigned to a state leaf is written into the leaf. A COPY (always a reshape: same
 * dtype and element count) of a transient value is a free alias: its output is a view of the
 * input's storage and the plan skips the node. Because such a view may outlive the value it
 * views, an in-place output may take over a storage group only where the whole group (every
 * value viewing it) is last used by that node. Every other value is a range of
 * one activation arena, alive from its producer to its last reader; ranges are packed greedily
 * (largest first, lowest offset that overlaps no range alive at the same time). Phases run one
 * after another and occupy disjoint node ranges, so they share the arena.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/plan.h"

#define ALIGN 256u

static uint64_t round_up(uint64_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

static vkft_value root_of(const vkft_layout *l, vkft_value v) {
    return l->v[v].store == VKFT_STORE_ALIAS ? l->v[v].alias : v;
}

typedef struct { vkft_value v; uint64_t bytes; int first, last; } item;

static int by_size_desc(const void *a, const void *b) {
    const item *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->first - y->first;
}

void vkft_layout_free(vkft_layout *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

vkft_status vkft_layout_plan(const vkft_graph *g, vkft_layout *l, vkft_err *err) {
    memset(l, 0, sizeof *l);
    l->n_values = g->n_values;
    l->v = calloc((size_t)g->n_values + 1, sizeof *l->v);
    int *last_use = malloc(((size_t)g->n_values + 1) * sizeof *last_use);
    bool *cross = calloc((size_t)g->n_values + 1, sizeof *cross);
    item *items = malloc(((size_t)g->n_values + 1) * sizeof *items);
    vkft_status st = VKFT_OK;
    if (!l->v || !last_use || !cross || !items) {
        st = vkft_fail(err, VKFT_ERR_NO_MEMORY, "planner: out of memory");
        goto out;
    }
    for (int v = 0; v < g->n_values; v++) last_use[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const vkft_gnode *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            vkft_value v = n->in[j];
            if (v == VKFT_NONE) continue;
            last_use[v] = i;
            if (g->values[v].producer >= 0 && g->values[v].phase != n->phase) cross[v] = true;
        }
    }
    /* storage classes, in node order so aliases point at already-classified roots */
    vkft_memory_report *r = &l->report;
    uint64_t kept_bytes = 0;
    for (int v = 0; v < g->n_values; v++) {
        const vkft_gvalue *gv = &g->values[v];
        uint64_t bytes = vkft_desc_bytes(&gv->desc);
        l->v[v].alias = VKFT_NONE;
        if (gv->producer < 0) {
            l->v[v].store = VKFT_STORE_PERSISTENT;
            switch (gv->role) {
            case VKFT_ROLE_INPUT: r->inputs += bytes; break;
            case VKFT_ROLE_WEIGHT: r->frozen_weights += bytes; break;
            case VKFT_ROLE_TRAINABLE: r->trainables += bytes; break;
            default:
                if (gv->name && !strncmp(gv->name, "grad:", 5)) r->gradients += bytes;
                else r->optimizer_state += bytes;
            }
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const vkft_gnode *n = &g->nodes[i];
        const vkft_op_def *def = vkft_op_def_get(n->op);
        for (int o = 0; o < n->n_out; o++) {
            vkft_value v = n->out[o];
            if (v == VKFT_NONE) continue;
            const vkft_gvalue *gv = &g->values[v];
            vkft_value_plan *p = &l->v[v];
            uint64_t bytes = vkft_desc_bytes(&gv->desc);
            if (gv->store != VKFT_NONE) {
                p->store = VKFT_STORE_ALIAS;
                p->alias = gv->store;
                continue;
            }
            if (gv->kept || cross[v]) {
                p->store = VKFT_STORE_PERSISTENT;
                r->activations_no_reuse += round_up(bytes);
                kept_bytes += round_up(bytes);
                continue;
            }
            r->activations_no_reuse += round_up(bytes);
            int a = def->out_alias[o];
            bool reshape = n->op == VKFT_OP_COPY;
            vkft_value src = reshape ? n->in[0] : a >= 0 ? n->in[a] : VKFT_NONE;
            if (src != VKFT_NONE && (reshape || last_use[src] == i) &&
                g->values[src].producer >= 0 && !g->values[src].kept && !cross[src] &&
                g->values[src].store == VKFT_NONE) {
                vkft_value root = root_of(l, src);
                if (l->v[root].store == VKFT_STORE_ARENA && l->v[root].bytes >= round_up(bytes) &&
                    (reshape || l->v[root].last == i)) {
                    p->store = VKFT_STORE_ALIAS;
                    p->alias = root;
                    int lu = last_use[v] < 0 ? i : last_use[v];
                    if (lu > l->v[root].last) l->v[root].last = lu;
                    continue;
                }
            }
            p->store = VKFT_STORE_ARENA;
            p->bytes = round_up(bytes ? bytes : 1);
            p->first = i;
            p->last = last_use[v] < 0 ? i : last_use[v];
        }
    }
    /* pack the arena */
    int n_items = 0;
    for (int v = 0; v < g->n_values; v++)
        if (l->v[v].store == VKFT_STORE_ARENA)
            items[n_items++] = (item){v, l->v[v].bytes, l->v[v].first, l->v[v].last};
    qsort(items, (size_t)n_items, sizeof *items, by_size_desc);
    uint64_t arena = 0;
    for (int i = 0; i < n_items; i++) {
        uint64_t off = 0;
        bool moved = true;
        while (moved) {  /* bump past every placed, time-overlapping range we collide with */
            moved = false;
            for (int j = 0; j < i; j++) {
                if (items[j].last < items[i].first || items[i].last < items[j].first) continue;
                uint64_t o2 = l->v[items[j].v].offset;
                if (off < o2 + items[j].bytes && o2 < off + items[i].bytes) {
                    off = o2 + items[j].bytes;
                    moved = true;
                }
            }
        }
        l->v[items[i].v].offset = off;
        if (off + items[i].bytes > arena) arena = off + items[i].bytes;
    }
    l->arena_bytes = arena;
    r->activations = arena + kept_bytes;  /* kept values are activations that persist */
    r->total = r->frozen_weights + r->trainables + r->gradients + r->optimizer_state +
               r->inputs + r->activations;
out:
    free(last_use);
    free(cross);
    free(items);
    if (st) vkft_layout_free(l);
    return st;
}
