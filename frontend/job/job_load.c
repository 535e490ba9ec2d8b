/*
 * From a positioned YAML tree to a vkft_job, driven by the schema table: defaults first, then
 * every key of the tree in document order (unknown keys, keys of another method kind, wrong
 * types, ranges, enum values), then required keys, then the rules that span keys (steps vs
 * epochs, warm-up, eval, mix weights, targets).
 *
 * Invariant: every string in the job is malloc'd and owned by it (vkft_job_free releases them
 * whatever state a failed load left), so a field is freed before it is overwritten.
 */
#include "job/job_load.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job/schema.h"

enum { PATHLEN = 512, WHERELEN = 700 };

typedef struct loader {
    const jtree *tree;
    vkft_job *job;
    const char *base_dir;       /* for relative paths written in the file; NULL = as written */
    int kind;                   /* method kind, -1 while unknown */
    bool in_default;            /* converting a schema default (no position to record) */
    const jpair *at[256];       /* where each JOB row was set (NULL: not written) */
    vkft_err *err;
} loader;

static vkft_status oom(loader *L)
{
    return vkft_err_set(L->err, VKFT_ERR_NO_MEMORY, "%s: out of memory", L->tree->name);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* ---- locations kept for vkft_job_check_paths ---- */

static vkft_status loc_add(loader *L, const char *key, const char *where)
{
    vkft_job_loc *l = L->job->locs;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        void *v = realloc(l->v, (size_t)cap * sizeof *l->v);
        if (!v) return oom(L);
        l->v = v;
        l->cap = cap;
    }
    char *k = xstrdup(key), *w = xstrdup(where);
    if (!k || !w) {
        free(k);
        free(w);
        return oom(L);
    }
    l->v[l->n].key = k;
    l->v[l->n].where = w;
    l->n++;
    return VKFT_OK;
}

/* ---- messages ---- */

/* "a list", "a mapping", "'text'" or "text" (plain numbers and bools unquoted). */
static const char *describe(const jnode *n, char *buf, size_t size)
{
    if (n->type == JNODE_SEQ) return "a list";
    if (n->type == JNODE_MAP) return "a mapping";
    jscalar c = jtree_classify(n);
    if (c == JS_NULL) return "null";
    if (c == JS_STRING && !n->text[0]) return "an empty string";
    if (c == JS_STRING) snprintf(buf, size, "'%.200s'", n->text);
    else snprintf(buf, size, "%.200s", n->text);
    return buf;
}

/* "expected an integer >= 1, got 0" for row k and node n. */
static vkft_status expected(loader *L, const jnode *n, const char *key, const job_key *k,
                            const char *hint)
{
    char where[WHERELEN], got[256], range[64], what[512];
    job_range_text(k, range, sizeof range);
    if (k->type == JOB_T_ENUM) {
        size_t len = (size_t)snprintf(what, sizeof what, "one of ");
        char c[64];
        for (int i = 0; job_choice_at(k->choices, i, c, sizeof c)[0]; i++)
            len += (size_t)snprintf(what + len, len < sizeof what ? sizeof what - len : 0,
                                    "%s%s", i ? ", " : "", c);
    } else if (k->type == JOB_T_FLOATS) {
        snprintf(what, sizeof what, "a list of %d numbers %s", k->count, range);
    } else {
        snprintf(what, sizeof what, "%s%s%s", job_type_phrase(k), range[0] ? " " : "", range);
    }
    return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s: expected %s, got %s%s",
                        jtree_where(n, where, sizeof where), key, what,
                        describe(n, got, sizeof got), hint ? hint : "");
}

static bool in_range(const job_key *k, double v)
{
    unsigned r = k->range;
    if ((r & JOB_LO) && ((r & JOB_LO_OPEN) ? !(v > k->lo) : !(v >= k->lo))) return false;
    if ((r & JOB_HI) && ((r & JOB_HI_OPEN) ? !(v < k->hi) : !(v <= k->hi))) return false;
    return true;
}

/* ---- scalar conversions ---- */

