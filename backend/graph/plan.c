/*
 * Compiling a graph into a plan: lay memory out (planner), check the budget, allocate the
 * persistent tensors and the arena, make one tensor view per arena value, prepare one op call
 * per node, zero the state, and let the backend record its phases. Running a phase then only
 * submits (Vulkan) or calls kernels (CPU): no allocation, no recording.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/plan.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static uint64_t device_budget(const vkft_device *dev) {
    const vkft_device_info *i = &dev->info;
    uint64_t best = 0;
    for (int h = 0; h < i->heap_count; h++)
        if ((i->heap_device_local[h] || i->type == VKFT_DEVICE_CPU_BACKEND) &&
            i->heap_size[h] > best)
            best = i->heap_size[h];
    return best;
}

static double mib(uint64_t b) { return (double)b / 1048576.0; }

/* The message when a plan does not fit: the biggest part and what would make it smaller. */
static vkft_status over_budget(const vkft_memory_report *r, vkft_err *err) {
    struct { const char *what; uint64_t bytes; const char *help; } parts[] = {
        {"activations", r->activations,
         "enable gradient checkpointing, or lower the batch size or sequence length"},
        {"frozen weights", r->frozen_weights, "quantise the frozen weights (QLoRA, NF4)"},
        {"trainable parameters", r->trainables, "train fewer parameters (LoRA instead of full)"},
        {"optimizer state", r->optimizer_state, "train fewer parameters (LoRA instead of full)"},
        {"gradients", r->gradients, "train fewer parameters (LoRA instead of full)"},
        {"inputs", r->inputs, "lower the batch size or sequence length"},
    };
    int big = 0;
    for (int i = 1; i < (int)(sizeof parts / sizeof parts[0]); i++)
        if (parts[i].bytes > parts[big].bytes) big = i;
    return vkft_fail(err, VKFT_ERR_NO_MEMORY,
                     "the plan needs %.1f MiB but the device offers %.1f MiB; the biggest part is "
                     "%s (%.1f MiB): %s", mib(r->total), mib(r->budget), parts[big].what,
                     mib(parts[big].bytes), parts[big].help);
}

void vkft_plan_destroy(vkft_plan *p) {
    if (!p) return;
    vkft_plan_vk_destroy(p);
    for (int v = 0; v < p->n_values; v++) {
        if (p->tensors && p->tensors[v] && p->owned[v]) vkft_tensor_destroy(p->tensors[v]);
        if (p->names) free(p->names[v]);
    }
    /* views (not owned) go after the tensors they view are no longer used */
    for (int v = 0; v < p->n_values; v++)
        if (p->tensors && p->tensors[v] && !p->owned[v]) vkft_tensor_destroy(p->tensors[v]);
    vkft_tensor_destroy(p->arena);
    free(p->tensors);
    free(p->owned);
    free(p->names);
    free(p->nodes);
    free(p->node_ns);
    free(p);
}

static vkft_status make_tensors(vkft_plan *p, const vkft_graph *g, const vkft_layout *l) {
    vkft_device *dev = p->dev;
    if (l->arena_bytes) {
        int64_t n = (int64_t)l->arena_bytes;
        vkft_status st = vkft_tensor_create(dev, VKFT_U8, 1, &n, &p->arena);
        if (st) return vkft_fail(&p->err, st, "activation arena: %s", dev->err.msg);
    }
    for (int v = 0; v < g->n_values; v++) {  /* owners first */
        const vkft_gvalue *gv = &g->values[v];
        if (gv->name && !(p->names[v] = strdup(gv->name)))
            return vkft_fail(&p->err, VKFT_ERR_NO_MEMORY, "out of memory");
        if (l->v[v].store != VKFT_STORE_PERSISTENT) continue;
        vkft_status st = vkft_tensor_create(dev, gv->desc.dtype, gv->desc.ndim, gv->desc.shape,
                                            &p->tensors[v]);
        if (st)
            return vkft_fail(&p->err, st, "%s: %s", gv->name ? gv->name : "value", dev->err.msg);
        p->owned[v] = true;
    }
    for (int v = 0; v < g->n_values; v++) {  /* then views of the arena and of other values */
        const vkft_value_plan *vp = &l->v[v];
        vkft_status st = VKFT_OK;
        if (vp->store == VKFT_STORE_ARENA) {
            st = vkft_tensor_view_create(p->arena, vp->offset, &g->values[v].desc,
                                         &p->tensors[v]);
        } else if (vp->store == VKFT_STORE_ALIAS) {
            vkft_value root = vp->alias;
            vkft_tensor *base = l->v[root].store == VKFT_STORE_ARENA ? p->arena : p->tensors[root];
            size_t off = l->v[root].store == VKFT_STORE_ARENA ? l->v[root].offset : 0;
            if (l->v[root].store == VKFT_STORE_ALIAS || !base) {
                st = vkft_fail(&p->err, VKFT_ERR_INVALID_ARG, "planner: bad alias chain");
                return st;
            }
            st = vkft_tensor_view_create(base, off, &g->values[v].desc, &p->tensors[v]);
        }
        if (st) return vkft_fail(&p->err, st, "view: %s", dev->err.msg);
    }
    return VKFT_OK;
}

