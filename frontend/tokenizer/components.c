/*
 * tokenizer.json components: normalizer, pre_tokenizer, post_processor and decoder objects
 * read into the flat arrays of vkft_tokenizer (a "Sequence" is flattened in order).
 *
 * Supported: normalizers Sequence, Prepend, Replace, NFC, Strip; pre-tokenizers Sequence,
 * ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit; post-processors
 * Sequence, ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing; decoders
 * Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace. Anything else is an
 * error naming the component and where it is, never silently skipped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

__attribute__((format(printf, 4, 5)))
static vkft_status bad(const vkft_json *j, const char *name, vkft_err *err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s:%d:%d: %s", name, j ? j->line : 0,
                        j ? j->col : 0, msg);
}

static bool is_null(const vkft_json *j)
{
    return !j || j->type == VKFT_JSON_NULL;
}

static const char *type_of(const vkft_json *j)
{
    return vkft_json_get_str(vkft_json_get(j, "type"));
}

static bool get_bool(const vkft_json *obj, const char *key, bool dflt)
{
    bool v = dflt;
    vkft_json_get_bool(vkft_json_get(obj, key), &v);
    return v;
}

/* Appends one element to a malloc'd array of n elements of size sz. */
static void *grow(void *arr, size_t n, size_t sz)
{
    void *p = realloc(arr, (n + 1) * sz);
    if (p) memset((char *)p + n * sz, 0, sz);
    return p;
}

/* {"String": "..."} or {"Regex": "..."}. */
static vkft_status load_pattern(const vkft_json *j, const char *name, tok_pattern *p,
                                vkft_err *err)
{
    const vkft_json *s = vkft_json_get(j, "String"), *r = vkft_json_get(j, "Regex");
    if (s && s->type == VKFT_JSON_STRING) {
        p->lit = malloc(s->len + 1);
        if (!p->lit) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        memcpy(p->lit, s->str, s->len + 1);
        p->lit_len = s->len;
        return VKFT_OK;
    }
    if (r && r->type == VKFT_JSON_STRING) {
        vkft_status st = tok_regex_compile(r->str, r->len, TOK_RE_ONIG, &p->re, err);
        if (st) return vkft_err_prefix(err, st, "%s:%d:%d", name, r->line, r->col);
        return VKFT_OK;
    }
    return bad(j, name, err, "pattern: expected {\"String\": ...} or {\"Regex\": ...}");
}

static vkft_status dup_str(const vkft_json *j, const char *name, const char *what, char **out,
                           size_t *len, vkft_err *err)
{
    if (!j || j->type != VKFT_JSON_STRING)
        return bad(j, name, err, "'%s': expected a string", what);
    *out = malloc(j->len + 1);
    if (!*out) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    memcpy(*out, j->str, j->len + 1);
    *len = j->len;
    return VKFT_OK;
}

/* ---- normalizers ---- */

vkft_status tok_load_normalizer(vkft_tokenizer *t, const vkft_json *j, const char *name,
                                vkft_err *err)
{
    if (is_null(j)) return VKFT_OK;
    const char *type = type_of(j);
    if (!type) return bad(j, name, err, "normalizer: missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const vkft_json *list = vkft_json_get(j, "normalizers");
        if (!list || list->type != VKFT_JSON_ARRAY)
            return bad(j, name, err, "Sequence normalizer: expected \"normalizers\": [...]");
        for (size_t i = 0; i < list->len; i++) {
            vkft_status st = tok_load_normalizer(t, &list->items[i], name, err);
            if (st) return st;
        }
        return VKFT_OK;
    }
    tok_normalizer *arr = grow(t->norms, t->n_norms, sizeof *arr);
    if (!arr) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    t->norms = arr;
    tok_normalizer *n = &arr[t->n_norms++];
    if (!strcmp(type, "Prepend")) {
        n->kind = TOK_NORM_PREPEND;
        return dup_str(vkft_json_get(j, "prepend"), name, "prepend", &n->str, &n->str_len, err);
    }
    if (!strcmp(type, "Replace")) {
        n->kind = TOK_NORM_REPLACE;
        vkft_status st = load_pattern(vkft_json_get(j, "pattern"), name, &n->pat, err);
        if (st) return st;
        return dup_str(vkft_json_get(j, "content"), name, "content", &n->str, &n->str_len, err);
    }
    if (!strcmp(type, "NFC")) {
        n->kind = TOK_NORM_NFC;
        if (!t->nfc && !(t->nfc = tok_nfc_tables_new()))
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        return VKFT_OK;
    }
    if (!strcmp(type, "Strip")) {
        n->kind = TOK_NORM_STRIP;
        n->left = get_bool(j, "strip_left", true);
        n->right = get_bool(j, "strip_right", true);
        return VKFT_OK;
    }
    t->n_norms--;
    return bad(j, name, err, "unsupported normalizer \"%s\" (supported: Sequence, Prepend, "
               "Replace, NFC, Strip)", type);
}