static bool read_number(const jnode *n, double *out)
{
    if (n->type != JNODE_SCALAR) return false;
    jscalar c = jtree_classify(n);
    if (c != JS_INT && c != JS_FLOAT) return false;
    const char *s = n->text;
    /* strtod reads ".inf"/".nan" as garbage; YAML spells them this way. */
    if (strstr(s, ".inf") || strstr(s, ".Inf") || strstr(s, ".INF") || strstr(s, "nan") ||
        strstr(s, "NaN") || strstr(s, "NAN"))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool read_int(const jnode *n, int64_t *out)
{
    if (n->type != JNODE_SCALAR) return false;
    jscalar c = jtree_classify(n);
    if (c == JS_INT) {
        errno = 0;
        char *end;
        long long v = strtoll(n->text, &end, 10);
        if (*end || errno == ERANGE) return false;
        *out = v;
        return true;
    }
    double d;
    /* 1e3 or 100.0 are integers too, as long as they are exact. */
    if (c == JS_FLOAT && read_number(n, &d) && d == floor(d) && fabs(d) <= 9007199254740992.0) {
        *out = (int64_t)d;
        return true;
    }
    return false;
}

static bool valid_device(const char *s)
{
    if (!strcmp(s, "auto") || !strcmp(s, "cpu") || !strcmp(s, "vulkan")) return true;
    if (strncmp(s, "vulkan:", 7)) return false;
    size_t n = strlen(s + 7);
    if (n == 0 || n > 3) return false;
    for (const char *p = s + 7; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return true;
}

/* Resolves a path value: relative paths from the file are taken from the job's folder. */
static char *resolve_path(loader *L, const jnode *n)
{
    const char *v = n->text;
    bool from_file = n->line > 0;
    if (v[0] == '/' || !from_file || !L->base_dir) return xstrdup(v);
    size_t bl = strlen(L->base_dir), vl = strlen(v);
    bool slash = bl > 0 && L->base_dir[bl - 1] == '/';
    char *p = malloc(bl + vl + 2);
    if (!p) return NULL;
    memcpy(p, L->base_dir, bl);
    if (!slash) p[bl++] = '/';
    memcpy(p + bl, v, vl + 1);
    return p;
}

static vkft_status set_string(loader *L, char **field, char *value)
{
    if (!value) return oom(L);
    free(*field);
    *field = value;
    return VKFT_OK;
}

static void strings_clear(vkft_job_strings *s)
{
    for (int i = 0; i < s->n; i++) free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

static vkft_status convert_strings(loader *L, const jnode *n, const char *key, const job_key *k,
                                   vkft_job_strings *out)
{
    char where[WHERELEN], got[256];
    const jnode *one = n;
    int count = n->type == JNODE_SEQ ? n->n : 1;
    if (n->type == JNODE_MAP || (n->type == JNODE_SCALAR && jtree_classify(n) == JS_NULL))
        return expected(L, n, key, k, NULL);
    if (count <= 0 && !k->def) {  /* an optional list (no default): [] is "none" */
        strings_clear(out);
        return VKFT_OK;
    }
    if (count <= 0)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: %s: expected at least one name, got an empty list",
                            jtree_where(n, where, sizeof where), key);
    for (int i = 0; i < count; i++) {
        const jnode *it = n->type == JNODE_SEQ ? n->items[i] : one;
        if (it->type != JNODE_SCALAR || !it->text[0] || jtree_classify(it) == JS_NULL)
            return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s[%d]: expected a name, got %s",
                                jtree_where(it, where, sizeof where), key, i,
                                describe(it, got, sizeof got));
    }
    char **items = calloc((size_t)count, sizeof *items);
    if (!items) return oom(L);
    for (int i = 0; i < count; i++) {
        items[i] = xstrdup((n->type == JNODE_SEQ ? n->items[i] : one)->text);
        if (!items[i]) {
            for (int j = 0; j < i; j++) free(items[j]);
            free(items);
            return oom(L);
        }
    }
    strings_clear(out);
    out->items = items;
    out->n = count;
    return VKFT_OK;
}

static vkft_status convert_floats(loader *L, const jnode *n, const char *key, const job_key *k,
                                  double *out)
{
    char where[WHERELEN];
    if (n->type != JNODE_SEQ) return expected(L, n, key, k, NULL);
    if (n->n != k->count)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: %s: expected a list of %d numbers, got %d item%s",
                            jtree_where(n, where, sizeof where), key, k->count, n->n,
                            n->n == 1 ? "" : "s");
    double v[8];
    for (int i = 0; i < n->n; i++) {
        char item[PATHLEN];
        snprintf(item, sizeof item, "%s[%d]", key, i);
        job_key one = *k;
        one.type = JOB_T_FLOAT;
        if (!read_number(n->items[i], &v[i]) || !in_range(k, v[i]))
            return expected(L, n->items[i], item, &one, NULL);
    }
    memcpy(out, v, (size_t)k->count * sizeof *out);
    return VKFT_OK;
}

