/* Instance creation, validation messages and device probing (see vk_instance.h). */
#if defined(__SANITIZE_ADDRESS__)
#define _GNU_SOURCE  /* dl_iterate_phdr, RTLD_NODELETE (sanitized builds only; see below) */
#define VKFT_KEEP_DRIVERS_MAPPED 1
#include <dlfcn.h>
#include <link.h>
#endif
#include "vulkan/vk_instance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VKFT_KEEP_DRIVERS_MAPPED
/*
 * AddressSanitizer builds: every shared object loaded when an instance has just been created
 * (the Vulkan driver, its LLVM, the layers) is marked never to be unloaded. The loader unloads
 * the driver before LeakSanitizer reports at exit; the driver's own leftover blocks then have
 * stacks without module names, which tests/lsan.supp cannot match. Names are collected first:
 * dlopen inside dl_iterate_phdr's callback would run under the loader's lock.
 */
enum { KEEP_MAX = 512 };
typedef struct { char *names[KEEP_MAX]; int n; } keep_list;

static int collect_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    keep_list *k = data;
    if (info->dlpi_name && info->dlpi_name[0] && k->n < KEEP_MAX &&
        (k->names[k->n] = strdup(info->dlpi_name)))
        k->n++;
    return 0;
}

static void keep_drivers_mapped(void) {
    keep_list k = {.n = 0};
    dl_iterate_phdr(collect_object, &k);
    for (int i = 0; i < k.n; i++) {
        /* a reference that is never dropped, on purpose; NULL (not loaded any more) is fine */
        (void)dlopen(k.names[i], RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
        free(k.names[i]);
    }
}
#endif

/*
 * volk's function pointers are process-wide, so they are loaded once and then only read: the
 * global commands when the first context starts, the instance- and device-level commands from
 * the first instance through vkGetInstanceProcAddr. Those are the loader's trampolines, which
 * dispatch on the handle passed, so they serve every later instance and device alike (volk's
 * per-device loading would rebind them to one driver and break a second device). The mutex
 * orders that one-time load between threads creating contexts. Extension commands are
 * per-instance (vkft_vk_instance).
 */
static pthread_mutex_t volk_lock = PTHREAD_MUTEX_INITIALIZER;
static bool volk_tried, volk_instance_loaded;
static VkResult volk_result;

static VkResult volk_init_once(void) {
    pthread_mutex_lock(&volk_lock);
    if (!volk_tried) {
        volk_result = volkInitialize();
        volk_tried = true;
    }
    VkResult r = volk_result;
    pthread_mutex_unlock(&volk_lock);
    return r;
}

static void volk_load_instance_once(VkInstance instance) {
    pthread_mutex_lock(&volk_lock);
    if (!volk_instance_loaded) volkLoadInstance(instance);
    volk_instance_loaded = true;
    pthread_mutex_unlock(&volk_lock);
}

const char *vkft_vk_result_str(VkResult r) {
    switch (r) {
#define C(x) case x: return #x
        C(VK_SUCCESS); C(VK_NOT_READY); C(VK_TIMEOUT); C(VK_INCOMPLETE);
        C(VK_ERROR_OUT_OF_HOST_MEMORY); C(VK_ERROR_OUT_OF_DEVICE_MEMORY);
        C(VK_ERROR_INITIALIZATION_FAILED); C(VK_ERROR_DEVICE_LOST);
        C(VK_ERROR_MEMORY_MAP_FAILED); C(VK_ERROR_LAYER_NOT_PRESENT);
        C(VK_ERROR_EXTENSION_NOT_PRESENT); C(VK_ERROR_FEATURE_NOT_PRESENT);
        C(VK_ERROR_INCOMPATIBLE_DRIVER); C(VK_ERROR_TOO_MANY_OBJECTS);
        C(VK_ERROR_FORMAT_NOT_SUPPORTED); C(VK_ERROR_FRAGMENTED_POOL);
        C(VK_ERROR_OUT_OF_POOL_MEMORY); C(VK_ERROR_INVALID_EXTERNAL_HANDLE);
#undef C
    default: return "VkResult error";
    }
}

/* Every validation message is a failure in tests: count it and print it to stderr so the test
 * log says what went wrong (the library prints nothing else). */
static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
    (void)types;
    vkft_context *ctx = user;
    ctx->validation_messages++;
    fprintf(stderr, "vkft: Vulkan validation (%s): %s\n",
            severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
            data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

static bool has_layer(const char *name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return false;
    VkLayerProperties *props = calloc(n, sizeof *props);
    if (!props) return false;
    bool found = false;
    if (vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(props[i].layerName, name);
    free(props);
    return found;
}

vkft_status vkft_vk_instance_create(vkft_context *ctx, vkft_vk_instance **out) {
    *out = NULL;
    if (volk_init_once() != VK_SUCCESS) {
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice,
                 "no Vulkan loader (libvulkan.so.1) found; using the CPU backend");
        return vkft_fail(&ctx->err, VKFT_ERR_UNSUPPORTED, "%s", ctx->vulkan_notice);
    }
    uint32_t api = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(&api);
    if (api < VK_API_VERSION_1_1) {
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice,
                 "the Vulkan loader is older than 1.1; using the CPU backend");
        return vkft_fail(&ctx->err, VKFT_ERR_UNSUPPORTED, "%s", ctx->vulkan_notice);
    }
    const char *layer = "VK_LAYER_KHRONOS_validation";
    bool validation = ctx->opts.validation;
    if (validation && !has_layer(layer)) {
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice,
                 "validation asked for but %s is not installed", layer);
        return vkft_fail(&ctx->err, VKFT_ERR_VALIDATION, "%s", ctx->vulkan_notice);
    }
    vkft_vk_instance *vk = calloc(1, sizeof *vk);
    if (!vk) return vkft_fail(&ctx->err, VKFT_ERR_NO_MEMORY, "out of memory");
    vk->api_version = api >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3
                      : api >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1;
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkft",
        .pEngineName = "vkft",
        .engineVersion = VK_MAKE_VERSION(VKFT_VERSION_MAJOR, VKFT_VERSION_MINOR,
                                         VKFT_VERSION_PATCH),
        .apiVersion = vk->api_version,
    };
    const char *exts[1] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
        .pUserData = ctx,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &dbg : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = validation ? &layer : NULL,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = validation ? exts : NULL,
    };
    VkResult r = vkCreateInstance(&ci, NULL, &vk->instance);
    if (r != VK_SUCCESS) {
        free(vk);
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice,
                 "no usable Vulkan driver: vkCreateInstance failed (%s); using the CPU backend",
                 vkft_vk_result_str(r));
        return vkft_fail(&ctx->err, VKFT_ERR_DEVICE, "%s", ctx->vulkan_notice);
    }