/* ---- pre-tokenizers ---- */

static vkft_status add_split_regex(vkft_tokenizer *t, const char *re, tok_split_behavior b,
                                   bool invert, tok_regex_flavor flavor, vkft_err *err)
{
    tok_pretok *arr = grow(t->pretoks, t->n_pretoks, sizeof *arr);
    if (!arr) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    t->pretoks = arr;
    tok_pretok *p = &arr[t->n_pretoks++];
    p->kind = TOK_PRE_SPLIT;
    p->behavior = b;
    p->invert = invert;
    return tok_regex_compile(re, strlen(re), flavor, &p->pat.re, err);
}

static vkft_status parse_behavior(const vkft_json *j, const char *name, tok_split_behavior *b,
                                  vkft_err *err)
{
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};
    const char *s = vkft_json_get_str(j);
    for (int i = 0; s && i < 5; i++)
        if (!strcmp(s, names[i])) {
            *b = (tok_split_behavior)i;
            return VKFT_OK;
        }
    return bad(j, name, err, "Split: behavior must be one of Removed, Isolated, "
               "MergedWithPrevious, MergedWithNext, Contiguous");
}

static vkft_status parse_scheme(const vkft_json *j, const char *name, tok_prepend_scheme *s,
                                vkft_err *err)
{
    *s = TOK_PREPEND_ALWAYS;
    const vkft_json *ps = vkft_json_get(j, "prepend_scheme");
    if (ps) {
        const char *v = vkft_json_get_str(ps);
        if (v && !strcmp(v, "first")) *s = TOK_PREPEND_FIRST;
        else if (v && !strcmp(v, "never")) *s = TOK_PREPEND_NEVER;
        else if (!v || strcmp(v, "always"))
            return bad(ps, name, err, "prepend_scheme must be \"first\", \"always\" or "
                       "\"never\"");
    }
    bool aps = true;
    if (vkft_json_get_bool(vkft_json_get(j, "add_prefix_space"), &aps) && !aps) {
        if (ps && *s != TOK_PREPEND_NEVER)
            return bad(j, name, err, "add_prefix_space false contradicts prepend_scheme");
        *s = TOK_PREPEND_NEVER;
    }
    return VKFT_OK;
}

static vkft_status parse_replacement(const vkft_json *j, const char *name, char *out,
                                     size_t *len, uint32_t *cp, vkft_err *err)
{
    const vkft_json *r = vkft_json_get(j, "replacement");
    size_t n;
    if (!r || r->type != VKFT_JSON_STRING || !r->len || (n = tok_utf8_decode(r->str, r->len, cp))
        != r->len)
        return bad(r ? r : j, name, err, "Metaspace: replacement must be one character");
    memcpy(out, r->str, n);
    out[n] = '\0';
    *len = n;
    return VKFT_OK;
}

vkft_status tok_load_pretokenizer(vkft_tokenizer *t, const vkft_json *j, const char *name,
                                  vkft_err *err)
{
    if (is_null(j)) return VKFT_OK;
    const char *type = type_of(j);
    if (!type) return bad(j, name, err, "pre_tokenizer: missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const vkft_json *list = vkft_json_get(j, "pretokenizers");
        if (!list || list->type != VKFT_JSON_ARRAY)
            return bad(j, name, err, "Sequence pre_tokenizer: expected \"pretokenizers\"");
        for (size_t i = 0; i < list->len; i++) {
            vkft_status st = tok_load_pretokenizer(t, &list->items[i], name, err);
            if (st) return st;
        }
        return VKFT_OK;
    }
    if (!strcmp(type, "Digits"))  /* runs of numeric chars (or each one) isolated */
        return add_split_regex(t, get_bool(j, "individual_digits", false) ? "\\p{N}" : "\\p{N}+",
                               TOK_SPLIT_ISOLATED, false, TOK_RE_RUST, err);
    if (!strcmp(type, "WhitespaceSplit"))  /* Rust's char::is_whitespace */
        return add_split_regex(t, "\\s", TOK_SPLIT_REMOVED, false, TOK_RE_RUST, err);
    if (!strcmp(type, "Whitespace"))       /* Rust's regex crate */
        return add_split_regex(t, "\\w+|[^\\w\\s]+", TOK_SPLIT_REMOVED, true, TOK_RE_RUST,
                               err);
    tok_pretok *arr = grow(t->pretoks, t->n_pretoks, sizeof *arr);
    if (!arr) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    t->pretoks = arr;
    tok_pretok *p = &arr[t->n_pretoks++];
    if (!strcmp(type, "ByteLevel")) {
        p->kind = TOK_PRE_BYTELEVEL;
        p->add_prefix_space = get_bool(j, "add_prefix_space", true);
        p->use_regex = get_bool(j, "use_regex", true);
        return VKFT_OK;
    }
    if (!strcmp(type, "Split")) {
        p->kind = TOK_PRE_SPLIT;
        p->invert = get_bool(j, "invert", false);
        vkft_status st = parse_behavior(vkft_json_get(j, "behavior"), name, &p->behavior, err);
        if (st) return st;
        return load_pattern(vkft_json_get(j, "pattern"), name, &p->pat, err);
    }
    if (!strcmp(type, "Metaspace")) {
        p->kind = TOK_PRE_METASPACE;
        p->split = get_bool(j, "split", true);
        uint32_t cp;
        vkft_status st = parse_replacement(j, name, p->repl, &p->repl_len, &cp, err);
        if (st) return st;
        return parse_scheme(j, name, &p->scheme, err);
    }
    t->n_pretoks--;
    return bad(j, name, err, "unsupported pre_tokenizer \"%s\" (supported: Sequence, ByteLevel, "
               "Split, Metaspace, Digits, Whitespace, WhitespaceSplit)", type);
}

