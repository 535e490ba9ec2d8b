/*
 * safetensors reader (see safetensors.h; the writer is safetensors_writer.c).
 *
 * File layout: u64 little-endian N, N bytes of JSON header (an object: tensor name ->
 * {dtype, shape, data_offsets: [begin, end)} relative to the data start, plus an optional
 * "__metadata__" object of strings), then the data. The checks follow the reference reader
 * (huggingface/safetensors, tensor.rs): N <= 100,000,000 and within the file, the header
 * starts with '{' and is valid UTF-8 JSON, every dtype known, byte count == numel x size
 * (overflow-checked), and the tensors sorted by offsets tile the data exactly: the first
 * begins at 0, each begins where the previous ended (no hole, no overlap) and the last ends
 * at the end of the file. Duplicate names are duplicate JSON keys, which the parser rejects.
 * Unknown keys inside a tensor entry are ignored, as the reference does.
 *
 * Each file is mapped once and stays mapped (tensors point into it) with its parsed header
 * (names and metadata strings live in the header's arena) until vkft_st_close. A sharded
 * checkpoint's index maps names to shard files; each shard is opened once, every mapped name
 * must be in its shard, and a name found in two shards is an error. Tensors of a shard that the
 * index does not list are kept (transformers loads whole shards too).
 */
#include "io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/json.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

#define MAX_HEADER 100000000u

typedef struct st_file {
    char *path;
    vkft_file_map map;
    vkft_json_doc *header;
    const vkft_json *metadata;  /* the __metadata__ object, or NULL */
} st_file;

struct vkft_st {
    st_file *files;
    int n_files;
    vkft_st_tensor *tensors;    /* sorted by name */
    int n_tensors, cap_tensors;
};