/* The hint " (did you mean 'x'?)" for a bad enum value, or "". */
static const char *enum_hint(const job_key *k, const char *value, char *buf, size_t size)
{
    char c[64];
    buf[0] = '\0';
    int best = 1 << 30;
    for (int i = 0; job_choice_at(k->choices, i, c, sizeof c)[0]; i++) {
        int d = job_edit_distance(value, c);
        if (d < best && job_close_enough(value, c)) {
            best = d;
            snprintf(buf, size, " (did you mean '%s'?)", c);
        }
    }
    return buf;
}

/* Converts a non-null value node into the field of row k at base. key is the display path. */
static vkft_status convert_value(loader *L, const job_key *k, const char *key, const jnode *n,
                                 void *base)
{
    void *f = (char *)base + k->offset;
    char where[WHERELEN];
    switch (k->type) {
    case JOB_T_INT:
    case JOB_T_UINT: {
        int64_t v;
        double d;
        if (!read_int(n, &v)) {
            /* 1e30 reads as a number but not as an int64: say it is out of range. */
            bool big = read_number(n, &d) && d == floor(d);
            return expected(L, n, key, k, big ? " (too large)" : NULL);
        }
        if (!in_range(k, (double)v)) return expected(L, n, key, k, NULL);
        if (k->type == JOB_T_INT) *(int64_t *)f = v;
        else *(uint64_t *)f = (uint64_t)v;
        return VKFT_OK;
    }
    case JOB_T_FLOAT: {
        double v;
        if (!read_number(n, &v) || !in_range(k, v)) return expected(L, n, key, k, NULL);
        *(double *)f = v;
        return VKFT_OK;
    }
    case JOB_T_BOOL:
        if (n->type != JNODE_SCALAR || jtree_classify(n) != JS_BOOL)
            return expected(L, n, key, k, NULL);
        *(bool *)f = n->text[0] == 't' || n->text[0] == 'T';
        return VKFT_OK;
    case JOB_T_STRING:
    case JOB_T_PATH:
    case JOB_T_DEVICE:
        if (n->type != JNODE_SCALAR || !n->text[0]) return expected(L, n, key, k, NULL);
        if (k->type == JOB_T_DEVICE && !valid_device(n->text))
            return expected(L, n, key, k, NULL);
        if (k->type == JOB_T_PATH) {
            vkft_status st = set_string(L, (char **)f, resolve_path(L, n));
            if (st) return st;
            if (L->in_default) return loc_add(L, key, L->tree->name);
            return loc_add(L, key, n->line > 0 ? jtree_where(n, where, sizeof where) : n->src);
        }
        return set_string(L, (char **)f, xstrdup(n->text));
    case JOB_T_ENUM: {
        int i = n->type == JNODE_SCALAR ? job_choice_index(k->choices, n->text) : -1;
        if (i < 0) {
            char hint[128] = "";
            if (n->type == JNODE_SCALAR) enum_hint(k, n->text, hint, sizeof hint);
            return expected(L, n, key, k, hint);
        }
        *(int *)f = i;
        return VKFT_OK;
    }
    case JOB_T_STRINGS:
        return convert_strings(L, n, key, k, f);
    case JOB_T_FLOATS:
        return convert_floats(L, n, key, k, f);
    case JOB_T_SECTION:
    case JOB_T_DATASETS:
    case JOB_T_REJECTED:
        break;
    }
    return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s: not a value key",
                        jtree_where(n, where, sizeof where), key);
}

/* ---- defaults ---- */

