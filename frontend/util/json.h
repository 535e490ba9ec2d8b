/*
 * JSON: a strict RFC 8259 parser into a read-only tree, and a small writer.
 *
 * The tree lives in one arena owned by the vkft_json_doc; every node remembers the line and
 * column (1-based) where it starts, so callers can report "file:line:col: key 'x': ...".
 * Strings are UTF-8 with their length (they may contain NUL after \u0000 unescaping) and are
 * also NUL-terminated. Numbers keep their source text so 64-bit integers are exact.
 * Duplicate object keys are an error. Depth is limited (256) so hostile input cannot overflow
 * the stack.
 *
 *     vkft_json_doc *doc;  vkft_err err;
 *     if (vkft_json_parse(text, len, "config.json", &doc, &err)) { puts(err.msg); ... }
 *     const vkft_json *root = vkft_json_root(doc);
 *     int64_t h;  vkft_json_get_int(vkft_json_get(root, "hidden_size"), &h);
 *     vkft_json_free(doc);
 */
#ifndef VKFT_JSON_H
#define VKFT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum vkft_json_type {
    VKFT_JSON_NULL, VKFT_JSON_BOOL, VKFT_JSON_NUMBER, VKFT_JSON_STRING, VKFT_JSON_ARRAY,
    VKFT_JSON_OBJECT,
} vkft_json_type;

typedef struct vkft_json vkft_json;
struct vkft_json {
    vkft_json_type type;
    int line, col;              /* where the value starts, 1-based */
    bool boolean;               /* BOOL */
    double number;              /* NUMBER (as double) */
    const char *str;            /* STRING: unescaped, NUL-terminated; NUMBER: the source text */
    size_t len;                 /* STRING/NUMBER: bytes in str; ARRAY/OBJECT: element count */
    const vkft_json *items;     /* ARRAY: len values; OBJECT: len values, in source order */
    const char *const *keys;    /* OBJECT: len keys (unescaped, NUL-terminated) */
    const size_t *key_lens;     /* OBJECT: their byte lengths */
};

typedef struct vkft_json_doc vkft_json_doc;

/* Parses text[0..len) (need not be NUL-terminated). name prefixes error messages, which read
 * "name:line:col: what was expected" (column in UTF-8 characters). On failure *out is NULL and
 * the status is VKFT_ERR_INVALID_ARG (malformed text) or VKFT_ERR_NO_MEMORY. */
vkft_status vkft_json_parse(const char *text, size_t len, const char *name, vkft_json_doc **out,
                            vkft_err *err);
/* Reads and parses a whole file (the path names the errors; VKFT_ERR_IO if unreadable). */
vkft_status vkft_json_parse_file(const char *path, vkft_json_doc **out, vkft_err *err);
const vkft_json *vkft_json_root(const vkft_json_doc *doc);
void vkft_json_free(vkft_json_doc *doc);

/* Member of an object by key, or NULL (also NULL when obj is NULL or not an object). */
const vkft_json *vkft_json_get(const vkft_json *obj, const char *key);
/* Element i of an array, or NULL. */
const vkft_json *vkft_json_at(const vkft_json *arr, size_t i);
/* Typed reads: return false (leaving *out unchanged) when v is NULL or of another type;
 * get_int also fails on a fraction or a value outside int64. */
bool vkft_json_get_int(const vkft_json *v, int64_t *out);
bool vkft_json_get_double(const vkft_json *v, double *out);
bool vkft_json_get_bool(const vkft_json *v, bool *out);
const char *vkft_json_get_str(const vkft_json *v);  /* NULL unless a string */
const char *vkft_json_type_name(vkft_json_type t);  /* "null", "boolean", ... for messages */
/* Length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 when it is not one (overlong forms,
 * surrogates, code points past U+10FFFF and truncated sequences are invalid). */
size_t vkft_utf8_seq_len(const char *s, size_t n);

/* ---- writer: appends to a growable buffer ----
 * Commas and nesting are tracked; keys and strings are escaped; floats are written with the
 * fewest digits that read back to the same float (f32) / double. On allocation failure the
 * writer remembers it and vkft_json_writer_finish reports it (NO_MEMORY); misuse (a key
 * outside an object, nesting past 63 levels, unbalanced ends, two top-level values) is
 * remembered too and reported as INVALID_ARG. Invalid UTF-8 in a string is written as U+FFFD
 * per bad byte, so the output is always valid JSON. Numbers use the C locale's '.' (vkft never
 * calls setlocale). Pretty output looks like Python's json.dumps(indent=n) and ends with a
 * newline; compact output has none.
 *
 *     vkft_json_writer w;  char *text;  size_t n;
 *     vkft_json_writer_init(&w, 2);
 *     vkft_json_obj_begin(&w);
 *     vkft_json_key(&w, "r");  vkft_json_int(&w, 8);
 *     vkft_json_obj_end(&w);
 *     if (vkft_json_writer_finish(&w, &text, &n, &err)) ...  // text: {"r": 8} pretty-printed
 *     free(text);  */
typedef struct vkft_json_writer {
    char *buf;
    size_t len, cap;
    int depth;                  /* open containers; need_comma[0] is the top level */
    bool need_comma[64];
    bool failed;
    int indent;                 /* 0: compact one line; n: pretty with n spaces */
    bool after_key;             /* a key was written, its value comes next */
    uint64_t object_bits;       /* bit d: open container d (1-based) is an object */
    const char *misuse;         /* first misuse, reported by finish */
} vkft_json_writer;

void vkft_json_writer_init(vkft_json_writer *w, int indent);
void vkft_json_obj_begin(vkft_json_writer *w);
void vkft_json_obj_end(vkft_json_writer *w);
void vkft_json_arr_begin(vkft_json_writer *w);
void vkft_json_arr_end(vkft_json_writer *w);
void vkft_json_key(vkft_json_writer *w, const char *key);   /* inside an object, before a value */
void vkft_json_keyn(vkft_json_writer *w, const char *key, size_t n);  /* may contain NUL */
void vkft_json_str(vkft_json_writer *w, const char *s);
void vkft_json_strn(vkft_json_writer *w, const char *s, size_t n);
void vkft_json_int(vkft_json_writer *w, int64_t v);
/* Shortest of %.6g..%.9g (f32) / %.15g..%.17g (f64) that reads back to the same bits;
 * NaN and infinities are written as null. */
void vkft_json_f32(vkft_json_writer *w, float v);
void vkft_json_f64(vkft_json_writer *w, double v);
void vkft_json_bool(vkft_json_writer *w, bool v);
void vkft_json_null(vkft_json_writer *w);
/* Appends raw, already valid JSON text as one value. */
void vkft_json_raw(vkft_json_writer *w, const char *json, size_t n);
/* NUL-terminates and hands over the buffer (*out, caller frees; len may be NULL) or fails with
 * NO_MEMORY / INVALID_ARG (see above). Either way the writer is empty afterwards. */
vkft_status vkft_json_writer_finish(vkft_json_writer *w, char **out, size_t *len, vkft_err *err);
void vkft_json_writer_free(vkft_json_writer *w);

#endif
