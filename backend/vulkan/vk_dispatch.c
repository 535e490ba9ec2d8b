/* Dispatch recording and the eager path (see vk_dispatch.h). */
#include "vulkan/vk_dispatch.h"

#include <stdlib.h>
#include <string.h>

uint64_t vkft_vk_max_range(const vkft_vk_rec *rec) { return rec->vk->max_range; }
uint64_t vkft_vk_max_texels(const vkft_vk_rec *rec) { return rec->vk->max_texels; }
bool vkft_vk_cpu_shaped(const vkft_vk_rec *rec) { return rec->vk->cpu_shaped; }
uint32_t vkft_vk_subgroup_size(const vkft_vk_rec *rec) {
    return rec->vk->dev->info.subgroup_size ? rec->vk->dev->info.subgroup_size : 1;
}

bool vkft_vk_shuffle8(const vkft_vk_rec *rec) {
    uint32_t sg = vkft_vk_subgroup_size(rec);
    return sg >= 8 && sg <= 128 && (sg & (sg - 1)) == 0 &&
           rec->vk->dev->info.api_version >= VK_API_VERSION_1_1;
}

uint64_t vkft_vk_chunk_elems(const vkft_vk_rec *rec, size_t elem_size) {
    uint64_t n = rec->vk->max_range / elem_size;
    uint64_t align = 16 / (elem_size < 16 ? elem_size : 16);
    n -= n % align;
    return n ? n : align;
}

uint64_t vkft_vk_texel_chunk_elems(const vkft_vk_rec *rec) {
    if (!vkft_vk_cpu_shaped(rec) || rec->vk->limits.minTexelBufferOffsetAlignment > 16) return 0;
    uint64_t n = vkft_vk_chunk_elems(rec, 4), lim = rec->vk->max_texels * 4;
    n = n < lim ? n : lim;
    return n - n % 4;
}

bool vkft_vk_texel_aligned(const vkft_tensor *t) { return t->vk->offset % 16 == 0; }

vkft_vk_arg vkft_vk_bind_elems(const vkft_tensor *t, uint64_t e0, uint64_t n, size_t es,
                               uint32_t *shift) {
    uint64_t off = e0 * es, al = off & ~(uint64_t)15;
    *shift = (uint32_t)((off - al) / es);
    return (vkft_vk_arg){.t = t, .offset = al, .range = off + n * es - al};
}

void vkft_vk_grid(const vkft_vk_rec *rec, uint64_t n, uint32_t *gx, uint32_t *gy) {
    uint64_t max_x = rec->vk->limits.maxComputeWorkGroupCount[0];
    if (max_x > 65535) max_x = 65535;  /* keep the folded grid identical across devices */
    if (n <= max_x) {
        *gx = (uint32_t)(n ? n : 1);
        *gy = 1;
        return;
    }
    *gy = (uint32_t)((n + max_x - 1) / max_x);
    *gx = (uint32_t)((n + *gy - 1) / *gy);
}

/* The query pool and first of two queries for the next profiled dispatch; makes (and resets,
 * in the command buffer) a pool when the last one is full. */
static vkft_status profile_slot(vkft_vk_rec *rec, VkQueryPool *pool, uint32_t *q,
                                vkft_err *err) {
    if (rec->n_profiled == rec->cap_profiled) {
        int cap = rec->cap_profiled ? 2 * rec->cap_profiled : 256;
        int *np = realloc(rec->profiled, (size_t)cap * sizeof *np);
        if (!np) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "profile: out of host memory");
        rec->profiled = np;
        rec->cap_profiled = cap;
    }
    uint64_t first = (uint64_t)rec->n_profiled * 2;
    int k = (int)(first / VKFT_VK_QUERIES_PER_POOL);
    if (k == rec->n_query_pools) {
        if (k == VKFT_VK_MAX_QUERY_POOLS)
            return vkft_fail(err, VKFT_ERR_LIMIT, "profile: more than %d dispatches in a phase",
                             VKFT_VK_MAX_QUERY_POOLS * VKFT_VK_QUERIES_PER_POOL / 2);
        VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                    .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                    .queryCount = VKFT_VK_QUERIES_PER_POOL};
        VKFT_VK_TRY(err, vkCreateQueryPool(rec->vk->device, &qi, NULL,
                                           &rec->query_pools[rec->n_query_pools]));
        vkCmdResetQueryPool(rec->cmd, rec->query_pools[k], 0, VKFT_VK_QUERIES_PER_POOL);
        rec->n_query_pools++;
    }
    *pool = rec->query_pools[k];
    *q = (uint32_t)(first % VKFT_VK_QUERIES_PER_POOL);
    rec->profiled[rec->n_profiled++] = rec->profile_node;
    return VKFT_OK;
}