static vkft_status zero_state(vkft_plan *p, const vkft_graph *g) {
    for (int v = 0; v < g->n_values; v++) {
        const vkft_gvalue *gv = &g->values[v];
        if (gv->producer >= 0 || !p->tensors[v] || gv->role == VKFT_ROLE_INPUT) continue;
        if (gv->desc.dtype != VKFT_F32 && gv->desc.dtype != VKFT_I32) continue;
        vkft_fill_params fp = {0.0f};
        vkft_status st = vkft_op_run(p->dev, VKFT_OP_FILL, &fp, NULL, 0, &p->tensors[v], 1);
        if (st) return vkft_fail(&p->err, st, "zeroing %s: %s", gv->name, p->dev->err.msg);
    }
    return VKFT_OK;
}

static vkft_status compile_graph(vkft_device *dev, const vkft_graph *g,
                                 const vkft_compile_options *opts, vkft_memory_report *report,
                                 vkft_plan **out);

vkft_status vkft_compile(vkft_device *dev, const vkft_graph *g, const vkft_compile_options *opts,
                         vkft_memory_report *report, vkft_plan **out) {
    if (!out) return VKFT_ERR_INVALID_ARG;
    *out = NULL;
    if (!dev || !g) return VKFT_ERR_INVALID_ARG;
    vkft_compile_options o = {0};
    if (opts) o = *opts;
    vkft_graph *rg = NULL;  /* the graph with recomputation, when asked and possible */
    if (o.recompute) {
        vkft_status st = vkft_graph_recompute(g, &rg, &dev->err);
        if (st) return st;
        if (rg) g = rg;
    }
    vkft_status st = compile_graph(dev, g, &o, report, out);
    vkft_graph_destroy(rg);
    return st;
}

static vkft_status compile_graph(vkft_device *dev, const vkft_graph *g,
                                 const vkft_compile_options *opts, vkft_memory_report *report,
                                 vkft_plan **out) {
    vkft_compile_options o = *opts;
    vkft_layout l;
    vkft_status st = vkft_layout_plan(g, &l, &dev->err);
    if (st) return st;
    l.report.budget = o.memory_budget ? o.memory_budget : device_budget(dev);
    if (report) *report = l.report;
    if (l.report.budget && l.report.total > l.report.budget) {
        st = over_budget(&l.report, &dev->err);
        vkft_layout_free(&l);
        return st;
    }
    if (o.plan_only) {  /* the report is all the caller wants: allocate nothing */
        vkft_layout_free(&l);
        return VKFT_OK;
    }
    vkft_plan *p = calloc(1, sizeof *p);
    if (!p) {
        vkft_layout_free(&l);
        return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "compile: out of memory");
    }
    p->dev = dev;
    p->n_values = g->n_values;
    p->n_nodes = g->n_nodes;
    p->n_phases = g->n_phases;
    p->report = l.report;
    p->tensors = calloc((size_t)g->n_values + 1, sizeof *p->tensors);
    p->owned = calloc((size_t)g->n_values + 1, sizeof *p->owned);
    p->names = calloc((size_t)g->n_values + 1, sizeof *p->names);
    p->nodes = calloc((size_t)g->n_nodes + 1, sizeof *p->nodes);
    p->profile = o.profile;
    if (o.profile) p->node_ns = calloc((size_t)g->n_nodes + 1, sizeof *p->node_ns);
    if (!p->tensors || !p->owned || !p->names || !p->nodes || (o.profile && !p->node_ns))
        st = vkft_fail(&p->err, VKFT_ERR_NO_MEMORY, "compile: out of memory");
    if (!st) st = make_tensors(p, g, &l);
    for (int i = 0; i < g->n_nodes && !st; i++) {
        const vkft_gnode *n = &g->nodes[i];
        vkft_plan_node *pn = &p->nodes[i];
        pn->op = n->op;
        pn->phase = n->phase;
        pn->origin = n->origin;
        pn->recomputed = n->recomputed;
        pn->elided = n->op == VKFT_OP_COPY && l.v[n->out[0]].store == VKFT_STORE_ALIAS &&
                     n->in[0] != VKFT_NONE &&
                     l.v[n->out[0]].alias == (l.v[n->in[0]].store == VKFT_STORE_ALIAS
                                                  ? l.v[n->in[0]].alias : n->in[0]);
        memcpy(pn->params, n->params, sizeof pn->params);
        for (int j = 0; j < n->n_in; j++)
            pn->in[j] = n->in[j] == VKFT_NONE ? NULL : p->tensors[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            pn->out[j] = n->out[j] == VKFT_NONE ? NULL : p->tensors[n->out[j]];
        pn->call = (vkft_op_call){.op = n->op,
                                  .params = vkft_op_def_get(n->op)->params_size ? pn->params
                                                                                : NULL,
                                  .in = pn->in, .n_in = n->n_in,
                                  .out = pn->out, .n_out = n->n_out};
        st = vkft_op_call_check(&pn->call, &p->err);
    }
    if (!st) st = zero_state(p, g);
    if (!st && dev->vk) st = vkft_plan_vk_record(p, o.profile);
    vkft_layout_free(&l);
    if (st) {
        if (p->err.msg[0]) snprintf(dev->err.msg, sizeof dev->err.msg, "%s", p->err.msg);
        vkft_plan_destroy(p);
        return st;
    }
    if (report) *report = p->report;
    *out = p;
    return VKFT_OK;
}