#ifdef VKFT_KEEP_DRIVERS_MAPPED
    keep_drivers_mapped();
#endif
    volk_load_instance_once(vk->instance);
    if (validation) {
        vk->create_messenger = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            vk->instance, "vkCreateDebugUtilsMessengerEXT");
        vk->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            vk->instance, "vkDestroyDebugUtilsMessengerEXT");
        r = vk->create_messenger && vk->destroy_messenger
                ? vk->create_messenger(vk->instance, &dbg, NULL, &vk->messenger)
                : VK_ERROR_EXTENSION_NOT_PRESENT;
        if (r != VK_SUCCESS) {
            vkDestroyInstance(vk->instance, NULL);
            free(vk);
            return vkft_fail(&ctx->err, VKFT_ERR_VALIDATION,
                             "vkCreateDebugUtilsMessengerEXT failed: %s", vkft_vk_result_str(r));
        }
    }
    uint32_t n = 0;
    r = vkEnumeratePhysicalDevices(vk->instance, &n, NULL);
    if (r == VK_SUCCESS && n > VKFT_MAX_DEVICES - 1) n = VKFT_MAX_DEVICES - 1;
    if (r == VK_SUCCESS || r == VK_INCOMPLETE) r = vkEnumeratePhysicalDevices(vk->instance, &n,
                                                                              vk->phys);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice,
                 "vkEnumeratePhysicalDevices failed (%s); using the CPU backend",
                 vkft_vk_result_str(r));
        n = 0;
    }
    vk->n_phys = n;
    *out = vk;
    return VKFT_OK;
}

void vkft_vk_instance_destroy(vkft_vk_instance *vk) {
    if (!vk) return;
    if (vk->messenger) vk->destroy_messenger(vk->instance, vk->messenger, NULL);
    vkDestroyInstance(vk->instance, NULL);
    free(vk);
}

int vkft_vk_instance_device_count(const vkft_vk_instance *vk) { return vk ? (int)vk->n_phys : 0; }

