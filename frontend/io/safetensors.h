/*
 * safetensors: reader (mmap, single file or sharded through model.safetensors.index.json) and
 * atomic writer.
 *
 * Reading is strict: a header length past the file, bad JSON, an unknown dtype, offsets out of
 * range, overlapping or leaving holes, a byte count that does not match shape x dtype, a
 * duplicate name - each is an error naming the file and the tensor. Tensor data stays in the
 * mapping (no copy); the folder or file stays mapped until vkft_st_close.
 *
 *     vkft_st *st;  vkft_err err;
 *     if (vkft_st_open("model_dir", &st, &err)) ...        // a folder, a .safetensors file,
 *     const vkft_st_tensor *t = vkft_st_find(st, "lm_head.weight");   // or an index.json
 *     // t->dtype, t->ndim, t->shape, t->data (little-endian, row-major), t->bytes
 *     vkft_st_close(st);
 */
#ifndef VKFT_SAFETENSORS_H
#define VKFT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum vkft_st_dtype {
    VKFT_ST_F32, VKFT_ST_F16, VKFT_ST_BF16, VKFT_ST_F64, VKFT_ST_I64, VKFT_ST_I32, VKFT_ST_I16,
    VKFT_ST_I8, VKFT_ST_U8, VKFT_ST_BOOL,
} vkft_st_dtype;

#define VKFT_ST_MAX_DIMS 8

typedef struct vkft_st_tensor {
    const char *name;
    vkft_st_dtype dtype;
    int ndim;
    int64_t shape[VKFT_ST_MAX_DIMS];
    const void *data;           /* inside the mapping */
    size_t bytes;
    const char *file;           /* which file holds it (for messages) */
} vkft_st_tensor;

typedef struct vkft_st vkft_st;

/* path: a folder (model.safetensors, or model.safetensors.index.json with its shards, or
 * adapter_model.safetensors), a .safetensors file, or an index .json file. */
vkft_status vkft_st_open(const char *path, vkft_st **out, vkft_err *err);
void vkft_st_close(vkft_st *st);
int vkft_st_count(const vkft_st *st);
const vkft_st_tensor *vkft_st_at(const vkft_st *st, int i);      /* sorted by name */
const vkft_st_tensor *vkft_st_find(const vkft_st *st, const char *name);
/* __metadata__ value by key (of the first file), or NULL. */
const char *vkft_st_metadata(const vkft_st *st, const char *key);
const char *vkft_st_dtype_name(vkft_st_dtype t);   /* "F32", ... */
size_t vkft_st_dtype_size(vkft_st_dtype t);

/* Converts a tensor of F32/F16/BF16 (or F64) to f32 into dst (count = elements). */
vkft_status vkft_st_read_f32(const vkft_st_tensor *t, float *dst, size_t count, vkft_err *err);

/* ---- writer ----
 * Collects tensors (pointers to caller memory, which must stay valid until finish), then
 * writes the file atomically with names sorted, 8-byte aligned header padded with spaces,
 * contiguous data, and optional string metadata (e.g. {"format": "pt"}). */
typedef struct vkft_st_writer vkft_st_writer;
vkft_status vkft_st_writer_create(vkft_st_writer **out, vkft_err *err);
vkft_status vkft_st_writer_add(vkft_st_writer *w, const char *name, vkft_st_dtype dtype, int ndim,
                               const int64_t *shape, const void *data, size_t bytes,
                               vkft_err *err);
vkft_status vkft_st_writer_metadata(vkft_st_writer *w, const char *key, const char *value,
                                    vkft_err *err);
vkft_status vkft_st_writer_finish(vkft_st_writer *w, const char *path, vkft_err *err);
void vkft_st_writer_free(vkft_st_writer *w);

#endif
