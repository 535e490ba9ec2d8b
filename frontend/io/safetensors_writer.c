/*
 * safetensors writer (see safetensors.h).
 *
 * The header lists "__metadata__" (keys sorted) first, then the tensors sorted by name (byte
 * order, strcmp), compact JSON padded with spaces so the data starts at an 8-byte multiple.
 * The data is laid out by element size, largest first, then by name (as the reference writer
 * does): with an 8-byte aligned start this keeps every tensor aligned to its element size, so
 * readers (and GPU uploads) may use its bytes in place. The file is written atomically
 * (util/file.h): the destination is either untouched or complete.
 *
 *     vkft_st_writer *w;
 *     vkft_st_writer_create(&w, &err);
 *     int64_t shape[2] = {8, 4096};
 *     vkft_st_writer_add(w, "base_model.model.x.lora_A.weight", VKFT_ST_F32, 2, shape, a,
 *                        sizeof(float) * 8 * 4096, &err);
 *     vkft_st_writer_metadata(w, "format", "pt", &err);
 *     vkft_st_writer_finish(w, "out/adapter_model.safetensors", &err);
 *     vkft_st_writer_free(w);
 */
#include "io/safetensors.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/json.h"

typedef struct wt {
    char *name;
    vkft_st_dtype dtype;
    int ndim;
    int64_t shape[VKFT_ST_MAX_DIMS];
    const void *data;
    size_t bytes;
    uint64_t begin;             /* set by finish */
} wt;

struct vkft_st_writer {
    wt *t;
    int n, cap;
    char **meta;                /* key, value, key, value, ... */
    int n_meta, cap_meta;       /* in pairs */
};

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

vkft_status vkft_st_writer_create(vkft_st_writer **out, vkft_err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "safetensors writer: out of memory");
    return VKFT_OK;
}

void vkft_st_writer_free(vkft_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    for (int i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

#define BAD(...) vkft_err_set(err, VKFT_ERR_INVALID_ARG, __VA_ARGS__)

vkft_status vkft_st_writer_add(vkft_st_writer *w, const char *name, vkft_st_dtype dtype, int ndim,
                               const int64_t *shape, const void *data, size_t bytes,
                               vkft_err *err) {
    if (!name) return BAD("safetensors writer: tensor without a name");
    if (!strcmp(name, "__metadata__"))
        return BAD("safetensors writer: \"__metadata__\" cannot name a tensor");
    size_t size = vkft_st_dtype_size(dtype);
    if (!size) return BAD("safetensors writer: tensor \"%s\": bad dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > VKFT_ST_MAX_DIMS || (ndim > 0 && !shape))
        return BAD("safetensors writer: tensor \"%s\": %d dimensions (0 to %d)", name, ndim,
                   VKFT_ST_MAX_DIMS);
    uint64_t numel = 1, need;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (uint64_t)shape[i], &numel))
            return BAD("safetensors writer: tensor \"%s\": bad dimension %d (%" PRId64 ")",
                       name, i, shape[i]);
    if (__builtin_mul_overflow(numel, (uint64_t)size, &need) || need != bytes)
        return BAD("safetensors writer: tensor \"%s\": %" PRIu64 " elements of %s need %" PRIu64
                   " bytes, got %zu", name, numel, vkft_st_dtype_name(dtype), need, bytes);
    if (bytes && !data) return BAD("safetensors writer: tensor \"%s\": no data", name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name))
            return BAD("safetensors writer: tensor \"%s\" added twice", name);
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 32;
        wt *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "safetensors writer: out of memory");
        w->t = t;
        w->cap = cap;
    }
    wt *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = dup_str(name);
    if (!t->name) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "safetensors writer: out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->data = data;
    t->bytes = bytes;
    w->n++;
    return VKFT_OK;
}

vkft_status vkft_st_writer_metadata(vkft_st_writer *w, const char *key, const char *value,
                                    vkft_err *err) {
    if (!key || !value) return BAD("safetensors writer: metadata needs a key and a value");
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta[2 * i], key))
            return BAD("safetensors writer: metadata \"%s\" set twice", key);
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? w->cap_meta * 2 : 8;
        char **m = realloc(w->meta, (size_t)cap * 2 * sizeof *m);
        if (!m) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "safetensors writer: out of memory");
        w->meta = m;
        w->cap_meta = cap;
    }
    char *k = dup_str(key), *v = dup_str(value);
    if (!k || !v) {
        free(k);
        free(v);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "safetensors writer: out of memory");
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return VKFT_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const wt *const *)a)->name, (*(const wt *const *)b)->name);
}

