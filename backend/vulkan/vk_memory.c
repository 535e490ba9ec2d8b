/*
 * Tensor memory on Vulkan: a few large blocks (each one VkDeviceMemory with one VkBuffer over it,
 * at most maxMemoryAllocationSize), sub-allocated first-fit with a sorted, coalesced free list.
 * A tensor larger than the default block size gets a block of its own. Offsets are aligned to
 * 256 bytes, which satisfies every storage and texel-buffer offset alignment we have seen
 * (the device's own alignment is honoured too).
 */
#include <stdlib.h>

#include "vulkan/vk_device.h"

typedef struct vkft_vk_free_range {
    VkDeviceSize offset, size;
    struct vkft_vk_free_range *next;
} free_range;

static VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a) { return (x + a - 1) / a * a; }

static VkDeviceSize alloc_alignment(const vkft_vk_device *vk) {
    VkDeviceSize a = 256;
    while (a < vk->limits.minStorageBufferOffsetAlignment) a *= 2;
    while (a < vk->limits.minTexelBufferOffsetAlignment) a *= 2;
    return a;
}

static vkft_status block_create(vkft_vk_device *vk, int b, VkDeviceSize size, vkft_err *err) {
    vkft_vk_block *blk = &vk->blocks[b];
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VKFT_VK_TRY(err, vkCreateBuffer(vk->device, &bi, NULL, &blk->buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, blk->buffer, &req);
    if (!(req.memoryTypeBits & (1u << vk->tensor_mem_type))) {
        vkDestroyBuffer(vk->device, blk->buffer, NULL);
        blk->buffer = VK_NULL_HANDLE;
        return vkft_fail(err, VKFT_ERR_DEVICE, "no memory type fits a storage buffer");
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = vk->tensor_mem_type};
    VkResult r = vkAllocateMemory(vk->device, &ai, NULL, &blk->memory);
    if (r == VK_SUCCESS) r = vkBindBufferMemory(vk->device, blk->buffer, blk->memory, 0);
    if (r != VK_SUCCESS) {
        if (blk->memory) vkFreeMemory(vk->device, blk->memory, NULL);
        vkDestroyBuffer(vk->device, blk->buffer, NULL);
        blk->memory = VK_NULL_HANDLE;
        blk->buffer = VK_NULL_HANDLE;
        return vkft_fail(err, VKFT_ERR_NO_MEMORY,
                         "cannot allocate a %.1f MiB block of device memory (%s)",
                         (double)size / 1048576.0, vkft_vk_result_str(r));
    }
    blk->size = size;
    blk->free_list = malloc(sizeof(free_range));
    if (!blk->free_list) {
        vkFreeMemory(vk->device, blk->memory, NULL);
        vkDestroyBuffer(vk->device, blk->buffer, NULL);
        *blk = (vkft_vk_block){0};
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "out of host memory");
    }
    *blk->free_list = (free_range){.offset = 0, .size = size, .next = NULL};
    blk->live = 0;
    return VKFT_OK;
}

static void block_destroy(vkft_vk_device *vk, vkft_vk_block *blk) {
    for (free_range *f = blk->free_list, *next; f; f = next) {
        next = f->next;
        free(f);
    }
    if (blk->buffer) vkDestroyBuffer(vk->device, blk->buffer, NULL);
    if (blk->memory) vkFreeMemory(vk->device, blk->memory, NULL);
    *blk = (vkft_vk_block){0};
}

/* First fit in one block; returns false if nothing fits. */
static bool block_take(vkft_vk_block *blk, VkDeviceSize size, VkDeviceSize *offset) {
    for (free_range **pf = &blk->free_list; *pf; pf = &(*pf)->next) {
        free_range *f = *pf;
        if (f->size < size) continue;
        *offset = f->offset;
        f->offset += size;
        f->size -= size;
        if (f->size == 0) {
            *pf = f->next;
            free(f);
        }
        blk->live++;
        return true;
    }
    return false;
}