static const struct { const char *name; size_t size; } dtypes[] = {
    [VKFT_ST_F32] = {"F32", 4}, [VKFT_ST_F16] = {"F16", 2}, [VKFT_ST_BF16] = {"BF16", 2},
    [VKFT_ST_F64] = {"F64", 8}, [VKFT_ST_I64] = {"I64", 8}, [VKFT_ST_I32] = {"I32", 4},
    [VKFT_ST_I16] = {"I16", 2}, [VKFT_ST_I8] = {"I8", 1},   [VKFT_ST_U8] = {"U8", 1},
    [VKFT_ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

/* dtypes of the format that vkft does not take (a clearer message than "unknown"). */
static const char *const unsupported_dtypes[] = {
    "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64",
};

const char *vkft_st_dtype_name(vkft_st_dtype t) {
    return (int)t >= 0 && (int)t < N_DTYPES ? dtypes[t].name : "?";
}

size_t vkft_st_dtype_size(vkft_st_dtype t) {
    return (int)t >= 0 && (int)t < N_DTYPES ? dtypes[t].size : 0;
}

/* ---- one file ---- */

#define BAD(...) vkft_err_set(err, VKFT_ERR_INVALID_ARG, __VA_ARGS__)

static vkft_status parse_dtype(const char *path, const char *name, const vkft_json *v,
                               vkft_st_dtype *out, vkft_err *err) {
    if (!v) return BAD("%s: tensor \"%s\": missing \"dtype\"", path, name);
    const char *s = vkft_json_get_str(v);
    if (!s)
        return BAD("%s: tensor \"%s\": \"dtype\" must be a string, found %s", path, name,
                   vkft_json_type_name(v->type));
    for (int i = 0; i < N_DTYPES; i++)
        if (!strcmp(s, dtypes[i].name)) {
            *out = (vkft_st_dtype)i;
            return VKFT_OK;
        }
    for (size_t i = 0; i < sizeof unsupported_dtypes / sizeof unsupported_dtypes[0]; i++)
        if (!strcmp(s, unsupported_dtypes[i]))
            return vkft_err_set(err, VKFT_ERR_DTYPE, "%s: tensor \"%s\": dtype %s is not "
                                "supported by vkft", path, name, s);
    return BAD("%s: tensor \"%s\": unknown dtype \"%.40s\"", path, name, s);
}

/* Reads a JSON array of non-negative integer literals (at most max) into out; like the
 * reference (unsigned integers), 2.0 and 1e3 are refused. */
static bool read_uints(const vkft_json *v, int64_t *out, size_t max, size_t *n) {
    if (!v || v->type != VKFT_JSON_ARRAY || v->len > max) return false;
    for (size_t i = 0; i < v->len; i++) {
        const vkft_json *e = &v->items[i];
        if (e->type != VKFT_JSON_NUMBER || strpbrk(e->str, ".eE-")) return false;
        if (!vkft_json_get_int(e, &out[i])) return false;
    }
    *n = v->len;
    return true;
}

/* Formats a shape as "[2, 3]" for messages. */
static const char *shape_str(const vkft_st_tensor *t, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

typedef struct span { uint64_t begin, end; int tensor; } span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static vkft_status add_tensor(vkft_st *st, vkft_st_tensor **out, const char *path,
                              vkft_err *err) {
    if (st->n_tensors == st->cap_tensors) {
        int cap = st->cap_tensors ? st->cap_tensors * 2 : 64;
        vkft_st_tensor *t = realloc(st->tensors, (size_t)cap * sizeof *t);
        if (!t) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
        st->tensors = t;
        st->cap_tensors = cap;
    }
    *out = &st->tensors[st->n_tensors++];
    memset(*out, 0, sizeof **out);
    return VKFT_OK;
}

/* Reads one tensor entry of file f (data starts at base, data_len bytes). */
static vkft_status parse_entry(vkft_st *st, st_file *f, const char *name, size_t name_len,
                               const vkft_json *v, const uint8_t *base, uint64_t data_len,
                               vkft_err *err) {
    const char *path = f->path;
    if (strlen(name) != name_len)
        return BAD("%s: a tensor name contains a NUL character (\"%s...\")", path, name);
    if (v->type != VKFT_JSON_OBJECT)
        return BAD("%s: tensor \"%s\": expected an object, found %s", path, name,
                   vkft_json_type_name(v->type));
    vkft_st_tensor tmp = {.name = name, .file = path};
    vkft_status s = parse_dtype(path, name, vkft_json_get(v, "dtype"), &tmp.dtype, err);
    if (s) return s;
    const vkft_json *shape = vkft_json_get(v, "shape"), *offs = vkft_json_get(v, "data_offsets");
    size_t nd = 0, no = 0;
    int64_t o[2];
    if (shape && shape->type == VKFT_JSON_ARRAY && shape->len > VKFT_ST_MAX_DIMS)
        return BAD("%s: tensor \"%s\": shape has %zu dimensions (at most %d)", path, name,
                   shape->len, VKFT_ST_MAX_DIMS);
    if (!read_uints(shape, tmp.shape, VKFT_ST_MAX_DIMS, &nd))
        return BAD("%s: tensor \"%s\": \"shape\" must be an array of non-negative integers",
                   path, name);
    tmp.ndim = (int)nd;
    if (!read_uints(offs, o, 2, &no) || no != 2)
        return BAD("%s: tensor \"%s\": \"data_offsets\" must be [begin, end] (non-negative "
                   "integers)", path, name);
    if (o[0] > o[1])
        return BAD("%s: tensor \"%s\": data_offsets [%" PRId64 ", %" PRId64 "] end before "
                   "they begin", path, name, o[0], o[1]);
    uint64_t numel = 1, bytes;
    for (int i = 0; i < tmp.ndim; i++)
        if (__builtin_mul_overflow(numel, (uint64_t)tmp.shape[i], &numel))
            return BAD("%s: tensor \"%s\": element count overflows", path, name);
    char sb[160];
    if (__builtin_mul_overflow(numel, (uint64_t)dtypes[tmp.dtype].size, &bytes) ||
        bytes != (uint64_t)(o[1] - o[0]))
        return BAD("%s: tensor \"%s\": shape %s of %s needs %" PRIu64 " x %zu bytes but "
                   "data_offsets [%" PRId64 ", %" PRId64 "] hold %" PRId64, path, name,
                   shape_str(&tmp, sb, sizeof sb), dtypes[tmp.dtype].name, numel,
                   dtypes[tmp.dtype].size, o[0], o[1], o[1] - o[0]);
    if ((uint64_t)o[1] > data_len)
        return BAD("%s: tensor \"%s\": data_offsets [%" PRId64 ", %" PRId64 "] run past the "
                   "end of the data (%" PRIu64 " bytes)", path, name, o[0], o[1], data_len);
    tmp.data = base + o[0];
    tmp.bytes = (size_t)bytes;
    vkft_st_tensor *t = NULL;
    s = add_tensor(st, &t, path, err);
    if (s) return s;
    *t = tmp;
    return VKFT_OK;
}

static vkft_status check_metadata(const char *path, const vkft_json *v, vkft_err *err) {
    if (v->type != VKFT_JSON_OBJECT)
        return BAD("%s: \"__metadata__\" must be an object of strings, found %s", path,
                   vkft_json_type_name(v->type));
    for (size_t i = 0; i < v->len; i++)
        if (v->items[i].type != VKFT_JSON_STRING)
            return BAD("%s: __metadata__ \"%s\": value must be a string, found %s", path,
                       v->keys[i], vkft_json_type_name(v->items[i].type));
    return VKFT_OK;
}

/* Checks that the tensors first..n_tensors (data at base) tile data_len bytes exactly. */
static vkft_status check_layout(vkft_st *st, int first, const uint8_t *base, const char *path,
                                uint64_t data_len, vkft_err *err) {
    int n = st->n_tensors - first;
    span *sp = malloc((size_t)(n ? n : 1) * sizeof *sp);
    if (!sp) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        const vkft_st_tensor *t = &st->tensors[first + i];
        sp[i].tensor = first + i;
        sp[i].begin = (uint64_t)((const uint8_t *)t->data - base);
        sp[i].end = sp[i].begin + t->bytes;
    }
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    vkft_status s = VKFT_OK;
    uint64_t at = 0;
    for (int i = 0; i < n && !s; i++) {
        const char *name = st->tensors[sp[i].tensor].name;
        if (sp[i].begin > at && i == 0)
            s = BAD("%s: tensor \"%s\": %" PRIu64 " unused bytes before it (data_offsets "
                    "begin at %" PRIu64 ", not 0)", path, name, sp[i].begin, sp[i].begin);
        else if (sp[i].begin > at)
            s = BAD("%s: tensor \"%s\": hole of %" PRIu64 " bytes between it and \"%s\" "
                    "(data_offsets [%" PRIu64 ", %" PRIu64 "] after one ending at %" PRIu64 ")",
                    path, name, sp[i].begin - at, st->tensors[sp[i - 1].tensor].name,
                    sp[i].begin, sp[i].end, at);
        else if (sp[i].begin < at)
            s = BAD("%s: tensors \"%s\" and \"%s\" overlap (data_offsets [%" PRIu64 ", %" PRIu64
                    "] and [%" PRIu64 ", %" PRIu64 "])", path, st->tensors[sp[i - 1].tensor].name,
                    name, sp[i - 1].begin, sp[i - 1].end, sp[i].begin, sp[i].end);
        at = sp[i].end;
    }
    if (!s && at != data_len) {
        if (n)
            s = BAD("%s: %" PRIu64 " bytes of data after the last tensor \"%s\" (the data must "
                    "end where the last tensor ends)", path, data_len - at,
                    st->tensors[sp[n - 1].tensor].name);
        else
            s = BAD("%s: %" PRIu64 " bytes of data but no tensors", path, data_len);
    }
    free(sp);
    return s;
}

/* Opens one .safetensors file and appends its tensors (unsorted). */
static vkft_status open_file(vkft_st *st, const char *path, vkft_err *err) {
    st_file *files = realloc(st->files, (size_t)(st->n_files + 1) * sizeof *files);
    if (!files) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    st->files = files;
    st_file *f = &files[st->n_files];
    memset(f, 0, sizeof *f);
    size_t plen = strlen(path) + 1;
    f->path = malloc(plen);
    if (!f->path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    memcpy(f->path, path, plen);
    st->n_files++;  /* from here on vkft_st_close releases f */
    vkft_status s = vkft_file_map_open(path, &f->map, err);
    if (s) return s;
    const uint8_t *d = f->map.data;
    size_t len = f->map.len;
    if (len < 8)
        return BAD("%s: file too small (%zu bytes) for the 8-byte header length", path, len);
    uint64_t n = 0;
    for (int b = 0; b < 8; b++) n |= (uint64_t)d[b] << (8 * b);
    if (n > MAX_HEADER)
        return BAD("%s: header length %" PRIu64 " exceeds the limit of %u bytes (not a "
                   "safetensors file?)", path, n, MAX_HEADER);
    if (n > len - 8)
        return BAD("%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                   path, n, len);
    if (n == 0 || d[8] != '{')
        return BAD("%s: the header does not start with '{' (not a safetensors file?)", path);
    char hname[1100];
    snprintf(hname, sizeof hname, "%s (header)", path);
    s = vkft_json_parse((const char *)d + 8, (size_t)n, hname, &f->header, err);
    if (s) return s;
    const vkft_json *root = vkft_json_root(f->header);
    const uint8_t *base = d + 8 + n;
    uint64_t data_len = len - 8 - n;
    int first = st->n_tensors;
    for (size_t i = 0; i < root->len; i++) {
        const char *key = root->keys[i];
        if (!strcmp(key, "__metadata__")) {
            s = check_metadata(path, &root->items[i], err);
            if (s) return s;
            f->metadata = &root->items[i];
            continue;
        }
        s = parse_entry(st, f, key, root->key_lens[i], &root->items[i], base, data_len, err);
        if (s) return s;
    }
    return check_layout(st, first, base, path, data_len, err);
}

/* ---- sorting, lookup, folders, indexes ---- */

static int tensor_cmp(const void *a, const void *b) {
    return strcmp(((const vkft_st_tensor *)a)->name, ((const vkft_st_tensor *)b)->name);
}

/* Sorts by name; a name in two files is an error. */
static vkft_status sort_tensors(vkft_st *st, vkft_err *err) {
    if (st->n_tensors > 1)
        qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, tensor_cmp);
    for (int i = 1; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i - 1].name, st->tensors[i].name))
            return BAD("tensor \"%s\" is in both %s and %s", st->tensors[i].name,
                       st->tensors[i - 1].file, st->tensors[i].file);
    return VKFT_OK;
}

const vkft_st_tensor *vkft_st_find(const vkft_st *st, const char *name) {
    int lo = 0, hi = st->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[mid].name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A shard name must stay inside the index's folder. */
static bool safe_shard_name(const char *s) {
    if (!*s || s[0] == '/') return false;
    for (const char *p = s; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return false;
        p += n + (slash != NULL);
    }
    return true;
}

static vkft_status open_index(vkft_st *st, const char *path, vkft_err *err) {
    vkft_json_doc *doc;
    vkft_status s = vkft_json_parse_file(path, &doc, err);
    if (s) return s;
    const vkft_json *map = vkft_json_get(vkft_json_root(doc), "weight_map");
    const char **names = NULL;
    char *dir = NULL;
    if (!map || map->type != VKFT_JSON_OBJECT) {
        s = BAD("%s: \"weight_map\" must be an object of tensor name -> shard file", path);
        goto done;
    }
    if (map->len == 0) {
        s = BAD("%s: \"weight_map\" names no tensors", path);
        goto done;
    }
    names = malloc(map->len * sizeof *names);
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    dir = malloc(dlen + 1);
    if (!names || !dir) {
        s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
        goto done;
    }
    memcpy(dir, slash ? path : ".", dlen);
    dir[dlen] = '\0';
    for (size_t i = 0; i < map->len; i++) {
        const vkft_json *v = &map->items[i];
        names[i] = vkft_json_get_str(v);
        if (!names[i]) {
            s = BAD("%s:%d:%d: weight_map \"%s\": expected a shard file name, found %s", path,
                    v->line, v->col, map->keys[i], vkft_json_type_name(v->type));
            goto done;
        }
        if (!safe_shard_name(names[i])) {
            s = BAD("%s:%d:%d: weight_map \"%s\": shard \"%s\" is not a file name inside the "
                    "index's folder", path, v->line, v->col, map->keys[i], names[i]);
            goto done;
        }
    }
    /* Open each distinct shard once, in name order. */
    qsort(names, map->len, sizeof *names, str_cmp);
    for (size_t i = 0; i < map->len && !s; i++) {
        if (i && !strcmp(names[i], names[i - 1])) continue;
        char *p = vkft_path_join(dir, names[i]);
        if (!p) s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
        else s = open_file(st, p, err);
        if (s && p) vkft_err_prefix(err, s, "%s", path);
        free(p);
    }
    if (!s && (s = sort_tensors(st, err))) vkft_err_prefix(err, s, "%s", path);
    /* Every listed tensor is in the shard the index names (tensors' file is the joined path
     * the shard was opened with). */
    for (size_t i = 0; i < map->len && !s; i++) {
        const vkft_st_tensor *t = vkft_st_find(st, map->keys[i]);
        const char *shard = map->items[i].str;
        char *want = vkft_path_join(dir, shard);
        if (!want) s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
        else if (!t)
            s = BAD("%s: tensor \"%s\" is mapped to %s but that shard does not have it", path,
                    map->keys[i], shard);
        else if (strcmp(t->file, want))
            s = BAD("%s: tensor \"%s\" is mapped to %s but found in %s", path, map->keys[i],
                    shard, t->file);
        free(want);
    }
done:
    free(names);
    free(dir);
    vkft_json_free(doc);
    return s;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

vkft_status vkft_st_open(const char *path, vkft_st **out, vkft_err *err) {
    *out = NULL;
    vkft_st *st = calloc(1, sizeof *st);
    if (!st) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    vkft_status s = VKFT_OK;
    char *chosen = NULL;
    if (vkft_is_dir(path)) {
        static const char *const names[] = {
            "model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors",
        };
        for (size_t i = 0; i < 3 && !chosen && !s; i++) {
            char *p = vkft_path_join(path, names[i]);
            if (!p) s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
            else if (vkft_is_file(p)) chosen = p;
            else free(p);
        }
        if (!s && !chosen)
            s = vkft_err_set(err, VKFT_ERR_IO, "%s: no model.safetensors, "
                             "model.safetensors.index.json or adapter_model.safetensors in "
                             "this folder", path);
    }
    const char *file = chosen ? chosen : path;
    if (!s && ends_with(file, ".json")) {
        s = open_index(st, file, err);
    } else if (!s) {
        s = open_file(st, file, err);
        if (!s) s = sort_tensors(st, err);
    }
    free(chosen);
    if (s) {
        vkft_st_close(st);
        return s;
    }
    *out = st;
    return VKFT_OK;
}

void vkft_st_close(vkft_st *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) {
        vkft_file_map_close(&st->files[i].map);
        vkft_json_free(st->files[i].header);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->tensors);
    free(st);
}

int vkft_st_count(const vkft_st *st) { return st->n_tensors; }

const vkft_st_tensor *vkft_st_at(const vkft_st *st, int i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const char *vkft_st_metadata(const vkft_st *st, const char *key) {
    if (st->n_files == 0) return NULL;
    return vkft_json_get_str(vkft_json_get(st->files[0].metadata, key));
}

/* ---- conversions ---- */

float vkft_st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = h >> 10 & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        float f = ldexpf((float)man, -24);  /* zero or subnormal: man x 2^-24, exact */
        memcpy(&bits, &f, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;  /* inf, or NaN with its payload */
    } else {
        bits = sign | (exp + 112) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float vkft_st_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t vkft_st_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(x >> 16 | 0x40);  /* quiet NaN */
    return (uint16_t)((x + 0x7fffu + (x >> 16 & 1)) >> 16);  /* nearest, ties to even */
}

uint16_t vkft_st_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)(x >> 16 & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00 | (uint16_t)(x >> 13 & 0x1ff);  /* quiet NaN */
    if (x >= 0x477ff000u) return sign | 0x7c00;  /* >= 65520 rounds to inf (ties to even) */
    if (x < 0x38800000u) {
        /* Below 2^-14: a subnormal half, round(|f| x 2^24) in the current (nearest-even)
         * rounding mode; the scaling is exact. */
        float a;
        memcpy(&a, &x, 4);
        return sign | (uint16_t)rintf(a * 16777216.0f);
    }
    uint32_t h = ((x >> 23) - 112) << 10 | (x >> 13 & 0x3ff), rem = x & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;  /* a carry moves into the exponent */
    return sign | (uint16_t)h;
}

vkft_status vkft_st_read_f32(const vkft_st_tensor *t, float *dst, size_t count, vkft_err *err) {
    size_t size = vkft_st_dtype_size(t->dtype), n = size ? t->bytes / size : 0;
    if (count != n)
        return vkft_err_set(err, VKFT_ERR_SHAPE, "%s: tensor \"%s\": has %zu elements, not %zu",
                            t->file ? t->file : "?", t->name, n, count);
    const uint8_t *src = t->data;  /* not necessarily aligned: read through memcpy */
    switch (t->dtype) {
    case VKFT_ST_F32:
        if (n) memcpy(dst, src, n * 4);
        return VKFT_OK;
    case VKFT_ST_F16:
    case VKFT_ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = t->dtype == VKFT_ST_F16 ? vkft_st_f16_to_f32(h) : vkft_st_bf16_to_f32(h);
        }
        return VKFT_OK;
    case VKFT_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            /* Out of the f32 range the cast is undefined in C: saturate to infinity, as IEEE
             * rounding would (0x1.ffffffp127 is the midpoint above FLT_MAX). */
            if (fabs(d) >= 0x1.ffffffp127) dst[i] = d > 0 ? INFINITY : -INFINITY;
            else dst[i] = (float)d;
        }
        return VKFT_OK;
    default:
        return vkft_err_set(err, VKFT_ERR_DTYPE, "%s: tensor \"%s\": dtype %s is not a float "
                            "type (F32, F16, BF16 or F64)", t->file ? t->file : "?", t->name,
                            vkft_st_dtype_name(t->dtype));
    }
}
