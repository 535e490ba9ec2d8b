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
 * adapter_model.safetensors, tried in that order), a .safetensors file, or an index .json
 * file. Errors: VKFT_ERR_IO (missing or unreadable file), VKFT_ERR_INVALID_ARG (malformed),
 * VKFT_ERR_DTYPE (a dtype of the format that vkft does not take: U16/U32/U64, F8, F4, F6),
 * VKFT_ERR_NO_MEMORY. On failure *out is NULL and nothing stays open.
 * Tensor data is little-endian and is NOT necessarily aligned to its element size (only the
 * writer's files guarantee that): read it with memcpy or vkft_st_read_f32. */
vkft_status vkft_st_open(const char *path, vkft_st **out, vkft_err *err);
void vkft_st_close(vkft_st *st);
int vkft_st_count(const vkft_st *st);
const vkft_st_tensor *vkft_st_at(const vkft_st *st, int i);      /* sorted by name */
const vkft_st_tensor *vkft_st_find(const vkft_st *st, const char *name);
/* __metadata__ value by key (of the first file), or NULL. */
const char *vkft_st_metadata(const vkft_st *st, const char *key);
const char *vkft_st_dtype_name(vkft_st_dtype t);   /* "F32", ... */
size_t vkft_st_dtype_size(vkft_st_dtype t);

/* Converts a tensor of F32/F16/BF16 (or F64) to f32 into dst (count = elements; a different
 * count is VKFT_ERR_SHAPE, another dtype VKFT_ERR_DTYPE). Exact for F16/BF16 (subnormals,
 * infinities and NaN payloads kept); F64 rounds to nearest. */
vkft_status vkft_st_read_f32(const vkft_st_tensor *t, float *dst, size_t count, vkft_err *err);
/* Scalar conversions (IEEE binary16 and bfloat16 bit patterns; f32 -> 16 bit rounds to nearest,
 * ties to even, overflow to inf, NaN stays a quiet NaN). */
float vkft_st_f16_to_f32(uint16_t h);
float vkft_st_bf16_to_f32(uint16_t h);
uint16_t vkft_st_f32_to_f16(float f);
uint16_t vkft_st_f32_to_bf16(float f);

/* ---- writer ----
 * Collects tensors (pointers to caller memory, which must stay valid until finish), then
 * writes the file atomically with names sorted, 8-byte aligned header padded with spaces,
 * contiguous data, and optional string metadata (e.g. {"format": "pt"}). The data is ordered
 * by element size (largest first), then name, so every tensor is aligned to its element size.
 * add refuses a duplicate name, a byte count other than shape x dtype, and more than 8 dims.
 * finish may be called once; free the writer afterwards either way. */
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
