/*
 * The library's handle structs, shared by core/, ops/, cpu/ and vulkan/ (never installed).
 *
 * A device is a backend (a small table of function pointers, vkft_device_backend) plus its
 * private state. Tensors are dense row-major buffers owned by one device: host memory on the
 * CPU backend, a range of a VkBuffer on Vulkan.
 */
#ifndef VKFT_CORE_INTERNAL_H
#define VKFT_CORE_INTERNAL_H

#include <stdint.h>

#include "core/error.h"
#include "vkft/backend.h"

#define VKFT_MAX_DEVICES 16

typedef struct vkft_vk_instance vkft_vk_instance;  /* vulkan/vk_instance.h */
typedef struct vkft_vk_device vkft_vk_device;      /* vulkan/vk_device.h */
typedef struct vkft_vk_alloc vkft_vk_alloc;        /* vulkan/vk_memory.h */
typedef struct vkft_cpu vkft_cpu;                  /* cpu/cpu_device.h */
typedef struct vkft_op_call vkft_op_call;          /* ops/op_def.h */

struct vkft_context {
    vkft_context_options opts;
    char cache_dir[512];
    vkft_err err;
    char vulkan_notice[512];        /* empty when Vulkan enumerated fine */
    vkft_vk_instance *vk;           /* NULL without Vulkan */
    int n_devices;                  /* Vulkan devices first (in enumeration order), CPU last */
    vkft_device_info infos[VKFT_MAX_DEVICES];
    int vk_phys[VKFT_MAX_DEVICES];  /* Vulkan physical-device index of infos[i] */
    uint64_t validation_messages;   /* written by the debug messenger of this context */
};

/* A backend: each slot that can fail returns a status and fills dev->err. */
typedef struct vkft_device_backend {
    const char *name;
    /* Gives t storage for t->bytes bytes (contents undefined). */
    vkft_status (*tensor_alloc)(vkft_device *dev, vkft_tensor *t);
    /* Makes t a view of base's storage at byte offset (t->desc/bytes set, fits in base). */
    vkft_status (*tensor_view)(vkft_device *dev, const vkft_tensor *base, size_t offset,
                               vkft_tensor *t);
    /* Releases what tensor_alloc or tensor_view gave; t may be half-made (storage NULL). */
    void (*tensor_free)(vkft_device *dev, vkft_tensor *t);
    /* Whole-tensor copies from and to host memory; bytes == t->bytes. */
    vkft_status (*upload)(vkft_device *dev, vkft_tensor *t, const void *src, size_t bytes);
    vkft_status (*download)(vkft_device *dev, const vkft_tensor *t, void *dst, size_t bytes);
    /* Runs one already-validated op call and waits for it. */
    vkft_status (*run_op)(vkft_device *dev, const vkft_op_call *call);
    /* Frees the backend's state (dev itself is freed by the caller). */
    void (*close)(vkft_device *dev);
} vkft_device_backend;

struct vkft_device {
    vkft_context *ctx;
    const vkft_device_backend *backend;
    vkft_device_info info;
    vkft_err err;
    uint64_t allocated_bytes;
    vkft_cpu *cpu;                  /* set on the CPU backend */
    vkft_vk_device *vk;             /* set on Vulkan devices */
};

struct vkft_tensor {
    vkft_device *dev;
    vkft_desc desc;
    size_t bytes;                   /* vkft_desc_bytes(&desc) */
    void *host;                     /* CPU backend: 64-byte aligned data */
    vkft_vk_alloc *vk;              /* Vulkan: where the data lives */
    bool view;                      /* storage belongs to another tensor */
};

/* A tensor aliasing base's storage from byte offset with desc d (for planned arenas).
 * Destroying it releases nothing of base's. */
vkft_status vkft_tensor_view_create(vkft_tensor *base, size_t offset, const vkft_desc *d,
                                    vkft_tensor **out);

/* Validates a desc (dtype known, 1..4 dims, every dim >= 1, size fits in size_t). */
vkft_status vkft_desc_check(const vkft_desc *d, vkft_err *err);
/* Row count when the last dim is the row: numel / shape[ndim-1]. */
int64_t vkft_desc_rows(const vkft_desc *d);
bool vkft_desc_equal(const vkft_desc *a, const vkft_desc *b);

/* Backends, opened by core/device.c. */
vkft_status vkft_cpu_device_open(vkft_context *ctx, vkft_device *dev);
vkft_status vkft_vk_device_open(vkft_context *ctx, int vk_index, vkft_device *dev);

#endif
