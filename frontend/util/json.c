/*
 * JSON parser (RFC 8259, strict) into a read-only tree held in one arena per document, and the
 * tree's accessors. The writer is in json_writer.c.
 *
 * Strictness: exactly one value, surrounded by whitespace only (a leading UTF-8 byte order mark
 * is skipped, as RFC 8259 section 8.1 allows); no trailing commas, no leading zeros, no
 * comments, no NaN/Infinity, no numbers outside the double range; strings must be valid UTF-8
 * without raw control characters, escapes are the eight of the RFC plus \uXXXX, and a surrogate
 * must come as a high + low pair (decoded to one 4-byte UTF-8 sequence); duplicate keys in one
 * object are an error; nesting deeper than VKFT_JSON_MAX_DEPTH is an error.
 *
 * Positions: line counts '\n'; column counts UTF-8 characters (not bytes) from 1, so it matches
 * what an editor shows. Columns are tracked incrementally (a cached mark on the current line),
 * keeping the parse linear even for a multi-megabyte document on one line.
 *
 * Building: containers are parsed recursively (depth is bounded). Children are parsed into a
 * local node, pushed on a scratch stack shared by all levels, and copied into the arena when
 * their container closes, so every items/keys array is one exact-size arena block. Duplicate
 * keys are found as each key is read (a linear scan for small objects, a per-object hash table
 * above 16 keys), so errors come in source order.
 */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

#define VKFT_JSON_MAX_DEPTH 256
#define ARENA_BLOCK (64 * 1024)

/* ---- arena ---- */

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

struct vkft_json_doc {
    arena_block *blocks;
    vkft_json root;
};

