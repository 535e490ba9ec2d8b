/*
 * Compute pipelines: one per (kernel, specialization constants, binding layout), made on first
 * use and kept for the device's lifetime. Every pipeline has one descriptor set of storage
 * buffers / uniform texel buffers at bindings 0..n-1 and a 128-byte push-constant block.
 * A VkPipelineCache is loaded from and saved to the cache directory, keyed by device UUID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vulkan/vk_device.h"

/* Generated at build time from shaders/ (see tools/embed_spirv.c). */
extern const vkft_vk_kernel vkft_vk_kernels[];
extern const size_t vkft_vk_kernel_count;

const vkft_vk_kernel *vkft_vk_kernel_find(const char *name) {
    for (size_t i = 0; i < vkft_vk_kernel_count; i++)
        if (!strcmp(vkft_vk_kernels[i].name, name)) return &vkft_vk_kernels[i];
    return NULL;
}

static bool same_key(const vkft_vk_pipeline *p, const vkft_vk_kernel *k, const uint32_t *spec,
                     int n_spec, int n_bindings, uint32_t texel_mask) {
    return p->kernel == k && p->n_spec == n_spec && p->n_bindings == n_bindings &&
           p->texel_mask == texel_mask &&
           (n_spec == 0 || !memcmp(p->spec, spec, sizeof(uint32_t) * (size_t)n_spec));
}

static void pipeline_destroy(vkft_vk_device *vk, vkft_vk_pipeline *p) {
    if (p->pipeline) vkDestroyPipeline(vk->device, p->pipeline, NULL);
    if (p->layout) vkDestroyPipelineLayout(vk->device, p->layout, NULL);
    if (p->set_layout) vkDestroyDescriptorSetLayout(vk->device, p->set_layout, NULL);
    memset(p, 0, sizeof *p);
}

vkft_status vkft_vk_pipeline_get(vkft_vk_device *vk, const vkft_vk_kernel *kernel,
                                 const uint32_t *spec, int n_spec, int n_bindings,
                                 uint32_t texel_mask, vkft_vk_pipeline **out, vkft_err *err) {
    for (int i = 0; i < vk->n_pipelines; i++)
        if (same_key(&vk->pipelines[i], kernel, spec, n_spec, n_bindings, texel_mask)) {
            *out = &vk->pipelines[i];
            return VKFT_OK;
        }
    if (vk->n_pipelines == VKFT_VK_MAX_PIPELINES)
        return vkft_fail(err, VKFT_ERR_NO_MEMORY, "more than %d pipelines",
                         VKFT_VK_MAX_PIPELINES);
    if (n_spec > VKFT_VK_MAX_SPEC || n_bindings > VKFT_VK_MAX_BINDINGS)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "kernel %s: too many constants or bindings",
                         kernel->name);
    vkft_vk_pipeline *p = &vk->pipelines[vk->n_pipelines];
    memset(p, 0, sizeof *p);
    p->kernel = kernel;
    p->n_spec = n_spec;
    if (n_spec) memcpy(p->spec, spec, sizeof(uint32_t) * (size_t)n_spec);
    p->n_bindings = n_bindings;
    p->texel_mask = texel_mask;

    VkDescriptorSetLayoutBinding b[VKFT_VK_MAX_BINDINGS];
    for (int i = 0; i < n_bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = texel_mask >> i & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                  : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dl = {.sType =
                                              VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = (uint32_t)n_bindings,
                                          .pBindings = b};
    vkft_status st = VKFT_OK;
    VkShaderModule module = VK_NULL_HANDLE;
    VkResult r = vkCreateDescriptorSetLayout(vk->device, &dl, NULL, &p->set_layout);
    if (r == VK_SUCCESS) {
        VkPushConstantRange pc = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
                                  .size = VKFT_VK_PUSH_BYTES};
        VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                         .setLayoutCount = 1,
                                         .pSetLayouts = &p->set_layout,
                                         .pushConstantRangeCount = 1,
                                         .pPushConstantRanges = &pc};
        r = vkCreatePipelineLayout(vk->device, &pl, NULL, &p->layout);
    }
    if (r == VK_SUCCESS) {
        VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                       .codeSize = kernel->size,
                                       .pCode = kernel->code};
        r = vkCreateShaderModule(vk->device, &mi, NULL, &module);
    }
    if (r == VK_SUCCESS) {
        VkSpecializationMapEntry map[VKFT_VK_MAX_SPEC];
        for (int i = 0; i < n_spec; i++)
            map[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i,
                                                .offset = (uint32_t)(4 * i),
                                                .size = 4};
        VkSpecializationInfo si = {.mapEntryCount = (uint32_t)n_spec,
                                   .pMapEntries = map,
                                   .dataSize = 4 * (size_t)n_spec,
                                   .pData = p->spec};
        VkComputePipelineCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                      .module = module,
                      .pName = "main",
                      .pSpecializationInfo = n_spec ? &si : NULL},
            .layout = p->layout,
        };
        r = vkCreateComputePipelines(vk->device, vk->pipeline_cache, 1, &ci, NULL, &p->pipeline);
    }
    if (module) vkDestroyShaderModule(vk->device, module, NULL);
    if (r != VK_SUCCESS) {
        st = vkft_fail(err, VKFT_ERR_DEVICE, "creating the pipeline for kernel %s failed: %s",
                       kernel->name, vkft_vk_result_str(r));
        pipeline_destroy(vk, p);
        return st;
    }
    vk->n_pipelines++;
    vk->n_pipelines_created++;
    *out = p;
    return VKFT_OK;
}

