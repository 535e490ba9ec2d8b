/* Opening and closing a Vulkan device, and its tensor and transfer slots (see vk_device.h). */
#include "vulkan/vk_device.h"

#include <stdlib.h>
#include <string.h>

#include "vulkan/vk_dispatch.h"
#include "vulkan/vk_instance.h"

#define STAGING_BYTES ((VkDeviceSize)32 << 20)
#define EAGER_SETS 4096

static int find_mem_type(const VkPhysicalDeviceMemoryProperties *mp, VkMemoryPropertyFlags want,
                         VkMemoryPropertyFlags avoid) {
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        if ((f & want) == want && !(f & avoid)) return (int)i;
    }
    return -1;
}

static vkft_status vk_tensor_alloc(vkft_device *dev, vkft_tensor *t) {
    vkft_status st = vkft_vk_alloc_tensor(dev->vk, t->bytes, &t->vk, &dev->err);
    if (!st) dev->allocated_bytes += t->vk->size;
    return st;
}

static vkft_status vk_tensor_view(vkft_device *dev, const vkft_tensor *base, size_t offset,
                                  vkft_tensor *t) {
    t->vk = malloc(sizeof *t->vk);
    if (!t->vk) return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "out of host memory");
    *t->vk = *base->vk;
    t->vk->offset += offset;
    t->vk->size = base->vk->size - offset;
    return VKFT_OK;
}

static void vk_tensor_free(vkft_device *dev, vkft_tensor *t) {
    if (!t->vk) return;
    if (t->view) {
        free(t->vk);
        t->vk = NULL;
        return;
    }
    dev->allocated_bytes -= t->vk->size;
    vkft_vk_free_tensor(dev->vk, t->vk);
    t->vk = NULL;
}

/* Copies between the staging buffer and a tensor range, waiting for completion. */
static vkft_status staged_copy(vkft_vk_device *vk, const vkft_tensor *t, VkDeviceSize offset,
                               VkDeviceSize bytes, bool to_tensor, vkft_err *err) {
    VKFT_VK_TRY(err, vkResetCommandPool(vk->device, vk->cmd_pool, 0));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VKFT_VK_TRY(err, vkBeginCommandBuffer(vk->cmd, &bi));
    VkBufferCopy region = {.srcOffset = to_tensor ? 0 : t->vk->offset + offset,
                           .dstOffset = to_tensor ? t->vk->offset + offset : 0,
                           .size = bytes};
    vkCmdCopyBuffer(vk->cmd, to_tensor ? vk->staging : t->vk->buffer,
                    to_tensor ? t->vk->buffer : vk->staging, 1, &region);
    VKFT_VK_TRY(err, vkEndCommandBuffer(vk->cmd));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                       .commandBufferCount = 1,
                       .pCommandBuffers = &vk->cmd};
    VKFT_VK_TRY(err, vkResetFences(vk->device, 1, &vk->fence));
    VKFT_VK_TRY(err, vkQueueSubmit(vk->queue, 1, &si, vk->fence));
    vk->n_submits++;
    VKFT_VK_TRY(err, vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, UINT64_MAX));
    return VKFT_OK;
}

static vkft_status vk_upload(vkft_device *dev, vkft_tensor *t, const void *src, size_t bytes) {
    vkft_vk_device *vk = dev->vk;
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < vk->staging_size ? bytes - done : (size_t)vk->staging_size;
        memcpy(vk->staging_map, (const char *)src + done, n);
        vkft_status st = staged_copy(vk, t, done, n, true, &dev->err);
        if (st) return st;
        done += n;
    }
    return VKFT_OK;
}

static vkft_status vk_download(vkft_device *dev, const vkft_tensor *t, void *dst, size_t bytes) {
    vkft_vk_device *vk = dev->vk;
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < vk->staging_size ? bytes - done : (size_t)vk->staging_size;
        vkft_status st = staged_copy(vk, t, done, n, false, &dev->err);
        if (st) return st;
        memcpy((char *)dst + done, vk->staging_map, n);
        done += n;
    }
    return VKFT_OK;
}

