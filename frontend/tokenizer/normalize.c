/*
 * Normalizers, run in order over one segment of text (the text between added tokens):
 * Prepend (only to a non-empty segment), Replace (every non-overlapping match), NFC, Strip
 * (Unicode White_Space at either end). Each step writes into one of two ping-pong buffers of
 * the caller's tok_work, so a segment costs no allocation once the buffers have grown.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

static vkft_status replace_all(const tok_normalizer *n, tok_work *w, const char *s, size_t len,
                               tok_buf *out, vkft_err *err)
{
    size_t pos = 0, ms, me;
    for (;;) {
        int r = tok_pattern_find(&n->pat, s, len, pos, w->md, w->mc, &ms, &me);
        if (r < 0) return vkft_err_set(err, VKFT_ERR_LIMIT, "Replace normalizer: regex match "
                                       "failed (resource limit)");
        if (!r) break;
        if (me == ms) {  /* an empty match replaces nothing; step over one char */
            uint32_t cp;
            size_t k = ms < len ? tok_utf8_decode(s + ms, len - ms, &cp) : 1;
            if (ms >= len) break;
            if (tok_buf_append(out, s + pos, ms + k - pos)) goto oom;
            pos = ms + k;
            continue;
        }
        if (tok_buf_append(out, s + pos, ms - pos) || tok_buf_append(out, n->str, n->str_len))
            goto oom;
        pos = me;
    }
    if (tok_buf_append(out, s + pos, len - pos)) goto oom;
    return VKFT_OK;
oom:
    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
}

static void strip(const char *s, size_t len, bool left, bool right, size_t *b, size_t *e)
{
    *b = 0;
    *e = len;
    uint32_t cp;
    while (left && *b < *e) {
        size_t k = tok_utf8_decode(s + *b, *e - *b, &cp);
        if (!k || !tok_is_space(cp)) break;
        *b += k;
    }
    while (right && *e > *b) {
        size_t start = *e - 1;
        while (start > *b && ((uint8_t)s[start] & 0xc0) == 0x80) start--;
        size_t k = tok_utf8_decode(s + start, *e - start, &cp);
        if (!k || !tok_is_space(cp)) break;
        *e = start;
    }
}

vkft_status tok_normalize(const vkft_tokenizer *t, tok_work *w, const char *s, size_t len,
                          const char **out, size_t *out_len, vkft_err *err)
{
    const char *cur = s;
    size_t cur_len = len;
    int next = 0;
    for (size_t i = 0; i < t->n_norms; i++) {
        const tok_normalizer *n = &t->norms[i];
        tok_buf *dst = &w->norm[next];
        dst->len = 0;
        vkft_status st = VKFT_OK;
        switch (n->kind) {
        case TOK_NORM_PREPEND:
            if (!cur_len) continue;
            if (tok_buf_append(dst, n->str, n->str_len) || tok_buf_append(dst, cur, cur_len))
                st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            break;
        case TOK_NORM_REPLACE:
            st = replace_all(n, w, cur, cur_len, dst, err);
            break;
        case TOK_NORM_NFC: {
            char *nfc;
            size_t nfc_len;
            if (tok_nfc(t->nfc, cur, cur_len, &nfc, &nfc_len))
                return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            if (!nfc) continue;  /* already NFC */
            st = tok_buf_append(dst, nfc, nfc_len);
            free(nfc);
            if (st) st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            break;
        }
        case TOK_NORM_STRIP: {
            size_t b, e;
            strip(cur, cur_len, n->left, n->right, &b, &e);
            if (tok_buf_append(dst, cur + b, e - b))
                st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            break;
        }
        }
        if (st) return st;
        cur = dst->p;
        cur_len = dst->len;
        next ^= 1;
    }
    *out = cur;
    *out_len = cur_len;
    return VKFT_OK;
}
