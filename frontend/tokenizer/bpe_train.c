/*
 * A byte-level BPE trainer (for `vkft init-model`: random test models need a tokenizer).
 *
 * 1. Occurrences of the special tokens are cut out of the corpus; the rest is split with
 *    GPT-2's pre-tokenizer regex and the distinct pieces ("words") are counted.
 * 2. Every word starts as its bytes; token b (0..255) is byte b, written as GPT-2's
 *    byte-to-unicode char.
 * 3. Repeat: take the adjacent pair with the highest count over all words (ties: the pair
 *    whose left token's bytes sort first, then the right's), record the merge, and rewrite
 *    the words holding it (left to right, non-overlapping). A merge whose result already
 *    exists adds no token (as in HF's trainer); one whose result would spell a special token
 *    is skipped. Stop at vocab_size - n_special tokens or when no pair is left.
 *
 * Pair counts are kept incrementally: a pair -> count map, per pair the words that may hold
 * it, and a max-heap of (count, pair) entries where an entry whose count is no longer the
 * pair's is stale and skipped. A rewritten word subtracts its old pairs and adds its new ones.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

typedef struct word {
    int64_t count;
    int32_t *sym;
    uint32_t n;
    uint32_t stamp;             /* last merge step that rewrote it */
} word;

typedef struct pair_info {
    int32_t a, b;
    int64_t count;              /* -1: forbidden (would spell a special token) */
    uint32_t *words;
    size_t n_words, cap_words;
    uint32_t dirty;             /* last step its count changed */
} pair_info;

typedef struct trainer {
    word *words;
    size_t n_words;
    tok_buf *tok;               /* per token: its bytes */
    size_t n_tok, cap_tok;
    tok_strmap tok_map;         /* token bytes -> id (keys point into tok[]) */
    pair_info *pairs;
    size_t n_pairs, cap_pairs;
    tok_mergemap pair_map;      /* (a, b) -> pair index (in "merged") */
    uint32_t *heap;             /* pair indices; ordered by heap_cnt then bytes */
    int64_t *heap_cnt;
    size_t heap_n, heap_cap;
    uint32_t *changed;          /* pairs whose count changed in this step */
    size_t n_changed, cap_changed;
    int32_t (*merges)[2];
    size_t n_merges, cap_merges;
    const char *const *specials;   /* to refuse merges spelling them */
    int n_special;
} trainer;

static int cmp_bytes(const tok_buf *x, const tok_buf *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Heap order: higher count first, then smaller (left bytes, right bytes). */
static bool before(const trainer *tr, uint32_t p, int64_t pc, uint32_t q, int64_t qc)
{
    if (pc != qc) return pc > qc;
    const pair_info *x = &tr->pairs[p], *y = &tr->pairs[q];
    int c = cmp_bytes(&tr->tok[x->a], &tr->tok[y->a]);
    if (!c) c = cmp_bytes(&tr->tok[x->b], &tr->tok[y->b]);
    return c < 0;
}

static vkft_status heap_push(trainer *tr, uint32_t p)
{
    if (tr->heap_n == tr->heap_cap) {
        size_t cap = tr->heap_cap ? 2 * tr->heap_cap : 1024;
        uint32_t *h = realloc(tr->heap, cap * sizeof *h);
        if (h) tr->heap = h;
        int64_t *c = realloc(tr->heap_cnt, cap * sizeof *c);
        if (c) tr->heap_cnt = c;
        if (!h || !c) return VKFT_ERR_NO_MEMORY;
        tr->heap_cap = cap;
    }
    size_t i = tr->heap_n++;
    int64_t cnt = tr->pairs[p].count;
    while (i) {
        size_t up = (i - 1) / 2;
        if (!before(tr, p, cnt, tr->heap[up], tr->heap_cnt[up])) break;
        tr->heap[i] = tr->heap[up];
        tr->heap_cnt[i] = tr->heap_cnt[up];
        i = up;
    }
    tr->heap[i] = p;
    tr->heap_cnt[i] = cnt;
    return VKFT_OK;
}

static uint32_t heap_pop(trainer *tr, int64_t *cnt)
{
    uint32_t top = tr->heap[0], v = tr->heap[--tr->heap_n];
    int64_t vc = tr->heap_cnt[tr->heap_n];
    *cnt = tr->heap_cnt[0];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= tr->heap_n) break;
        if (c + 1 < tr->heap_n && before(tr, tr->heap[c + 1], tr->heap_cnt[c + 1], tr->heap[c],
                                         tr->heap_cnt[c]))
            c++;
        if (!before(tr, tr->heap[c], tr->heap_cnt[c], v, vc)) break;
        tr->heap[i] = tr->heap[c];
        tr->heap_cnt[i] = tr->heap_cnt[c];
        i = c;
    }
    tr->heap[i] = v;
    tr->heap_cnt[i] = vc;
    return top;
}