/* Sets every defaulted row of base kind `which` under schema prefix (all when NULL). */
static vkft_status apply_defaults(loader *L, job_base which, void *base)
{
    for (int i = 0; i < job_n_keys; i++) {
        const job_key *k = &job_keys[i];
        if (k->base != which || !k->def || !job_key_applies(k, L->kind)) continue;
        if (k->kinds && L->kind < 0) continue;
        jtree t;
        vkft_status st = jtree_parse(&t, k->def, strlen(k->def), "default", L->err);
        if (st) return st;
        /* Defaults count as written in the job file: a default path is relative to it. */
        L->in_default = true;
        st = convert_value(L, k, k->path, t.root, base);
        L->in_default = false;
        jtree_free(&t);
        if (st) return vkft_err_prefix(L->err, st, "%s: bad schema default", L->tree->name);
    }
    return VKFT_OK;
}

/* ---- unknown keys ---- */

static vkft_status unknown_key(loader *L, const jpair *p, const char *schema_prefix,
                               const char *display_prefix)
{
    char where[WHERELEN], full[PATHLEN], hint[PATHLEN + 64] = "";
    snprintf(full, sizeof full, "%s%s", schema_prefix, p->key);
    jtree_where_key(p, where, sizeof where);

    /* A key of another method kind. */
    unsigned kinds = 0;
    for (int i = 0; i < job_n_keys; i++)
        if (!strcmp(job_keys[i].path, full)) kinds |= job_keys[i].kinds;
    if (kinds && L->kind >= 0) {
        char names[256] = "";
        size_t len = 0;
        for (int k = 0; k < VKFT_METHOD_COUNT; k++)
            if (kinds & JOB_KIND_BIT(k))
                len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0,
                                        "%s%s", len ? ", " : "",
                                        vkft_method_kind_name((vkft_method_kind)k));
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: %s%s: not a key of method kind '%s' (it belongs to %s)", where,
                            display_prefix, p->key, vkft_method_kind_name(L->kind), names);
    }

    /* The closest sibling, else a key of that exact name elsewhere. */
    int best = 1 << 30;
    char parent[PATHLEN];
    for (int i = 0; i < job_n_keys; i++) {
        const job_key *k = &job_keys[i];
        job_key_parent(k->path, parent, sizeof parent);
        size_t pl = strlen(parent);
        bool sibling = schema_prefix[0] ? (!strncmp(schema_prefix, parent, pl) &&
                                           schema_prefix[pl] == '.' && !schema_prefix[pl + 1])
                                        : pl == 0;
        if (!sibling || !job_key_applies(k, L->kind) || k->type == JOB_T_REJECTED) continue;
        const char *leaf = job_key_leaf(k->path);
        int d = job_edit_distance(p->key, leaf);
        if (d < best && job_close_enough(p->key, leaf)) {
            best = d;
            snprintf(hint, sizeof hint, " (did you mean '%s%s'?)", display_prefix, leaf);
        }
    }
    for (int i = 0; !hint[0] && i < job_n_keys; i++) {
        const job_key *k = &job_keys[i];
        if (!strcmp(job_key_leaf(k->path), p->key) && job_key_applies(k, L->kind))
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", k->path);
    }
    return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s%s: unknown key%s", where,
                        display_prefix, p->key, hint);
}

/* ---- walking the tree ---- */

static vkft_status walk_map(loader *L, const jnode *m, const char *schema_prefix,
                            const char *display_prefix, void *base, const jpair **at);

