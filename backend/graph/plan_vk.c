/*
 * Recording a plan on Vulkan, once, at compile time: one command buffer per phase holding every
 * node's dispatches, with descriptor sets written once. A barrier goes between two nodes only
 * when the later one touches memory the earlier ones (since the last barrier) wrote, or writes
 * memory they read (the arena reuses memory, so write-after-read matters too). Running a phase
 * is one vkQueueSubmit and a fence wait. With profile, every dispatch is bracketed by two
 * timestamps (vk_dispatch.c); after a run they are read back into per-dispatch times.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/plan.h"
#include "vulkan/vk_dispatch.h"

typedef struct { VkBuffer buffer; VkDeviceSize begin, end; bool write; } access;

struct vkft_plan_vk {
    VkCommandPool pool;
    VkCommandBuffer cmd[VKFT_MAX_PHASES];
    vkft_vk_rec *rec[VKFT_MAX_PHASES];
    uint64_t *ns[VKFT_MAX_PHASES];     /* profile: per dispatch of the last run */
    bool no_timestamps;                /* profile asked, but the device has none */
};

static access access_of(const vkft_tensor *t, bool write) {
    return (access){t->vk->buffer, t->vk->offset, t->vk->offset + t->bytes, write};
}

static bool conflicts(const access *a, const access *b) {
    return a->buffer == b->buffer && a->begin < b->end && b->begin < a->end &&
           (a->write || b->write);
}

/* Pending accesses since the last barrier between nodes. */
typedef struct { access *a; int n, cap; } access_set;

static bool set_add(access_set *s, access x) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        access *p = realloc(s->a, (size_t)cap * sizeof *p);
        if (!p) return false;
        s->a = p;
        s->cap = cap;
    }
    s->a[s->n++] = x;
    return true;
}

static vkft_status record_phase(vkft_plan *p, int phase, vkft_vk_rec *rec) {
    access_set pending = {0};
    vkft_status st = VKFT_OK;
    for (int i = 0; i < p->n_nodes && !st; i++) {
        vkft_plan_node *n = &p->nodes[i];
        if (n->phase != phase || n->elided) continue;
        access mine[VKFT_OP_MAX_IN + VKFT_OP_MAX_OUT];
        int m = 0;
        for (int j = 0; j < n->call.n_in; j++)
            if (n->in[j]) mine[m++] = access_of(n->in[j], false);
        for (int j = 0; j < n->call.n_out; j++)
            if (n->out[j]) mine[m++] = access_of(n->out[j], true);
        bool hazard = false;
        for (int a = 0; a < m && !hazard; a++)
            for (int b = 0; b < pending.n && !hazard; b++)
                hazard = conflicts(&mine[a], &pending.a[b]);
        if (hazard) pending.n = 0;
        rec->need_barrier = hazard;
        for (int a = 0; a < m; a++)
            if (!set_add(&pending, mine[a])) st = vkft_fail(&p->err, VKFT_ERR_NO_MEMORY, "oom");
        const vkft_op_def *def = vkft_op_def_get(n->op);
        rec->profile_node = i;
        if (!st) st = def->vk(rec, &n->call, &p->err);
    }
    /* leave every write visible to the transfers and phases that follow */
    rec->need_barrier = true;
    if (!st) vkft_vk_barrier(rec);
    free(pending.a);
    return st;
}

vkft_status vkft_plan_vk_record(vkft_plan *p, bool profile) {
    vkft_vk_device *vk = p->dev->vk;
    p->vk = calloc(1, sizeof *p->vk);
    if (!p->vk) return vkft_fail(&p->err, VKFT_ERR_NO_MEMORY, "out of memory");
    p->vk->no_timestamps = profile && !vk->timestamps;
    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .queueFamilyIndex = vk->queue_family};
    VKFT_VK_TRY(&p->err, vkCreateCommandPool(vk->device, &pi, NULL, &p->vk->pool));
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = p->vk->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = (uint32_t)p->n_phases};
    VKFT_VK_TRY(&p->err, vkAllocateCommandBuffers(vk->device, &ai, p->vk->cmd));
    for (int ph = 0; ph < p->n_phases; ph++) {
        vkft_vk_rec *rec = calloc(1, sizeof *rec);
        if (!rec) return vkft_fail(&p->err, VKFT_ERR_NO_MEMORY, "out of memory");
        p->vk->rec[ph] = rec;
        rec->vk = vk;
        rec->cmd = p->vk->cmd[ph];
        rec->grow_pools = true;
        rec->profile = profile && vk->timestamps;
        vkft_status st = vkft_vk_rec_add_pool(rec, &p->err);
        if (st) return st;
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        VKFT_VK_TRY(&p->err, vkBeginCommandBuffer(rec->cmd, &bi));
        st = record_phase(p, ph, rec);
        VkResult r = vkEndCommandBuffer(rec->cmd);
        if (st) return st;
        VKFT_VK_TRY(&p->err, r);
        p->stats.dispatches[ph] = (uint64_t)rec->n_dispatches;
        if (rec->profile &&
            !(p->vk->ns[ph] = calloc((size_t)rec->n_profiled + 1, sizeof *p->vk->ns[ph])))
            return vkft_fail(&p->err, VKFT_ERR_NO_MEMORY, "out of memory");
        p->stats.barriers[ph] = rec->n_barriers;
        for (int s = 0; s < rec->n_scratch; s++)  /* views (shared scratch) own no bytes */
            if (!rec->scratch[s]->view) p->report.workspace += rec->scratch[s]->bytes;
    }
    p->report.total += p->report.workspace;
    return VKFT_OK;
}