static vkft_status add_token(trainer *tr, const char *bytes, size_t n, int32_t *id)
{
    if (tr->n_tok == tr->cap_tok) {
        size_t cap = tr->cap_tok ? 2 * tr->cap_tok : 512;
        tok_buf *t = realloc(tr->tok, cap * sizeof *t);
        if (!t) return VKFT_ERR_NO_MEMORY;
        tr->tok = t;
        tr->cap_tok = cap;
    }
    tok_buf *b = &tr->tok[tr->n_tok];
    memset(b, 0, sizeof *b);
    if (tok_buf_append(b, bytes, n)) return VKFT_ERR_NO_MEMORY;
    *id = (int32_t)tr->n_tok++;
    /* token buffers never move (each has its own allocation), so the map can point at them */
    return tok_strmap_put(&tr->tok_map, b->p, b->len, *id);
}

/* The pair index of (a, b), created when absent. */
static vkft_status pair_index(trainer *tr, int32_t a, int32_t b, uint32_t *out)
{
    uint32_t idx;
    int32_t dummy;
    if (tok_mergemap_get(&tr->pair_map, a, b, &idx, &dummy)) {
        *out = idx;
        return VKFT_OK;
    }
    if (tr->n_pairs == tr->cap_pairs) {
        size_t cap = tr->cap_pairs ? 2 * tr->cap_pairs : 1024;
        pair_info *p = realloc(tr->pairs, cap * sizeof *p);
        if (!p) return VKFT_ERR_NO_MEMORY;
        tr->pairs = p;
        tr->cap_pairs = cap;
    }
    idx = (uint32_t)tr->n_pairs;
    pair_info *p = &tr->pairs[tr->n_pairs++];
    memset(p, 0, sizeof *p);
    p->a = a;
    p->b = b;
    p->dirty = UINT32_MAX;
    /* a pair whose merge would spell a special token is never merged */
    for (int s = 0; s < tr->n_special; s++) {
        size_t la = tr->tok[a].len, lb = tr->tok[b].len, ls = strlen(tr->specials[s]);
        if (la + lb == ls && !memcmp(tr->specials[s], tr->tok[a].p, la) &&
            !memcmp(tr->specials[s] + la, tr->tok[b].p, lb))
            p->count = -1;
    }
    *out = idx;
    return tok_mergemap_put(&tr->pair_map, a, b, idx, 0);
}

/* Adds delta * (the word's pair counts); step marks changed pairs. */
static vkft_status count_word(trainer *tr, uint32_t wi, int64_t delta, uint32_t step)
{
    word *w = &tr->words[wi];
    for (uint32_t i = 0; i + 1 < w->n; i++) {
        uint32_t pi;
        if (pair_index(tr, w->sym[i], w->sym[i + 1], &pi)) return VKFT_ERR_NO_MEMORY;
        pair_info *p = &tr->pairs[pi];
        if (p->count < 0) continue;
        p->count += delta * w->count;
        if (delta > 0) {  /* remember the word (duplicates are harmless) */
            if (p->n_words == p->cap_words) {
                size_t cap = p->cap_words ? 2 * p->cap_words : 4;
                uint32_t *v = realloc(p->words, cap * sizeof *v);
                if (!v) return VKFT_ERR_NO_MEMORY;
                p->words = v;
                p->cap_words = cap;
            }
            p->words[p->n_words++] = wi;
        }
        if (p->dirty != step) {
            p->dirty = step;
            if (tr->n_changed == tr->cap_changed) {
                size_t cap = tr->cap_changed ? 2 * tr->cap_changed : 1024;
                uint32_t *v = realloc(tr->changed, cap * sizeof *v);
                if (!v) return VKFT_ERR_NO_MEMORY;
                tr->changed = v;
                tr->cap_changed = cap;
            }
            tr->changed[tr->n_changed++] = pi;
        }
    }
    return VKFT_OK;
}

static vkft_status flush_changed(trainer *tr)
{
    for (size_t i = 0; i < tr->n_changed; i++)
        if (tr->pairs[tr->changed[i]].count > 0 && heap_push(tr, tr->changed[i]))
            return VKFT_ERR_NO_MEMORY;
    tr->n_changed = 0;
    return VKFT_OK;
}

