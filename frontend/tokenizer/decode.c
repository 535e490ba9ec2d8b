/*
 * Decoding: ids -> token strings -> the decoder chain -> one string, as HF's
 * Tokenizer::decode. Each decoder maps a list of strings to a list of strings:
 *   ByteLevel     all tokens -> bytes through the unicode-to-byte map (a token with a char
 *                 outside the map keeps its own bytes) -> one lossy UTF-8 string
 *   Replace       pattern -> content inside each token
 *   ByteFallback  runs of <0xNN> tokens -> their bytes if valid UTF-8, else one U+FFFD per
 *                 byte
 *   Fuse          all tokens -> one
 *   Strip         up to `start` leading and `stop` trailing `content` chars of each token
 *   Metaspace     replacement char -> ' ', dropped in the first token unless scheme "never"
 * Without a decoder the tokens are joined with single spaces.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* A list of strings: offsets/lengths into one buffer. */
typedef struct strlist {
    tok_buf text;
    size_t *off, *len;
    size_t n, cap;
} strlist;

static vkft_status sl_add(strlist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        size_t *off = realloc(l->off, cap * sizeof *off);
        if (off) l->off = off;
        size_t *len = realloc(l->len, cap * sizeof *len);
        if (len) l->len = len;
        if (!off || !len) return VKFT_ERR_NO_MEMORY;
        l->cap = cap;
    }
    size_t at = l->text.len;
    if (tok_buf_append(&l->text, s, n)) return VKFT_ERR_NO_MEMORY;
    l->off[l->n] = at;
    l->len[l->n++] = n;
    return VKFT_OK;
}

/* Appends to the last string of l (which must exist and be the last thing written). */
static vkft_status sl_extend(strlist *l, const char *s, size_t n)
{
    if (tok_buf_append(&l->text, s, n)) return VKFT_ERR_NO_MEMORY;
    l->len[l->n - 1] += n;
    return VKFT_OK;
}

static void sl_free(strlist *l)
{
    free(l->text.p);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

#define STR(l, i) ((l)->text.p + (l)->off[i])

static vkft_status dec_bytelevel(const strlist *in, strlist *out)
{
    tok_buf bytes = {0};
    vkft_status st = VKFT_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        const char *s = STR(in, i);
        size_t n = in->len[i], start = bytes.len;
        for (size_t k = 0; k < n && !st;) {
            uint32_t cp;
            size_t cl = tok_utf8_decode(s + k, n - k, &cp);
            int b = cl ? tok_cp_to_byte(cp) : -1;
            if (b < 0) {  /* not a byte char: the token keeps its own bytes */
                bytes.len = start;
                st = tok_buf_append(&bytes, s, n);
                break;
            }
            char c = (char)b;
            st = tok_buf_append(&bytes, &c, 1);
            k += cl;
        }
    }
    char *fixed = NULL;
    size_t flen = 0, fcap = 0;
    if (!st) st = tok_utf8_lossy_append(&fixed, &flen, &fcap, bytes.p ? bytes.p : "", bytes.len);
    if (!st) st = sl_add(out, fixed ? fixed : "", flen);
    free(fixed);
    free(bytes.p);
    return st;
}

static vkft_status dec_replace(const tok_decoder *d, tok_work *w, const strlist *in,
                               strlist *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const char *s = STR(in, i);
        size_t n = in->len[i], pos = 0, ms, me;
        if (sl_add(out, "", 0)) return VKFT_ERR_NO_MEMORY;
        for (;;) {
            int r = tok_pattern_find(&d->pat, s, n, pos, w->md, w->mc, &ms, &me);
            if (r < 0) return VKFT_ERR_LIMIT;
            if (!r || me == ms) break;
            if (sl_extend(out, s + pos, ms - pos) || sl_extend(out, d->str, d->str_len))
                return VKFT_ERR_NO_MEMORY;
            pos = me;
        }
        if (sl_extend(out, s + pos, n - pos)) return VKFT_ERR_NO_MEMORY;
    }
    return VKFT_OK;
}

static int byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static vkft_status flush_bytes(tok_buf *run, strlist *out)
{
    if (!run->len) return VKFT_OK;
    vkft_status st = VKFT_OK;
    if (tok_utf8_valid_prefix(run->p, run->len) == run->len) {
        st = sl_add(out, run->p, run->len);
    } else {
        for (size_t k = 0; k < run->len && !st; k++) st = sl_add(out, "\xef\xbf\xbd", 3);
    }
    run->len = 0;
    return st;
}

