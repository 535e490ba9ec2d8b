/*
 * YAML to a positioned tree (libyaml's document API), scalar classification under the YAML
 * 1.2 core schema, and `--set` overrides. See yaml_tree.h.
 */
#include "job/yaml_tree.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum {
    MAX_DEPTH = 64,         /* a job is 4 levels deep; this only stops hostile nesting */
    MAX_NODES = 100000,     /* after alias expansion */
    PATH_MAX_LEN = 512,
};

/* ---- arena ---- */

typedef struct jblock {
    struct jblock *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
} jblock;

struct jarena {
    jblock *head;
};

static void *arena_alloc(struct jarena *a, size_t n)
{
    n = (n + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        jblock *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static char *arena_strndup(struct jarena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *jtree_strdup(jtree *t, const char *s)
{
    return arena_strndup(t->arena, s, strlen(s));
}

void jtree_free(jtree *t)
{
    if (!t || !t->arena) return;
    for (jblock *b = t->arena->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(t->arena);
    t->arena = NULL;
    t->root = NULL;
}

static jnode *node_new(struct jarena *a, jnode_type type, const char *src, int line, int col)
{
    jnode *n = arena_alloc(a, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->type = type;
    n->src = src;
    n->line = line;
    n->col = col;
    return n;
}

/* Grows items or pairs by one slot. */
static bool node_reserve(struct jarena *a, jnode *n)
{
    if (n->n < n->cap) return true;
    int cap = n->cap ? n->cap * 2 : 4;
    if (n->type == JNODE_SEQ) {
        jnode **items = arena_alloc(a, (size_t)cap * sizeof *items);
        if (!items) return false;
        if (n->n) memcpy(items, n->items, (size_t)n->n * sizeof *items);
        n->items = items;
    } else {
        jpair *pairs = arena_alloc(a, (size_t)cap * sizeof *pairs);
        if (!pairs) return false;
        if (n->n) memcpy(pairs, n->pairs, (size_t)n->n * sizeof *pairs);
        n->pairs = pairs;
    }
    n->cap = cap;
    return true;
}

jnode *jtree_get(const jnode *m, const char *key, const jpair **pair)
{
    if (!m || m->type != JNODE_MAP) return NULL;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->pairs[i].key, key)) {
            if (pair) *pair = &m->pairs[i];
            return m->pairs[i].val;
        }
    return NULL;
}

/* ---- positions ---- */

const char *jtree_where(const jnode *n, char *buf, size_t size)
{
    if (n->line > 0) snprintf(buf, size, "%s:%d:%d", n->src, n->line, n->col);
    else snprintf(buf, size, "%s", n->src);
    return buf;
}

const char *jtree_where_key(const jpair *p, char *buf, size_t size)
{
    if (p->line > 0) snprintf(buf, size, "%s:%d:%d", p->src, p->line, p->col);
    else snprintf(buf, size, "%s", p->src);
    return buf;
}

/* ---- scalars ---- */

static bool is_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcmp(s, *words)) return true;
    return false;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (and the int form, without . or e) */
static jscalar classify_number(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    size_t int_digits = 0, frac_digits = 0;
    while (isdigit((unsigned char)*p)) p++, int_digits++;
    bool dot = *p == '.';
    if (dot) {
        p++;
        while (isdigit((unsigned char)*p)) p++, frac_digits++;
    }
    if (int_digits == 0 && frac_digits == 0) return JS_STRING;
    bool exp = *p == 'e' || *p == 'E';
    if (exp) {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return JS_STRING;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (*p) return JS_STRING;
    return dot || exp ? JS_FLOAT : JS_INT;
}

jscalar jtree_classify(const jnode *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE",
                                        NULL};
    static const char *const specials[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                           "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
                                           NULL};
    if (n->type != JNODE_SCALAR || !n->plain) return JS_STRING;
    if (is_one_of(n->text, nulls)) return JS_NULL;
    if (is_one_of(n->text, bools)) return JS_BOOL;
    if (is_one_of(n->text, specials)) return JS_FLOAT;
    return classify_number(n->text);
}

bool jtree_is_null(const jnode *n)
{
    return n && n->type == JNODE_SCALAR && jtree_classify(n) == JS_NULL;
}

/* ---- libyaml document -> tree ---- */

typedef struct conv {
    jtree *t;
    yaml_document_t *doc;
    const char *src;            /* file name or override text */
    bool override;              /* positions are not reported (line 0) */
    int nodes;
    char path[PATH_MAX_LEN];
    vkft_err *err;
} conv;

static vkft_status conv_oom(conv *c)
{
    return vkft_err_set(c->err, VKFT_ERR_NO_MEMORY, "%s: out of memory", c->src);
}

static int mark_line(const conv *c, yaml_mark_t m) { return c->override ? 0 : (int)m.line + 1; }
static int mark_col(const conv *c, yaml_mark_t m) { return c->override ? 0 : (int)m.column + 1; }

static const char *conv_where(const conv *c, yaml_mark_t m, char *buf, size_t size)
{
    if (c->override) snprintf(buf, size, "%s", c->src);
    else snprintf(buf, size, "%s:%d:%d", c->src, (int)m.line + 1, (int)m.column + 1);
    return buf;
}

/* Appends ".key" or "[i]" to c->path; returns the old length to restore. */
static size_t path_push(conv *c, const char *key, int index)
{
    size_t len = strlen(c->path);
    if (key) snprintf(c->path + len, sizeof c->path - len, "%s%s", len ? "." : "", key);
    else snprintf(c->path + len, sizeof c->path - len, "[%d]", index);
    return len;
}

static vkft_status convert(conv *c, yaml_node_t *yn, int depth, jnode **out)
{
    char where[PATH_MAX_LEN];
    if (depth > MAX_DEPTH)
        return vkft_err_set(c->err, VKFT_ERR_INVALID_ARG, "%s: nesting deeper than %d levels",
                            conv_where(c, yn->start_mark, where, sizeof where), MAX_DEPTH);
    if (++c->nodes > MAX_NODES)
        return vkft_err_set(c->err, VKFT_ERR_INVALID_ARG,
                            "%s: more than %d values (after expanding aliases)", c->src,
                            MAX_NODES);
    jnode_type type = yn->type == YAML_SCALAR_NODE     ? JNODE_SCALAR
                      : yn->type == YAML_SEQUENCE_NODE ? JNODE_SEQ
                                                       : JNODE_MAP;
    jnode *n = node_new(c->t->arena, type, c->src, mark_line(c, yn->start_mark),
                        mark_col(c, yn->start_mark));
    if (!n) return conv_oom(c);
    if (type == JNODE_SCALAR) {
        const char *v = (const char *)yn->data.scalar.value;
        size_t len = yn->data.scalar.length;
        if (memchr(v, '\0', len))
            return vkft_err_set(c->err, VKFT_ERR_INVALID_ARG, "%s: %s: a NUL character in a value",
                                conv_where(c, yn->start_mark, where, sizeof where), c->path);
        n->text = arena_strndup(c->t->arena, v, len);
        if (!n->text) return conv_oom(c);
        n->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    } else if (type == JNODE_SEQ) {
        int i = 0;
        for (yaml_node_item_t *it = yn->data.sequence.items.start;
             it < yn->data.sequence.items.top; it++, i++) {
            size_t old = path_push(c, NULL, i);
            jnode *child;
            vkft_status st = convert(c, yaml_document_get_node(c->doc, *it), depth + 1, &child);
            if (st) return st;
            c->path[old] = '\0';
            if (!node_reserve(c->t->arena, n)) return conv_oom(c);
            n->items[n->n++] = child;
        }
    } else {
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
            if (k->type != YAML_SCALAR_NODE)
                return vkft_err_set(c->err, VKFT_ERR_INVALID_ARG,
                                    "%s: %s%sa key must be a name, not a %s",
                                    conv_where(c, k->start_mark, where, sizeof where), c->path,
                                    c->path[0] ? ": " : "",
                                    k->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
            const char *key = (const char *)k->data.scalar.value;
            size_t klen = k->data.scalar.length;
            if (klen == 0 || memchr(key, '\0', klen) || klen > 128)
                return vkft_err_set(c->err, VKFT_ERR_INVALID_ARG,
                                    "%s: %s%sa key must be a name of 1 to 128 characters",
                                    conv_where(c, k->start_mark, where, sizeof where), c->path,
                                    c->path[0] ? ": " : "");
            size_t old = path_push(c, key, 0);
            const jpair *first;
            if (jtree_get(n, key, &first)) {
                vkft_status st = vkft_err_set(c->err, VKFT_ERR_INVALID_ARG,
                                              "%s: %s: duplicate key (first at %d:%d)",
                                              conv_where(c, k->start_mark, where, sizeof where),
                                              c->path, first->line, first->col);
                return st;
            }
            jnode *child;
            vkft_status st = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1,
                                     &child);
            if (st) return st;
            c->path[old] = '\0';
            if (!node_reserve(c->t->arena, n)) return conv_oom(c);
            jpair *pair = &n->pairs[n->n++];
            pair->key = arena_strndup(c->t->arena, key, klen);
            if (!pair->key) return conv_oom(c);
            pair->line = mark_line(c, k->start_mark);
            pair->col = mark_col(c, k->start_mark);
            pair->src = c->src;
            pair->val = child;
        }
    }
    *out = n;
    return VKFT_OK;
}

static vkft_status syntax_error(const yaml_parser_t *p, const char *src, bool override,
                                vkft_err *err)
{
    if (p->error == YAML_MEMORY_ERROR)
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
    const char *problem = p->problem ? p->problem : "unknown error";
    if (p->error == YAML_READER_ERROR)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: YAML syntax: %s (byte %zu)", src,
                            problem, p->problem_offset);
    char where[PATH_MAX_LEN];
    if (override) snprintf(where, sizeof where, "%s", src);
    else snprintf(where, sizeof where, "%s:%d:%d", src, (int)p->problem_mark.line + 1,
                  (int)p->problem_mark.column + 1);
    if (p->context && !override)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: YAML syntax: %s (%s at %d:%d)", where,
                            problem, p->context, (int)p->context_mark.line + 1,
                            (int)p->context_mark.column + 1);
    if (p->context)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: YAML syntax: %s (%s)", where, problem,
                            p->context);
    return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: YAML syntax: %s", where, problem);
}