/* Merges (a, b) -> c in every word that holds the pair. */
static vkft_status apply_merge(trainer *tr, uint32_t pi, int32_t c, uint32_t step)
{
    int32_t a = tr->pairs[pi].a, b = tr->pairs[pi].b;
    /* the word list may grow while we rewrite (new pairs), so walk a snapshot length */
    size_t n = tr->pairs[pi].n_words;
    for (size_t k = 0; k < n; k++) {
        uint32_t wi = tr->pairs[pi].words[k];
        word *w = &tr->words[wi];
        if (w->stamp == step) continue;
        bool has = false;
        for (uint32_t i = 0; i + 1 < w->n && !has; i++) has = w->sym[i] == a && w->sym[i + 1] == b;
        if (!has) continue;
        w->stamp = step;
        if (count_word(tr, wi, -1, step)) return VKFT_ERR_NO_MEMORY;
        uint32_t o = 0;
        for (uint32_t i = 0; i < w->n; i++) {
            if (i + 1 < w->n && w->sym[i] == a && w->sym[i + 1] == b) {
                w->sym[o++] = c;
                i++;
            } else {
                w->sym[o++] = w->sym[i];
            }
        }
        w->n = o;
        if (count_word(tr, wi, 1, step)) return VKFT_ERR_NO_MEMORY;
    }
    return VKFT_OK;
}

/* ---- counting words ---- */

/* Earliest occurrence of any special token in s[0..len) at or after from: its start and
 * length, or len when none. */
static size_t next_special(const trainer *tr, const char *s, size_t len, size_t from,
                           size_t *slen)
{
    size_t best = len;
    for (int k = 0; k < tr->n_special; k++) {
        size_t n = strlen(tr->specials[k]);
        for (size_t i = from; n && i + n <= len && i < best; i++)
            if (s[i] == tr->specials[k][0] && !memcmp(s + i, tr->specials[k], n)) {
                if (i < best || n > *slen) *slen = n;
                best = i;
                break;
            }
    }
    return best;
}

static vkft_status count_piece(trainer *tr, tok_strmap *seen, const char *s, size_t n)
{
    int32_t wi = tok_strmap_get(seen, s, n);
    if (wi >= 0) {
        tr->words[wi].count++;
        return VKFT_OK;
    }
    word *w = realloc(tr->words, (tr->n_words + 1) * sizeof *w);
    if (!w) return VKFT_ERR_NO_MEMORY;
    tr->words = w;
    w = &tr->words[tr->n_words];
    memset(w, 0, sizeof *w);
    w->count = 1;
    w->n = (uint32_t)n;
    w->stamp = UINT32_MAX;
    if (!(w->sym = malloc(n * sizeof *w->sym))) return VKFT_ERR_NO_MEMORY;
    for (size_t i = 0; i < n; i++) w->sym[i] = (uint8_t)s[i];
    return tok_strmap_put(seen, s, n, (int32_t)tr->n_words++);
}

static vkft_status count_words(trainer *tr, const char *corpus, size_t len, vkft_err *err)
{
    static const char gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
                               "|\\s+(?!\\S)|\\s+";
    pcre2_code *re;
    vkft_status st = tok_regex_compile(gpt2, sizeof gpt2 - 1, TOK_RE_ONIG, &re, err);
    if (st) return st;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_jit_stack *js = pcre2_jit_stack_create(32 << 10, 8 << 20, NULL);
    tok_strmap seen = {0};
    if (!md || !mc || !js) st = VKFT_ERR_NO_MEMORY;
    else pcre2_jit_stack_assign(mc, NULL, js);
    tok_pattern pat = {.re = re};
    for (size_t pos = 0; pos < len && !st;) {
        size_t slen = 0, end = next_special(tr, corpus, len, pos, &slen);
        for (size_t at = pos; at < end && !st;) {  /* pieces of corpus[pos..end) */
            size_t ms, me;
            int r = tok_pattern_find(&pat, corpus + pos, end - pos, at - pos, md, mc, &ms, &me);
            if (r < 0) st = VKFT_ERR_LIMIT;
            if (r <= 0 || me == ms) break;
            st = count_piece(tr, &seen, corpus + pos + ms, me - ms);
            at = pos + me;
        }
        pos = end + slen;
    }
    tok_strmap_free(&seen);
    if (md) pcre2_match_data_free(md);
    if (mc) pcre2_match_context_free(mc);
    if (js) pcre2_jit_stack_free(js);
    pcre2_code_free(re);
    if (st == VKFT_ERR_LIMIT) return vkft_err_set(err, st, "bpe train: regex resource limit");
    if (st) return vkft_err_set(err, st, "out of memory counting the corpus");
    return VKFT_OK;
}