void vkft_vk_pipelines_destroy(vkft_vk_device *vk) {
    for (int i = 0; i < vk->n_pipelines; i++) pipeline_destroy(vk, &vk->pipelines[i]);
    vk->n_pipelines = 0;
    if (vk->pipeline_cache) vkDestroyPipelineCache(vk->device, vk->pipeline_cache, NULL);
    vk->pipeline_cache = VK_NULL_HANDLE;
}

/* mkdir -p for the cache directory; failures surface when the file is opened. */
static void make_dirs(const char *path) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

vkft_status vkft_vk_pipeline_cache_open(vkft_vk_device *vk, const char *cache_dir,
                                        vkft_err *err) {
    void *data = NULL;
    size_t size = 0;
    vk->pipeline_cache_path[0] = 0;
    if (cache_dir && *cache_dir) {
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(vk->pd, &props);
        char uuid[33];
        for (int i = 0; i < 16; i++) snprintf(uuid + 2 * i, 3, "%02x", props.pipelineCacheUUID[i]);
        snprintf(vk->pipeline_cache_path, sizeof vk->pipeline_cache_path,
                 "%s/pipelines-%04x-%04x-%s.bin", cache_dir, props.vendorID, props.deviceID,
                 uuid);
        FILE *f = fopen(vk->pipeline_cache_path, "rb");
        if (f) {
            if (fseek(f, 0, SEEK_END) == 0) {
                long n = ftell(f);
                if (n > 0 && n < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 &&
                    (data = malloc((size_t)n)) && fread(data, 1, (size_t)n, f) == (size_t)n)
                    size = (size_t)n;
            }
            fclose(f);
        }
    }
    VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                    .initialDataSize = size,
                                    .pInitialData = size ? data : NULL};
    VkResult r = vkCreatePipelineCache(vk->device, &ci, NULL, &vk->pipeline_cache);
    if (r != VK_SUCCESS && size) {  /* a stale or corrupt file: start empty */
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        r = vkCreatePipelineCache(vk->device, &ci, NULL, &vk->pipeline_cache);
    }
    free(data);
    VKFT_VK_TRY(err, r);
    return VKFT_OK;
}

void vkft_vk_pipeline_cache_save(vkft_vk_device *vk) {
    if (!vk->pipeline_cache || !vk->pipeline_cache_path[0] || !vk->n_pipelines_created) return;
    size_t size = 0;
    if (vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &size, NULL) != VK_SUCCESS || !size)
        return;
    void *data = malloc(size);
    if (!data) return;
    if (vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &size, data) == VK_SUCCESS) {
        char dir[600], tmp[640];
        snprintf(dir, sizeof dir, "%s", vk->pipeline_cache_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            make_dirs(dir);
        }
        /* a unique temporary: devices of one process (other threads) may save at once */
        snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", vk->pipeline_cache_path);
        int fd = mkstemp(tmp);
        if (fd >= 0) {
            bool ok = write(fd, data, size) == (ssize_t)size && fsync(fd) == 0;
            ok = close(fd) == 0 && ok;
            if (!ok || rename(tmp, vk->pipeline_cache_path) != 0) unlink(tmp);
        }
    }
    free(data);
}