/* Parses one document into *out (NULL when empty) in t's arena. */
static vkft_status load_one(jtree *t, const char *text, size_t len, const char *src,
                            bool override, jnode **out, vkft_err *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_document_t doc;
    vkft_status st = VKFT_OK;
    *out = NULL;
    if (!yaml_parser_load(&parser, &doc)) {
        st = syntax_error(&parser, src, override, err);
        yaml_parser_delete(&parser);
        return st;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        conv c = {.t = t, .doc = &doc, .src = src, .override = override, .err = err};
        st = convert(&c, root, 0, out);
    }
    yaml_document_delete(&doc);
    if (st == VKFT_OK && root) {
        /* Anything after the first document is an error (a stray "---" or garbage). */
        if (!yaml_parser_load(&parser, &doc)) {
            st = syntax_error(&parser, src, override, err);
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&doc);
            if (extra) {
                char where[PATH_MAX_LEN];
                conv c = {.src = src, .override = override};
                st = vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                                  "%s: a second YAML document; a job is one document",
                                  conv_where(&c, extra->start_mark, where, sizeof where));
            }
            yaml_document_delete(&doc);
        }
    }
    yaml_parser_delete(&parser);
    return st;
}

vkft_status jtree_parse(jtree *t, const char *text, size_t len, const char *name,
                        vkft_err *err)
{
    memset(t, 0, sizeof *t);
    t->arena = calloc(1, sizeof *t->arena);
    if (!t->arena) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", name);
    t->name = jtree_strdup(t, name);
    if (!t->name) {
        jtree_free(t);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", name);
    }
    vkft_status st = load_one(t, text, len, t->name, false, &t->root, err);
    if (st) jtree_free(t);
    return st;
}