static void *arena_alloc(vkft_json_doc *doc, size_t size) {
    size = (size + 7) & ~(size_t)7;
    if (size == 0) size = 8;
    arena_block *b = doc->blocks;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        if (size > ARENA_BLOCK / 4 && doc->blocks) {
            /* A big block goes behind the current one, which keeps its free room. */
            b->next = doc->blocks->next;
            doc->blocks->next = b;
        } else {
            b->next = doc->blocks;
            doc->blocks = b;
        }
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

void vkft_json_free(vkft_json_doc *doc) {
    if (!doc) return;
    arena_block *b = doc->blocks;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

/* ---- parser state ---- */

typedef struct scratch_key {
    const char *s;
    size_t len;
    int line, col;
} scratch_key;

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    const char *name;
    vkft_json_doc *doc;
    vkft_err *err;
    vkft_status status;
    int line;
    size_t line_start;
    size_t mark_pos;            /* column cache: mark_pos on the current line has column... */
    int mark_col;               /* ...mark_col */
    vkft_json *items;           /* scratch stack of finished children */
    size_t n_items, cap_items;
    scratch_key *keys;          /* scratch stack of keys of open objects */
    size_t n_keys, cap_keys;
} parser;

static int column_at(parser *p, size_t pos) {
    if (pos < p->mark_pos) {
        p->mark_pos = p->line_start;
        p->mark_col = 1;
    }
    int col = p->mark_col;
    for (size_t i = p->mark_pos; i < pos && i < p->len; i++)
        if ((p->s[i] & 0xC0) != 0x80) col++;
    p->mark_pos = pos;
    p->mark_col = col;
    return col;
}

static int fail_at(parser *p, size_t pos, vkft_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(parser *p, size_t pos, vkft_status st, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int col = column_at(p, pos);
    p->status = vkft_err_set(p->err, st, "%s:%d:%d: %s", p->name, p->line, col, what);
    return -1;
}

#define FAIL(p, pos, ...) fail_at((p), (pos), VKFT_ERR_INVALID_ARG, __VA_ARGS__)
#define FAIL_NOMEM(p) fail_at((p), (p)->pos, VKFT_ERR_NO_MEMORY, "out of memory")

/* Describes the byte at pos for messages: 'x', end of input, or byte 0xNN. */
static const char *describe(const parser *p, size_t pos, char buf[32]) {
    if (pos >= p->len) return "end of input";
    unsigned c = p->s[pos];
    if (c >= 0x20 && c < 0x7F) snprintf(buf, 32, "'%c'", (char)c);
    else snprintf(buf, 32, "byte 0x%02x", c);
    return buf;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c == '\n') {
            p->line++;
            p->line_start = p->mark_pos = p->pos + 1;
            p->mark_col = 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        p->pos++;
    }
}

/* ---- strings ---- */

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

size_t vkft_utf8_seq_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return k;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses the string starting at the '"' at p->pos into arena memory. The unescaped text is
 * never longer than the source span, which sizes the allocation. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
    size_t start = p->pos, i = start + 1;
    /* First pass: find the closing quote (escapes are checked in the second pass). */
    while (i < p->len && p->s[i] != '"') i += p->s[i] == '\\' ? 2 : 1;
    if (i >= p->len) return FAIL(p, start, "unterminated string");
    size_t end = i;
    char *buf = arena_alloc(p->doc, end - start);
    if (!buf) return FAIL_NOMEM(p);
    size_t n = 0;
    i = start + 1;
    while (i < end) {
        unsigned c = p->s[i];
        if (c == '\\') {
            unsigned e = p->s[i + 1];
            switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (end - i < 6 || hex4(p->s + i + 2, &cp))
                    return FAIL(p, i, "bad \\u escape: expected 4 hex digits");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return FAIL(p, i, "lone low surrogate \\u%04X", cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - i < 12 || p->s[i + 6] != '\\' || p->s[i + 7] != 'u' ||
                        hex4(p->s + i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return FAIL(p, i, "lone high surrogate \\u%04X (a \\uDC00-\\uDFFF low "
                                          "surrogate must follow)", cp);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
                n += put_utf8(buf + n, cp);
                i += 6;
                continue;
            }
            default: {
                char d[32];
                return FAIL(p, i, "invalid escape: backslash followed by %s",
                            describe(p, i + 1, d));
            }
            }
            i += 2;
        } else if (c < 0x20) {
            return FAIL(p, i, "control character 0x%02x in string (must be escaped)", c);
        } else if (c < 0x80) {
            buf[n++] = (char)c;
            i++;
        } else {
            size_t k = vkft_utf8_seq_len((const char *)p->s + i, end - i);
            if (!k) return FAIL(p, i, "invalid UTF-8 byte 0x%02x in string", c);
            memcpy(buf + n, p->s + i, k);
            n += k;
            i += k;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    p->pos = end + 1;
    return 0;
}

/* ---- numbers ---- */

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, vkft_json *v) {
    size_t start = p->pos, i = start;
    char d[32];
    if (i < p->len && p->s[i] == '-') i++;
    if (i >= p->len || !is_digit(p->s[i]))
        return FAIL(p, i, "expected a digit after '-', found %s", describe(p, i, d));
    if (p->s[i] == '0' && i + 1 < p->len && is_digit(p->s[i + 1]))
        return FAIL(p, i, "leading zero in number");
    while (i < p->len && is_digit(p->s[i])) i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return FAIL(p, i, "expected a digit after '.', found %s", describe(p, i, d));
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || !is_digit(p->s[i]))
            return FAIL(p, i, "expected a digit in exponent, found %s", describe(p, i, d));
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    size_t n = i - start;
    char *text = arena_alloc(p->doc, n + 1);
    if (!text) return FAIL_NOMEM(p);
    memcpy(text, p->s + start, n);
    text[n] = '\0';
    errno = 0;
    double x = strtod(text, NULL);
    if (errno == ERANGE && isinf(x)) return FAIL(p, start, "number %s is out of range", text);
    v->type = VKFT_JSON_NUMBER;
    v->number = x;
    v->str = text;
    v->len = n;
    p->pos = i;
    return 0;
}

/* ---- containers ---- */