/* The last run's timestamps -> per-dispatch nanoseconds (pairs of queries, pool by pool). */
static vkft_status read_times(vkft_plan *p, int phase) {
    const vkft_vk_rec *rec = p->vk->rec[phase];
    const vkft_vk_device *vk = p->dev->vk;
    uint64_t ts[VKFT_VK_QUERIES_PER_POOL];
    uint32_t total = (uint32_t)rec->n_profiled * 2;
    for (int k = 0; k < rec->n_query_pools; k++) {
        uint32_t first = (uint32_t)k * VKFT_VK_QUERIES_PER_POOL;
        uint32_t count = total - first < VKFT_VK_QUERIES_PER_POOL ? total - first
                                                                  : VKFT_VK_QUERIES_PER_POOL;
        VKFT_VK_TRY(&p->err, vkGetQueryPoolResults(vk->device, rec->query_pools[k], 0, count,
                                                   sizeof ts, ts, sizeof ts[0],
                                                   VK_QUERY_RESULT_64_BIT |
                                                       VK_QUERY_RESULT_WAIT_BIT));
        for (uint32_t q = 0; q + 1 < count; q += 2) {
            uint64_t d = (ts[q + 1] - ts[q]) & vk->timestamp_mask;
            p->vk->ns[phase][(first + q) / 2] = (uint64_t)((double)d * vk->timestamp_period_ns);
        }
    }
    return VKFT_OK;
}

vkft_status vkft_plan_vk_run(vkft_plan *p, int phase) {
    vkft_vk_device *vk = p->dev->vk;
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1,
                       .pCommandBuffers = &p->vk->cmd[phase]};
    VKFT_VK_TRY(&p->err, vkResetFences(vk->device, 1, &vk->fence));
    VKFT_VK_TRY(&p->err, vkQueueSubmit(vk->queue, 1, &si, vk->fence));
    vk->n_submits++;
    VKFT_VK_TRY(&p->err, vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, UINT64_MAX));
    return p->vk->rec[phase]->profile ? read_times(p, phase) : VKFT_OK;
}

int vkft_plan_vk_profile(vkft_plan *p, int phase, vkft_profile_entry *e, int n) {
    if (p->vk->no_timestamps) {
        vkft_fail(&p->err, VKFT_ERR_UNSUPPORTED, "plan_profile: %s has no timestamps",
                  p->dev->info.name);
        return -1;
    }
    const vkft_vk_rec *rec = p->vk->rec[phase];
    for (int k = 0; k < rec->n_profiled && k < n; k++) {
        const vkft_plan_node *pn = &p->nodes[rec->profiled[k]];
        e[k] = (vkft_profile_entry){.op = vkft_op_name(pn->op), .node = pn->origin,
                                    .recomputed = pn->recomputed, .ns = p->vk->ns[phase][k]};
    }
    return rec->n_profiled;
}

void vkft_plan_vk_destroy(vkft_plan *p) {
    if (!p->vk) return;
    vkft_vk_device *vk = p->dev->vk;
    vkDeviceWaitIdle(vk->device);
    for (int ph = 0; ph < VKFT_MAX_PHASES; ph++) {
        free(p->vk->ns[ph]);
        if (!p->vk->rec[ph]) continue;
        vkft_vk_rec_release(p->vk->rec[ph]);
        free(p->vk->rec[ph]);
    }
    if (p->vk->pool) vkDestroyCommandPool(vk->device, p->vk->pool, NULL);
    free(p->vk);
    p->vk = NULL;
}

void vkft_plan_vk_stats(const vkft_plan *p, vkft_plan_stats *s) {
    const vkft_vk_device *vk = p->dev->vk;
    s->pipelines_created = vk->n_pipelines_created;
    s->descriptor_sets_allocated = vk->n_descriptor_sets_allocated;
    s->submits = vk->n_submits;
}
