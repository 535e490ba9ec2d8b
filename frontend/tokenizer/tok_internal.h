/*
 * Tokenizer internals shared by the files of frontend/tokenizer (not a public header).
 *
 * A vkft_tokenizer is built once by load.c and then only read, apart from a mutex-guarded
 * pool of scratch tok_work (each with its word cache) that encode calls borrow. The encode
 * pipeline mirrors Hugging Face tokenizers:
 *
 *   text ─▶ split out non-normalized added tokens ─▶ normalizers ─▶ split out normalized added
 *   tokens ─▶ pre-tokenizers (pieces) ─▶ BPE per piece (word cache) ─▶ post-processor ids
 *
 * and decode runs the decoder chain over the token strings (decode.c).
 */
#ifndef VKFT_TOK_INTERNAL_H
#define VKFT_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/tokenizer.h"
#include "util/json.h"

/* ---- hash maps (tables.c) ---- */

uint64_t tok_hash(const void *data, size_t len);

/* string -> int32, open addressing; keys point into memory owned elsewhere (the tokenizer's
 * arena). */
typedef struct tok_strmap_slot {
    const char *key;
    uint32_t len;
    int32_t val;
    uint64_t hash;
} tok_strmap_slot;
typedef struct tok_strmap {
    tok_strmap_slot *slots;     /* cap slots, key == NULL when empty */
    size_t cap, n;
} tok_strmap;
/* Inserts or overwrites. Fails only with VKFT_ERR_NO_MEMORY (map unchanged). */
vkft_status tok_strmap_put(tok_strmap *m, const char *key, size_t len, int32_t val);
/* The value for key, or -1. */
int32_t tok_strmap_get(const tok_strmap *m, const char *key, size_t len);
void tok_strmap_free(tok_strmap *m);

/* (left id, right id) -> (rank, merged id). */
typedef struct tok_mergemap {
    uint64_t *keys;             /* (left << 32 | right) + 1; 0 = empty */
    uint32_t *rank;
    int32_t *merged;
    size_t cap, n;
} tok_mergemap;
vkft_status tok_mergemap_put(tok_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t merged);
/* The home slot of a pair key: the high half of the product folded into the low half, so both
 * ids reach the low bits. */
static inline size_t tok_pair_slot(uint64_t key, size_t mask)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 32)) & mask;
}
/* Returns false when the pair has no merge. */
static inline bool tok_mergemap_get(const tok_mergemap *m, int32_t a, int32_t b, uint32_t *rank,
                                    int32_t *merged)
{
    if (!m->cap) return false;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t mask = m->cap - 1, i = tok_pair_slot(key, mask);
    for (;; i = (i + 1) & mask) {
        if (m->keys[i] == key) {
            *rank = m->rank[i];
            *merged = m->merged[i];
            return true;
        }
        if (!m->keys[i]) return false;
    }
}
void tok_mergemap_free(tok_mergemap *m);

/* A byte trie over added tokens for leftmost-longest matching. */
typedef struct tok_trie {
    tok_strmap edges;           /* key: 5 bytes (node index LE32, byte) -> child node */
    int32_t *node_token;        /* per node: index into the added-token array, or -1 */
    char *edge_keys;            /* 5 bytes per edge */
    size_t n_nodes, n_edges;
    bool first_byte[256];       /* bytes that start some token */
} tok_trie;

/* ---- Unicode (unicode.c, nfc.c) ---- */

/* Decodes one UTF-8 char at s[0..len) (len >= 1); returns its length, or 0 when ill-formed. */
size_t tok_utf8_decode(const char *s, size_t len, uint32_t *cp);
size_t tok_utf8_encode(uint32_t cp, char out[4]);
/* Length of the well-formed prefix of s. */
size_t tok_utf8_valid_prefix(const char *s, size_t len);
/* Appends s to *buf, replacing each maximal ill-formed subpart with U+FFFD (Rust's
 * from_utf8_lossy). buf/len/cap describe a growable buffer. */
