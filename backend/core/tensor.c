/* Dtypes, descs and tensor handles: the device-independent half of a tensor. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

static const struct { const char *name; size_t size; } dtype_info[VKFT_DTYPE_COUNT] = {
    [VKFT_F32] = {"f32", 4}, [VKFT_F16] = {"f16", 2}, [VKFT_BF16] = {"bf16", 2},
    [VKFT_I32] = {"i32", 4}, [VKFT_U8] = {"u8", 1},
};

size_t vkft_dtype_size(vkft_dtype dtype) {
    return (unsigned)dtype < VKFT_DTYPE_COUNT ? dtype_info[dtype].size : 0;
}

const char *vkft_dtype_name(vkft_dtype dtype) {
    return (unsigned)dtype < VKFT_DTYPE_COUNT ? dtype_info[dtype].name : "(bad dtype)";
}

int64_t vkft_desc_numel(const vkft_desc *d) {
    int64_t n = 1;
    for (int i = 0; i < d->ndim; i++) n *= d->shape[i];
    return n;
}

size_t vkft_desc_bytes(const vkft_desc *d) {
    return (size_t)vkft_desc_numel(d) * vkft_dtype_size(d->dtype);
}

int64_t vkft_desc_rows(const vkft_desc *d) {
    return d->ndim ? vkft_desc_numel(d) / d->shape[d->ndim - 1] : 0;
}

bool vkft_desc_equal(const vkft_desc *a, const vkft_desc *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

vkft_status vkft_desc_check(const vkft_desc *d, vkft_err *err) {
    if ((unsigned)d->dtype >= VKFT_DTYPE_COUNT)
        return vkft_fail(err, VKFT_ERR_DTYPE, "unknown dtype %d", (int)d->dtype);
    if (d->ndim < 1 || d->ndim > VKFT_MAX_DIMS)
        return vkft_fail(err, VKFT_ERR_SHAPE, "a tensor has 1 to %d dims, not %d", VKFT_MAX_DIMS,
                         d->ndim);
    int64_t n = 1;
    for (int i = 0; i < d->ndim; i++) {
        if (d->shape[i] < 1)
            return vkft_fail(err, VKFT_ERR_SHAPE, "dim %d is %lld; dims must be >= 1", i,
                             (long long)d->shape[i]);
        if (n > INT64_MAX / 8 / d->shape[i])
            return vkft_fail(err, VKFT_ERR_SHAPE, "tensor of %d dims is too large", d->ndim);
        n *= d->shape[i];
    }
    return VKFT_OK;
}

vkft_status vkft_tensor_create(vkft_device *dev, vkft_dtype dtype, int ndim, const int64_t *shape,
                               vkft_tensor **out) {
    if (!out) return VKFT_ERR_INVALID_ARG;
    *out = NULL;
    if (!dev) return VKFT_ERR_INVALID_ARG;
    if (!shape) return vkft_fail(&dev->err, VKFT_ERR_INVALID_ARG, "tensor_create: shape is NULL");
    vkft_desc d = {.dtype = dtype, .ndim = ndim};
    if (ndim >= 1 && ndim <= VKFT_MAX_DIMS) memcpy(d.shape, shape, sizeof(int64_t) * (size_t)ndim);
    vkft_status st = vkft_desc_check(&d, &dev->err);
    if (st) return st;
    vkft_tensor *t = calloc(1, sizeof *t);
    if (!t) return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "tensor_create: out of host memory");
    t->dev = dev;
    t->desc = d;
    t->bytes = vkft_desc_bytes(&d);
    st = dev->backend->tensor_alloc(dev, t);
    if (st) {
        dev->backend->tensor_free(dev, t);
        free(t);
        return st;
    }
    *out = t;
    return VKFT_OK;
}

vkft_status vkft_tensor_view_create(vkft_tensor *base, size_t offset, const vkft_desc *d,
                                    vkft_tensor **out) {
    *out = NULL;
    vkft_device *dev = base->dev;
    vkft_status st = vkft_desc_check(d, &dev->err);
    if (st) return st;
    size_t bytes = vkft_desc_bytes(d);
    if (offset > base->bytes || bytes > base->bytes - offset || offset % 16)
        return vkft_fail(&dev->err, VKFT_ERR_INVALID_ARG,
                         "tensor view of %zu bytes at %zu does not fit a %zu-byte tensor", bytes,
                         offset, base->bytes);
    vkft_tensor *t = calloc(1, sizeof *t);
    if (!t) return vkft_fail(&dev->err, VKFT_ERR_NO_MEMORY, "tensor view: out of memory");
    t->dev = dev;
    t->desc = *d;
    t->bytes = bytes;
    t->view = true;
    st = dev->backend->tensor_view(dev, base, offset, t);
    if (st) {
        free(t);
        return st;
    }
    *out = t;
    return VKFT_OK;
}

void vkft_tensor_destroy(vkft_tensor *t) {
    if (!t) return;
    t->dev->backend->tensor_free(t->dev, t);
    free(t);
}

const vkft_desc *vkft_tensor_desc(const vkft_tensor *t) { return t ? &t->desc : NULL; }

vkft_status vkft_tensor_upload(vkft_tensor *t, const void *src, size_t bytes) {
    if (!t) return VKFT_ERR_INVALID_ARG;
    if (!src || bytes != t->bytes)
        return vkft_fail(&t->dev->err, VKFT_ERR_INVALID_ARG,
                         "tensor_upload: %zu bytes given for a tensor of %zu bytes", bytes,
                         t->bytes);
    return t->dev->backend->upload(t->dev, t, src, bytes);
}

vkft_status vkft_tensor_download(const vkft_tensor *t, void *dst, size_t bytes) {
    if (!t) return VKFT_ERR_INVALID_ARG;
    if (!dst || bytes != t->bytes)
        return vkft_fail(&t->dev->err, VKFT_ERR_INVALID_ARG,
                         "tensor_download: %zu bytes asked of a tensor of %zu bytes", bytes,
                         t->bytes);
    return t->dev->backend->download(t->dev, t, dst, bytes);
}