static void vk_close(vkft_device *dev) {
    vkft_vk_device *vk = dev->vk;
    if (!vk) return;
    if (vk->device) {
        vkDeviceWaitIdle(vk->device);
        vkft_vk_pipeline_cache_save(vk);
        vkft_vk_pipelines_destroy(vk);
        vkft_vk_memory_destroy(vk);
        if (vk->staging_map) vkUnmapMemory(vk->device, vk->staging_mem);
        if (vk->staging) vkDestroyBuffer(vk->device, vk->staging, NULL);
        if (vk->staging_mem) vkFreeMemory(vk->device, vk->staging_mem, NULL);
        if (vk->timestamps) vkDestroyQueryPool(vk->device, vk->timestamps, NULL);
        if (vk->eager_pool) vkDestroyDescriptorPool(vk->device, vk->eager_pool, NULL);
        if (vk->fence) vkDestroyFence(vk->device, vk->fence, NULL);
        if (vk->cmd_pool) vkDestroyCommandPool(vk->device, vk->cmd_pool, NULL);
        vkDestroyDevice(vk->device, NULL);
    }
    free(vk);
    dev->vk = NULL;
}

static const vkft_device_backend vk_backend = {
    .name = "vulkan",
    .tensor_alloc = vk_tensor_alloc,
    .tensor_view = vk_tensor_view,
    .tensor_free = vk_tensor_free,
    .upload = vk_upload,
    .download = vk_download,
    .run_op = vkft_vk_run_op,
    .close = vk_close,
};

static vkft_status create_logical_device(vkft_vk_device *vk, uint32_t queue_props_ts,
                                         vkft_err *err) {
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = vk->queue_family,
                                  .queueCount = 1,
                                  .pQueuePriorities = &prio};
    /* Optional features are enabled only when present; kernels never assume them. */
    const vkft_device_info *info = &vk->dev->info;
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .shaderFloat16 = info->fp16_arithmetic,
        .shaderInt8 = info->int8_arithmetic,
        .storageBuffer8BitAccess = info->storage_8bit,
    };
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .pNext = &f12,
        .storageBuffer16BitAccess = info->storage_16bit,
    };
    bool v12 = info->api_version >= VK_API_VERSION_1_2;
    VkDeviceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                             .pNext = v12 ? &f11 : NULL,
                             .queueCreateInfoCount = 1,
                             .pQueueCreateInfos = &qi};
    (void)queue_props_ts;
    VKFT_VK_TRY(err, vkCreateDevice(vk->pd, &ci, NULL, &vk->device));
    /* device commands go through the loader's trampolines (vk_instance.c), not volkLoadDevice,
     * whose process-wide table would bind them to this device's driver */
    vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);
    return VKFT_OK;
}