vkft_status tok_utf8_lossy_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
bool tok_is_space(uint32_t cp);        /* Unicode White_Space (Rust's char::is_whitespace) */
/* GPT-2's byte-to-unicode map: the code point standing for byte b, and back (-1: none). */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);
/* NFC lookup tables for the Basic Multilingual Plane (built by tok_nfc_tables_new for
 * tokenizers with an NFC normalizer; other planes use the sorted tables directly). */
typedef struct tok_nfc_tables {
    uint8_t maybe[0x10000 / 8];  /* bit: NFC may change or combine this char */
    uint8_t ccc[0x10000];        /* canonical combining class */
} tok_nfc_tables;
tok_nfc_tables *tok_nfc_tables_new(void);   /* NULL when out of memory; free() it */
/* NFC: writes the normalized form of s to a malloc'd *out (NULL with *out_len 0 when s is
 * already NFC, so callers can keep s). */
vkft_status tok_nfc(const tok_nfc_tables *tab, const char *s, size_t len, char **out,
                    size_t *out_len);

/* A growable byte buffer. */
typedef struct tok_buf {
    char *p;
    size_t len, cap;
} tok_buf;
vkft_status tok_buf_reserve(tok_buf *b, size_t extra);
vkft_status tok_buf_append(tok_buf *b, const void *data, size_t n);

/* ---- components ---- */

typedef enum tok_norm_kind {
    TOK_NORM_PREPEND, TOK_NORM_REPLACE, TOK_NORM_NFC, TOK_NORM_STRIP,
} tok_norm_kind;
typedef struct tok_pattern {     /* Split / Replace patterns: a literal or a regex */
    char *lit;                  /* literal (NULL for a regex) */
    size_t lit_len;
    pcre2_code *re;
} tok_pattern;
typedef struct tok_normalizer {
    tok_norm_kind kind;
    char *str;                  /* PREPEND: prefix; REPLACE: content */
    size_t str_len;
    tok_pattern pat;            /* REPLACE */
    bool left, right;           /* STRIP */
} tok_normalizer;

typedef enum tok_split_behavior {
    TOK_SPLIT_REMOVED, TOK_SPLIT_ISOLATED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS,
} tok_split_behavior;
typedef enum tok_pretok_kind {
    TOK_PRE_BYTELEVEL, TOK_PRE_SPLIT, TOK_PRE_METASPACE,
} tok_pretok_kind;
typedef enum tok_prepend_scheme { TOK_PREPEND_ALWAYS, TOK_PREPEND_FIRST, TOK_PREPEND_NEVER }
    tok_prepend_scheme;
typedef struct tok_pretok {
    tok_pretok_kind kind;
    tok_pattern pat;            /* SPLIT (ByteLevel with use_regex uses t->gpt2_re) */
    tok_split_behavior behavior;
    bool invert;                /* SPLIT */
    bool add_prefix_space, use_regex;  /* BYTELEVEL */
    char repl[5];               /* METASPACE: the replacement char as UTF-8 */
    size_t repl_len;
    tok_prepend_scheme scheme;
    bool split;                 /* METASPACE */
} tok_pretok;

typedef enum tok_dec_kind {
    TOK_DEC_BYTELEVEL, TOK_DEC_REPLACE, TOK_DEC_BYTEFALLBACK, TOK_DEC_FUSE, TOK_DEC_STRIP,
    TOK_DEC_METASPACE,
} tok_dec_kind;
typedef struct tok_decoder {
    tok_dec_kind kind;
    tok_pattern pat;            /* REPLACE */
    char *str;                  /* REPLACE: content; STRIP: the char (UTF-8) */
    size_t str_len;
    size_t start, stop;         /* STRIP */
    uint32_t repl_cp;           /* METASPACE */
    tok_prepend_scheme scheme;
} tok_decoder;

