/*
 * Encoding: the pipeline of tok_internal.h for one text, and the id-list helpers.
 *
 * Added tokens are split out twice, as HF's AddedVocabulary::extract_and_normalize does:
 * first the tokens with normalized = false on the raw text, then, after the normalizers ran
 * on each remaining segment, the tokens with normalized = true on the normalized segment.
 * Matching is leftmost-longest; single_word drops a match touching a word char (\w) on
 * either side; lstrip / rstrip make the token swallow the whitespace before / after it.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

/* ---- id lists ---- */

vkft_status vkft_ids_append(vkft_ids *ids, const int32_t *v, size_t n, vkft_err *err)
{
    if (ids->n + n > ids->cap) {
        size_t cap = ids->cap ? ids->cap : 64;
        while (cap < ids->n + n) cap *= 2;
        int32_t *p = realloc(ids->v, cap * sizeof *p);
        if (!p) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory (%zu ids)",
                                    ids->n + n);
        ids->v = p;
        ids->cap = cap;
    }
    if (n) memcpy(ids->v + ids->n, v, n * sizeof *v);
    ids->n += n;
    return VKFT_OK;
}

vkft_status vkft_ids_push(vkft_ids *ids, int32_t id, vkft_err *err)
{
    return vkft_ids_append(ids, &id, 1, err);
}

void vkft_ids_free(vkft_ids *ids)
{
    free(ids->v);
    memset(ids, 0, sizeof *ids);
}

/* ---- scratch ---- */

vkft_status tok_work_init(tok_work *w, const vkft_tokenizer *t)
{
    memset(w, 0, sizeof *w);
    size_t depth = t->n_pretoks + 1;
    w->pre = calloc(2 * depth, sizeof *w->pre);
    w->spans = calloc(depth, sizeof *w->spans);
    w->md = pcre2_match_data_create(1, NULL);
    w->mc = pcre2_match_context_create(NULL);
    if (!w->pre || !w->spans || !w->md || !w->mc) goto oom;
    w->depth = depth;
    if (t->jit) {
        /* Long runs of whitespace or letters need more than PCRE2's 32 KiB default. */
        w->jit_stack = pcre2_jit_stack_create(32 << 10, 8 << 20, NULL);
        if (!w->jit_stack) goto oom;
        pcre2_jit_stack_assign(w->mc, NULL, w->jit_stack);
    }
    return VKFT_OK;
oom:
    tok_work_free(w);
    return VKFT_ERR_NO_MEMORY;
}

void tok_work_free(tok_work *w)
{
    for (size_t i = 0; w->pre && i < 2 * w->depth; i++) free(w->pre[i].p);
    for (size_t i = 0; w->spans && i < w->depth; i++) free(w->spans[i].v);
    free(w->pre);
    free(w->spans);
    free(w->norm[0].p);
    free(w->norm[1].p);
    free(w->key.p);
    free(w->sym_id);
    free(w->sym_prev);
    free(w->sym_next);
    free(w->heap);
    tok_cache_free(&w->cache);
    if (w->md) pcre2_match_data_free(w->md);
    if (w->mc) pcre2_match_context_free(w->mc);
    if (w->jit_stack) pcre2_jit_stack_free(w->jit_stack);
    memset(w, 0, sizeof *w);
}

tok_work *tok_work_get(const vkft_tokenizer *ct)
{
    vkft_tokenizer *t = (vkft_tokenizer *)ct;  /* only the pool, under its lock */
    tok_work *w = NULL;
    pthread_mutex_lock(&t->pool_lock);
    if (t->n_pool) w = t->pool[--t->n_pool];
    pthread_mutex_unlock(&t->pool_lock);
    if (w) return w;
    w = malloc(sizeof *w);
    if (w && tok_work_init(w, t)) {
        free(w);
        w = NULL;
    }
    return w;
}

/* Bytes of scratch a work holds beyond its fixed part (after a huge text). */
static size_t work_bytes(const tok_work *w)
{
    size_t n = w->norm[0].cap + w->norm[1].cap + w->key.cap + w->sym_cap * 24;
    for (size_t i = 0; i < w->depth; i++)
        n += w->pre[2 * i].cap + w->pre[2 * i + 1].cap + w->spans[i].cap * sizeof(size_t);
    return n;
}

void tok_work_put(const vkft_tokenizer *ct, tok_work *w)
{
    vkft_tokenizer *t = (vkft_tokenizer *)ct;
    pthread_mutex_lock(&t->pool_lock);
    /* a work that grew for a huge text is freed rather than kept */
    if (t->n_pool < TOK_WORK_POOL && work_bytes(w) < (64u << 20)) {
        t->pool[t->n_pool++] = w;
        w = NULL;
    }
    pthread_mutex_unlock(&t->pool_lock);
    if (w) {
        tok_work_free(w);
        free(w);
    }
}

void tok_work_pool_free(vkft_tokenizer *t)
{
    for (size_t i = 0; i < t->n_pool; i++) {
        tok_work_free(t->pool[i]);
        free(t->pool[i]);
    }
    t->n_pool = 0;
}

/* ---- added tokens ---- */

static bool is_word_char(const vkft_tokenizer *t, tok_work *w, const char *ch, size_t len)
{
    return pcre2_match(t->word_re, (PCRE2_SPTR)ch, len, 0, PCRE2_NO_UTF_CHECK | PCRE2_ANCHORED,
                       w->md, NULL) >= 0;
}