/* ---- post-processors ---- */

static vkft_status push_id(int32_t **arr, size_t *n, int32_t id)
{
    int32_t *p = realloc(*arr, (*n + 1) * sizeof *p);
    if (!p) return VKFT_ERR_NO_MEMORY;
    p[(*n)++] = id;
    *arr = p;
    return VKFT_OK;
}

/* {"SpecialToken": {"id": "<s>"}} pieces before / after {"Sequence": {"id": "A"}}. */
static vkft_status load_template(vkft_tokenizer *t, const vkft_json *j, const char *name,
                                 vkft_err *err)
{
    const vkft_json *single = vkft_json_get(j, "single");
    const vkft_json *specials = vkft_json_get(j, "special_tokens");
    if (!single || single->type != VKFT_JSON_ARRAY)
        return bad(j, name, err, "TemplateProcessing: expected \"single\": [...]");
    t->n_tmpl_pre = t->n_tmpl_post = 0;
    bool seen_seq = false;
    for (size_t i = 0; i < single->len; i++) {
        const vkft_json *piece = &single->items[i];
        if (vkft_json_get(piece, "Sequence")) {
            if (seen_seq)
                return bad(piece, name, err, "TemplateProcessing: \"single\" names the "
                           "sequence twice");
            seen_seq = true;
            continue;
        }
        const char *tok = vkft_json_get_str(vkft_json_get(vkft_json_get(piece, "SpecialToken"),
                                                          "id"));
        if (!tok) return bad(piece, name, err, "TemplateProcessing: expected SpecialToken or "
                             "Sequence");
        const vkft_json *ids = vkft_json_get(vkft_json_get(specials, tok), "ids");
        if (!ids || ids->type != VKFT_JSON_ARRAY)
            return bad(piece, name, err, "TemplateProcessing: special token '%s' is not in "
                       "\"special_tokens\"", tok);
        for (size_t k = 0; k < ids->len; k++) {
            int64_t id;
            if (!vkft_json_get_int(&ids->items[k], &id) || id < 0 || id > INT32_MAX)
                return bad(&ids->items[k], name, err, "TemplateProcessing: bad id for '%s'",
                           tok);
            vkft_status st = seen_seq ? push_id(&t->tmpl_post, &t->n_tmpl_post, (int32_t)id)
                                      : push_id(&t->tmpl_pre, &t->n_tmpl_pre, (int32_t)id);
            if (st) return vkft_err_set(err, st, "out of memory");
        }
    }
    if (!seen_seq) return bad(single, name, err, "TemplateProcessing: \"single\" has no "
                              "Sequence");
    return VKFT_OK;
}

/* BertProcessing / RobertaProcessing: [CLS] A [SEP], from "cls": [token, id], "sep": [...]. */
static vkft_status load_cls_sep(vkft_tokenizer *t, const vkft_json *j, const char *name,
                                vkft_err *err)
{
    int64_t cls, sep;
    if (!vkft_json_get_int(vkft_json_at(vkft_json_get(j, "cls"), 1), &cls) ||
        !vkft_json_get_int(vkft_json_at(vkft_json_get(j, "sep"), 1), &sep) || cls < 0 ||
        sep < 0 || cls > INT32_MAX || sep > INT32_MAX)
        return bad(j, name, err, "post_processor: expected \"cls\" and \"sep\": [token, id]");
    t->n_tmpl_pre = t->n_tmpl_post = 0;
    if (push_id(&t->tmpl_pre, &t->n_tmpl_pre, (int32_t)cls) ||
        push_id(&t->tmpl_post, &t->n_tmpl_post, (int32_t)sep))
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    return VKFT_OK;
}

