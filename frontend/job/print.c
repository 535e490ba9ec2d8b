/*
 * Writes a validated job back out, as YAML or JSON, from the schema table: sections and keys in
 * table order, only the method keys of the job's kind, every default spelled out, unset
 * optional keys as null. The YAML reads back (vkft_job_load_string with no base folder, since
 * the paths are already resolved) to the same job.
 */
#include "job/job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "job/schema.h"
#include "job/yaml_tree.h"

typedef struct out {
    char *buf;
    size_t len, cap;
    bool failed;
    bool json;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    if (o->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if (o->buf && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap ? o->cap : 1024;
        while (cap - o->len <= (size_t)n) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
}

static void indent(out *o, int depth) { put(o, "%*s", depth * 2, ""); }

/* A string YAML reads back as itself without quotes. */
static bool yaml_plain_ok(const char *s)
{
    if (!s[0] || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./",
                         s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:+-", *p))
            return false;
    jnode n = {.type = JNODE_SCALAR, .text = s, .plain = true};
    return jtree_classify(&n) == JS_STRING;
}

static void put_string(out *o, const char *s)
{
    if (!s) {
        put(o, "null");
        return;
    }
    if (!o->json && yaml_plain_ok(s)) {
        put(o, "%s", s);
        return;
    }
    /* JSON escapes, which YAML's double-quoted style reads the same way. */
    put(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': put(o, "\\\""); break;
        case '\\': put(o, "\\\\"); break;
        case '\n': put(o, "\\n"); break;
        case '\r': put(o, "\\r"); break;
        case '\t': put(o, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) put(o, "\\u%04x", *p);
            else put(o, "%c", *p);
        }
    }
    put(o, "\"");
}

/* The shortest text that reads back as v, always with a '.' or an exponent. */
static void put_double(out *o, double v)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* "5.0e-05", not "5e-05", which YAML 1.1 readers (PyYAML) take for a string. */
    char *e = strchr(buf, 'e');
    if (strchr(buf, '.') || strchr(buf, 'n') || strchr(buf, 'i')) put(o, "%s", buf);
    else if (e) put(o, "%.*s.0%s", (int)(e - buf), buf, e);
    else put(o, "%s.0", buf);
}

static void put_value(out *o, const job_key *k, const void *f)
{
    char c[64];
    switch (k->type) {
    case JOB_T_INT: {
        int64_t v = *(const int64_t *)f;
        if (k->zero_unset && v == 0) put(o, "null");
        else put(o, "%lld", (long long)v);
        break;
    }
    case JOB_T_UINT: put(o, "%llu", (unsigned long long)*(const uint64_t *)f); break;
    case JOB_T_FLOAT: {
        double v = *(const double *)f;
        if (k->zero_unset && v == 0) put(o, "null");
        else put_double(o, v);
        break;
    }
    case JOB_T_BOOL: put(o, "%s", *(const bool *)f ? "true" : "false"); break;
    case JOB_T_STRING:
    case JOB_T_PATH:
    case JOB_T_DEVICE: put_string(o, *(char *const *)f); break;
    case JOB_T_ENUM: put_string(o, job_choice_at(k->choices, *(const int *)f, c, sizeof c)); break;
    case JOB_T_STRINGS: {
        const vkft_job_strings *s = f;
        put(o, "[");
        for (int i = 0; i < s->n; i++) {
            put(o, "%s", i ? ", " : "");
            put_string(o, s->items[i]);
        }
        put(o, "]");
        break;
    }
    case JOB_T_FLOATS:
        put(o, "[");
        for (int i = 0; i < k->count; i++) {
            put(o, "%s", i ? ", " : "");
            put_double(o, ((const double *)f)[i]);
        }
        put(o, "]");
        break;
    case JOB_T_SECTION:
    case JOB_T_DATASETS:
    case JOB_T_REJECTED: break;
    }
}

static bool is_child(const job_key *k, const char *parent)
{
    char p[256];
    job_key_parent(k->path, p, sizeof p);
    return !strcmp(p, parent);
}

static void put_map(out *o, const vkft_job *job, const char *parent, const void *base,
                    int depth, int dash_depth);

static void put_datasets(out *o, const vkft_job *job, const job_key *k, const void *f, int depth)
{
    const vkft_job_datasets *d = f;
    if (d->n == 0) {
        put(o, o->json ? "[]" : " []");
        return;
    }
    char parent[256];
    snprintf(parent, sizeof parent, "%s[]", k->path);
    put(o, o->json ? "[\n" : "\n");
    for (int i = 0; i < d->n; i++) {
        if (o->json) {
            put(o, "%s", i ? ",\n" : "");
            indent(o, depth + 1);
            put(o, "{\n");
            put_map(o, job, parent, &d->items[i], depth + 2, -1);
            put(o, "\n");
            indent(o, depth + 1);
            put(o, "}");
        } else {
            put(o, "%s", i ? "\n" : "");
            put_map(o, job, parent, &d->items[i], depth + 2, depth + 1);
        }
    }
    if (o->json) {
        put(o, "\n");
        indent(o, depth);
        put(o, "]");
    }
}

/* The keys under parent. YAML: dash_depth >= 0 starts the first key with "- " at that depth
 * (an item of a list). */
static void put_map(out *o, const vkft_job *job, const char *parent, const void *base,
                    int depth, int dash_depth)
{
    bool first = true;
    for (int i = 0; i < job_n_keys; i++) {
        const job_key *k = &job_keys[i];
        if (!is_child(k, parent) || k->type == JOB_T_REJECTED ||
            !job_key_applies(k, (int)job->method.kind))
            continue;
        const void *f = (const char *)base + k->offset;
        const char *leaf = job_key_leaf(k->path);
        if (o->json) {
            put(o, "%s", first ? "" : ",\n");
            indent(o, depth);
            put(o, "\"%s\": ", leaf);
        } else {
            if (!first) put(o, "\n");
            if (first && dash_depth >= 0) {
                indent(o, dash_depth);
                put(o, "- ");
            } else {
                indent(o, depth);
            }
            put(o, "%s:", leaf);
        }
        first = false;
        if (k->type == JOB_T_SECTION) {
            put(o, o->json ? "{\n" : "\n");
            put_map(o, job, k->path, base, depth + 1, -1);
            if (o->json) {
                put(o, "\n");
                indent(o, depth);
                put(o, "}");
            }
        } else if (k->type == JOB_T_DATASETS) {
            put_datasets(o, job, k, f, depth);
        } else {
            put(o, "%s", o->json ? "" : " ");
            put_value(o, k, f);
        }
    }
}

vkft_status vkft_job_format(const vkft_job *job, bool json, char **text, size_t *len,
                            vkft_err *err)
{
    out o = {.json = json};
    if (json) put(&o, "{\n");
    put_map(&o, job, "", job, json ? 1 : 0, -1);
    put(&o, json ? "\n}\n" : "\n");
    if (o.failed) {
        free(o.buf);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory formatting the job",
                            job->file);
    }
    *text = o.buf;
    if (len) *len = o.len;
    return VKFT_OK;
}

vkft_status vkft_job_print(const vkft_job *job, FILE *f, bool json, vkft_err *err)
{
    char *text;
    size_t len;
    vkft_status st = vkft_job_format(job, json, &text, &len, err);
    if (st) return st;
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0)
        st = vkft_err_set(err, VKFT_ERR_IO, "writing the job: %s", strerror(errno));
    free(text);
    return st;
}