/* Start of the char that ends at s[end]. */
static size_t char_before(const char *s, size_t end)
{
    size_t k = end - 1;
    while (k > 0 && ((uint8_t)s[k] & 0xc0) == 0x80) k--;
    return k;
}

/* Where trailing whitespace of s[0..end) begins, and where leading whitespace of s[b..len)
 * ends. */
static size_t space_run_start(const char *s, size_t end)
{
    while (end > 0) {
        size_t k = char_before(s, end);
        uint32_t cp;
        if (!tok_utf8_decode(s + k, end - k, &cp) || !tok_is_space(cp)) break;
        end = k;
    }
    return end;
}

static size_t space_run_end(const char *s, size_t b, size_t len)
{
    while (b < len) {
        uint32_t cp;
        size_t k = tok_utf8_decode(s + b, len - b, &cp);
        if (!k || !tok_is_space(cp)) break;
        b += k;
    }
    return b;
}

typedef vkft_status (*segment_fn)(const vkft_tokenizer *t, tok_work *w, const char *s,
                                  size_t len, bool at_origin, vkft_ids *out, vkft_err *err);

/* Splits s by the added tokens of trie: ids of tokens go to out, the text between them to
 * seg. at_origin: s starts at offset 0 of the user's text. */
static vkft_status split_added(const vkft_tokenizer *t, tok_work *w, const tok_trie *trie,
                               const char *s, size_t len, bool at_origin, segment_fn seg,
                               vkft_ids *out, vkft_err *err)
{
    size_t done = 0;   /* s[0..done) is handled */
    vkft_status st;
    for (size_t i = 0; trie->n_nodes > 1 && i < len;) {
        if (!trie->first_byte[(uint8_t)s[i]]) {
            i++;
            continue;
        }
        size_t mlen = 0;
        int32_t k = tok_trie_longest(trie, s + i, len - i, &mlen);
        if (k < 0) {
            i++;
            continue;
        }
        const tok_added *a = &t->added[k];
        size_t start = i, stop = i + mlen;
        if (a->single_word) {
            bool left_ok = start == 0 ||
                           !is_word_char(t, w, s + char_before(s, start),
                                         start - char_before(s, start));
            uint32_t cp;
            size_t cl = stop < len ? tok_utf8_decode(s + stop, len - stop, &cp) : 0;
            bool right_ok = stop == len || !is_word_char(t, w, s + stop, cl ? cl : 1);
            if (!left_ok || !right_ok) {
                i = stop;  /* the match is consumed but not used, as in HF */
                continue;
            }
        }
        if (a->lstrip) {
            size_t ns = space_run_start(s, start);
            start = ns > done ? ns : done;
        }
        if (a->rstrip) stop = space_run_end(s, stop, len);
        if (start > done) {
            st = seg(t, w, s + done, start - done, at_origin && done == 0, out, err);
            if (st) return st;
        }
        st = vkft_ids_push(out, a->id, err);
        if (st) return st;
        done = i = stop;
    }
    if (done < len) return seg(t, w, s + done, len - done, at_origin && done == 0, out, err);
    return VKFT_OK;
}

/* A segment between non-normalized added tokens: normalize, then split out the normalized
 * added tokens, then pre-tokenize and run the model. */
static vkft_status raw_segment(const vkft_tokenizer *t, tok_work *w, const char *s, size_t len,
                               bool at_origin, vkft_ids *out, vkft_err *err)
{
    const char *norm;
    size_t norm_len;
    vkft_status st = tok_normalize(t, w, s, len, &norm, &norm_len, err);
    if (st) return st;
    if (t->trie_norm.n_nodes <= 1)
        return tok_pretokenize_and_model(t, w, norm, norm_len, at_origin, out, err);
    /* The normalized text lives in w->norm, which normalizing the next segment reuses; the
     * pieces found here are finished before that happens. */
    return split_added(t, w, &t->trie_norm, norm, norm_len, at_origin,
                       tok_pretokenize_and_model, out, err);
}

vkft_status vkft_tokenizer_encode(const vkft_tokenizer *t, const char *text, size_t len,
                                  bool add_special, vkft_ids *out_append, vkft_err *err)
{
    if (!t || !out_append || (!text && len))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "vkft_tokenizer_encode: NULL argument");
    size_t n0 = out_append->n;
    tok_work *w = tok_work_get(t);
    if (!w) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    char *fixed = NULL;
    vkft_status st = VKFT_OK;
    if (tok_utf8_valid_prefix(text, len) != len) {  /* repair, as a lossy UTF-8 read would */
        size_t flen = 0, fcap = 0;
        st = tok_utf8_lossy_append(&fixed, &flen, &fcap, text, len);
        if (st) {
            st = vkft_err_set(err, st, "out of memory");
            goto out;
        }
        text = fixed;
        len = flen;
    }
    if (add_special) st = vkft_ids_append(out_append, t->tmpl_pre, t->n_tmpl_pre, err);
    if (!st && len)
        st = split_added(t, w, &t->trie_raw, text, len, true, raw_segment, out_append, err);
    if (!st && add_special) st = vkft_ids_append(out_append, t->tmpl_post, t->n_tmpl_post, err);
out:
    if (st) out_append->n = n0;
    free(fixed);
    tok_work_put(t, w);
    return st;
}