static int push_item(parser *p, const vkft_json *v) {
    if (p->n_items == p->cap_items) {
        size_t cap = p->cap_items ? p->cap_items * 2 : 64;
        vkft_json *a = realloc(p->items, cap * sizeof *a);
        if (!a) return FAIL_NOMEM(p);
        p->items = a;
        p->cap_items = cap;
    }
    p->items[p->n_items++] = *v;
    return 0;
}

static int push_key(parser *p, const scratch_key *k) {
    if (p->n_keys == p->cap_keys) {
        size_t cap = p->cap_keys ? p->cap_keys * 2 : 64;
        scratch_key *a = realloc(p->keys, cap * sizeof *a);
        if (!a) return FAIL_NOMEM(p);
        p->keys = a;
        p->cap_keys = cap;
    }
    p->keys[p->n_keys++] = *k;
    return 0;
}

/* Moves the children pushed since mark into one arena array. */
static int pop_items(parser *p, size_t mark, vkft_json *v) {
    size_t n = p->n_items - mark;
    v->len = n;
    v->items = NULL;
    if (n) {
        vkft_json *a = arena_alloc(p->doc, n * sizeof *a);
        if (!a) return FAIL_NOMEM(p);
        memcpy(a, p->items + mark, n * sizeof *a);
        v->items = a;
    }
    p->n_items = mark;
    return 0;
}

static int parse_value(parser *p, vkft_json *v, int depth);

static int parse_array(parser *p, vkft_json *v, int depth) {
    size_t mark = p->n_items;
    char d[32];
    p->pos++;  /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return pop_items(p, mark, v);
    }
    for (;;) {
        vkft_json child;
        if (parse_value(p, &child, depth + 1) || push_item(p, &child)) return -1;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ']')
                return FAIL(p, p->pos, "trailing comma in array");
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') break;
        return FAIL(p, p->pos, "expected ',' or ']' after array element, found %s",
                    describe(p, p->pos, d));
    }
    p->pos++;
    return pop_items(p, mark, v);
}

static uint64_t hash_key(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325u;  /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
    return h;
}

/* Open-addressing set of key indices (relative to the object's first key), grown at 1/2. */
typedef struct key_set {
    uint32_t *slots;            /* index + 1, 0 = empty */
    size_t cap;
} key_set;

static int key_set_add(parser *p, key_set *set, size_t kmark, size_t idx, size_t *dup) {
    const scratch_key *keys = p->keys + kmark;
    if ((idx + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        uint32_t *s = calloc(cap, sizeof *s);
        if (!s) return FAIL_NOMEM(p);
        free(set->slots);
        set->slots = s;
        set->cap = cap;
        for (size_t j = 0; j < idx; j++) {
            size_t h = (size_t)hash_key(keys[j].s, keys[j].len) & (cap - 1);
            while (s[h]) h = (h + 1) & (cap - 1);
            s[h] = (uint32_t)(j + 1);
        }
    }
    size_t h = (size_t)hash_key(keys[idx].s, keys[idx].len) & (set->cap - 1);
    while (set->slots[h]) {
        const scratch_key *o = &keys[set->slots[h] - 1];
        if (o->len == keys[idx].len && !memcmp(o->s, keys[idx].s, o->len)) {
            *dup = set->slots[h] - 1;
            return 1;
        }
        h = (h + 1) & (set->cap - 1);
    }
    set->slots[h] = (uint32_t)(idx + 1);
    return 0;
}

/* Checks key idx (relative to kmark) against the earlier keys of the same object. */
static int check_duplicate(parser *p, key_set *set, size_t kmark, size_t idx, size_t key_pos) {
    size_t dup = 0;
    int found = 0;
    if (idx < 16 && !set->slots) {
        const scratch_key *k = &p->keys[kmark + idx];
        for (size_t j = 0; j < idx && !found; j++) {
            const scratch_key *o = &p->keys[kmark + j];
            if (o->len == k->len && !memcmp(o->s, k->s, k->len)) {
                dup = j;
                found = 1;
            }
        }
    } else {
        if (idx > UINT32_MAX - 2) return FAIL(p, key_pos, "object has too many members");
        found = key_set_add(p, set, kmark, idx, &dup);
        if (found < 0) return -1;
    }
    if (!found) return 0;
    const scratch_key *o = &p->keys[kmark + dup];
    return FAIL(p, key_pos, "duplicate key \"%.200s\" (first at %d:%d)", o->s, o->line, o->col);
}

static int parse_object_members(parser *p, size_t kmark, key_set *set, int depth) {
    char d[32];
    for (size_t idx = 0;; idx++) {
        if (p->pos >= p->len || p->s[p->pos] != '"')
            return FAIL(p, p->pos, "expected a string key, found %s", describe(p, p->pos, d));
        scratch_key k;
        size_t key_pos = p->pos;
        k.line = p->line;
        k.col = column_at(p, key_pos);
        if (parse_string(p, &k.s, &k.len) || push_key(p, &k)) return -1;
        if (check_duplicate(p, set, kmark, idx, key_pos)) return -1;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return FAIL(p, p->pos, "expected ':' after object key, found %s",
                        describe(p, p->pos, d));
        p->pos++;
        vkft_json child;
        if (parse_value(p, &child, depth + 1) || push_item(p, &child)) return -1;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == '}')
                return FAIL(p, p->pos, "trailing comma in object");
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') break;
        return FAIL(p, p->pos, "expected ',' or '}' after object member, found %s",
                    describe(p, p->pos, d));
    }
    p->pos++;
    return 0;
}

