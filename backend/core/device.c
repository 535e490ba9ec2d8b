/* Device selection ("auto", "cpu", "vulkan", "vulkan:N") and the device handle's lifetime. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* Index into ctx->infos for a spec, or -1 with a message. */
static int resolve_spec(vkft_context *ctx, const char *spec) {
    int n_vk = ctx->n_devices - 1;  /* the CPU backend is last */
    if (!strcmp(spec, "cpu")) return ctx->n_devices - 1;
    if (!strcmp(spec, "auto")) {
        static const vkft_device_type order[] = {VKFT_DEVICE_DISCRETE_GPU,
                                                 VKFT_DEVICE_INTEGRATED_GPU,
                                                 VKFT_DEVICE_VIRTUAL_GPU, VKFT_DEVICE_OTHER,
                                                 VKFT_DEVICE_VULKAN_CPU};
        for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
            for (int i = 0; i < n_vk; i++)
                if (ctx->infos[i].type == order[o]) return i;
        return ctx->n_devices - 1;
    }
    int idx = 0;
    if (!strcmp(spec, "vulkan")) {
        idx = 0;
    } else if (!strncmp(spec, "vulkan:", 7)) {
        char *end;
        long v = strtol(spec + 7, &end, 10);
        if (*end || end == spec + 7 || v < 0) {
            vkft_fail(&ctx->err, VKFT_ERR_INVALID_ARG,
                      "device '%s': expected auto, cpu, vulkan or vulkan:N", spec);
            return -1;
        }
        idx = (int)v;
    } else {
        vkft_fail(&ctx->err, VKFT_ERR_INVALID_ARG,
                  "device '%s': expected auto, cpu, vulkan or vulkan:N", spec);
        return -1;
    }
    if (idx >= n_vk) {
        if (n_vk == 0)
            vkft_fail(&ctx->err, VKFT_ERR_INVALID_ARG, "device '%s': no Vulkan device (%s)", spec,
                      ctx->vulkan_notice[0] ? ctx->vulkan_notice : "none found");
        else
            vkft_fail(&ctx->err, VKFT_ERR_INVALID_ARG,
                      "device '%s': only %d Vulkan device(s), vulkan:0..vulkan:%d", spec, n_vk,
                      n_vk - 1);
        return -1;
    }
    return idx;
}

vkft_status vkft_device_open(vkft_context *ctx, const char *spec, vkft_device **out) {
    if (!out) return VKFT_ERR_INVALID_ARG;
    *out = NULL;
    if (!ctx) return VKFT_ERR_INVALID_ARG;
    if (!spec) spec = "auto";
    int idx = resolve_spec(ctx, spec);
    if (idx < 0) return VKFT_ERR_INVALID_ARG;
    vkft_device *dev = calloc(1, sizeof *dev);
    if (!dev) return vkft_fail(&ctx->err, VKFT_ERR_NO_MEMORY, "device_open: out of memory");
    dev->ctx = ctx;
    dev->info = ctx->infos[idx];
    vkft_status st = dev->info.type == VKFT_DEVICE_CPU_BACKEND
                         ? vkft_cpu_device_open(ctx, dev)
                         : vkft_vk_device_open(ctx, idx, dev);
    if (st) {
        snprintf(ctx->err.msg, sizeof ctx->err.msg, "%s", dev->err.msg);
        if (dev->backend) dev->backend->close(dev);
        free(dev);
        return st;
    }
    *out = dev;
    return VKFT_OK;
}

void vkft_device_close(vkft_device *dev) {
    if (!dev) return;
    dev->backend->close(dev);
    free(dev);
}

const vkft_device_info *vkft_device_get_info(const vkft_device *dev) {
    return dev ? &dev->info : NULL;
}

const char *vkft_device_error(const vkft_device *dev) { return dev ? dev->err.msg : ""; }

uint64_t vkft_device_allocated_bytes(const vkft_device *dev) {
    return dev ? dev->allocated_bytes : 0;
}