/* Records the barrier owed before the next command, if any. */
static void settle(vkft_vk_rec *rec) {
    if (rec->need_barrier) vkft_vk_barrier(rec);
    rec->need_barrier = false;
}

void vkft_vk_barrier(vkft_vk_rec *rec) {
    rec->n_barriers++;
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT |
                                           VK_ACCESS_TRANSFER_WRITE_BIT};
    vkCmdPipelineBarrier(rec->cmd,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                         1, &mb, 0, NULL, 0, NULL);
}

vkft_status vkft_vk_fill(vkft_vk_rec *rec, const vkft_tensor *t, uint64_t offset, uint64_t range,
                         uint32_t pattern, vkft_err *err) {
    uint64_t size = range ? range : t->bytes - offset;
    size = (size + 3) & ~(uint64_t)3;  /* allocations are padded to 256 bytes: stays inside */
    if (offset % 4 || offset + size > t->vk->size)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "fill: bad range %llu+%llu",
                         (unsigned long long)offset, (unsigned long long)size);
    settle(rec);
    vkCmdFillBuffer(rec->cmd, t->vk->buffer, t->vk->offset + offset, size, pattern);
    rec->need_barrier = true;
    return VKFT_OK;
}

vkft_status vkft_vk_copy_buffer(vkft_vk_rec *rec, const vkft_tensor *src, uint64_t src_offset,
                                const vkft_tensor *dst, uint64_t dst_offset, uint64_t bytes,
                                vkft_err *err) {
    if (src_offset + bytes > src->bytes || dst_offset + bytes > dst->bytes)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "copy: range outside a tensor");
    if (!bytes) return VKFT_OK;
    VkBufferCopy region = {.srcOffset = src->vk->offset + src_offset,
                           .dstOffset = dst->vk->offset + dst_offset,
                           .size = bytes};
    settle(rec);
    vkCmdCopyBuffer(rec->cmd, src->vk->buffer, dst->vk->buffer, 1, &region);
    rec->need_barrier = true;
    return VKFT_OK;
}

/* Room for one more tensor in the recording's scratch list (destroyed with the recording). */
static vkft_status scratch_room(vkft_vk_rec *rec, vkft_err *err) {
    if (rec->n_scratch < rec->cap_scratch) return VKFT_OK;
    int cap = rec->cap_scratch ? 2 * rec->cap_scratch : 16;
    vkft_tensor **p = realloc(rec->scratch, (size_t)cap * sizeof *p);
    if (!p) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "scratch: out of host memory");
    rec->scratch = p;
    rec->cap_scratch = cap;
    return VKFT_OK;
}

vkft_status vkft_vk_scratch(vkft_vk_rec *rec, vkft_dtype dtype, int ndim, const int64_t *shape,
                            vkft_tensor **out, vkft_err *err) {
    *out = NULL;
    vkft_status st = scratch_room(rec, err);
    if (st) return st;
    vkft_device *dev = rec->vk->dev;
    st = vkft_tensor_create(dev, dtype, ndim, shape, out);
    if (st) return vkft_fail(err, st, "scratch tensor: %s", dev->err.msg);
    rec->scratch[rec->n_scratch++] = *out;
    return VKFT_OK;
}