static int by_size_then_name(const void *a, const void *b) {
    const wt *x = *(const wt *const *)a, *y = *(const wt *const *)b;
    size_t sx = vkft_st_dtype_size(x->dtype), sy = vkft_st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int meta_by_key(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);  /* pairs: compares the keys */
}

/* Builds the padded header text (caller frees). */
static vkft_status build_header(vkft_st_writer *w, wt **sorted, char **out, size_t *len,
                                vkft_err *err) {
    vkft_json_writer j;
    vkft_json_writer_init(&j, 0);
    vkft_json_obj_begin(&j);
    if (w->n_meta) {
        qsort(w->meta, (size_t)w->n_meta, 2 * sizeof *w->meta, meta_by_key);
        vkft_json_key(&j, "__metadata__");
        vkft_json_obj_begin(&j);
        for (int i = 0; i < w->n_meta; i++) {
            vkft_json_key(&j, w->meta[2 * i]);
            vkft_json_str(&j, w->meta[2 * i + 1]);
        }
        vkft_json_obj_end(&j);
    }
    for (int i = 0; i < w->n; i++) {
        const wt *t = sorted[i];
        vkft_json_key(&j, t->name);
        vkft_json_obj_begin(&j);
        vkft_json_key(&j, "dtype");
        vkft_json_str(&j, vkft_st_dtype_name(t->dtype));
        vkft_json_key(&j, "shape");
        vkft_json_arr_begin(&j);
        for (int d = 0; d < t->ndim; d++) vkft_json_int(&j, t->shape[d]);
        vkft_json_arr_end(&j);
        vkft_json_key(&j, "data_offsets");
        vkft_json_arr_begin(&j);
        vkft_json_int(&j, (int64_t)t->begin);
        vkft_json_int(&j, (int64_t)(t->begin + t->bytes));
        vkft_json_arr_end(&j);
        vkft_json_obj_end(&j);
    }
    vkft_json_obj_end(&j);
    /* Room for up to 7 spaces of padding comes from the writer's spare capacity or a copy. */
    char *text;
    size_t n;
    vkft_status s = vkft_json_writer_finish(&j, &text, &n, err);
    if (s) return s;
    size_t padded = (n + 7) & ~(size_t)7;
    char *p = realloc(text, padded + 1);
    if (!p) {
        free(text);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "safetensors writer: out of memory");
    }
    memset(p + n, ' ', padded - n);
    p[padded] = '\0';
    *out = p;
    *len = padded;
    return VKFT_OK;
}

vkft_status vkft_st_writer_finish(vkft_st_writer *w, const char *path, vkft_err *err) {
    wt **order = malloc((size_t)(w->n ? w->n : 1) * sizeof *order);
    if (!order) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    for (int i = 0; i < w->n; i++) order[i] = &w->t[i];
    /* Data offsets: by element size, then name. */
    qsort(order, (size_t)w->n, sizeof *order, by_size_then_name);
    uint64_t at = 0;
    for (int i = 0; i < w->n; i++) {
        order[i]->begin = at;
        at += order[i]->bytes;
    }
    wt **names = malloc((size_t)(w->n ? w->n : 1) * sizeof *names);
    char *header = NULL;
    size_t hlen = 0;
    vkft_status s = VKFT_OK;
    if (!names) s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    if (!s) {
        memcpy(names, order, (size_t)w->n * sizeof *names);
        qsort(names, (size_t)w->n, sizeof *names, by_name);
        s = build_header(w, names, &header, &hlen, err);
        if (s) vkft_err_prefix(err, s, "%s", path);
    }
    vkft_file_writer f;
    if (!s) s = vkft_file_writer_open(&f, path, err);
    if (!s) {
        uint8_t len8[8];
        for (int b = 0; b < 8; b++) len8[b] = (uint8_t)((uint64_t)hlen >> (8 * b));
        s = vkft_file_writer_write(&f, len8, 8, err);
        if (!s) s = vkft_file_writer_write(&f, header, hlen, err);
        for (int i = 0; i < w->n && !s; i++)
            if (order[i]->bytes)
                s = vkft_file_writer_write(&f, order[i]->data, order[i]->bytes, err);
        if (s) vkft_file_writer_abort(&f);
        else s = vkft_file_writer_commit(&f, err);
    }
    free(header);
    free(names);
    free(order);
    return s;
}