static int parse_object(parser *p, vkft_json *v, int depth) {
    size_t mark = p->n_items, kmark = p->n_keys;
    key_set set = {NULL, 0};
    p->pos++;  /* '{' */
    skip_ws(p);
    int rc = 0;
    if (p->pos < p->len && p->s[p->pos] == '}') p->pos++;
    else rc = parse_object_members(p, kmark, &set, depth);
    free(set.slots);
    if (rc) return -1;
    size_t n = p->n_keys - kmark;
    v->keys = NULL;
    v->key_lens = NULL;
    if (n) {
        const char **keys = arena_alloc(p->doc, n * sizeof *keys);
        size_t *lens = arena_alloc(p->doc, n * sizeof *lens);
        if (!keys || !lens) return FAIL_NOMEM(p);
        for (size_t i = 0; i < n; i++) {
            keys[i] = p->keys[kmark + i].s;
            lens[i] = p->keys[kmark + i].len;
        }
        v->keys = keys;
        v->key_lens = lens;
    }
    p->n_keys = kmark;
    return pop_items(p, mark, v);
}

static int parse_literal(parser *p, const char *word, size_t n) {
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
        return FAIL(p, p->pos, "invalid literal (expected true, false or null)");
    p->pos += n;
    return 0;
}

static int parse_value(parser *p, vkft_json *v, int depth) {
    char d[32];
    skip_ws(p);
    memset(v, 0, sizeof *v);
    v->line = p->line;
    v->col = column_at(p, p->pos);
    if (p->pos >= p->len) return FAIL(p, p->pos, "unexpected end of input, expected a value");
    /* depth counts the containers around v; v itself may not open one more than the limit. */
    if ((p->s[p->pos] == '{' || p->s[p->pos] == '[') && depth >= VKFT_JSON_MAX_DEPTH)
        return FAIL(p, p->pos, "nesting deeper than %d", VKFT_JSON_MAX_DEPTH);
    switch (p->s[p->pos]) {
    case '{':
        v->type = VKFT_JSON_OBJECT;
        return parse_object(p, v, depth);
    case '[':
        v->type = VKFT_JSON_ARRAY;
        return parse_array(p, v, depth);
    case '"':
        v->type = VKFT_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        v->type = VKFT_JSON_BOOL;
        v->boolean = true;
        return parse_literal(p, "true", 4);
    case 'f':
        v->type = VKFT_JSON_BOOL;
        return parse_literal(p, "false", 5);
    case 'n':
        v->type = VKFT_JSON_NULL;
        return parse_literal(p, "null", 4);
    default:
        if (p->s[p->pos] == '-' || is_digit(p->s[p->pos])) return parse_number(p, v);
        return FAIL(p, p->pos, "expected a value, found %s", describe(p, p->pos, d));
    }
}