vkft_status vkft_vk_shared_scratch(vkft_vk_rec *rec, int ndim, const int64_t *shape,
                                   vkft_tensor **out, vkft_err *err) {
    *out = NULL;
    vkft_desc d = {.dtype = VKFT_F32, .ndim = ndim};
    for (int i = 0; i < ndim && i < VKFT_MAX_DIMS; i++) d.shape[i] = shape[i];
    uint64_t bytes = vkft_desc_bytes(&d);
    if (!rec->shared || rec->shared->bytes < bytes) {
        int64_t n[1] = {(int64_t)((bytes + 3) / 4)};
        vkft_status st = vkft_vk_scratch(rec, VKFT_F32, 1, n, &rec->shared, err);
        if (st) return st;
    }
    vkft_status st = scratch_room(rec, err);
    if (st) return st;
    st = vkft_tensor_view_create(rec->shared, 0, &d, out);
    if (st) return vkft_fail(err, st, "shared scratch: %s", rec->vk->dev->err.msg);
    rec->scratch[rec->n_scratch++] = *out;  /* the view, freed with the recording */
    rec->need_barrier = true;  /* an earlier op's dispatches may still use the buffer */
    return VKFT_OK;
}

vkft_status vkft_vk_dispatch(vkft_vk_rec *rec, const char *name, const uint32_t *spec,
                             int n_spec, const vkft_vk_arg *args, int n_args, const void *push,
                             size_t push_size, uint32_t gx, uint32_t gy, uint32_t gz,
                             vkft_err *err) {
    vkft_vk_device *vk = rec->vk;
    const vkft_vk_kernel *kernel = vkft_vk_kernel_find(name);
    if (!kernel) return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "no shader named %s", name);
    if (n_args > VKFT_VK_MAX_BINDINGS || push_size > VKFT_VK_PUSH_BYTES)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: too many bindings or push bytes", name);
    const uint32_t *max_count = vk->limits.maxComputeWorkGroupCount;
    if (!gx || !gy || !gz || gx > max_count[0] || gy > max_count[1] || gz > max_count[2])
        return vkft_fail(err, VKFT_ERR_LIMIT, "%s: grid %ux%ux%u is outside the device's limits",
                         name, gx, gy, gz);
    uint32_t texel_mask = 0;
    for (int i = 0; i < n_args; i++)
        if (args[i].texel_format != VK_FORMAT_UNDEFINED) texel_mask |= 1u << i;
    vkft_vk_pipeline *p;
    vkft_status st = vkft_vk_pipeline_get(vk, kernel, spec, n_spec, n_args, texel_mask, &p, err);
    if (st) return st;

    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = rec->pool,
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &p->set_layout};
    VkDescriptorSet set;
    VkResult ar = vkAllocateDescriptorSets(vk->device, &ai, &set);
    if ((ar == VK_ERROR_OUT_OF_POOL_MEMORY || ar == VK_ERROR_FRAGMENTED_POOL) && rec->grow_pools) {
        st = vkft_vk_rec_add_pool(rec, err);
        if (st) return st;
        ai.descriptorPool = rec->pool;
        ar = vkAllocateDescriptorSets(vk->device, &ai, &set);
    }
    VKFT_VK_TRY(err, ar);
    vk->n_descriptor_sets_allocated++;

    VkDescriptorBufferInfo bufs[VKFT_VK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[VKFT_VK_MAX_BINDINGS];
    int view_at[VKFT_VK_MAX_BINDINGS] = {0};  /* texel bindings: index in rec->views */
    for (int i = 0; i < n_args; i++) {
        const vkft_vk_arg *a = &args[i];
        if (!a->t)
            return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: binding %d has no tensor", name, i);
        uint64_t range = a->range ? a->range : a->t->bytes - a->offset;
        if (a->offset >= a->t->bytes || a->offset % 16 || range > a->t->bytes - a->offset)
            return vkft_fail(err, VKFT_ERR_INVALID_ARG,
                             "%s: binding %d range %llu+%llu is outside its %zu-byte tensor", name,
                             i, (unsigned long long)a->offset, (unsigned long long)range,
                             a->t->bytes);
        range = (range + 3) & ~(uint64_t)3;  /* whole words; allocations are padded */
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = set,
                                           .dstBinding = (uint32_t)i,
                                           .descriptorCount = 1};
        if (a->texel_format == VK_FORMAT_UNDEFINED) {
            if (range > vk->max_range)
                return vkft_fail(err, VKFT_ERR_LIMIT,
                                 "%s: binding %d needs %llu bytes, more than the device's "
                                 "storage-buffer range (%llu); this op has no split path for it",
                                 name, i, (unsigned long long)range,
                                 (unsigned long long)vk->max_range);
            bufs[i] = (VkDescriptorBufferInfo){.buffer = a->t->vk->buffer,
                                               .offset = a->t->vk->offset + a->offset,
                                               .range = range};
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &bufs[i];
        } else {
            uint64_t texel = a->texel_format == VK_FORMAT_R32G32B32A32_SFLOAT ? 16 : 4;
            if (range / texel > vk->max_texels)
                return vkft_fail(err, VKFT_ERR_LIMIT,
                                 "%s: binding %d needs %llu texels, more than the device's "
                                 "maxTexelBufferElements (%llu)", name, i,
                                 (unsigned long long)(range / texel),
                                 (unsigned long long)vk->max_texels);
            if (rec->n_views == rec->cap_views) {
                int cap = rec->cap_views ? 2 * rec->cap_views : 64;
                VkBufferView *nv = realloc(rec->views, (size_t)cap * sizeof *nv);
                if (!nv) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "%s: out of host memory", name);
                rec->views = nv;
                rec->cap_views = cap;
            }
            VkBufferViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                         .buffer = a->t->vk->buffer,
                                         .format = a->texel_format,
                                         .offset = a->t->vk->offset + a->offset,
                                         .range = range / texel * texel};
            VKFT_VK_TRY(err, vkCreateBufferView(vk->device, &vi, NULL, &rec->views[rec->n_views]));
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            view_at[i] = rec->n_views++;
        }
    }
    /* pointed to only now: a later binding's realloc of rec->views would leave them dangling */
    for (int i = 0; i < n_args; i++)
        if (texel_mask >> i & 1) writes[i].pTexelBufferView = &rec->views[view_at[i]];
    vkUpdateDescriptorSets(vk->device, (uint32_t)n_args, writes, 0, NULL);
    VkQueryPool qpool = VK_NULL_HANDLE;
    uint32_t q = 0;
    if (rec->profile && (st = profile_slot(rec, &qpool, &q, err))) return st;
    settle(rec);
    if (qpool) vkCmdWriteTimestamp(rec->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, qpool, q);
    vkCmdBindPipeline(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    vkCmdBindDescriptorSets(rec->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0,
                            NULL);
    uint8_t pc[VKFT_VK_PUSH_BYTES] = {0};
    if (push_size) memcpy(pc, push, push_size);
    vkCmdPushConstants(rec->cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, VKFT_VK_PUSH_BYTES,
                       pc);
    vkCmdDispatch(rec->cmd, gx, gy, gz);
    if (qpool) vkCmdWriteTimestamp(rec->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool, q + 1);
    rec->n_dispatches++;
    rec->need_barrier = true;
    return VKFT_OK;
}

