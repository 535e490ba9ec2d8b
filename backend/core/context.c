/*
 * Contexts: options (defaults, then the environment), Vulkan loading, the device list.
 * The context's device list is fixed at creation: Vulkan devices in enumeration order, then
 * the CPU backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "cpu/cpu_device.h"
#include "vulkan/vk_instance.h"

void vkft_context_options_default(vkft_context_options *opts) {
    memset(opts, 0, sizeof *opts);
}

static vkft_status env_bool(const char *name, bool *out, char *msg, size_t len) {
    const char *v = getenv(name);
    if (!v || !*v) return VKFT_OK;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) *out = true;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) *out = false;
    else {
        snprintf(msg, len, "%s=%s: expected 1 or 0", name, v);
        return VKFT_ERR_INVALID_ARG;
    }
    return VKFT_OK;
}

static vkft_status env_u64(const char *name, uint64_t min, uint64_t *out, char *msg, size_t len) {
    const char *v = getenv(name);
    if (!v || !*v) return VKFT_OK;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x < min || v[0] == '-') {
        snprintf(msg, len, "%s=%s: expected an integer >= %llu", name, v,
                 (unsigned long long)min);
        return VKFT_ERR_INVALID_ARG;
    }
    *out = x;
    return VKFT_OK;
}

vkft_status vkft_context_options_from_env(vkft_context_options *opts, char *msg, size_t len) {
    vkft_status st;
    uint64_t threads = (uint64_t)opts->cpu_threads;
    if ((st = env_bool("VKFT_VALIDATION", &opts->validation, msg, len))) return st;
    if ((st = env_bool("VKFT_NO_VULKAN", &opts->no_vulkan, msg, len))) return st;
    if ((st = env_bool("VKFT_NO_FP16", &opts->no_fp16, msg, len))) return st;
    if ((st = env_u64("VKFT_MAX_BUFFER_RANGE", 256, &opts->max_buffer_range, msg, len))) return st;
    if ((st = env_u64("VKFT_THREADS", 1, &threads, msg, len))) return st;
    if (threads > 256) threads = 256;
    opts->cpu_threads = (int)threads;
    const char *k = getenv("VKFT_KERNEL");
    if (k && *k) {
        if (!strcmp(k, "cpu")) opts->kernel_variant = VKFT_KERNEL_CPU_SHAPED;
        else if (!strcmp(k, "gpu")) opts->kernel_variant = VKFT_KERNEL_GPU_SHAPED;
        else if (!strcmp(k, "auto")) opts->kernel_variant = VKFT_KERNEL_AUTO;
        else {
            snprintf(msg, len, "VKFT_KERNEL=%s: expected cpu, gpu or auto", k);
            return VKFT_ERR_INVALID_ARG;
        }
    }
    const char *c = getenv("VKFT_CACHE_DIR");
    if (c && *c) opts->cache_dir = c;
    return VKFT_OK;
}

static void resolve_cache_dir(vkft_context *ctx) {
    const char *dir = ctx->opts.cache_dir;
    if (dir) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", dir);
    } else if ((dir = getenv("XDG_CACHE_HOME")) && *dir) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/vkft", dir);
    } else if ((dir = getenv("HOME")) && *dir) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/.cache/vkft", dir);
    } else {
        ctx->cache_dir[0] = 0;  /* nowhere to keep it: run without a disk cache */
    }
    ctx->opts.cache_dir = NULL;  /* the caller's string need not outlive this call */
}

vkft_status vkft_context_create(const vkft_context_options *opts, vkft_context **out) {
    if (!out) return VKFT_ERR_INVALID_ARG;
    *out = NULL;
    vkft_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return VKFT_ERR_NO_MEMORY;
    if (opts) ctx->opts = *opts;
    else vkft_context_options_default(&ctx->opts);
    resolve_cache_dir(ctx);
    *out = ctx;

    if (ctx->opts.no_vulkan) {
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice, "Vulkan disabled by options");
    } else {
        vkft_status st = vkft_vk_instance_create(ctx, &ctx->vk);
        if (st == VKFT_ERR_VALIDATION || (st && ctx->opts.validation)) {
            /* Validation was asked for and cannot be had: that is an error, not a fallback. */
            return st;
        }
        if (st) ctx->vk = NULL; /* notice already written; continue with the CPU backend */
    }
    int n_vk = ctx->vk ? vkft_vk_instance_device_count(ctx->vk) : 0;
    if (n_vk > VKFT_MAX_DEVICES - 1) n_vk = VKFT_MAX_DEVICES - 1;
    for (int i = 0; i < n_vk; i++) {
        vkft_device_info *info = &ctx->infos[ctx->n_devices];
        if (vkft_vk_instance_probe(ctx, i, info) == VKFT_OK) ctx->vk_phys[ctx->n_devices++] = i;
    }
    if (ctx->vk && ctx->n_devices == 0 && !ctx->vulkan_notice[0])
        snprintf(ctx->vulkan_notice, sizeof ctx->vulkan_notice,
                 "Vulkan loaded but no usable device was found");
    vkft_cpu_device_probe(&ctx->opts, &ctx->infos[ctx->n_devices++]);
    return VKFT_OK;
}

void vkft_context_destroy(vkft_context *ctx) {
    if (!ctx) return;
    vkft_vk_instance_destroy(ctx->vk);
    free(ctx);
}

const char *vkft_context_error(const vkft_context *ctx) { return ctx ? ctx->err.msg : ""; }

#define VKFT_STR2(x) #x
#define VKFT_STR(x) VKFT_STR2(x)
const char *vkft_version(void) {
    return VKFT_STR(VKFT_VERSION_MAJOR) "." VKFT_STR(VKFT_VERSION_MINOR) "."
        VKFT_STR(VKFT_VERSION_PATCH);
}

const char *vkft_context_vulkan_notice(const vkft_context *ctx) {
    return ctx && ctx->vulkan_notice[0] ? ctx->vulkan_notice : NULL;
}

uint64_t vkft_context_validation_messages(const vkft_context *ctx) {
    return ctx ? ctx->validation_messages : 0;
}

int vkft_device_count(const vkft_context *ctx) { return ctx ? ctx->n_devices : 0; }

vkft_status vkft_device_info_get(const vkft_context *ctx, int index, vkft_device_info *info) {
    if (!ctx || !info || index < 0 || index >= ctx->n_devices) return VKFT_ERR_INVALID_ARG;
    *info = ctx->infos[index];
    return VKFT_OK;
}
