/*
 * The BPE model on one piece: initial symbols, then merges by rank, as HF's BPE::merge_word.
 *
 * Initial symbols: one per char (per byte when the piece is byte-level mapped), looked up with
 * continuing_subword_prefix on all but the first and end_of_word_suffix on the last. A char
 * not in the vocab becomes its <0xNN> byte tokens (byte_fallback, when all exist), else the
 * unk token (consecutive unknowns fused into one with fuse_unk), else it is dropped - all as
 * HF does.
 *
 * Merging: repeatedly merge the adjacent pair with the lowest rank, the leftmost on ties.
 * Long pieces use a binary heap of (rank, position) with lazy deletion: an entry is stale when
 * the pair now at its position has another rank (a pair's rank identifies the pair, so this is
 * exact). Short pieces (the common case) scan for the best pair instead; both orders are the
 * same total order, so the results are identical.
 *
 * Results of pieces up to TOK_CACHE_MAX_WORD bytes go to the word cache; ignore_merges
 * (Llama 3) first looks the whole piece up in the vocab.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define SCAN_MAX 24   /* pieces with at most this many symbols merge by scanning */

static vkft_status reserve_syms(tok_work *w, size_t n)
{
    if (n <= w->sym_cap) return VKFT_OK;
    size_t cap = w->sym_cap ? w->sym_cap : 64;
    while (cap < n) cap *= 2;
    int32_t *id = realloc(w->sym_id, cap * sizeof *id);
    if (id) w->sym_id = id;
    int32_t *prev = realloc(w->sym_prev, cap * sizeof *prev);
    if (prev) w->sym_prev = prev;
    int32_t *next = realloc(w->sym_next, cap * sizeof *next);
    if (next) w->sym_next = next;
    uint64_t *heap = realloc(w->heap, 3 * cap * sizeof *heap);  /* pushes <= 3n */
    if (heap) w->heap = heap;
    if (!id || !prev || !next || !heap) return VKFT_ERR_NO_MEMORY;
    w->sym_cap = cap;
    return VKFT_OK;
}

/* ---- initial symbols ---- */

typedef struct sym_builder {
    tok_work *w;
    size_t n;
    bool pending_unk;
} sym_builder;

static void add_sym(sym_builder *b, int32_t id)
{
    b->w->sym_id[b->n++] = id;
}

static void flush_unk(const vkft_tokenizer *t, sym_builder *b)
{
    if (b->pending_unk) add_sym(b, t->unk_id);
    b->pending_unk = false;
}

/* A char (ch, as it appears in the vocab) without a token of its own. */
static void unknown_char(const vkft_tokenizer *t, sym_builder *b, const char *ch, size_t len)
{
    if (t->byte_fallback) {
        bool all = true;
        for (size_t i = 0; i < len; i++) all = all && t->fallback_ids[(uint8_t)ch[i]] >= 0;
        if (all) {
            /* HF adds the bytes without first flushing a pending unk. */
            for (size_t i = 0; i < len; i++) add_sym(b, t->fallback_ids[(uint8_t)ch[i]]);
            return;
        }
    }
    if (t->unk_id < 0) return;   /* no unk token: the char is dropped */
    if (b->pending_unk && !t->fuse_unk) add_sym(b, t->unk_id);
    b->pending_unk = true;
}

/* Looks up prefix? + ch + suffix? (the slow path, for models with affixes or non-ASCII). */
static int32_t lookup_char(const vkft_tokenizer *t, tok_work *w, const char *ch, size_t len,
                           bool first, bool last, const char **full, size_t *full_len)
{
    bool pre = !first && t->prefix_len, suf = last && t->suffix_len;
    if (!pre && !suf) {
        *full = ch;
        *full_len = len;
        if (len == 1 && (uint8_t)ch[0] < 128) return t->ascii_ids[(uint8_t)ch[0]];
        return tok_strmap_get(&t->vocab, ch, len);
    }
    w->key.len = 0;
    if ((pre && tok_buf_append(&w->key, t->subword_prefix, t->prefix_len)) ||
        tok_buf_append(&w->key, ch, len) ||
        (suf && tok_buf_append(&w->key, t->word_suffix, t->suffix_len)))
        return -2;
    *full = w->key.p;
    *full_len = w->key.len;
    return tok_strmap_get(&t->vocab, w->key.p, w->key.len);
}

static vkft_status build_symbols(const vkft_tokenizer *t, tok_work *w, const char *s,
                                 size_t len, bool mapped, size_t *n_out)
{
    sym_builder b = {w, 0, false};
    bool affixes = t->prefix_len || t->suffix_len;
    for (size_t i = 0; i < len;) {
        char buf[4];
        const char *ch = s + i;
        size_t clen;
        int32_t id;
        if (mapped) {
            clen = 1;
            id = affixes ? -1 : t->byte_ids[(uint8_t)s[i]];
            if (id < 0) {
                /* the char standing for this byte, looked up the slow way */
                clen = tok_utf8_encode(tok_byte_to_cp((uint8_t)s[i]), buf);
                ch = buf;
            }
        } else {
            uint32_t cp;
            clen = tok_utf8_decode(s + i, len - i, &cp);
            if (!clen) clen = 1;   /* cannot happen: pieces are valid UTF-8 */
            id = -1;
        }
        size_t adv = mapped ? 1 : clen;
        if (id < 0) {
            const char *full;
            size_t full_len;
            id = lookup_char(t, w, ch, clen, i == 0, i + adv == len, &full, &full_len);
            if (id == -2) return VKFT_ERR_NO_MEMORY;
            if (id < 0) {
                unknown_char(t, &b, full, full_len);
                i += adv;
                continue;
            }
        }
        flush_unk(t, &b);
        add_sym(&b, id);
        i += adv;
    }
    flush_unk(t, &b);
    *n_out = b.n;
    return VKFT_OK;
}

