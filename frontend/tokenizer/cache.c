/*
 * The word cache: piece bytes (+ a flag: byte-level mapped or not) -> token ids.
 *
 * One cache per tok_work (the scratch an encode call borrows from the tokenizer's pool), so a
 * thread never shares it and no lock is taken. It holds up to SLOTS / 2 entries in DATA_BYTES
 * of data; when either is full it is emptied and starts over (cheap, and a hot vocabulary
 * refills it at once). An entry in the data block: u16 key length, u8 flag, u8 unused, u32 id
 * count, the key, padding to 4, the ids.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define SLOTS 16384                 /* power of two */
#define DATA_BYTES (1u << 20)

void tok_cache_free(tok_cache *c)
{
    free(c->hashes);
    free(c->offs);
    free(c->data);
    memset(c, 0, sizeof *c);
}

static uint64_t key_hash(const char *key, size_t len, uint8_t flag)
{
    return (tok_hash(key, len) ^ (uint64_t)flag * 0x9e3779b97f4a7c15ull) | 1;
}

static size_t entry_size(size_t klen, size_t n)
{
    return 8 + ((klen + 3) & ~(size_t)3) + 4 * n;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const tok_cache *c, uint64_t h, const char *key, size_t len,
                        uint8_t flag, bool *found)
{
    size_t mask = SLOTS - 1, i = (size_t)(h >> 7) & mask;
    for (;; i = (i + 1) & mask) {
        if (!c->hashes[i]) {
            *found = false;
            return i;
        }
        if (c->hashes[i] != h) continue;
        const char *e = c->data + c->offs[i];
        uint16_t klen;
        memcpy(&klen, e, 2);
        if (klen == len && (uint8_t)e[2] == flag && !memcmp(e + 8, key, len)) {
            *found = true;
            return i;
        }
    }
}

int tok_cache_get(tok_cache *c, const char *key, size_t len, uint8_t flag, vkft_ids *out)
{
    if (!c->hashes || len > TOK_CACHE_MAX_WORD) return 0;
    bool found;
    size_t i = find_slot(c, key_hash(key, len, flag), key, len, flag, &found);
    if (!found) return 0;
    const char *e = c->data + c->offs[i];
    uint32_t n;
    memcpy(&n, e + 4, 4);
    if (out->n + n > out->cap) {
        size_t cap = out->cap ? out->cap : 64;
        while (cap < out->n + n) cap *= 2;
        int32_t *v = realloc(out->v, cap * sizeof *v);
        if (!v) return -1;
        out->v = v;
        out->cap = cap;
    }
    memcpy(out->v + out->n, e + 8 + ((len + 3) & ~(size_t)3), 4 * (size_t)n);
    out->n += n;
    return 1;
}

void tok_cache_put(tok_cache *c, const char *key, size_t len, uint8_t flag, const int32_t *ids,
                   size_t n)
{
    size_t need = entry_size(len, n);
    if (len > TOK_CACHE_MAX_WORD || need > DATA_BYTES) return;
    if (!c->hashes) {
        c->hashes = calloc(SLOTS, sizeof *c->hashes);
        c->offs = malloc(SLOTS * sizeof *c->offs);
        c->data = malloc(DATA_BYTES);
        if (!c->hashes || !c->offs || !c->data) {
            tok_cache_free(c);
            return;
        }
    }
    if (c->n >= SLOTS / 2 || c->data_len + need > DATA_BYTES) {  /* full: start over */
        memset(c->hashes, 0, SLOTS * sizeof *c->hashes);
        c->n = 0;
        c->data_len = 0;
    }
    uint64_t h = key_hash(key, len, flag);
    bool found;
    size_t i = find_slot(c, h, key, len, flag, &found);
    if (found) return;
    char *e = c->data + c->data_len;
    uint16_t klen = (uint16_t)len;
    uint32_t cnt = (uint32_t)n;
    memcpy(e, &klen, 2);
    e[2] = (char)flag;
    e[3] = 0;
    memcpy(e + 4, &cnt, 4);
    memcpy(e + 8, key, len);
    memcpy(e + 8 + ((len + 3) & ~(size_t)3), ids, 4 * n);
    c->hashes[i] = h;
    c->offs[i] = (uint32_t)c->data_len;
    c->data_len += need;
    c->n++;
}
