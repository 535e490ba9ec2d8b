/*
 * Pre-tokenizers: split a normalized segment into pieces, then hand each piece to the BPE
 * model. Steps run depth-first (step k splits, each piece goes through steps k+1..), so no
 * list of pieces is ever built; each depth owns two text buffers and one span list in the
 * tok_work.
 *
 * Splitting follows HF's NormalizedString::split: the pattern's matches and the gaps between
 * them form a list of (span, is_match) events covering the text, and the behaviour folds it:
 *   Removed: gaps only          Isolated: every event       Contiguous: runs of one kind
 *   MergedWithPrevious: a match joins the gap before it
 *   MergedWithNext: a match joins the gap after it
 * Empty pieces are dropped. A piece is "at origin" when it starts at offset 0 of the user's
 * text, which Metaspace's prepend_scheme "first" needs.
 *
 * ByteLevel as the last step hands raw bytes to the model with mapped = true (the model reads
 * them through the byte-to-unicode table), which saves building the mapped text.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

static vkft_status spans_push(tok_spans *sp, size_t a, size_t b, size_t c)
{
    if (sp->n + 3 > sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 96;
        size_t *v = realloc(sp->v, cap * sizeof *v);
        if (!v) return VKFT_ERR_NO_MEMORY;
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n++] = a;
    sp->v[sp->n++] = b;
    sp->v[sp->n++] = c;
    return VKFT_OK;
}

/* Events (start, end, is_match) of pattern p over s. */
static vkft_status find_events(const tok_pattern *p, bool invert, tok_work *w, const char *s,
                               size_t len, tok_spans *sp, vkft_err *err)
{
    sp->n = 0;
    size_t prev = 0, pos = 0, ms, me;
    while (pos <= len) {
        int r = tok_pattern_find(p, s, len, pos, w->md, w->mc, &ms, &me);
        if (r < 0) return vkft_err_set(err, VKFT_ERR_LIMIT, "pre-tokenizer regex failed on a "
                                       "%zu-byte piece (resource limit)", len);
        if (!r) break;
        if (ms > prev && spans_push(sp, prev, ms, invert)) goto oom;
        if (spans_push(sp, ms, me, !invert)) goto oom;
        prev = me;
        if (me > ms) {
            pos = me;
        } else {  /* an empty match: search again one char further */
            if (ms >= len) break;
            uint32_t cp;
            size_t k = tok_utf8_decode(s + ms, len - ms, &cp);
            pos = ms + (k ? k : 1);
        }
    }
    if (prev < len && spans_push(sp, prev, len, invert)) goto oom;
    return VKFT_OK;
oom:
    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
}

/* Folds the events in sp into (start, end, 0) triples, in place. */
static void fold(tok_spans *sp, tok_split_behavior b)
{
    size_t *v = sp->v, n = sp->n / 3, out = 0;
    bool prev_match = false;
    for (size_t i = 0; i < n; i++) {
        size_t s = v[3 * i], e = v[3 * i + 1];
        bool m = v[3 * i + 2] != 0;
        bool extend = false, keep = true;
        switch (b) {
        case TOK_SPLIT_REMOVED: keep = !m; break;
        case TOK_SPLIT_ISOLATED: break;
        case TOK_SPLIT_CONTIGUOUS: extend = out && m == prev_match; break;
        case TOK_SPLIT_MERGED_PREV: extend = out && m && !prev_match; break;
        case TOK_SPLIT_MERGED_NEXT:
            if (m && i + 1 < n && !v[3 * (i + 1) + 2]) {  /* take the gap after it */
                e = v[3 * (i + 1) + 1];
                i++;
                m = false;
            }
            break;
        }
        prev_match = m;
        if (!keep) continue;
        if (extend) {
            v[3 * (out - 1) + 1] = e;
        } else {
            v[3 * out] = s;
            v[3 * out + 1] = e;
            v[3 * out + 2] = 0;
            out++;
        }
    }
    sp->n = out * 3;
}

static vkft_status run_step(const vkft_tokenizer *t, tok_work *w, size_t step, const char *s,
                            size_t len, bool at_origin, vkft_ids *out, vkft_err *err);

/* Runs step + 1 on each span of sp (which indexes into s). */
static vkft_status each_span(const vkft_tokenizer *t, tok_work *w, size_t step, const char *s,
                             tok_spans *sp, bool at_origin, vkft_ids *out, vkft_err *err)
{
    for (size_t i = 0; i < sp->n; i += 3) {
        size_t a = sp->v[i], b = sp->v[i + 1];
        if (b <= a) continue;
        vkft_status st = run_step(t, w, step + 1, s + a, b - a, at_origin && a == 0, out, err);
        if (st) return st;
    }
    return VKFT_OK;
}

/* Writes the byte-level mapped form of s into dst. */
static vkft_status map_bytes(const char *s, size_t len, tok_buf *dst)
{
    dst->len = 0;
    if (tok_buf_reserve(dst, 2 * len)) return VKFT_ERR_NO_MEMORY;
    for (size_t i = 0; i < len; i++)
        dst->len += tok_utf8_encode(tok_byte_to_cp((uint8_t)s[i]), dst->p + dst->len);
    dst->p[dst->len] = '\0';
    return VKFT_OK;
}

