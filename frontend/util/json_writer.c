/*
 * JSON writer (see json.h): appends to one growable buffer, tracks commas and nesting, escapes
 * strings, and writes floats with the fewest significant digits that read back to the same
 * bits. Errors are sticky: the first allocation failure or misuse is kept and every later call
 * does nothing; vkft_json_writer_finish reports it.
 *
 * Layout of the pretty form (indent n > 0): every array element and object member on its own
 * line indented n spaces per level, "key": value with one space, empty containers as {} / [].
 */
#include "util/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_MAX_DEPTH 63

static bool ok(const vkft_json_writer *w) { return !w->failed && !w->misuse; }

static void misuse(vkft_json_writer *w, const char *what) {
    if (!w->misuse) w->misuse = what;
}

static void put(vkft_json_writer *w, const char *s, size_t n) {
    if (!ok(w)) return;
    if (w->cap - w->len < n + 1) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                w->failed = true;
                return;
            }
            cap *= 2;
        }
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = true;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void putc_(vkft_json_writer *w, char c) { put(w, &c, 1); }

static void newline(vkft_json_writer *w) {
    if (w->indent <= 0) return;
    putc_(w, '\n');
    for (int i = 0; i < w->depth * w->indent; i++) putc_(w, ' ');
}

static bool in_object(const vkft_json_writer *w) {
    return w->depth > 0 && (w->object_bits >> w->depth & 1);
}

/* Everything a value needs before its text: the comma, the line break, the key check. */
static void before_value(vkft_json_writer *w) {
    if (!ok(w)) return;
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (in_object(w)) {
        misuse(w, "value in an object without a key");
        return;
    }
    bool *nc = &w->need_comma[w->depth];
    if (w->depth == 0 && *nc) {
        misuse(w, "more than one top-level value");
        return;
    }
    if (*nc) putc_(w, ',');
    *nc = true;
    if (w->depth > 0) newline(w);
}

void vkft_json_writer_init(vkft_json_writer *w, int indent) {
    memset(w, 0, sizeof *w);
    w->indent = indent;
}

static void begin(vkft_json_writer *w, char c, bool object) {
    before_value(w);
    if (!ok(w)) return;
    if (w->depth >= WRITER_MAX_DEPTH) {
        misuse(w, "nesting deeper than 63 levels");
        return;
    }
    putc_(w, c);
    w->depth++;
    w->need_comma[w->depth] = false;
    if (object) w->object_bits |= (uint64_t)1 << w->depth;
    else w->object_bits &= ~((uint64_t)1 << w->depth);
}

static void end(vkft_json_writer *w, char c, bool object) {
    if (!ok(w)) return;
    if (w->depth == 0 || in_object(w) != object) {
        misuse(w, object ? "object end without a matching begin" :
                           "array end without a matching begin");
        return;
    }
    if (w->after_key) {
        misuse(w, "object ended after a key without its value");
        return;
    }
    bool had_items = w->need_comma[w->depth];
    w->depth--;
    if (had_items) newline(w);
    putc_(w, c);
}

void vkft_json_obj_begin(vkft_json_writer *w) { begin(w, '{', true); }
void vkft_json_obj_end(vkft_json_writer *w) { end(w, '}', true); }
void vkft_json_arr_begin(vkft_json_writer *w) { begin(w, '[', false); }
void vkft_json_arr_end(vkft_json_writer *w) { end(w, ']', false); }

/* Writes s[0..n) as a quoted JSON string. */
static void put_string(vkft_json_writer *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    putc_(w, '"');
    size_t run = 0;  /* bytes copied verbatim are flushed in runs */
    for (size_t i = 0; i < n && ok(w);) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t k = 0, adv = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" :
                                c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (named) {
                memcpy(esc, named, 2);
                k = 2;
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                k = 6;
            }
        } else if (c >= 0x80) {
            adv = vkft_utf8_seq_len(s + i, n - i);
            if (!adv) {
                memcpy(esc, "\xEF\xBF\xBD", 3);  /* U+FFFD for one invalid byte */
                k = 3;
                adv = 1;
            }
        }
        if (k) {
            put(w, s + i - run, run);
            run = 0;
            put(w, esc, k);
        } else {
            run += adv;
        }
        i += adv;
    }
    put(w, s + n - run, run);
    putc_(w, '"');
}