vkft_status vkft_vk_rec_add_pool(vkft_vk_rec *rec, vkft_err *err) {
    if (rec->n_own_pools == VKFT_VK_MAX_POOLS)
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "more than %d descriptor pools",
                         VKFT_VK_MAX_POOLS);
    enum { SETS = 256 };
    VkDescriptorPoolSize sizes[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = SETS * 8},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = SETS * 2}};
    VkDescriptorPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                     .maxSets = SETS,
                                     .poolSizeCount = 2,
                                     .pPoolSizes = sizes};
    VkDescriptorPool pool;
    VKFT_VK_TRY(err, vkCreateDescriptorPool(rec->vk->device, &ci, NULL, &pool));
    rec->own_pools[rec->n_own_pools++] = pool;
    rec->pool = pool;
    return VKFT_OK;
}

void vkft_vk_rec_release(vkft_vk_rec *rec) {
    for (int i = 0; i < rec->n_views; i++)
        vkDestroyBufferView(rec->vk->device, rec->views[i], NULL);
    rec->n_views = 0;
    free(rec->views);
    rec->views = NULL;
    rec->cap_views = 0;
    for (int i = 0; i < rec->n_scratch; i++) vkft_tensor_destroy(rec->scratch[i]);
    rec->n_scratch = 0;
    free(rec->scratch);
    rec->scratch = NULL;
    rec->cap_scratch = 0;
    for (int i = 0; i < rec->n_own_pools; i++)
        vkDestroyDescriptorPool(rec->vk->device, rec->own_pools[i], NULL);
    rec->n_own_pools = 0;
    for (int i = 0; i < rec->n_query_pools; i++)
        vkDestroyQueryPool(rec->vk->device, rec->query_pools[i], NULL);
    rec->n_query_pools = 0;
    free(rec->profiled);
    rec->profiled = NULL;
    rec->n_profiled = rec->cap_profiled = 0;
}