static vkft_status walk_datasets(loader *L, const job_key *k, const char *key, const jnode *n,
                                 vkft_job_datasets *out)
{
    char where[WHERELEN], got[256];
    if (n->type == JNODE_SCALAR)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: %s: expected a list of datasets ({path: ..., format: ...}), "
                            "got %s", jtree_where(n, where, sizeof where), key,
                            describe(n, got, sizeof got));
    int count = n->type == JNODE_SEQ ? n->n : 1;
    if (count == 0 && !k->required) return VKFT_OK;     /* "eval: []" is no eval */
    if (count == 0)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: %s: expected at least one dataset, got an empty list",
                            jtree_where(n, where, sizeof where), key);
    vkft_job_dataset *items = calloc((size_t)count, sizeof *items);
    if (!items) return oom(L);
    out->items = items;     /* owned from here on, freed with the job */
    char schema_prefix[PATHLEN];
    snprintf(schema_prefix, sizeof schema_prefix, "%s[].", k->path);
    for (int i = 0; i < count; i++) {
        const jnode *it = n->type == JNODE_SEQ ? n->items[i] : n;
        char display[PATHLEN + 32];
        if (n->type == JNODE_SEQ) snprintf(display, sizeof display, "%s[%d]", key, i);
        else snprintf(display, sizeof display, "%s", key);
        if (it->type != JNODE_MAP)
            return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                                "%s: %s: expected a mapping ({path: ..., format: ...}), got %s",
                                jtree_where(it, where, sizeof where), display,
                                describe(it, got, sizeof got));
        out->n = i + 1;
        items[i].prompt_loss_weight = -1;   /* unset: the global one (filled in later) */
        vkft_status st = apply_defaults(L, JOB_BASE_DATASET, &items[i]);
        if (st) return st;
        const jpair *at[256] = {0};
        size_t dl = strlen(display);
        snprintf(display + dl, sizeof display - dl, ".");
        st = walk_map(L, it, schema_prefix, display, &items[i], at);
        if (st) return st;
        for (int r = 0; r < job_n_keys; r++) {
            const job_key *rk = &job_keys[r];
            if (rk->base != JOB_BASE_DATASET || !rk->required || at[r] ||
                strncmp(rk->path, schema_prefix, strlen(schema_prefix)))
                continue;
            return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s%s: missing required key",
                                jtree_where(it, where, sizeof where), display,
                                job_key_leaf(rk->path));
        }
    }
    return VKFT_OK;
}

static vkft_status walk_map(loader *L, const jnode *m, const char *schema_prefix,
                            const char *display_prefix, void *base, const jpair **at)
{
    for (int i = 0; i < m->n; i++) {
        const jpair *p = &m->pairs[i];
        char path[PATHLEN], key[PATHLEN];
        snprintf(path, sizeof path, "%s%s", schema_prefix, p->key);
        snprintf(key, sizeof key, "%s%s", display_prefix, p->key);
        const job_key *k = job_key_find(path, L->kind);
        if (!k) return unknown_key(L, p, schema_prefix, display_prefix);
        char where[WHERELEN];
        if (k->type == JOB_T_REJECTED)
            return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s: %s",
                                jtree_where_key(p, where, sizeof where), key, k->doc);
        at[k - job_keys] = p;
        const jnode *v = p->val;
        if (jtree_is_null(v)) {     /* "key:" with no value leaves the default */
            at[k - job_keys] = NULL;
            continue;
        }
        vkft_status st;
        if (k->type == JOB_T_SECTION) {
            if (v->type != JNODE_MAP) return expected(L, v, key, k, NULL);
            char sp[PATHLEN + 2], dp[PATHLEN + 2];
            snprintf(sp, sizeof sp, "%s.", path);
            snprintf(dp, sizeof dp, "%s.", key);
            st = walk_map(L, v, sp, dp, base, at);
        } else if (k->type == JOB_T_DATASETS) {
            vkft_job_datasets *ds = (vkft_job_datasets *)((char *)base + k->offset);
            st = walk_datasets(L, k, key, v, ds);
        } else {
            st = convert_value(L, k, key, v, base);
        }
        if (st) return st;
    }
    return VKFT_OK;
}

/* ---- the rules that span keys ---- */

static const char *where_of(loader *L, const char *path, char *buf, size_t size)
{
    const job_key *k = job_key_find(path, L->kind);
    const jpair *p = k ? L->at[k - job_keys] : NULL;
    if (p) return jtree_where_key(p, buf, size);
    snprintf(buf, size, "%s", L->tree->name);
    return buf;
}

static vkft_status check_required(loader *L)
{
    char where[WHERELEN], parent[PATHLEN];
    for (int i = 0; i < job_n_keys; i++) {
        const job_key *k = &job_keys[i];
        if (k->base != JOB_BASE_JOB || !k->required || L->at[i] || !job_key_applies(k, L->kind))
            continue;
        job_key_parent(k->path, parent, sizeof parent);
        where_of(L, parent, where, sizeof where);
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG, "%s: %s: missing required key", where,
                            k->path);
    }
    return VKFT_OK;
}

static char *file_stem(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    size_t n = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, name, n);
        s[n] = '\0';
    }
    return s;
}