/* ---- merging ---- */

static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

/* Merges symbol pos with its next symbol into merged. */
static void merge_at(tok_work *w, int32_t pos, int32_t merged)
{
    int32_t nx = w->sym_next[pos], nn = w->sym_next[nx];
    w->sym_id[pos] = merged;
    w->sym_id[nx] = -1;
    w->sym_next[pos] = nn;
    if (nn >= 0) w->sym_prev[nn] = pos;
}

static void merge_scan(const vkft_tokenizer *t, tok_work *w)
{
    for (;;) {
        uint32_t best_rank = UINT32_MAX, rank;
        int32_t best_pos = -1, best_new = -1, merged;
        for (int32_t p = 0; w->sym_next[p] >= 0; p = w->sym_next[p]) {
            if (tok_mergemap_get(&t->merges, w->sym_id[p], w->sym_id[w->sym_next[p]], &rank,
                                 &merged) && rank < best_rank) {
                best_rank = rank;
                best_pos = p;
                best_new = merged;
            }
        }
        if (best_pos < 0) return;
        merge_at(w, best_pos, best_new);
    }
}

static void merge_heap(const vkft_tokenizer *t, tok_work *w, size_t n)
{
    size_t hn = 0;
    uint32_t rank;
    int32_t merged;
    for (size_t p = 0; p + 1 < n; p++)
        if (tok_mergemap_get(&t->merges, w->sym_id[p], w->sym_id[p + 1], &rank, &merged))
            heap_push(w->heap, &hn, (uint64_t)rank << 32 | p);
    while (hn) {
        uint64_t top = heap_pop(w->heap, &hn);
        int32_t pos = (int32_t)(uint32_t)top, nx;
        if (w->sym_id[pos] < 0 || (nx = w->sym_next[pos]) < 0) continue;
        if (!tok_mergemap_get(&t->merges, w->sym_id[pos], w->sym_id[nx], &rank, &merged) ||
            rank != (uint32_t)(top >> 32))
            continue;  /* stale */
        merge_at(w, pos, merged);
        int32_t pv = w->sym_prev[pos];
        if (pv >= 0 && tok_mergemap_get(&t->merges, w->sym_id[pv], w->sym_id[pos], &rank,
                                        &merged))
            heap_push(w->heap, &hn, (uint64_t)rank << 32 | (uint32_t)pv);
        nx = w->sym_next[pos];
        if (nx >= 0 && tok_mergemap_get(&t->merges, w->sym_id[pos], w->sym_id[nx], &rank,
                                        &merged))
            heap_push(w->heap, &hn, (uint64_t)rank << 32 | (uint32_t)pos);
    }
}

vkft_status tok_bpe_piece(const vkft_tokenizer *t, tok_work *w, const char *s, size_t len,
                          bool mapped, vkft_ids *out, vkft_err *err)
{
    if (!len) return VKFT_OK;
    size_t n0 = out->n;
    bool cacheable = len <= TOK_CACHE_MAX_WORD;
    if (cacheable) {
        int r = tok_cache_get(&w->cache, s, len, mapped, out);
        if (r > 0) return VKFT_OK;
        if (r < 0) goto oom;
    }
    if (t->ignore_merges) {
        const char *key = s;
        size_t klen = len;
        if (mapped) {
            w->key.len = 0;
            if (tok_buf_reserve(&w->key, 2 * len)) goto oom;
            for (size_t i = 0; i < len; i++)
                w->key.len += tok_utf8_encode(tok_byte_to_cp((uint8_t)s[i]),
                                              w->key.p + w->key.len);
            key = w->key.p;
            klen = w->key.len;
        }
        int32_t id = tok_strmap_get(&t->vocab, key, klen);
        if (id >= 0) {
            if (vkft_ids_push(out, id, err)) return VKFT_ERR_NO_MEMORY;
            goto done;
        }
    }
    /* at most one symbol per byte (a char is one token, one unk or one token per byte) */
    if (len >= INT32_MAX)
        return vkft_err_set(err, VKFT_ERR_LIMIT, "a %zu-byte piece is too long", len);
    if (reserve_syms(w, len + 1)) goto oom;
    size_t n;
    if (build_symbols(t, w, s, len, mapped, &n)) goto oom;
    if (!n) goto done;
    for (size_t i = 0; i < n; i++) {
        w->sym_prev[i] = (int32_t)i - 1;
        w->sym_next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    if (n <= SCAN_MAX) merge_scan(t, w);
    else merge_heap(t, w, n);
    size_t count = 0;
    for (int32_t p = 0; p >= 0; p = w->sym_next[p]) count++;
    if (out->n + count > out->cap) {
        size_t cap = out->cap ? out->cap : 64;
        while (cap < out->n + count) cap *= 2;
        int32_t *v = realloc(out->v, cap * sizeof *v);
        if (!v) goto oom;
        out->v = v;
        out->cap = cap;
    }
    for (int32_t p = 0; p >= 0; p = w->sym_next[p]) out->v[out->n++] = w->sym_id[p];
done:
    if (cacheable) tok_cache_put(&w->cache, s, len, mapped, out->v + n0, out->n - n0);
    return VKFT_OK;
oom:
    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory encoding a %zu-byte piece",
                        len);
}