vkft_status vkft_json_parse(const char *text, size_t len, const char *name, vkft_json_doc **out,
                            vkft_err *err) {
    *out = NULL;
    if (!name) name = "<json>";
    if (!text && len) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: no text", name);
    vkft_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", name);
    parser p = {
        .s = (const unsigned char *)(text ? text : ""), .len = len, .name = name, .doc = doc,
        .err = err, .status = VKFT_OK, .line = 1, .mark_col = 1,
    };
    if (len >= 3 && !memcmp(p.s, "\xEF\xBB\xBF", 3)) p.pos = p.line_start = p.mark_pos = 3;
    int rc = parse_value(&p, &doc->root, 0);
    if (!rc) {
        skip_ws(&p);
        if (p.pos < p.len) {
            char d[32];
            rc = FAIL(&p, p.pos, "unexpected %s after the JSON value", describe(&p, p.pos, d));
        }
    }
    free(p.items);
    free(p.keys);
    if (rc) {
        vkft_json_free(doc);
        return p.status;
    }
    *out = doc;
    return VKFT_OK;
}

vkft_status vkft_json_parse_file(const char *path, vkft_json_doc **out, vkft_err *err) {
    char *text;
    size_t len;
    *out = NULL;
    vkft_status st = vkft_file_read(path, &text, &len, err);
    if (st) return st;
    st = vkft_json_parse(text, len, path, out, err);
    free(text);
    return st;
}

const vkft_json *vkft_json_root(const vkft_json_doc *doc) { return doc ? &doc->root : NULL; }

/* ---- accessors ---- */

const vkft_json *vkft_json_get(const vkft_json *obj, const char *key) {
    if (!obj || obj->type != VKFT_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->len; i++)
        if (obj->key_lens[i] == n && !memcmp(obj->keys[i], key, n)) return &obj->items[i];
    return NULL;
}

const vkft_json *vkft_json_at(const vkft_json *arr, size_t i) {
    if (!arr || arr->type != VKFT_JSON_ARRAY || i >= arr->len) return NULL;
    return &arr->items[i];
}

bool vkft_json_get_int(const vkft_json *v, int64_t *out) {
    if (!v || v->type != VKFT_JSON_NUMBER) return false;
    if (!strpbrk(v->str, ".eE")) {
        /* An integer literal: exact, whatever its size, or out of range. */
        errno = 0;
        char *end;
        long long x = strtoll(v->str, &end, 10);
        if (errno == ERANGE || *end) return false;
        *out = (int64_t)x;
        return true;
    }
    /* 1.0 or 3e2: an integer when the value has no fraction and fits int64. */
    double x = v->number;
    if (x != floor(x) || !(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return false;
    *out = (int64_t)x;
    return true;
}

bool vkft_json_get_double(const vkft_json *v, double *out) {
    if (!v || v->type != VKFT_JSON_NUMBER) return false;
    *out = v->number;
    return true;
}

bool vkft_json_get_bool(const vkft_json *v, bool *out) {
    if (!v || v->type != VKFT_JSON_BOOL) return false;
    *out = v->boolean;
    return true;
}

const char *vkft_json_get_str(const vkft_json *v) {
    return v && v->type == VKFT_JSON_STRING ? v->str : NULL;
}

const char *vkft_json_type_name(vkft_json_type t) {
    switch (t) {
    case VKFT_JSON_NULL: return "null";
    case VKFT_JSON_BOOL: return "boolean";
    case VKFT_JSON_NUMBER: return "number";
    case VKFT_JSON_STRING: return "string";
    case VKFT_JSON_ARRAY: return "array";
    case VKFT_JSON_OBJECT: return "object";
    }
    return "unknown";
}
