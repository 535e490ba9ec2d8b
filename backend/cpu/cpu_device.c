/* The CPU backend's device slots: host tensors, memcpy transfers, kernels run in place. */
#include "cpu/cpu_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/op_def.h"

static int default_threads(const vkft_context_options *opts) {
    if (opts->cpu_threads > 0) return opts->cpu_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

void vkft_cpu_device_probe(const vkft_context_options *opts, vkft_device_info *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "CPU backend");
    snprintf(info->spec, sizeof info->spec, "cpu");
    snprintf(info->driver_name, sizeof info->driver_name, "vkft-cpu");
    snprintf(info->driver_info, sizeof info->driver_info, "C kernels + OpenBLAS sgemm");
    info->type = VKFT_DEVICE_CPU_BACKEND;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info->heap_count = 1;
    info->heap_size[0] = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    info->max_storage_buffer_range = UINT64_MAX;
    info->max_memory_allocation_size = UINT64_MAX;
    info->max_texel_buffer_elements = UINT64_MAX;
    info->subgroup_size = 1;
    info->fp16_arithmetic = false;
    info->cpu_threads = default_threads(opts);
}

static vkft_status cpu_tensor_alloc(vkft_device *dev, vkft_tensor *t) {
    size_t bytes = (t->bytes + 63) / 64 * 64;
    t->host = aligned_alloc(64, bytes ? bytes : 64);
    if (!t->host)
        return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "cpu: cannot allocate %zu bytes",
                         t->bytes);
    dev->allocated_bytes += t->bytes;
    return VKFT_OK;
}

static vkft_status cpu_tensor_view(vkft_device *dev, const vkft_tensor *base, size_t offset,
                                   vkft_tensor *t) {
    (void)dev;
    t->host = (char *)base->host + offset;
    return VKFT_OK;
}

static void cpu_tensor_free(vkft_device *dev, vkft_tensor *t) {
    if (!t->host || t->view) return;
    free(t->host);
    t->host = NULL;
    dev->allocated_bytes -= t->bytes;
}

static vkft_status cpu_upload(vkft_device *dev, vkft_tensor *t, const void *src, size_t bytes) {
    (void)dev;
    memcpy(t->host, src, bytes);
    return VKFT_OK;
}

static vkft_status cpu_download(vkft_device *dev, const vkft_tensor *t, void *dst, size_t bytes) {
    (void)dev;
    memcpy(dst, t->host, bytes);
    return VKFT_OK;
}

static vkft_status cpu_run_op(vkft_device *dev, const vkft_op_call *call) {
    const vkft_op_def *def = vkft_op_def_get(call->op);
    if (!def->cpu)
        return vkft_fail(&dev->err, VKFT_ERR_UNSUPPORTED, "%s: no CPU kernel", def->name);
    return def->cpu(dev->cpu, call, &dev->err);
}

static void cpu_close(vkft_device *dev) {
    if (!dev->cpu) return;
    vkft_threadpool_destroy(dev->cpu->pool);
    free(dev->cpu);
    dev->cpu = NULL;
}

static const vkft_device_backend cpu_backend = {
    .name = "cpu",
    .tensor_alloc = cpu_tensor_alloc,
    .tensor_view = cpu_tensor_view,
    .tensor_free = cpu_tensor_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .run_op = cpu_run_op,
    .close = cpu_close,
};

vkft_status vkft_cpu_device_open(vkft_context *ctx, vkft_device *dev) {
    (void)ctx;
    dev->backend = &cpu_backend;
    dev->cpu = calloc(1, sizeof *dev->cpu);
    if (!dev->cpu) return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "cpu: out of memory");
    dev->cpu->threads = dev->info.cpu_threads;
    dev->cpu->pool = vkft_threadpool_create(dev->cpu->threads);
    if (!dev->cpu->pool)
        return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "cpu: cannot start %d threads",
                         dev->cpu->threads);
    return VKFT_OK;
}

float vkft_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | exp << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t vkft_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    uint32_t man = x & 0x7fffff;
    if (exp == 255) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));  /* inf / nan */
    int32_t e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);                         /* overflow */
    if (e <= 0) {                                                          /* subnormal */
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | (uint32_t)e << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  /* may carry into exp: fine */
    return (uint16_t)half;
}

float vkft_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t vkft_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);  /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

float vkft_cpu_load(const vkft_tensor *t, int64_t i) {
    switch (t->desc.dtype) {
    case VKFT_F16: return vkft_f16_to_f32(((const uint16_t *)t->host)[i]);
    case VKFT_BF16: return vkft_bf16_to_f32(((const uint16_t *)t->host)[i]);
    default: return ((const float *)t->host)[i];
    }
}

void vkft_cpu_load_row(const vkft_tensor *t, int64_t i0, int64_t n, float *dst) {
    const uint16_t *h = (const uint16_t *)t->host + i0;
    switch (t->desc.dtype) {
    case VKFT_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = vkft_f16_to_f32(h[i]);
        break;
    case VKFT_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = vkft_bf16_to_f32(h[i]);
        break;
    default:
        memcpy(dst, (const float *)t->host + i0, (size_t)n * sizeof(float));
    }
}