vkft_status vkft_vk_device_open(vkft_context *ctx, int info_index, vkft_device *dev) {
    vkft_err *err = &dev->err;
    dev->backend = &vk_backend;
    vkft_vk_device *vk = calloc(1, sizeof *vk);
    if (!vk) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "out of host memory");
    dev->vk = vk;
    vk->dev = dev;
    vk->pd = ctx->vk->phys[ctx->vk_phys[info_index]];
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(vk->pd, &props);
    vk->limits = props.limits;
    vkGetPhysicalDeviceMemoryProperties(vk->pd, &vk->mem_props);

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(vk->pd, &nq, NULL);
    VkQueueFamilyProperties qp[16];
    if (nq > 16) nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(vk->pd, &nq, qp);
    int family = -1;
    for (uint32_t i = 0; i < nq && family < 0; i++)  /* prefer a compute-only queue */
        if ((qp[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
            !(qp[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            family = (int)i;
    for (uint32_t i = 0; i < nq && family < 0; i++)
        if (qp[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = (int)i;
    if (family < 0) return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "%s has no compute queue",
                                     dev->info.name);
    vk->queue_family = (uint32_t)family;
    vkft_status st = create_logical_device(vk, qp[family].timestampValidBits, err);
    if (st) return st;

    int t = find_mem_type(&vk->mem_props, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    if (t < 0) t = find_mem_type(&vk->mem_props, 0, 0);
    int s = find_mem_type(&vk->mem_props,
                          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT |
                              VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0);
    if (s < 0)
        s = find_mem_type(&vk->mem_props,
                          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                              VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, 0);
    if (t < 0 || s < 0)
        return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "%s lacks a usable memory type",
                         dev->info.name);
    vk->tensor_mem_type = (uint32_t)t;
    vk->staging_mem_type = (uint32_t)s;
    vk->max_range = dev->info.max_storage_buffer_range;
    vk->max_texels = dev->info.max_texel_buffer_elements;
    vk->block_size = (VkDeviceSize)256 << 20;
    if (vk->block_size > dev->info.max_memory_allocation_size)
        vk->block_size = dev->info.max_memory_allocation_size;
    switch (ctx->opts.kernel_variant) {
    case VKFT_KERNEL_CPU_SHAPED: vk->cpu_shaped = true; break;
    case VKFT_KERNEL_GPU_SHAPED: vk->cpu_shaped = false; break;
    default: vk->cpu_shaped = dev->info.type == VKFT_DEVICE_VULKAN_CPU; break;
    }

    /* Staging: one persistently mapped host buffer, reused for every transfer. */
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                             .size = STAGING_BYTES,
                             .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VKFT_VK_TRY(err, vkCreateBuffer(vk->device, &bi, NULL, &vk->staging));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, vk->staging, &req);
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = vk->staging_mem_type};
    VKFT_VK_TRY(err, vkAllocateMemory(vk->device, &ai, NULL, &vk->staging_mem));
    VKFT_VK_TRY(err, vkBindBufferMemory(vk->device, vk->staging, vk->staging_mem, 0));
    VKFT_VK_TRY(err, vkMapMemory(vk->device, vk->staging_mem, 0, VK_WHOLE_SIZE, 0,
                                 &vk->staging_map));
    vk->staging_size = STAGING_BYTES;

    VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                  .queueFamilyIndex = vk->queue_family};
    VKFT_VK_TRY(err, vkCreateCommandPool(vk->device, &pi, NULL, &vk->cmd_pool));
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = vk->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VKFT_VK_TRY(err, vkAllocateCommandBuffers(vk->device, &cai, &vk->cmd));
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VKFT_VK_TRY(err, vkCreateFence(vk->device, &fi, NULL, &vk->fence));
    VkDescriptorPoolSize sizes[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = EAGER_SETS * 8},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = EAGER_SETS * 2}};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = EAGER_SETS,
                                      .poolSizeCount = 2,
                                      .pPoolSizes = sizes};
    VKFT_VK_TRY(err, vkCreateDescriptorPool(vk->device, &dpi, NULL, &vk->eager_pool));
    if (dev->info.timestamps && qp[family].timestampValidBits) {
        VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                    .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                    .queryCount = 2};
        VKFT_VK_TRY(err, vkCreateQueryPool(vk->device, &qi, NULL, &vk->timestamps));
        vk->timestamp_period_ns = props.limits.timestampPeriod;
        uint32_t bits = qp[family].timestampValidBits;
        vk->timestamp_mask = bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    }
    return vkft_vk_pipeline_cache_open(vk, ctx->opts.no_pipeline_cache ? NULL : ctx->cache_dir,
                                       err);
}

uint64_t vkft_device_last_run_ns(const vkft_device *dev) {
    return dev && dev->vk ? dev->vk->last_run_ns : 0;
}
