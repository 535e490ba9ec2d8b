/*
 * Recording dispatches: what an op's Vulkan function (the `vk` slot of its row) calls.
 *
 * Conventions every shader follows (see docs/architecture.md, "Shader conventions"):
 *   - set 0, bindings 0..n-1 in the order of the args array; storage buffers are declared as
 *     float[] / uint[] / int[] (16-bit and 8-bit data are read as packed uint words, so no
 *     optional storage feature is needed); uniform texel buffers where an arg has a texel format;
 *   - push constants: one block of at most 128 bytes, laid out like the C struct passed here;
 *   - specialization constants 0..n-1 as passed (tile sizes, subgroup size, variants);
 *   - a 1-D grid bigger than maxComputeWorkGroupCount[0] is folded into (x, y) by
 *     vkft_vk_grid(); the shader computes group = gl_WorkGroupID.y * gl_NumWorkGroups.x +
 *     gl_WorkGroupID.x and returns when group is past its count.
 * A binding's byte range must not exceed vkft_vk_max_range(rec): ops that may see big tensors
 * split their work and bind sub-ranges (offset/range below); the dispatcher refuses a range that
 * is too big rather than reading past it.
 */
#ifndef VKFT_VK_DISPATCH_H
#define VKFT_VK_DISPATCH_H

#include "ops/op_def.h"
#include "vulkan/vk_device.h"

typedef struct vkft_vk_arg {
    const vkft_tensor *t;
    uint64_t offset;        /* bytes into the tensor; a multiple of 16 */
    uint64_t range;         /* bytes; 0 = from offset to the end of the tensor */
    VkFormat texel_format;  /* VK_FORMAT_UNDEFINED = storage buffer; else uniform texel buffer */
} vkft_vk_arg;


#define VKFT_VK_MAX_POOLS 64
#define VKFT_VK_QUERIES_PER_POOL 512   /* even: a dispatch's two timestamps share a pool */
#define VKFT_VK_MAX_QUERY_POOLS 256

/*
 * A recording. Barriers: a dispatch (or fill or copy) records a full compute/transfer barrier
 * before itself when need_barrier is set, and sets need_barrier after itself, so the dispatches
 * of one op are ordered; between ops, whoever drives the recording (the eager path, or a plan's
 * hazard tracking) decides by setting or clearing need_barrier.
 */
struct vkft_vk_rec {
    vkft_vk_device *vk;
    VkCommandBuffer cmd;
    VkDescriptorPool pool;          /* current pool */
    VkDescriptorPool own_pools[VKFT_VK_MAX_POOLS]; /* plans: pools made as needed */
    int n_own_pools;
    bool grow_pools;                /* make another pool when one runs out (plans) */
    bool need_barrier;
    uint64_t n_barriers;
    VkBufferView *views;    /* destroyed when the recording's work is done */
    int n_views, cap_views;
    vkft_tensor **scratch;  /* temporaries, freed with the recording */
    int n_scratch, cap_scratch;
    vkft_tensor *shared;    /* the largest shared scratch so far (vkft_vk_shared_scratch) */
    int n_dispatches;
    /* Profiling (plans compiled with profile on a device with timestamps): a timestamp before
     * and after each dispatch, in query pools made (and reset inside the command buffer) as
     * needed; profiled[k] is the profile_node current when dispatch k was recorded. */
    bool profile;
    int profile_node;
    int *profiled;
    int n_profiled, cap_profiled;
    VkQueryPool query_pools[VKFT_VK_MAX_QUERY_POOLS];
    int n_query_pools;
};

/* Creates one more descriptor pool for rec (plans) and makes it current. */
vkft_status vkft_vk_rec_add_pool(vkft_vk_rec *rec, vkft_err *err);
/* Releases rec's views, scratch tensors and own pools (after its work has completed). */
void vkft_vk_rec_release(vkft_vk_rec *rec);

