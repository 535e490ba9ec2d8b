/*
 * vkft backend: the public C API of libvkft (devices, tensors, ops).
 *
 * A context enumerates the devices it can use (Vulkan devices through a loader found at run time,
 * and always the CPU backend). A device owns tensors; ops run on the tensors of one device.
 * Every call that can fail returns a vkft_status and leaves a message readable with
 * vkft_context_error() / vkft_device_error(); nothing in the library aborts or exits.
 * Handles of different contexts may be used from different threads at once; one context and
 * its devices must not be used from two threads at the same time.
 *
 * Usage:
 *     vkft_context *ctx;
 *     vkft_context_options opts;
 *     vkft_context_options_default(&opts);
 *     if (vkft_context_create(&opts, &ctx) != VKFT_OK) { ...vkft_context_error(ctx)... }
 *     vkft_device *dev;
 *     vkft_device_open(ctx, "auto", &dev);
 *     int64_t shape[2] = {4, 8};
 *     vkft_tensor *a, *b, *c;
 *     vkft_tensor_create(dev, VKFT_F32, 2, shape, &a);   // likewise b, c
 *     vkft_tensor_upload(a, host_a, sizeof host_a);
 *     vkft_tensor *in[2] = {a, b};
 *     vkft_op_run(dev, VKFT_OP_ADD, NULL, in, 2, &c, 1);
 *     vkft_tensor_download(c, host_c, sizeof host_c);
 *     vkft_tensor_destroy(a); ... vkft_device_close(dev); vkft_context_destroy(ctx);
 */
#ifndef VKFT_BACKEND_H
#define VKFT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers: the project version in meson.build (the build checks that they
 * agree), libvkft.so.MAJOR's soname, and pkg-config's `Version:` of vkft.pc. Until 1.0 a minor
 * release may change the API; additions only within one minor version. */
#define VKFT_VERSION_MAJOR 0
#define VKFT_VERSION_MINOR 1
#define VKFT_VERSION_PATCH 0

/* The version of the library actually loaded, as "MAJOR.MINOR.PATCH" (compare with the
 * VKFT_VERSION_* this program was compiled with). */
const char *vkft_version(void);

#define VKFT_MAX_DIMS 4

typedef enum vkft_status {
    VKFT_OK = 0,
    VKFT_ERR_INVALID_ARG,  /* a NULL handle, a bad option, an unknown device spec */
    VKFT_ERR_SHAPE,        /* shapes that do not fit the op */
    VKFT_ERR_DTYPE,        /* a dtype the op does not take */
    VKFT_ERR_NO_MEMORY,    /* host or device allocation failed, or a budget is exceeded */
    VKFT_ERR_LIMIT,        /* a device limit (buffer range, allocation size) is exceeded */
    VKFT_ERR_DEVICE,       /* a Vulkan call failed or the device was lost */
    VKFT_ERR_UNSUPPORTED,  /* the device cannot run this op or feature */
    VKFT_ERR_IO,           /* a file could not be read or written */
    VKFT_ERR_VALIDATION,   /* the Vulkan validation layer reported a message */
} vkft_status;

typedef enum vkft_dtype {
    VKFT_F32 = 0,
    VKFT_F16,
    VKFT_BF16,
    VKFT_I32,
    VKFT_U8,
    VKFT_DTYPE_COUNT
} vkft_dtype;

/* The shape and element type of a tensor; tensors are dense and row-major. */
typedef struct vkft_desc {
    vkft_dtype dtype;
    int ndim;                         /* 1..VKFT_MAX_DIMS */
    int64_t shape[VKFT_MAX_DIMS];     /* shape[ndim..] are ignored */
} vkft_desc;

typedef struct vkft_context vkft_context;
typedef struct vkft_device vkft_device;
typedef struct vkft_tensor vkft_tensor;

/*
 * Context options. vkft_context_options_default() gives production values;
 * vkft_context_options_from_env() then applies the VKFT_* environment variables (the only place
 * the library reads the environment), documented in docs/environment.md:
 *   VKFT_VALIDATION=1          enable the Khronos validation layer and count its messages
 *   VKFT_MAX_BUFFER_RANGE=N    lower maxStorageBufferRange (and texel-buffer elements) to N bytes
 *   VKFT_NO_VULKAN=1           do not load Vulkan at all (CPU only)
 *   VKFT_THREADS=N             CPU backend threads (default: online cores)
 *   VKFT_KERNEL=cpu|gpu        force the CPU-shaped or GPU-shaped kernel variants on Vulkan
 *   VKFT_NO_FP16=1             pretend the device lacks fp16 arithmetic / 16-bit storage
 *   VKFT_CACHE_DIR=DIR         where the pipeline cache lives (default $XDG_CACHE_HOME/vkft)
 */
typedef enum vkft_kernel_variant {
    VKFT_KERNEL_AUTO = 0,  /* chosen by device type: CPU-backed drivers get CPU-shaped kernels */
    VKFT_KERNEL_CPU_SHAPED,
    VKFT_KERNEL_GPU_SHAPED,
} vkft_kernel_variant;