static bool has_device_ext(VkPhysicalDevice pd, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS) return false;
    VkExtensionProperties *props = calloc(n ? n : 1, sizeof *props);
    if (!props) return false;
    bool found = false;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, props) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(props[i].extensionName, name);
    free(props);
    return found;
}

vkft_status vkft_vk_instance_probe(vkft_context *ctx, int i, vkft_device_info *info) {
    vkft_vk_instance *vk = ctx->vk;
    VkPhysicalDevice pd = vk->phys[i];
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &driver};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                         .pNext = &subgroup};
    VkPhysicalDeviceProperties basic;
    vkGetPhysicalDeviceProperties(pd, &basic);
    if (basic.apiVersion < VK_API_VERSION_1_1) return VKFT_ERR_UNSUPPORTED;
    bool has_driver_props = basic.apiVersion >= VK_API_VERSION_1_2;
    if (!has_driver_props) subgroup.pNext = NULL;
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
        .pNext = props.pNext};
    props.pNext = &m3;
    vkGetPhysicalDeviceProperties2(pd, &props);
    const VkPhysicalDeviceLimits *lim = &props.properties.limits;

    snprintf(info->name, sizeof info->name, "%s", props.properties.deviceName);
    snprintf(info->spec, sizeof info->spec, "vulkan:%d", ctx->n_devices);
    info->vendor_id = props.properties.vendorID;
    info->device_id = props.properties.deviceID;
    if (has_driver_props) {
        snprintf(info->driver_name, sizeof info->driver_name, "%s", driver.driverName);
        snprintf(info->driver_info, sizeof info->driver_info, "%s", driver.driverInfo);
    } else {
        snprintf(info->driver_name, sizeof info->driver_name, "driver %u",
                 props.properties.driverVersion);
    }
    switch (props.properties.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: info->type = VKFT_DEVICE_DISCRETE_GPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: info->type = VKFT_DEVICE_INTEGRATED_GPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: info->type = VKFT_DEVICE_VIRTUAL_GPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: info->type = VKFT_DEVICE_VULKAN_CPU; break;
    default: info->type = VKFT_DEVICE_OTHER; break;
    }
    info->api_version = props.properties.apiVersion;
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    info->heap_count = (int)(mem.memoryHeapCount > 16 ? 16 : mem.memoryHeapCount);
    for (int h = 0; h < info->heap_count; h++) {
        info->heap_size[h] = mem.memoryHeaps[h].size;
        info->heap_device_local[h] = mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
    }
    info->max_storage_buffer_range = lim->maxStorageBufferRange;
    info->max_memory_allocation_size = m3.maxMemoryAllocationSize;
    info->max_texel_buffer_elements = lim->maxTexelBufferElements;
    uint64_t cap = ctx->opts.max_buffer_range;  /* the tiny-limit override for tests */
    if (cap && cap < info->max_storage_buffer_range) info->max_storage_buffer_range = cap;
    if (cap && cap / 16 < info->max_texel_buffer_elements)
        info->max_texel_buffer_elements = cap / 16;  /* one RGBA32F texel is 16 bytes */
    info->max_shared_memory = lim->maxComputeSharedMemorySize;
    info->subgroup_size = subgroup.subgroupSize;
    info->timestamps = lim->timestampComputeAndGraphics && lim->timestampPeriod > 0;

    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &f12};
    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    bool v12 = basic.apiVersion >= VK_API_VERSION_1_2;
    feats.pNext = v12 ? (void *)&f11 : (void *)&s16;
    vkGetPhysicalDeviceFeatures2(pd, &feats);
    if (v12) {
        info->fp16_arithmetic = f12.shaderFloat16;
        info->int8_arithmetic = f12.shaderInt8;
        info->storage_16bit = f11.storageBuffer16BitAccess;
        info->storage_8bit = f12.storageBuffer8BitAccess;
        info->buffer_device_address = f12.bufferDeviceAddress;
    } else {
        info->storage_16bit = s16.storageBuffer16BitAccess;
    }
    if (ctx->opts.no_fp16) info->fp16_arithmetic = info->storage_16bit = false;
    info->cooperative_matrix = has_device_ext(pd, "VK_KHR_cooperative_matrix") ||
                               has_device_ext(pd, "VK_NV_cooperative_matrix");
    return VKFT_OK;
}