/* The effective storage-buffer range limit (bytes) and texel-buffer element limit. */
uint64_t vkft_vk_max_range(const vkft_vk_rec *rec);
uint64_t vkft_vk_max_texels(const vkft_vk_rec *rec);
/* True when the CPU-shaped kernel variants should be used (CPU-backed drivers, or forced). */
bool vkft_vk_cpu_shaped(const vkft_vk_rec *rec);
uint32_t vkft_vk_subgroup_size(const vkft_vk_rec *rec);
/* True when the 8-lane shuffle kernels can run: Vulkan 1.1 subgroups of 8..128 lanes, a power
 * of two (a workgroup of 8 is then one subgroup or its first 8 lanes). */
bool vkft_vk_shuffle8(const vkft_vk_rec *rec);

/* Elements of elem_size bytes per chunk of a split dispatch: a chunk's byte range fits the
 * storage-buffer range and every chunk starts 16-byte aligned. */
uint64_t vkft_vk_chunk_elems(const vkft_vk_rec *rec, size_t elem_size);
/* Elementwise kernels fed by RGBA32F texels (CPU-shaped drivers): f32 elements per chunk when
 * every tensor of a chunk is bound as a texel view (whole texels, within the storage range and
 * maxTexelBufferElements), or 0 when this device does not take that path (not CPU-shaped, or
 * texel views cannot start on every 16-byte boundary). Each tensor must also start on 16 bytes
 * (vkft_vk_texel_aligned). */
uint64_t vkft_vk_texel_chunk_elems(const vkft_vk_rec *rec);
bool vkft_vk_texel_aligned(const vkft_tensor *t);

/* Binds elements [e0, e0 + n) of t (elements of es bytes) from the 16-byte boundary at or below
 * e0, for split dispatches; *shift is e0's element index inside the binding (the shader adds it
 * to its local indices). */
vkft_vk_arg vkft_vk_bind_elems(const vkft_tensor *t, uint64_t e0, uint64_t n, size_t es,
                               uint32_t *shift);

/* Folds n workgroups into a grid within the device's limits. */
void vkft_vk_grid(const vkft_vk_rec *rec, uint64_t n, uint32_t *gx, uint32_t *gy);

/* Records one dispatch of kernel `name` (shaders/<name>.comp). */
vkft_status vkft_vk_dispatch(vkft_vk_rec *rec, const char *name, const uint32_t *spec,
                             int n_spec, const vkft_vk_arg *args, int n_args, const void *push,
                             size_t push_size, uint32_t gx, uint32_t gy, uint32_t gz,
                             vkft_err *err);

/* Records a buffer fill of a whole tensor (or a byte range of it) with a 32-bit pattern. */
vkft_status vkft_vk_fill(vkft_vk_rec *rec, const vkft_tensor *t, uint64_t offset, uint64_t range,
                         uint32_t pattern, vkft_err *err);

/* Records a copy of bytes from src (at src_offset) to dst (at dst_offset); no range limit. */
vkft_status vkft_vk_copy_buffer(vkft_vk_rec *rec, const vkft_tensor *src, uint64_t src_offset,
                                const vkft_tensor *dst, uint64_t dst_offset, uint64_t bytes,
                                vkft_err *err);

/* A view of shape `shape` (f32) on one buffer that every op of the recording shares, grown
 * (a new, larger buffer: views recorded earlier keep the old one) when too small. An op may use
 * it only between its own dispatches and must not leave anything in it; the call sets
 * need_barrier, so the op's next dispatch waits for the earlier ops' use of the buffer. */
vkft_status vkft_vk_shared_scratch(vkft_vk_rec *rec, int ndim, const int64_t *shape,
                                   vkft_tensor **out, vkft_err *err);

/* A temporary tensor (workspace for partial results) that lives until the recorded work is
 * done. Its contents start undefined. */
vkft_status vkft_vk_scratch(vkft_vk_rec *rec, vkft_dtype dtype, int ndim, const int64_t *shape,
                            vkft_tensor **out, vkft_err *err);

/* Orders everything recorded so far before everything recorded next. */
void vkft_vk_barrier(vkft_vk_rec *rec);

/* Runs one op eagerly: record, submit, wait. */
vkft_status vkft_vk_run_op(vkft_device *dev, const vkft_op_call *call);

#endif