typedef struct tok_added {
    const char *content;        /* in the arena */
    size_t len;
    int32_t id;
    bool special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* ---- the word cache (cache.c) ---- */

/* Piece bytes (+ a flag) -> ids. Each tok_work owns one, so no locks: threads that encode at
 * once use different tok_work (and so different caches), like HF's thread-local caches. */
#define TOK_CACHE_MAX_WORD 255    /* longer pieces are not cached (like HF's MAX_LENGTH) */
typedef struct tok_cache {
    uint64_t *hashes;           /* per slot; 0 = empty */
    uint32_t *offs;             /* per slot: offset in data of the entry */
    size_t n;
    char *data;
    size_t data_len;
} tok_cache;
void tok_cache_free(tok_cache *c);
/* Appends the cached ids of key to out: 1 when found, 0 when not, <0 on allocation failure. */
int tok_cache_get(tok_cache *c, const char *key, size_t len, uint8_t flag, vkft_ids *out);
/* Stores ids for key (silently skipped when too long or on allocation failure). */
void tok_cache_put(tok_cache *c, const char *key, size_t len, uint8_t flag, const int32_t *ids,
                   size_t n);

/* ---- the tokenizer ---- */

struct vkft_tokenizer {
    char **blocks;              /* arena: token strings (NUL-terminated), never moved */
    size_t n_blocks, block_used, block_cap;

    /* BPE model */
    int32_t vocab_size;         /* max id + 1 over model vocab and added tokens */
    const char **id_tok;        /* per id: its string (NULL for a hole) */
    uint32_t *id_len;
    tok_strmap vocab;           /* model vocab */
    tok_mergemap merges;
    int32_t n_merges;
    int32_t unk_id;             /* -1: none */
    bool byte_fallback, ignore_merges, fuse_unk;
    char *subword_prefix, *word_suffix;   /* NULL or "" when unused */
    size_t prefix_len, suffix_len;
    int32_t byte_ids[256];      /* ByteLevel: id of the char standing for each byte, or -1 */
    int32_t fallback_ids[256];  /* byte_fallback: id of <0xNN>, or -1 */
    int32_t ascii_ids[128];     /* id of each ASCII char as a whole token (no prefix/suffix) */
    /* No vocab token holds "▁" right after another char than "▁", "▁" is a token, and there
     * are no affixes or ignore_merges: then no merge crosses such a spot, and a long piece
     * (SentencePiece-style tokenizers have no pre-tokenizer) can be cut there into words that
     * BPE and the cache handle one by one, with the same result. */
    bool sp_split;

    /* added tokens */
    tok_added *added;
    size_t n_added;
    tok_strmap added_map;       /* content -> id */
    uint8_t *special_ids;       /* per id: 1 when a special added token */
    tok_trie trie_raw, trie_norm;

    tok_normalizer *norms;
    size_t n_norms;
    tok_nfc_tables *nfc;        /* when a normalizer is NFC */
    tok_pretok *pretoks;
    size_t n_pretoks;
    pcre2_code *gpt2_re;        /* ByteLevel's own regex (when a ByteLevel step uses it) */
    pcre2_code *word_re;        /* "\w" for single_word and Whitespace splitting */

    int32_t *tmpl_pre, *tmpl_post;        /* post-processor ids around the sequence */
    size_t n_tmpl_pre, n_tmpl_post;

    tok_decoder *decs;
    size_t n_decs;
    bool has_decoder;

    int32_t bos_id, eos_id, pad_id;
    int32_t *eos_ids;
    size_t n_eos_ids;
    char *chat_template;

    bool jit;                   /* PCRE2 JIT available */
    /* Scratch reused across encode calls (encode.c): up to TOK_WORK_POOL idle tok_work. */
    pthread_mutex_t pool_lock;
    bool pool_ready;
    struct tok_work *pool[8];
    size_t n_pool;
};
#define TOK_WORK_POOL 8

/* A NUL-terminated copy of s[0..len) in t's arena (load.c), or NULL when out of memory. */
const char *tok_arena_strdup(vkft_tokenizer *t, const char *s, size_t len);

/* bos/eos from well-known special token names (config.c; load_json calls it). */
vkft_status tok_name_defaults(vkft_tokenizer *t);

/* ---- tries (tables.c) ---- */
vkft_status tok_trie_build(tok_trie *tr, const tok_added *added, size_t n, bool normalized);
/* Longest token starting at s[0..len): its index in the added array and *mlen, or -1. */
int32_t tok_trie_longest(const tok_trie *tr, const char *s, size_t len, size_t *mlen);
void tok_trie_free(tok_trie *tr);

/* ---- regex helpers (regex.c) ---- */
/* Whose \s and \w a pattern means: HF's Oniguruma (Split, Replace, ByteLevel) or Rust's regex
 * crate (Whitespace, added tokens' single_word). */
typedef enum tok_regex_flavor { TOK_RE_ONIG, TOK_RE_RUST } tok_regex_flavor;
/* Compiles an HF regex with UTF + UCP (+ JIT when available); see regex.c. */
vkft_status tok_regex_compile(const char *pattern, size_t len, tok_regex_flavor flavor,
                              pcre2_code **out, vkft_err *err);
/* Finds the next match of p in s[0..len) at or after start: returns 1 with [*ms, *me), 0 when
 * none, <0 on a matching error (resource limits). md: match data from the caller. */
int tok_pattern_find(const tok_pattern *p, const char *s, size_t len, size_t start,
                     pcre2_match_data *md, pcre2_match_context *mc, size_t *ms, size_t *me);

/* ---- encode stages (normalize.c, pretok.c, bpe.c) ---- */

/* Spans found by a pre-tokenizer step: (start, end, is_match) triples, folded into pairs. */
typedef struct tok_spans {
    size_t *v;
    size_t n, cap;
} tok_spans;

/* Scratch for one encode call (never shared between threads). */
typedef struct tok_work {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *jit_stack;
    tok_buf norm[2];            /* normalizer ping-pong buffers */
    tok_buf *pre;               /* 2 per pre-tokenizer depth: transformed text */
    tok_spans *spans;           /* 1 per pre-tokenizer depth */
    size_t depth;
    /* BPE */
    int32_t *sym_id;
    int32_t *sym_prev, *sym_next;
    uint64_t *heap;             /* (rank << 32 | pos) */
    size_t sym_cap;
    tok_buf key;                /* byte-level mapping of a piece */
    tok_cache cache;            /* this work's word cache */
} tok_work;
vkft_status tok_work_init(tok_work *w, const vkft_tokenizer *t);
void tok_work_free(tok_work *w);
/* A tok_work from t's pool (or a new one), and back (freed when the pool is full). NULL when
 * out of memory. */
tok_work *tok_work_get(const vkft_tokenizer *t);
void tok_work_put(const vkft_tokenizer *t, tok_work *w);
/* Frees the pool (vkft_tokenizer_free). */
void tok_work_pool_free(vkft_tokenizer *t);

/* Runs the normalizers over s; *out and *out_len give the result (s itself when unchanged, or
 * one of w->norm). */
vkft_status tok_normalize(const vkft_tokenizer *t, tok_work *w, const char *s, size_t len,
                          const char **out, size_t *out_len, vkft_err *err);
/* Pre-tokenizes s and runs the model over every piece, appending ids to out. at_origin: s
 * starts at offset 0 of the original text (Metaspace prepend_scheme "first"). */
vkft_status tok_pretokenize_and_model(const vkft_tokenizer *t, tok_work *w, const char *s,
                                      size_t len, bool at_origin, vkft_ids *out, vkft_err *err);
/* The BPE model on one piece; mapped: s is raw bytes to be seen through the byte-level map. */
vkft_status tok_bpe_piece(const vkft_tokenizer *t, tok_work *w, const char *s, size_t len,
                          bool mapped, vkft_ids *out, vkft_err *err);

/* ---- loading pieces (components.c) ---- */
vkft_status tok_load_normalizer(vkft_tokenizer *t, const vkft_json *j, const char *name,
                                vkft_err *err);
vkft_status tok_load_pretokenizer(vkft_tokenizer *t, const vkft_json *j,
                                  const char *name, vkft_err *err);
vkft_status tok_load_post_processor(vkft_tokenizer *t, const vkft_json *j,
                                    const char *name, vkft_err *err);
vkft_status tok_load_decoder(vkft_tokenizer *t, const vkft_json *j, const char *name,
                             vkft_err *err);
void tok_pattern_free(tok_pattern *p);

#endif
