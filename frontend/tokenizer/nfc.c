/*
 * Unicode NFC (UAX #15) for the NFC normalizer (Qwen2 uses it), on the tables in
 * nfc_tables.c (BMP lookups through tok_nfc_tables bitmaps). Quick check: a char below U+0300
 * or outside the "maybe" ranges is an NFC-stable starter, so text made only of those is left
 * alone (the common case costs one pass). A stretch holding "maybe" chars, from the starter
 * before it to the next stable char, gets the full algorithm: canonical decomposition
 * (recursive table lookups, Hangul arithmetically), canonical ordering of combining marks
 * (stable by class), then canonical composition, where a mark composes with the last starter
 * unless a char between them has class 0 or >= its own.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

extern const uint32_t tok_nfc_decomp[][3], tok_nfc_comp[][3], tok_nfc_ccc[][3];
extern const uint32_t tok_nfc_maybe[][2];
extern const size_t tok_nfc_decomp_count, tok_nfc_comp_count, tok_nfc_ccc_count,
    tok_nfc_maybe_count;

enum { SBASE = 0xAC00, LBASE = 0x1100, VBASE = 0x1161, TBASE = 0x11A7, LCOUNT = 19,
       VCOUNT = 21, TCOUNT = 28, NCOUNT = VCOUNT * TCOUNT, SCOUNT = LCOUNT * NCOUNT };

static bool in_maybe_sorted(uint32_t cp)
{
    size_t lo = 0, hi = tok_nfc_maybe_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_nfc_maybe[mid][0]) hi = mid;
        else if (cp > tok_nfc_maybe[mid][1]) lo = mid + 1;
        else return true;
    }
    return false;
}

static uint32_t ccc_sorted(uint32_t cp)
{
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = tok_nfc_ccc_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_nfc_ccc[mid][0]) hi = mid;
        else if (cp > tok_nfc_ccc[mid][1]) lo = mid + 1;
        else return tok_nfc_ccc[mid][2];
    }
    return 0;
}

tok_nfc_tables *tok_nfc_tables_new(void)
{
    tok_nfc_tables *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < tok_nfc_maybe_count; i++)
        for (uint32_t cp = tok_nfc_maybe[i][0]; cp <= tok_nfc_maybe[i][1] && cp < 0x10000; cp++)
            t->maybe[cp >> 3] |= (uint8_t)(1u << (cp & 7));
    for (size_t i = 0; i < tok_nfc_ccc_count; i++)
        for (uint32_t cp = tok_nfc_ccc[i][0]; cp <= tok_nfc_ccc[i][1] && cp < 0x10000; cp++)
            t->ccc[cp] = (uint8_t)tok_nfc_ccc[i][2];
    return t;
}

static bool in_maybe(const tok_nfc_tables *t, uint32_t cp)
{
    if (cp < 0x10000) return t->maybe[cp >> 3] >> (cp & 7) & 1;
    return in_maybe_sorted(cp);
}

static uint32_t ccc(const tok_nfc_tables *t, uint32_t cp)
{
    return cp < 0x10000 ? t->ccc[cp] : ccc_sorted(cp);
}

static const uint32_t *decomp_of(uint32_t cp)
{
    size_t lo = 0, hi = tok_nfc_decomp_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_nfc_decomp[mid][0]) hi = mid;
        else if (cp > tok_nfc_decomp[mid][0]) lo = mid + 1;
        else return tok_nfc_decomp[mid];
    }
    return NULL;
}

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    if (a >= LBASE && a < LBASE + LCOUNT && b >= VBASE && b < VBASE + VCOUNT)
        return SBASE + ((a - LBASE) * VCOUNT + (b - VBASE)) * TCOUNT;
    if (a >= SBASE && a < SBASE + SCOUNT && (a - SBASE) % TCOUNT == 0 && b > TBASE &&
        b < TBASE + TCOUNT)
        return a + (b - TBASE);
    uint64_t key = (uint64_t)a << 32 | b;
    size_t lo = 0, hi = tok_nfc_comp_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint64_t k = (uint64_t)tok_nfc_comp[mid][0] << 32 | tok_nfc_comp[mid][1];
        if (key < k) hi = mid;
        else if (key > k) lo = mid + 1;
        else return tok_nfc_comp[mid][2];
    }
    return 0;
}

typedef struct cps {
    uint32_t *v;
    size_t n, cap;
} cps;

static bool cps_push(cps *c, uint32_t cp)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        uint32_t *v = realloc(c->v, cap * sizeof *v);
        if (!v) return false;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = cp;
    return true;
}

static bool decompose(uint32_t cp, cps *out, int depth)
{
    if (cp >= SBASE && cp < SBASE + SCOUNT) {
        uint32_t s = cp - SBASE, t = s % TCOUNT;
        if (!cps_push(out, LBASE + s / NCOUNT) || !cps_push(out, VBASE + (s % NCOUNT) / TCOUNT))
            return false;
        return !t || cps_push(out, TBASE + t);
    }
    const uint32_t *d = cp >= 0xc0 && depth < 8 ? decomp_of(cp) : NULL;
    if (!d) return cps_push(out, cp);
    return decompose(d[1], out, depth + 1) && (!d[2] || decompose(d[2], out, depth + 1));
}

/* Full NFC of s[0..len) appended to out (c: scratch). */
static bool nfc_region(const tok_nfc_tables *tab, const char *s, size_t len, cps *c,
                       tok_buf *out)
{
    c->n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0xfffd;
        size_t k = tok_utf8_decode(s + i, len - i, &cp);
        if (!decompose(cp, c, 0)) return false;
        i += k ? k : 1;
    }
    /* canonical ordering: stable insertion sort of each run of non-starters */
    for (size_t a = 1; a < c->n; a++) {
        uint32_t x = c->v[a], cx = ccc(tab, x);
        if (!cx) continue;
        size_t b = a;
        while (b > 0 && ccc(tab, c->v[b - 1]) > cx) {
            c->v[b] = c->v[b - 1];
            b--;
        }
        c->v[b] = x;
    }
    /* composition, in place */
    size_t n = 0, starter = SIZE_MAX;
    uint32_t last_cc = 0;
    for (size_t a = 0; a < c->n; a++) {
        uint32_t x = c->v[a], cx = ccc(tab, x);
        if (starter != SIZE_MAX) {
            bool adjacent = n == starter + 1;
            if (adjacent || (last_cc != 0 && last_cc < cx)) {
                uint32_t comp = compose(c->v[starter], x);
                if (comp) {
                    c->v[starter] = comp;
                    continue;
                }
            }
        }
        if (!cx) starter = n;
        c->v[n++] = x;
        last_cc = cx;
    }
    if (tok_buf_reserve(out, 4 * n)) return false;
    for (size_t a = 0; a < n; a++) out->len += tok_utf8_encode(c->v[a], out->p + out->len);
    out->p[out->len] = '\0';
    return true;
}