/* Returns [offset, offset+size) to the free list, merging neighbours. false: out of memory. */
static bool block_give(vkft_vk_block *blk, VkDeviceSize offset, VkDeviceSize size) {
    free_range **pf = &blk->free_list;
    while (*pf && (*pf)->offset < offset) pf = &(*pf)->next;
    free_range *prev = NULL;
    for (free_range *f = blk->free_list; f && f->offset < offset; f = f->next) prev = f;
    free_range *next = *pf;
    blk->live--;
    if (prev && prev->offset + prev->size == offset) {
        prev->size += size;
        if (next && prev->offset + prev->size == next->offset) {
            prev->size += next->size;
            prev->next = next->next;
            free(next);
        }
        return true;
    }
    if (next && offset + size == next->offset) {
        next->offset = offset;
        next->size += size;
        return true;
    }
    free_range *n = malloc(sizeof *n);
    if (!n) return false;  /* the range leaks until the device closes; nothing else breaks */
    *n = (free_range){.offset = offset, .size = size, .next = next};
    *pf = n;
    return true;
}

vkft_status vkft_vk_alloc_tensor(vkft_vk_device *vk, VkDeviceSize bytes, vkft_vk_alloc **out,
                                 vkft_err *err) {
    *out = NULL;
    VkDeviceSize align = alloc_alignment(vk);
    VkDeviceSize size = align_up(bytes ? bytes : 1, align);
    const vkft_device_info *info = &vk->dev->info;
    if (size > info->max_memory_allocation_size)
        return vkft_fail(err, VKFT_ERR_LIMIT,
                         "a tensor of %.1f MiB exceeds this device's maxMemoryAllocationSize "
                         "(%.1f MiB)", (double)bytes / 1048576.0,
                         (double)info->max_memory_allocation_size / 1048576.0);
    vkft_vk_alloc *a = calloc(1, sizeof *a);
    if (!a) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "out of host memory");
    int free_slot = -1;
    for (int b = 0; b < VKFT_VK_MAX_BLOCKS; b++) {
        vkft_vk_block *blk = &vk->blocks[b];
        if (!blk->memory) {
            if (free_slot < 0) free_slot = b;
            continue;
        }
        if (block_take(blk, size, &a->offset)) {
            a->block = b;
            goto done;
        }
    }
    if (free_slot < 0) {
        free(a);
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "too many memory blocks (%d)",
                         VKFT_VK_MAX_BLOCKS);
    }
    VkDeviceSize block = size > vk->block_size ? size : vk->block_size;
    if (block > info->max_memory_allocation_size) block = size;
    vkft_status st = block_create(vk, free_slot, block, err);
    if (st) {
        free(a);
        return st;
    }
    block_take(&vk->blocks[free_slot], size, &a->offset);
    a->block = free_slot;
done:
    a->buffer = vk->blocks[a->block].buffer;
    a->size = size;
    *out = a;
    return VKFT_OK;
}

void vkft_vk_free_tensor(vkft_vk_device *vk, vkft_vk_alloc *a) {
    if (!a) return;
    vkft_vk_block *blk = &vk->blocks[a->block];
    block_give(blk, a->offset, a->size);
    free(a);
    if (blk->live > 0) return;
    /* Keep one empty block for the next tensors (allocating device memory is slow: on CPU
     * drivers it is fresh pages to fault in); give any other empty block back to the driver. */
    for (int b = 0; b < VKFT_VK_MAX_BLOCKS; b++)
        if (&vk->blocks[b] != blk && vk->blocks[b].memory && vk->blocks[b].live == 0) {
            block_destroy(vk, blk);
            return;
        }
}

void vkft_vk_memory_destroy(vkft_vk_device *vk) {
    for (int b = 0; b < VKFT_VK_MAX_BLOCKS; b++)
        if (vk->blocks[b].memory) block_destroy(vk, &vk->blocks[b]);
}