vkft_status tok_load_post_processor(vkft_tokenizer *t, const vkft_json *j, const char *name,
                                    vkft_err *err)
{
    if (is_null(j)) return VKFT_OK;
    const char *type = type_of(j);
    if (!type) return bad(j, name, err, "post_processor: missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const vkft_json *list = vkft_json_get(j, "processors");
        if (!list || list->type != VKFT_JSON_ARRAY)
            return bad(j, name, err, "Sequence post_processor: expected \"processors\"");
        for (size_t i = 0; i < list->len; i++) {
            vkft_status st = tok_load_post_processor(t, &list->items[i], name, err);
            if (st) return st;
        }
        return VKFT_OK;
    }
    if (!strcmp(type, "ByteLevel")) return VKFT_OK;  /* offsets only; ids unchanged */
    if (!strcmp(type, "TemplateProcessing")) return load_template(t, j, name, err);
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing"))
        return load_cls_sep(t, j, name, err);
    return bad(j, name, err, "unsupported post_processor \"%s\" (supported: Sequence, ByteLevel,"
               " TemplateProcessing, BertProcessing, RobertaProcessing)", type);
}

/* ---- decoders ---- */

vkft_status tok_load_decoder(vkft_tokenizer *t, const vkft_json *j, const char *name,
                             vkft_err *err)
{
    if (is_null(j)) return VKFT_OK;
    t->has_decoder = true;
    const char *type = type_of(j);
    if (!type) return bad(j, name, err, "decoder: missing \"type\"");
    if (!strcmp(type, "Sequence")) {
        const vkft_json *list = vkft_json_get(j, "decoders");
        if (!list || list->type != VKFT_JSON_ARRAY)
            return bad(j, name, err, "Sequence decoder: expected \"decoders\": [...]");
        for (size_t i = 0; i < list->len; i++) {
            vkft_status st = tok_load_decoder(t, &list->items[i], name, err);
            if (st) return st;
        }
        return VKFT_OK;
    }
    tok_decoder *arr = grow(t->decs, t->n_decs, sizeof *arr);
    if (!arr) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    t->decs = arr;
    tok_decoder *d = &arr[t->n_decs++];
    if (!strcmp(type, "ByteLevel")) {
        d->kind = TOK_DEC_BYTELEVEL;
        return VKFT_OK;
    }
    if (!strcmp(type, "ByteFallback")) {
        d->kind = TOK_DEC_BYTEFALLBACK;
        return VKFT_OK;
    }
    if (!strcmp(type, "Fuse")) {
        d->kind = TOK_DEC_FUSE;
        return VKFT_OK;
    }
    if (!strcmp(type, "Replace")) {
        d->kind = TOK_DEC_REPLACE;
        vkft_status st = load_pattern(vkft_json_get(j, "pattern"), name, &d->pat, err);
        if (st) return st;
        return dup_str(vkft_json_get(j, "content"), name, "content", &d->str, &d->str_len, err);
    }
    if (!strcmp(type, "Strip")) {
        d->kind = TOK_DEC_STRIP;
        int64_t start = 0, stop = 0;
        const vkft_json *c = vkft_json_get(j, "content");
        uint32_t cp;
        if (!c || c->type != VKFT_JSON_STRING || !c->len ||
            tok_utf8_decode(c->str, c->len, &cp) != c->len ||
            !vkft_json_get_int(vkft_json_get(j, "start"), &start) ||
            !vkft_json_get_int(vkft_json_get(j, "stop"), &stop) || start < 0 || stop < 0)
            return bad(j, name, err, "Strip decoder: expected \"content\" (one character), "
                       "\"start\" and \"stop\" (counts)");
        d->start = (size_t)start;
        d->stop = (size_t)stop;
        return dup_str(c, name, "content", &d->str, &d->str_len, err);
    }
    if (!strcmp(type, "Metaspace")) {
        d->kind = TOK_DEC_METASPACE;
        char repl[5];
        size_t len;
        vkft_status st = parse_replacement(j, name, repl, &len, &d->repl_cp, err);
        if (st) return st;
        return parse_scheme(j, name, &d->scheme, err);
    }
    t->n_decs--;
    return bad(j, name, err, "unsupported decoder \"%s\" (supported: Sequence, ByteLevel, "
               "Replace, ByteFallback, Fuse, Strip, Metaspace)", type);
}