typedef struct vkft_context_options {
    bool validation;                 /* Khronos validation layer + message counting */
    bool no_vulkan;                  /* CPU backend only */
    uint64_t max_buffer_range;       /* 0 = device limit; else min(device limit, this) */
    int cpu_threads;                 /* 0 = number of online cores */
    vkft_kernel_variant kernel_variant;
    bool no_fp16;                    /* ignore optional 16-bit features */
    const char *cache_dir;           /* NULL = $XDG_CACHE_HOME/vkft or ~/.cache/vkft */
    bool no_pipeline_cache;          /* do not read or write the on-disk pipeline cache */
} vkft_context_options;

void vkft_context_options_default(vkft_context_options *opts);
/* Applies VKFT_* variables over *opts. Fails (VKFT_ERR_INVALID_ARG) on a malformed value. */
vkft_status vkft_context_options_from_env(vkft_context_options *opts, char *msg, size_t msg_len);

/* Creates a context. On failure *out may still hold a context whose error explains why
 * (destroy it); when Vulkan is unavailable this succeeds with only the CPU device and a notice. */
vkft_status vkft_context_create(const vkft_context_options *opts, vkft_context **out);
void vkft_context_destroy(vkft_context *ctx);
const char *vkft_context_error(const vkft_context *ctx);
/* Why Vulkan devices are missing, or NULL when Vulkan loaded and enumerated fine. */
const char *vkft_context_vulkan_notice(const vkft_context *ctx);
/* Number of validation-layer messages seen so far (warnings and errors). */
uint64_t vkft_context_validation_messages(const vkft_context *ctx);

typedef enum vkft_device_type {
    VKFT_DEVICE_CPU_BACKEND = 0,   /* our own CPU backend */
    VKFT_DEVICE_DISCRETE_GPU,
    VKFT_DEVICE_INTEGRATED_GPU,
    VKFT_DEVICE_VIRTUAL_GPU,
    VKFT_DEVICE_VULKAN_CPU,        /* a CPU-backed Vulkan driver such as lavapipe */
    VKFT_DEVICE_OTHER,
} vkft_device_type;

typedef struct vkft_device_info {
    char name[256];
    char spec[32];                  /* "cpu" or "vulkan:N": what vkft_device_open takes */
    vkft_device_type type;
    uint32_t vendor_id, device_id;
    char driver_name[256];
    char driver_info[256];
    uint32_t api_version;           /* VK_MAKE_API_VERSION layout; 0 for the CPU backend */
    int heap_count;
    uint64_t heap_size[16];
    bool heap_device_local[16];
    uint64_t max_storage_buffer_range;
    uint64_t max_memory_allocation_size;
    uint64_t max_texel_buffer_elements;
    uint32_t max_shared_memory;
    uint32_t subgroup_size;
    bool fp16_arithmetic, int8_arithmetic;
    bool storage_16bit, storage_8bit;
    bool buffer_device_address;
    bool cooperative_matrix;
    bool timestamps;
    int cpu_threads;                /* CPU backend only */
} vkft_device_info;

int vkft_device_count(const vkft_context *ctx);
vkft_status vkft_device_info_get(const vkft_context *ctx, int index, vkft_device_info *info);
/* spec: "auto" (first discrete, then integrated, then other Vulkan, then cpu), "cpu", "vulkan"
 * (first Vulkan device), "vulkan:N" (N-th Vulkan device). */
vkft_status vkft_device_open(vkft_context *ctx, const char *spec, vkft_device **out);
void vkft_device_close(vkft_device *dev);
const vkft_device_info *vkft_device_get_info(const vkft_device *dev);
const char *vkft_device_error(const vkft_device *dev);
/* GPU time of the last vkft_op_run on a Vulkan device, from timestamp queries; 0 on the CPU
 * backend or where the device has no timestamps. */
uint64_t vkft_device_last_run_ns(const vkft_device *dev);
/* Bytes of device memory the device has allocated for tensors right now. */
uint64_t vkft_device_allocated_bytes(const vkft_device *dev);

vkft_status vkft_tensor_create(vkft_device *dev, vkft_dtype dtype, int ndim, const int64_t *shape,
                               vkft_tensor **out);
void vkft_tensor_destroy(vkft_tensor *t);
const vkft_desc *vkft_tensor_desc(const vkft_tensor *t);
/* Copies bytes between host memory and the tensor; bytes must equal vkft_desc_bytes(). */
vkft_status vkft_tensor_upload(vkft_tensor *t, const void *src, size_t bytes);
vkft_status vkft_tensor_download(const vkft_tensor *t, void *dst, size_t bytes);

size_t vkft_dtype_size(vkft_dtype dtype);
const char *vkft_dtype_name(vkft_dtype dtype);
int64_t vkft_desc_numel(const vkft_desc *d);
size_t vkft_desc_bytes(const vkft_desc *d);

#ifdef __cplusplus
}
#endif

#include "vkft/ops.h"

#endif
