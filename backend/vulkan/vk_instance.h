/*
 * The Vulkan instance: volk loads the loader at run time (no loader -> a notice, CPU only), the
 * optional Khronos validation layer with a debug messenger that counts every message, and the
 * probing of physical devices into vkft_device_info.
 */
#ifndef VKFT_VK_INSTANCE_H
#define VKFT_VK_INSTANCE_H

#include "core/internal.h"
#include "vulkan/vk_common.h"

struct vkft_vk_instance {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;  /* VK_NULL_HANDLE without validation */
    PFN_vkCreateDebugUtilsMessengerEXT create_messenger;   /* this instance's entry points */
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    uint32_t api_version;
    uint32_t n_phys;
    VkPhysicalDevice phys[VKFT_MAX_DEVICES];
};

/* On failure writes ctx->vulkan_notice and returns a status; ctx stays usable (CPU only). */
vkft_status vkft_vk_instance_create(vkft_context *ctx, vkft_vk_instance **out);
void vkft_vk_instance_destroy(vkft_vk_instance *vk);
int vkft_vk_instance_device_count(const vkft_vk_instance *vk);
/* Fills info for physical device i (spec "vulkan:<info index>" is set by the caller's order). */
vkft_status vkft_vk_instance_probe(vkft_context *ctx, int i, vkft_device_info *info);

#endif