/* ---- output ---- */

/* A token's vocab string (its bytes through the byte-to-unicode map; never holds a NUL, byte 0
 * being U+0100), as a key or a string value. */
static void write_token(vkft_json_writer *jw, const tok_buf *b, tok_buf *tmp, bool as_key)
{
    tmp->len = 0;
    for (size_t i = 0; i < b->len; i++) {
        char c[4];
        size_t n = tok_utf8_encode(tok_byte_to_cp((uint8_t)b->p[i]), c);
        if (tok_buf_append(tmp, c, n)) {
            jw->failed = true;
            return;
        }
    }
    if (as_key) vkft_json_key(jw, tmp->p);
    else vkft_json_strn(jw, tmp->p, tmp->len);
}

static void write_bytelevel(vkft_json_writer *jw, bool prefix, bool trim)
{
    vkft_json_obj_begin(jw);
    vkft_json_key(jw, "type");
    vkft_json_str(jw, "ByteLevel");
    vkft_json_key(jw, "add_prefix_space");
    vkft_json_bool(jw, prefix);
    vkft_json_key(jw, "trim_offsets");
    vkft_json_bool(jw, trim);
    vkft_json_key(jw, "use_regex");
    vkft_json_bool(jw, true);
    vkft_json_obj_end(jw);
}

static vkft_status write_json(trainer *tr, char **out, size_t *out_len, vkft_err *err)
{
    vkft_json_writer jw;
    tok_buf tmp = {0};
    vkft_json_writer_init(&jw, 0);
    vkft_json_obj_begin(&jw);
    vkft_json_key(&jw, "version");
    vkft_json_str(&jw, "1.0");
    vkft_json_key(&jw, "truncation");
    vkft_json_null(&jw);
    vkft_json_key(&jw, "padding");
    vkft_json_null(&jw);
    vkft_json_key(&jw, "added_tokens");
    vkft_json_arr_begin(&jw);
    for (int s = 0; s < tr->n_special; s++) {
        vkft_json_obj_begin(&jw);
        vkft_json_key(&jw, "id");
        vkft_json_int(&jw, (int64_t)tr->n_tok + s);
        vkft_json_key(&jw, "content");
        vkft_json_str(&jw, tr->specials[s]);
        static const char *const flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
        for (int f = 0; f < 4; f++) {
            vkft_json_key(&jw, flags[f]);
            vkft_json_bool(&jw, false);
        }
        vkft_json_key(&jw, "special");
        vkft_json_bool(&jw, true);
        vkft_json_obj_end(&jw);
    }
    vkft_json_arr_end(&jw);
    vkft_json_key(&jw, "normalizer");
    vkft_json_null(&jw);
    vkft_json_key(&jw, "pre_tokenizer");
    write_bytelevel(&jw, false, true);
    vkft_json_key(&jw, "post_processor");
    write_bytelevel(&jw, true, false);
    vkft_json_key(&jw, "decoder");
    write_bytelevel(&jw, true, true);
    vkft_json_key(&jw, "model");
    vkft_json_obj_begin(&jw);
    static const char *const nulls[] = {"dropout", "unk_token", "continuing_subword_prefix",
                                        "end_of_word_suffix"};
    vkft_json_key(&jw, "type");
    vkft_json_str(&jw, "BPE");
    for (int k = 0; k < 4; k++) {
        vkft_json_key(&jw, nulls[k]);
        vkft_json_null(&jw);
    }
    static const char *const falses[] = {"fuse_unk", "byte_fallback", "ignore_merges"};
    for (int k = 0; k < 3; k++) {
        vkft_json_key(&jw, falses[k]);
        vkft_json_bool(&jw, false);
    }
    vkft_json_key(&jw, "vocab");
    vkft_json_obj_begin(&jw);
    for (size_t i = 0; i < tr->n_tok; i++) {
        write_token(&jw, &tr->tok[i], &tmp, true);
        vkft_json_int(&jw, (int64_t)i);
    }
    vkft_json_obj_end(&jw);
    vkft_json_key(&jw, "merges");
    vkft_json_arr_begin(&jw);
    for (size_t m = 0; m < tr->n_merges; m++) {
        vkft_json_arr_begin(&jw);
        write_token(&jw, &tr->tok[tr->merges[m][0]], &tmp, false);
        write_token(&jw, &tr->tok[tr->merges[m][1]], &tmp, false);
        vkft_json_arr_end(&jw);
    }
    vkft_json_arr_end(&jw);
    vkft_json_obj_end(&jw);
    vkft_json_obj_end(&jw);
    free(tmp.p);
    return vkft_json_writer_finish(&jw, out, out_len, err);
}