/* ---- overrides ---- */

/* One component of a key path: a name, or an index ("[3]"). */
typedef struct comp {
    char name[130];
    int index;                  /* >= 0 for an index */
} comp;

static vkft_status parse_key_path(const char *key, size_t len, const char *src, comp *comps,
                                  int *n_comps, int max, vkft_err *err)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        if (n == max) goto bad;
        comp *c = &comps[n++];
        c->index = -1;
        if (key[i] == '[') {
            char *end;
            errno = 0;
            long v = strtol(key + i + 1, &end, 10);
            if (end == key + i + 1 || *end != ']' || errno || v < 0 || v > 1000000 ||
                (size_t)(end - key) >= len)
                goto bad;
            c->index = (int)v;
            c->name[0] = '\0';
            i = (size_t)(end - key) + 1;
        } else {
            size_t j = i;
            while (j < len && key[j] != '.' && key[j] != '[') j++;
            if (j == i || j - i >= sizeof c->name) goto bad;
            memcpy(c->name, key + i, j - i);
            c->name[j - i] = '\0';
            i = j;
        }
        if (i < len && key[i] == '.') {
            i++;
            if (i == len) goto bad;
        } else if (i < len && key[i] != '[') {
            goto bad;
        }
    }
    if (n == 0) goto bad;
    *n_comps = n;
    return VKFT_OK;