static vkft_status dec_bytefallback(const strlist *in, strlist *out)
{
    tok_buf run = {0};
    vkft_status st = VKFT_OK;
    for (size_t i = 0; i < in->n && !st; i++) {
        int b = byte_token(STR(in, i), in->len[i]);
        if (b >= 0) {
            char c = (char)b;
            st = tok_buf_append(&run, &c, 1);
            continue;
        }
        st = flush_bytes(&run, out);
        if (!st) st = sl_add(out, STR(in, i), in->len[i]);
    }
    if (!st) st = flush_bytes(&run, out);
    free(run.p);
    return st;
}

static vkft_status dec_strip(const tok_decoder *d, const strlist *in, strlist *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const char *s = STR(in, i);
        size_t n = in->len[i], b = 0, e = n, c = d->str_len;
        for (size_t k = 0; k < d->start && b + c <= e && !memcmp(s + b, d->str, c); k++) b += c;
        for (size_t k = 0; k < d->stop && e >= b + c && !memcmp(s + e - c, d->str, c); k++)
            e -= c;
        if (sl_add(out, s + b, e - b)) return VKFT_ERR_NO_MEMORY;
    }
    return VKFT_OK;
}

static vkft_status dec_metaspace(const tok_decoder *d, const strlist *in, strlist *out)
{
    char repl[4];
    size_t rl = tok_utf8_encode(d->repl_cp, repl);
    for (size_t i = 0; i < in->n; i++) {
        const char *s = STR(in, i);
        size_t n = in->len[i], pos = 0;
        bool drop = i == 0 && d->scheme != TOK_PREPEND_NEVER;
        if (sl_add(out, "", 0)) return VKFT_ERR_NO_MEMORY;
        for (size_t k = 0; k + rl <= n; k++) {
            if (memcmp(s + k, repl, rl)) continue;
            if (sl_extend(out, s + pos, k - pos) || (!drop && sl_extend(out, " ", 1)))
                return VKFT_ERR_NO_MEMORY;
            pos = k + rl;
            k = pos - 1;
        }
        if (sl_extend(out, s + pos, n - pos)) return VKFT_ERR_NO_MEMORY;
    }
    return VKFT_OK;
}

static vkft_status run_decoder(const tok_decoder *d, tok_work *w, const strlist *in,
                               strlist *out)
{
    switch (d->kind) {
    case TOK_DEC_BYTELEVEL: return dec_bytelevel(in, out);
    case TOK_DEC_REPLACE: return dec_replace(d, w, in, out);
    case TOK_DEC_BYTEFALLBACK: return dec_bytefallback(in, out);
    case TOK_DEC_FUSE:
        if (sl_add(out, "", 0)) return VKFT_ERR_NO_MEMORY;
        for (size_t i = 0; i < in->n; i++)
            if (sl_extend(out, STR(in, i), in->len[i])) return VKFT_ERR_NO_MEMORY;
        return VKFT_OK;
    case TOK_DEC_STRIP: return dec_strip(d, in, out);
    case TOK_DEC_METASPACE: return dec_metaspace(d, in, out);
    }
    return VKFT_ERR_INVALID_ARG;
}

vkft_status vkft_tokenizer_decode(const vkft_tokenizer *t, const int32_t *ids, size_t n,
                                  bool skip_special, char **out, size_t *out_len,
                                  vkft_err *err)
{
    if (!t || !out || (!ids && n))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "vkft_tokenizer_decode: NULL argument");
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "decode: id %d at position %zu is "
                                "outside the vocabulary [0, %d)", ids[i], i, t->vocab_size);
    strlist a = {0}, b = {0};
    vkft_status st = VKFT_OK;
    tok_work *w = tok_work_get(t);
    if (!w) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        const char *s = t->id_tok[ids[i]];
        if (!s || (skip_special && t->special_ids[ids[i]])) continue;  /* holes: as HF */
        st = sl_add(&a, s, t->id_len[ids[i]]);
    }
    for (size_t k = 0; k < t->n_decs && !st; k++) {
        b.n = 0;
        b.text.len = 0;
        st = run_decoder(&t->decs[k], w, &a, &b);
        strlist tmp = a;
        a = b;
        b = tmp;
    }
    tok_buf res = {0};
    for (size_t i = 0; i < a.n && !st; i++) {
        if (i && !t->has_decoder) st = tok_buf_append(&res, " ", 1);
        if (!st) st = tok_buf_append(&res, STR(&a, i), a.len[i]);
    }
    if (!st) st = tok_buf_append(&res, "", 0);  /* NUL-terminated even when empty */
    sl_free(&a);
    sl_free(&b);
    tok_work_put(t, w);
    if (st) {
        free(res.p);
        return vkft_err_set(err, st, st == VKFT_ERR_LIMIT ? "decode: regex resource limit"
                                                          : "out of memory decoding %zu ids", n);
    }
    *out = res.p;
    if (out_len) *out_len = res.len;
    return VKFT_OK;
}