vkft_status vkft_vk_run_op(vkft_device *dev, const vkft_op_call *call) {
    vkft_vk_device *vk = dev->vk;
    vkft_err *err = &dev->err;
    const vkft_op_def *def = vkft_op_def_get(call->op);
    if (!def->vk) return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "%s: no Vulkan kernel", def->name);
    vkft_vk_rec *rec = calloc(1, sizeof *rec);
    if (!rec) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "out of host memory");
    rec->vk = vk;
    rec->cmd = vk->cmd;
    rec->pool = vk->eager_pool;
    vkft_status st = VKFT_OK;
    VkResult r = vkResetDescriptorPool(vk->device, vk->eager_pool, 0);
    if (r == VK_SUCCESS) r = vkResetCommandPool(vk->device, vk->cmd_pool, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if (r == VK_SUCCESS) r = vkBeginCommandBuffer(vk->cmd, &bi);
    if (r != VK_SUCCESS) {
        free(rec);
        return vkft_fail(err, VKFT_ERR_DEVICE, "%s: beginning a command buffer failed: %s",
                         def->name, vkft_vk_result_str(r));
    }
    if (vk->timestamps) {
        vkCmdResetQueryPool(vk->cmd, vk->timestamps, 0, 2);
        vkCmdWriteTimestamp(vk->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, vk->timestamps, 0);
    }
    st = def->vk(rec, call, err);
    rec->need_barrier = true;  /* make the op's writes visible to the transfers that follow */
    settle(rec);
    if (vk->timestamps)
        vkCmdWriteTimestamp(vk->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vk->timestamps, 1);
    r = vkEndCommandBuffer(vk->cmd);
    if (!st && r != VK_SUCCESS)
        st = vkft_fail(err, VKFT_ERR_DEVICE, "%s: vkEndCommandBuffer failed: %s", def->name,
                       vkft_vk_result_str(r));
    if (!st) {
        VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                           .commandBufferCount = 1,
                           .pCommandBuffers = &vk->cmd};
        r = vkResetFences(vk->device, 1, &vk->fence);
        if (r == VK_SUCCESS) r = vkQueueSubmit(vk->queue, 1, &si, vk->fence);
        if (r == VK_SUCCESS) {
            vk->n_submits++;
            r = vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, UINT64_MAX);
        }
        if (r != VK_SUCCESS)
            st = vkft_fail(err, VKFT_ERR_DEVICE, "%s: submitting failed: %s", def->name,
                           vkft_vk_result_str(r));
    }
    vk->last_run_ns = 0;
    if (!st && vk->timestamps) {
        uint64_t ts[2];
        if (vkGetQueryPoolResults(vk->device, vk->timestamps, 0, 2, sizeof ts, ts, sizeof ts[0],
                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) ==
            VK_SUCCESS)
            vk->last_run_ns = (uint64_t)((double)(ts[1] - ts[0]) * vk->timestamp_period_ns);
    }
    vkft_vk_rec_release(rec);
    free(rec);
    return st;
}