const char *vkft_plan_error(const vkft_plan *p) { return p ? p->err.msg : ""; }
int vkft_plan_phase_count(const vkft_plan *p) { return p ? p->n_phases : 0; }

static vkft_tensor *named(vkft_plan *p, const char *name) {
    for (int v = 0; v < p->n_values; v++)
        if (p->names[v] && !strcmp(p->names[v], name)) return p->tensors[v];
    return NULL;
}

vkft_status vkft_plan_upload(vkft_plan *p, const char *name, const void *src, size_t bytes) {
    if (!p || !name) return VKFT_ERR_INVALID_ARG;
    vkft_tensor *t = named(p, name);
    if (!t) return vkft_fail(&p->err, VKFT_ERR_INVALID_ARG, "plan: no value named %s", name);
    vkft_status st = vkft_tensor_upload(t, src, bytes);
    if (st) vkft_fail(&p->err, st, "%s: %s", name, p->dev->err.msg);
    return st;
}

vkft_status vkft_plan_download(vkft_plan *p, const char *name, void *dst, size_t bytes) {
    if (!p || !name) return VKFT_ERR_INVALID_ARG;
    vkft_tensor *t = named(p, name);
    if (!t) return vkft_fail(&p->err, VKFT_ERR_INVALID_ARG, "plan: no value named %s", name);
    vkft_status st = vkft_tensor_download(t, dst, bytes);
    if (st) vkft_fail(&p->err, st, "%s: %s", name, p->dev->err.msg);
    return st;
}

vkft_status vkft_plan_run(vkft_plan *p, int phase) {
    if (!p) return VKFT_ERR_INVALID_ARG;
    if (phase < 0 || phase >= p->n_phases)
        return vkft_fail(&p->err, VKFT_ERR_INVALID_ARG, "plan: no phase %d (it has %d)", phase,
                         p->n_phases);
    double t0 = now_ms();
    p->profiled[phase] = false;
    vkft_status st = p->dev->vk ? vkft_plan_vk_run(p, phase) : vkft_plan_cpu_run(p, phase);
    p->stats.last_run_ms = now_ms() - t0;
    p->profiled[phase] = !st && p->profile;
    return st;
}

int vkft_plan_profile(vkft_plan *p, int phase, vkft_profile_entry *entries, int n) {
    if (!p) return -1;
    if (phase < 0 || phase >= p->n_phases || n < 0 || (n && !entries)) {
        vkft_fail(&p->err, VKFT_ERR_INVALID_ARG, "plan_profile: bad phase %d or entries", phase);
        return -1;
    }
    if (!p->profile) {
        vkft_fail(&p->err, VKFT_ERR_INVALID_ARG,
                  "plan_profile: the plan was not compiled with profile");
        return -1;
    }
    if (!p->profiled[phase]) {
        vkft_fail(&p->err, VKFT_ERR_INVALID_ARG, "plan_profile: phase %d has not run", phase);
        return -1;
    }
    if (p->dev->vk) return vkft_plan_vk_profile(p, phase, entries, n);
    int count = 0;
    for (int i = 0; i < p->n_nodes; i++) {
        const vkft_plan_node *pn = &p->nodes[i];
        if (pn->phase != phase) continue;
        if (count < n)
            entries[count] = (vkft_profile_entry){.op = vkft_op_name(pn->op), .node = pn->origin,
                                                  .recomputed = pn->recomputed,
                                                  .ns = p->node_ns[i]};
        count++;
    }
    return count;
}

uint64_t vkft_plan_device_bytes(const vkft_plan *p) {
    if (!p) return 0;
    uint64_t b = p->arena ? p->arena->bytes : 0;
    for (int v = 0; v < p->n_values; v++)
        if (p->tensors[v] && p->owned[v]) b += p->tensors[v]->bytes;
    return b;
}

void vkft_plan_get_stats(const vkft_plan *p, vkft_plan_stats *s) {
    if (!p || !s) return;
    *s = p->stats;
    if (p->dev->vk) vkft_plan_vk_stats(p, s);
}