static vkft_status byte_level(const vkft_tokenizer *t, tok_work *w, size_t step, const char *s,
                              size_t len, bool at_origin, vkft_ids *out, vkft_err *err)
{
    const tok_pretok *p = &t->pretoks[step];
    tok_buf *text = &w->pre[2 * step], *mapped = &w->pre[2 * step + 1];
    if (p->add_prefix_space && s[0] != ' ') {
        text->len = 0;
        if (tok_buf_append(text, " ", 1) || tok_buf_append(text, s, len))
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        s = text->p;
        len = text->len;
    }
    tok_spans *sp = &w->spans[step];
    if (p->use_regex) {
        tok_pattern gpt2 = {.re = t->gpt2_re};
        vkft_status st = find_events(&gpt2, false, w, s, len, sp, err);
        if (st) return st;
    } else {
        sp->n = 0;
        if (spans_push(sp, 0, len, 0)) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
    }
    bool last = step + 1 == t->n_pretoks;
    for (size_t i = 0; i < sp->n; i += 3) {
        size_t a = sp->v[i], b = sp->v[i + 1];
        if (b <= a) continue;
        vkft_status st;
        if (last) {
            st = tok_bpe_piece(t, w, s + a, b - a, true, out, err);
        } else {
            if (map_bytes(s + a, b - a, mapped))
                return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            st = run_step(t, w, step + 1, mapped->p, mapped->len, at_origin && a == 0, out, err);
        }
        if (st) return st;
    }
    return VKFT_OK;
}

static vkft_status metaspace(const vkft_tokenizer *t, tok_work *w, size_t step, const char *s,
                             size_t len, bool at_origin, vkft_ids *out, vkft_err *err)
{
    const tok_pretok *p = &t->pretoks[step];
    tok_buf *text = &w->pre[2 * step];
    text->len = 0;
    bool starts = len >= p->repl_len && !memcmp(s, p->repl, p->repl_len);
    bool prepend = p->scheme == TOK_PREPEND_ALWAYS ? !starts
                 : p->scheme == TOK_PREPEND_FIRST ? !starts && at_origin : false;
    /* Replacing ' ' cannot create a leading replacement char unless s starts with ' '. */
    if (s[0] == ' ') prepend = false;
    if (prepend && tok_buf_append(text, p->repl, p->repl_len)) goto oom;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != ' ') j++;
        if (tok_buf_append(text, s + i, j - i)) goto oom;
        if (j < len && tok_buf_append(text, p->repl, p->repl_len)) goto oom;
        i = j + 1;
    }
    if (!p->split) return run_step(t, w, step + 1, text->p, text->len, at_origin, out, err);
    tok_pattern lit = {.lit = (char *)p->repl, .lit_len = p->repl_len};
    tok_spans *sp = &w->spans[step];
    vkft_status st = find_events(&lit, false, w, text->p, text->len, sp, err);
    if (st) return st;
    fold(sp, TOK_SPLIT_MERGED_NEXT);
    return each_span(t, w, step, text->p, sp, at_origin, out, err);
oom:
    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
}

/* The model on a piece of text; with t->sp_split, word by word (cut before each "▁" that
 * follows another char). */
static vkft_status model(const vkft_tokenizer *t, tok_work *w, const char *s, size_t len,
                         vkft_ids *out, vkft_err *err)
{
    if (!t->sp_split || len <= TOK_CACHE_MAX_WORD / 4)
        return tok_bpe_piece(t, w, s, len, false, out, err);
    static const char meta[] = "\xe2\x96\x81";
    size_t start = 0;
    for (size_t k = 1; k + 3 <= len; k++) {
        if (memcmp(s + k, meta, 3) || (k >= 3 && !memcmp(s + k - 3, meta, 3))) continue;
        vkft_status st = tok_bpe_piece(t, w, s + start, k - start, false, out, err);
        if (st) return st;
        start = k;
        k += 2;
    }
    return tok_bpe_piece(t, w, s + start, len - start, false, out, err);
}

static vkft_status run_step(const vkft_tokenizer *t, tok_work *w, size_t step, const char *s,
                            size_t len, bool at_origin, vkft_ids *out, vkft_err *err)
{
    if (!len) return VKFT_OK;
    if (step == t->n_pretoks) return model(t, w, s, len, out, err);
    const tok_pretok *p = &t->pretoks[step];
    switch (p->kind) {
    case TOK_PRE_BYTELEVEL: return byte_level(t, w, step, s, len, at_origin, out, err);
    case TOK_PRE_METASPACE: return metaspace(t, w, step, s, len, at_origin, out, err);
    case TOK_PRE_SPLIT: {
        tok_spans *sp = &w->spans[step];
        vkft_status st = find_events(&p->pat, p->invert, w, s, len, sp, err);
        if (st) return st;
        fold(sp, p->behavior);
        return each_span(t, w, step, s, sp, at_origin, out, err);
    }
    default: break;
    }
    return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "unknown pre-tokenizer step");
}

vkft_status tok_pretokenize_and_model(const vkft_tokenizer *t, tok_work *w, const char *s,
                                      size_t len, bool at_origin, vkft_ids *out, vkft_err *err)
{
    return run_step(t, w, 0, s, len, at_origin, out, err);
}
