/*
 * The word cache: piece bytes (+ a flag: byte-level mapped or not) -> token ids.
 *
 * Several threads may encode with one tokenizer, so the cache is split into shards by hash,
 * each with its own mutex; a lookup copies the ids out under the lock. A shard holds up to
 * SHARD_ENTRIES entries in SHARD_BYTES of data; when either is full the shard is emptied and
 * starts over (cheap, and a hot vocabulary refills it at once). Entries in the data block:
 * u16 key length, u8 flag, u8 unused, u32 id count, the key, padding to 4, the ids.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define SHARD_SLOTS 4096                /* power of two */
#define SHARD_ENTRIES (SHARD_SLOTS / 2)
#define SHARD_BYTES (256u << 10)

vkft_status tok_cache_init(tok_cache *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < TOK_CACHE_SHARDS; i++) {
        tok_cache_shard *s = &c->shard[i];
        if (pthread_mutex_init(&s->lock, NULL)) {
            for (int k = 0; k < i; k++) pthread_mutex_destroy(&c->shard[k].lock);
            return VKFT_ERR_NO_MEMORY;
        }
        s->cap = SHARD_SLOTS;
    }
    c->ready = true;
    return VKFT_OK;
}

void tok_cache_free(tok_cache *c)
{
    if (!c->ready) return;
    for (int i = 0; i < TOK_CACHE_SHARDS; i++) {
        tok_cache_shard *s = &c->shard[i];
        pthread_mutex_destroy(&s->lock);
        free(s->hashes);
        free(s->offs);
        free(s->data);
    }
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
static size_t find_slot(const tok_cache_shard *s, uint64_t h, const char *key, size_t len,
                        uint8_t flag, bool *found)
{
    size_t mask = s->cap - 1, i = (size_t)(h >> 4) & mask;
    for (;; i = (i + 1) & mask) {
        if (!s->hashes[i]) {
            *found = false;
            return i;
        }
        if (s->hashes[i] != h) continue;
        const char *e = s->data + s->offs[i];
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
    if (!c->ready || len > TOK_CACHE_MAX_WORD) return 0;
    uint64_t h = key_hash(key, len, flag);
    tok_cache_shard *s = &c->shard[h & (TOK_CACHE_SHARDS - 1)];
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (s->hashes) {
        bool found;
        size_t i = find_slot(s, h, key, len, flag, &found);
        if (found) {
            const char *e = s->data + s->offs[i];
            uint32_t n;
            memcpy(&n, e + 4, 4);
            const char *ids = e + 8 + ((len + 3) & ~(size_t)3);
            if (out->n + n > out->cap) {
                size_t cap = out->cap ? out->cap : 64;
                while (cap < out->n + n) cap *= 2;
                int32_t *v = realloc(out->v, cap * sizeof *v);
                if (v) {
                    out->v = v;
                    out->cap = cap;
                }
            }
            if (out->n + n > out->cap) {
                rc = -1;
            } else {
                memcpy(out->v + out->n, ids, 4 * (size_t)n);
                out->n += n;
                rc = 1;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void tok_cache_put(tok_cache *c, const char *key, size_t len, uint8_t flag, const int32_t *ids,
                   size_t n)
{
    if (!c->ready || len > TOK_CACHE_MAX_WORD || n > 4 * TOK_CACHE_MAX_WORD) return;
    uint64_t h = key_hash(key, len, flag);
    tok_cache_shard *s = &c->shard[h & (TOK_CACHE_SHARDS - 1)];
    size_t need = entry_size(len, n);
    pthread_mutex_lock(&s->lock);
    if (!s->hashes) {
        s->hashes = calloc(s->cap, sizeof *s->hashes);
        s->offs = malloc(s->cap * sizeof *s->offs);
        s->data = malloc(SHARD_BYTES);
        if (!s->hashes || !s->offs || !s->data) {
            free(s->hashes);
            free(s->offs);
            free(s->data);
            s->hashes = NULL;
            s->offs = NULL;
            s->data = NULL;
            goto out;
        }
        s->data_cap = SHARD_BYTES;
    }
    if (s->n >= SHARD_ENTRIES || s->data_len + need > s->data_cap) {  /* full: start over */
        memset(s->hashes, 0, s->cap * sizeof *s->hashes);
        s->n = 0;
        s->data_len = 0;
    }
    bool found;
    size_t i = find_slot(s, h, key, len, flag, &found);
    if (found) goto out;  /* another thread stored it meanwhile */
    char *e = s->data + s->data_len;
    uint16_t klen = (uint16_t)len;
    uint32_t cnt = (uint32_t)n;
    memcpy(e, &klen, 2);
    e[2] = (char)flag;
    e[3] = 0;
    memcpy(e + 4, &cnt, 4);
    memcpy(e + 8, key, len);
    memcpy(e + 8 + ((len + 3) & ~(size_t)3), ids, 4 * n);
    s->hashes[i] = h;
    s->offs[i] = (uint32_t)s->data_len;
    s->data_len += need;
    s->n++;
out:
    pthread_mutex_unlock(&s->lock);
}