/* ---- training ---- */

static void trainer_free(trainer *tr)
{
    for (size_t i = 0; i < tr->n_words; i++) free(tr->words[i].sym);
    free(tr->words);
    for (size_t i = 0; i < tr->n_tok; i++) free(tr->tok[i].p);
    free(tr->tok);
    tok_strmap_free(&tr->tok_map);
    for (size_t i = 0; i < tr->n_pairs; i++) free(tr->pairs[i].words);
    free(tr->pairs);
    tok_mergemap_free(&tr->pair_map);
    free(tr->heap);
    free(tr->heap_cnt);
    free(tr->changed);
    free(tr->merges);
}

static vkft_status train(trainer *tr, size_t target, vkft_err *err)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        int32_t id;
        if (add_token(tr, &c, 1, &id)) goto oom;
    }
    for (size_t w = 0; w < tr->n_words; w++)
        if (count_word(tr, (uint32_t)w, 1, 0)) goto oom;
    if (flush_changed(tr)) goto oom;
    tok_buf joined = {0};
    for (uint32_t step = 1; tr->n_tok < target && tr->heap_n; step++) {
        int64_t cnt;
        uint32_t pi = heap_pop(tr, &cnt);
        if (cnt != tr->pairs[pi].count || cnt <= 0) continue;  /* stale */
        int32_t a = tr->pairs[pi].a, b = tr->pairs[pi].b, c;
        joined.len = 0;
        if (tok_buf_append(&joined, tr->tok[a].p, tr->tok[a].len) ||
            tok_buf_append(&joined, tr->tok[b].p, tr->tok[b].len))
            goto oom_j;
        c = tok_strmap_get(&tr->tok_map, joined.p, joined.len);
        if (c < 0 && add_token(tr, joined.p, joined.len, &c)) goto oom_j;
        if (tr->n_merges == tr->cap_merges) {
            size_t cap = tr->cap_merges ? 2 * tr->cap_merges : 1024;
            int32_t(*m)[2] = realloc(tr->merges, cap * sizeof *m);
            if (!m) goto oom_j;
            tr->merges = m;
            tr->cap_merges = cap;
        }
        tr->merges[tr->n_merges][0] = a;
        tr->merges[tr->n_merges++][1] = b;
        if (apply_merge(tr, pi, c, step) || flush_changed(tr)) goto oom_j;
    }
    free(joined.p);
    return VKFT_OK;
oom_j:
    free(joined.p);
oom:
    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory training BPE");
}

vkft_status vkft_bpe_train_bytelevel(const char *corpus, size_t len, int vocab_size,
                                     const char *const *special_tokens, int n_special,
                                     char **json_out, size_t *json_len, vkft_err *err)
{
    *json_out = NULL;
    if (json_len) *json_len = 0;
    if ((!corpus && len) || n_special < 0 || (n_special && !special_tokens))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "bpe train: bad arguments");
    if (vocab_size < 256 + n_special)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "bpe train: vocab_size %d is below the "
                            "256 byte tokens + %d special tokens", vocab_size, n_special);
    for (int i = 0; i < n_special; i++) {
        if (!special_tokens[i] || !special_tokens[i][0])
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "bpe train: special token %d is "
                                "empty", i);
        if (tok_utf8_valid_prefix(special_tokens[i], strlen(special_tokens[i])) !=
            strlen(special_tokens[i]))
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "bpe train: special token %d is not "
                                "valid UTF-8", i);
        for (int k = 0; k < i; k++)
            if (!strcmp(special_tokens[i], special_tokens[k]))
                return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "bpe train: special token '%s' "
                                    "is repeated", special_tokens[i]);
    }
    trainer tr = {0};
    tr.specials = special_tokens;
    tr.n_special = n_special;
    vkft_status st = count_words(&tr, corpus ? corpus : "", len, err);
    if (!st) st = train(&tr, (size_t)(vocab_size - n_special), err);
    if (!st) st = write_json(&tr, json_out, json_len, err);
    trainer_free(&tr);
    return st;
}