bad:
    return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                        "%s: expected key.path=value (e.g. train.lr=1e-4, "
                        "data.train[0].weight=2)", src);
}

vkft_status jtree_apply_set(jtree *t, const char *set, vkft_err *err)
{
    size_t setlen = strlen(set);
    char *src = arena_alloc(t->arena, setlen + 7);
    if (!src)
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "--set: out of memory");
    snprintf(src, setlen + 7, "--set %s", set);
    const char *eq = strchr(set, '=');
    comp comps[16];
    int n_comps = 0;
    vkft_status st = parse_key_path(set, eq ? (size_t)(eq - set) : setlen, src, comps, &n_comps,
                                    16, err);
    if (st) return st;
    if (!eq)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: expected key.path=value", src);

    jnode *value;
    st = load_one(t, eq + 1, strlen(eq + 1), src, true, &value, err);
    if (st) return st;
    if (!value) {   /* "key=" is an explicit null (the default applies) */
        value = node_new(t->arena, JNODE_SCALAR, src, 0, 0);
        if (!value) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
        value->text = "";
        value->plain = true;
    }
    if (!t->root || jtree_is_null(t->root)) {
        t->root = node_new(t->arena, JNODE_MAP, src, 0, 0);
        if (!t->root) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
    }

    char path[16 * 140] = "";
    jnode **slot = &t->root;
    for (int i = 0; i < n_comps; i++) {
        jnode *cur = *slot;
        bool last = i == n_comps - 1;
        if (comps[i].index >= 0) {
            if (cur->type != JNODE_SEQ)
                return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: %s is not a list", src,
                                    path);
            if (comps[i].index >= cur->n)
                return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: %s has %d item%s", src, path,
                                    cur->n, cur->n == 1 ? "" : "s");
            size_t len = strlen(path);
            snprintf(path + len, sizeof path - len, "[%d]", comps[i].index);
            slot = &cur->items[comps[i].index];
        } else {
            if (cur->type != JNODE_MAP)
                return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: %s is not a mapping", src,
                                    path[0] ? path : "the job");
            size_t len = strlen(path);
            snprintf(path + len, sizeof path - len, "%s%s", len ? "." : "", comps[i].name);
            const jpair *found;
            if (jtree_get(cur, comps[i].name, &found)) {
                slot = &((jpair *)found)->val;
            } else {
                if (!node_reserve(t->arena, cur))
                    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
                jpair *p = &cur->pairs[cur->n];
                p->key = jtree_strdup(t, comps[i].name);
                p->line = p->col = 0;
                p->src = src;
                p->val = last ? value : node_new(t->arena, JNODE_MAP, src, 0, 0);
                if (!p->key || !p->val)
                    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
                cur->n++;
                slot = &p->val;
                continue;
            }
        }
        if (last) {
            *slot = value;
        } else if (jtree_is_null(*slot) && comps[i + 1].index < 0) {
            /* "train:" with nothing under it becomes a mapping to put the key in. */
            *slot = node_new(t->arena, JNODE_MAP, src, 0, 0);
            if (!*slot) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", src);
        }
    }
    return VKFT_OK;
}
