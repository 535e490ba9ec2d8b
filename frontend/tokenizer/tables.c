/*
 * Tokenizer tables: a byte hash, the string->id map (vocab, added tokens), the pair->merge map,
 * growable buffers, and the byte trie that finds added tokens (leftmost-longest, like HF's
 * Aho-Corasick with MatchKind::LeftmostLongest).
 *
 * Maps use open addressing with linear probing at <= 50% load, capacity a power of two.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

uint64_t tok_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ (v * 0xc2b2ae3d27d4eb4full)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 31;
        p += 8;
        len -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) v |= (uint64_t)p[i] << (8 * i);
    h = (h ^ (v * 0xc2b2ae3d27d4eb4full)) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* ---- string map ---- */

static vkft_status strmap_grow(tok_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    tok_strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return VKFT_ERR_NO_MEMORY;
    for (size_t i = 0; i < m->cap; i++) {
        const tok_strmap_slot *s = &m->slots[i];
        if (!s->key) continue;
        size_t j = (size_t)s->hash & (cap - 1);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return VKFT_OK;
}

vkft_status tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val)
{
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m) != VKFT_OK) return VKFT_ERR_NO_MEMORY;
    uint64_t h = tok_hash(key, len);
    size_t i = (size_t)h & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        tok_strmap_slot *s = &m->slots[i];
        if (!s->key) {
            s->key = key;
            s->len = (uint32_t)len;
            s->val = val;
            s->hash = h;
            m->n++;
            return VKFT_OK;
        }
        if (s->hash == h && s->len == len && !memcmp(s->key, key, len)) {
            s->val = val;
            return VKFT_OK;
        }
    }
}

int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len)
{
    if (!m->cap) return -1;
    uint64_t h = tok_hash(key, len);
    size_t i = (size_t)h & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        const tok_strmap_slot *s = &m->slots[i];
        if (!s->key) return -1;
        if (s->hash == h && s->len == len && !memcmp(s->key, key, len)) return s->val;
    }
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- merge map ---- */


static vkft_status mergemap_grow(tok_mergemap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *rank = malloc(cap * sizeof *rank);
    int32_t *merged = malloc(cap * sizeof *merged);
    if (!keys || !rank || !merged) {
        free(keys);
        free(rank);
        free(merged);
        return VKFT_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = tok_pair_slot(m->keys[i], cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        rank[j] = m->rank[i];
        merged[j] = m->merged[i];
    }
    free(m->keys);
    free(m->rank);
    free(m->merged);
    m->keys = keys;
    m->rank = rank;
    m->merged = merged;
    m->cap = cap;
    return VKFT_OK;
}

vkft_status tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t merged)
{
    if ((m->n + 1) * 2 > m->cap && mergemap_grow(m) != VKFT_OK) return VKFT_ERR_NO_MEMORY;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t i = tok_pair_slot(key, m->cap - 1);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->n++;
    /* A repeated pair keeps its last rank, as HF's map built from the merge list does. */
    m->keys[i] = key;
    m->rank[i] = rank;
    m->merged[i] = merged;
    return VKFT_OK;
}

void tok_mergemap_free(tok_mergemap *m)
{
    free(m->keys);
    free(m->rank);
    free(m->merged);
    memset(m, 0, sizeof *m);
}

/* ---- buffers ---- */

vkft_status tok_buf_reserve(tok_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return VKFT_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return VKFT_ERR_NO_MEMORY;
    b->p = p;
    b->cap = cap;
    return VKFT_OK;
}

vkft_status tok_buf_append(tok_buf *b, const void *data, size_t n)
{
    if (tok_buf_reserve(b, n) != VKFT_OK) return VKFT_ERR_NO_MEMORY;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return VKFT_OK;
}

/* ---- trie ---- */

static const char *edge_key(const tok_trie *tr, size_t e)
{
    return tr->edge_keys + 5 * e;
}

static int32_t trie_child(const tok_trie *tr, int32_t node, uint8_t byte)
{
    char key[5];
    memcpy(key, &node, 4);
    key[4] = (char)byte;
    return tok_strmap_get(&tr->edges, key, 5);
}

vkft_status tok_trie_build(tok_trie *tr, const tok_added *added, size_t n, bool normalized)
{
    memset(tr, 0, sizeof *tr);
    size_t max_nodes = 1, max_edges = 0;
    for (size_t i = 0; i < n; i++)
        if (added[i].normalized == normalized) {
            max_nodes += added[i].len;
            max_edges += added[i].len;
        }
    tr->node_token = malloc(max_nodes * sizeof *tr->node_token);
    tr->edge_keys = malloc(max_edges * 5 + 1);
    if (!tr->node_token || !tr->edge_keys) goto oom;
    tr->node_token[0] = -1;
    tr->n_nodes = 1;
    for (size_t i = 0; i < n; i++) {
        if (added[i].normalized != normalized || !added[i].len) continue;
        int32_t node = 0;
        for (size_t k = 0; k < added[i].len; k++) {
            uint8_t byte = (uint8_t)added[i].content[k];
            int32_t child = trie_child(tr, node, byte);
            if (child < 0) {
                child = (int32_t)tr->n_nodes++;
                tr->node_token[child] = -1;
                char *key = tr->edge_keys + 5 * tr->n_edges;
                memcpy(key, &node, 4);
                key[4] = (char)byte;
                if (tok_strmap_put(&tr->edges, edge_key(tr, tr->n_edges), 5, child) != VKFT_OK)
                    goto oom;
                tr->n_edges++;
            }
            node = child;
        }
        /* The same content twice: the later entry wins, as in HF's map. */
        tr->node_token[node] = (int32_t)i;
        tr->first_byte[(uint8_t)added[i].content[0]] = true;
    }
    return VKFT_OK;
oom:
    tok_trie_free(tr);
    return VKFT_ERR_NO_MEMORY;
}

int32_t tok_trie_longest(const tok_trie *tr, const char *s, size_t len, size_t *mlen)
{
    if (!tr->n_nodes || !len || !tr->first_byte[(uint8_t)s[0]]) return -1;
    int32_t node = 0, best = -1;
    for (size_t k = 0; k < len; k++) {
        node = trie_child(tr, node, (uint8_t)s[k]);
        if (node < 0) break;
        if (tr->node_token[node] >= 0) {
            best = tr->node_token[node];
            *mlen = k + 1;
        }
    }
    return best;
}

void tok_trie_free(tok_trie *tr)
{
    tok_strmap_free(&tr->edges);
    free(tr->node_token);
    free(tr->edge_keys);
    memset(tr, 0, sizeof *tr);
}