void vkft_json_keyn(vkft_json_writer *w, const char *key, size_t n) {
    if (!ok(w)) return;
    if (!in_object(w)) {
        misuse(w, "key outside an object");
        return;
    }
    if (w->after_key) {
        misuse(w, "two keys without a value between them");
        return;
    }
    if (w->need_comma[w->depth]) putc_(w, ',');
    w->need_comma[w->depth] = true;
    newline(w);
    put_string(w, key ? key : "", key ? n : 0);
    put(w, w->indent > 0 ? ": " : ":", w->indent > 0 ? 2 : 1);
    w->after_key = true;
}

void vkft_json_key(vkft_json_writer *w, const char *key) {
    vkft_json_keyn(w, key, key ? strlen(key) : 0);
}

void vkft_json_strn(vkft_json_writer *w, const char *s, size_t n) {
    before_value(w);
    if (ok(w)) put_string(w, s ? s : "", s ? n : 0);
}

void vkft_json_str(vkft_json_writer *w, const char *s) {
    vkft_json_strn(w, s, s ? strlen(s) : 0);
}

void vkft_json_int(vkft_json_writer *w, int64_t v) {
    char b[32];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    before_value(w);
    put(w, b, (size_t)n);
}

void vkft_json_f32(vkft_json_writer *w, float v) {
    if (v != v || v - v != 0.0f) {  /* NaN or infinite: JSON has no spelling for them */
        vkft_json_null(w);
        return;
    }
    char b[48];
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(b, sizeof b, "%.*g", prec, (double)v);
        float back = strtof(b, NULL);
        if (!memcmp(&back, &v, sizeof v)) break;  /* 9 digits always round-trip a float */
    }
    before_value(w);
    put(w, b, (size_t)n);
}

void vkft_json_f64(vkft_json_writer *w, double v) {
    if (v != v || v - v != 0.0) {
        vkft_json_null(w);
        return;
    }
    char b[48];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(b, sizeof b, "%.*g", prec, v);
        double back = strtod(b, NULL);
        if (!memcmp(&back, &v, sizeof v)) break;  /* 17 digits always round-trip a double */
    }
    before_value(w);
    put(w, b, (size_t)n);
}

void vkft_json_bool(vkft_json_writer *w, bool v) {
    before_value(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void vkft_json_null(vkft_json_writer *w) {
    before_value(w);
    put(w, "null", 4);
}

void vkft_json_raw(vkft_json_writer *w, const char *json, size_t n) {
    before_value(w);
    put(w, json, n);
}

vkft_status vkft_json_writer_finish(vkft_json_writer *w, char **out, size_t *len, vkft_err *err) {
    vkft_status st = VKFT_OK;
    *out = NULL;
    if (len) *len = 0;
    if (!w->misuse && !w->failed && w->depth != 0) misuse(w, "unclosed object or array");
    if (!w->misuse && !w->failed && !w->need_comma[0]) misuse(w, "no value written");
    if (ok(w) && w->indent > 0) putc_(w, '\n');
    if (ok(w)) put(w, "", 0);  /* makes room for the NUL */
    if (w->misuse) {
        st = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "JSON writer: %s", w->misuse);
    } else if (w->failed) {
        st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "JSON writer: out of memory (%zu bytes)",
                          w->len);
    } else {
        w->buf[w->len] = '\0';
        *out = w->buf;
        if (len) *len = w->len;
        w->buf = NULL;
    }
    int indent = w->indent;
    vkft_json_writer_free(w);
    w->indent = indent;
    return st;
}

void vkft_json_writer_free(vkft_json_writer *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}