/* Chars outside the "maybe" set are NFC-stable starters that nothing before them combines
 * with: only the stretches from the starter before a "maybe" char up to the next such char
 * need the full algorithm; the rest is copied. */
vkft_status tok_nfc(const tok_nfc_tables *tab, const char *s, size_t len, char **out,
                    size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    tok_buf b = {0};
    cps c = {0};
    size_t pos = 0, prev = 0;  /* prev: start of the char before i */
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tok_utf8_decode(s + i, len - i, &cp);
        if (!k) k = 1;
        if (cp < 0x300 || !in_maybe(tab, cp)) {
            prev = i;
            i += k;
            continue;
        }
        size_t start = prev >= pos && prev < i ? prev : i, end = i + k;
        while (end < len) {
            size_t kk = tok_utf8_decode(s + end, len - end, &cp);
            if (cp >= 0x300 && in_maybe(tab, cp)) end += kk ? kk : 1;
            else break;
        }
        if (tok_buf_append(&b, s + pos, start - pos) || !nfc_region(tab, s + start, end - start,
                                                                     &c, &b))
            goto oom;
        pos = prev = i = end;
    }
    free(c.v);
    if (!b.p) return VKFT_OK;  /* nothing needed work: already NFC */
    if (tok_buf_append(&b, s + pos, len - pos)) goto oom;
    *out = b.p;
    *out_len = b.len;
    return VKFT_OK;
oom:
    free(c.v);
    free(b.p);
    return VKFT_ERR_NO_MEMORY;
}