static vkft_status finish_datasets(loader *L, vkft_job_datasets *ds)
{
    for (int i = 0; i < ds->n; i++) {
        vkft_job_dataset *d = &ds->items[i];
        if (!d->task && !(d->task = file_stem(d->path))) return oom(L);
        if (d->prompt_loss_weight < 0) d->prompt_loss_weight = L->job->data.prompt_loss_weight;
    }
    return VKFT_OK;
}

static vkft_status check_rules(loader *L)
{
    vkft_job *j = L->job;
    char where[WHERELEN];
    if (j->train.steps && j->train.epochs)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: train.epochs: set either train.steps or train.epochs, not both",
                            where_of(L, "train.epochs", where, sizeof where));
    if (!j->train.steps && !j->train.epochs)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: train.steps: missing required key (or set train.epochs)",
                            where_of(L, "train", where, sizeof where));
    if (j->train.steps && j->train.warmup > j->train.steps)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: train.schedule.warmup: %lld is more than train.steps (%lld)",
                            where_of(L, "train.schedule.warmup", where, sizeof where),
                            (long long)j->train.warmup, (long long)j->train.steps);
    if (j->train.eval_every > 0 && j->data.eval.n == 0)
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: train.eval_every: needs data.eval (no eval dataset is set)",
                            where_of(L, "train.eval_every", where, sizeof where));
    int weighted = 0;
    for (int i = 0; i < j->data.train.n; i++) weighted += j->data.train.items[i].weight > 0;
    if (weighted && weighted < j->data.train.n) {
        int first = 0, missing = 0;
        while (!(j->data.train.items[first].weight > 0)) first++;
        while (j->data.train.items[missing].weight > 0) missing++;
        return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                            "%s: data.train[%d].weight: missing (give every dataset a weight "
                            "or none; data.train[%d] has one)",
                            where_of(L, "data.train", where, sizeof where), missing, first);
    }
    vkft_job_method *m = &j->method;
    for (int i = 0; i < m->targets.n; i++)
        if (!strcmp(m->targets.items[i], "all-linear")) {
            if (m->targets.n > 1)
                return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                                    "%s: method.targets: all-linear cannot be combined with "
                                    "module names",
                                    where_of(L, "method.targets", where, sizeof where));
            m->all_linear = true;
        }
    for (int i = 0; i < m->feedforward.n && !m->all_linear; i++) {
        bool found = false;
        for (int t = 0; t < m->targets.n; t++)
            found |= !strcmp(m->feedforward.items[i], m->targets.items[t]);
        if (!found)
            return vkft_err_set(L->err, VKFT_ERR_INVALID_ARG,
                                "%s: method.feedforward: '%s' is not in method.targets",
                                where_of(L, "method.feedforward", where, sizeof where),
                                m->feedforward.items[i]);
    }
    return VKFT_OK;
}

/* ---- entry ---- */

vkft_status job_from_tree(const jtree *t, const char *base_dir, vkft_job *job, vkft_err *err)
{
    loader L = {.tree = t, .job = job, .base_dir = base_dir, .kind = -1, .err = err};
    if (job_n_keys > 256) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "schema too large");
    char where[WHERELEN], got[256];
    const jnode *root = t->root;
    if (!root || jtree_is_null(root))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: the job is empty", t->name);
    if (root->type != JNODE_MAP)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "%s: expected a mapping of sections (model, device, method, data, "
                            "train, output), got %s", jtree_where(root, where, sizeof where),
                            describe(root, got, sizeof got));

    /* The method kind decides which keys exist, so it is read first. */
    const jnode *method = jtree_get(root, "method", NULL);
    const jnode *kind = method && method->type == JNODE_MAP ? jtree_get(method, "kind", NULL)
                                                            : NULL;
    if (kind && !jtree_is_null(kind)) {
        const job_key *k = job_key_find("method.kind", -1);
        vkft_status st = convert_value(&L, k, "method.kind", kind, job);
        if (st) return st;
        L.kind = (int)job->method.kind;
    }
    vkft_status st = apply_defaults(&L, JOB_BASE_JOB, job);
    if (!st) st = walk_map(&L, root, "", "", job, L.at);
    if (!st) st = check_required(&L);
    if (!st) st = finish_datasets(&L, &job->data.train);
    if (!st) st = finish_datasets(&L, &job->data.eval);
    if (!st) st = check_rules(&L);
    return st;
}
