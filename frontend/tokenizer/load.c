/*
 * Loading tokenizer.json: the BPE model (vocab, merges in either format, unk/byte_fallback/
 * ignore_merges/affixes), added tokens, and the components (components.c); then the derived
 * tables: id -> string, per-byte ids, the added-token tries.
 *
 * As in HF: an added token whose content is in the model vocab (or added before) takes that
 * id, any other the next id after the model vocab, whatever the file says; a merge whose
 * parts or result are missing from the vocab is an error; legacy "a b" merges must have
 * exactly one space and "#version" lines are skipped; a normalized added token is matched
 * (and decoded) in its normalized form. Model "dropout" is ignored: encoding is
 * deterministic, as HF's is with dropout off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

#define BLOCK_SIZE (256u << 10)

const char *tok_arena_strdup(vkft_tokenizer *t, const char *s, size_t len)
{
    if (!t->n_blocks || t->block_used + len + 1 > t->block_cap) {
        size_t cap = len + 1 > BLOCK_SIZE ? len + 1 : BLOCK_SIZE;
        char **blocks = realloc(t->blocks, (t->n_blocks + 1) * sizeof *blocks);
        if (!blocks) return NULL;
        t->blocks = blocks;
        if (!(blocks[t->n_blocks] = malloc(cap))) return NULL;
        t->n_blocks++;
        t->block_used = 0;
        t->block_cap = cap;
    }
    char *p = t->blocks[t->n_blocks - 1] + t->block_used;
    memcpy(p, s, len);
    p[len] = '\0';
    t->block_used += len + 1;
    return p;
}

static vkft_status at(const vkft_json *j, const char *name, vkft_err *err, const char *what)
{
    return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s:%d:%d: %s", name, j ? j->line : 0,
                        j ? j->col : 0, what);
}

static vkft_status oom(vkft_err *err)
{
    return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory loading the tokenizer");
}

static vkft_status load_vocab(vkft_tokenizer *t, const vkft_json *v, const char *name,
                              int32_t *max_id, vkft_err *err)
{
    if (!v || v->type != VKFT_JSON_OBJECT)
        return at(v, name, err, "model.vocab: expected an object {token: id}");
    for (size_t i = 0; i < v->len; i++) {
        int64_t id;
        if (!vkft_json_get_int(&v->items[i], &id) || id < 0 || id >= INT32_MAX - 1)
            return at(&v->items[i], name, err, "model.vocab: ids must be integers in "
                      "[0, 2^31-2]");
        const char *k = tok_arena_strdup(t, v->keys[i], v->key_lens[i]);
        if (!k || tok_strmap_put(&t->vocab, k, v->key_lens[i], (int32_t)id)) return oom(err);
        if (id > *max_id) *max_id = (int32_t)id;
    }
    return VKFT_OK;
}

static vkft_status load_merges(vkft_tokenizer *t, const vkft_json *m, const char *name,
                               vkft_err *err)
{
    if (!m) return VKFT_OK;
    if (m->type != VKFT_JSON_ARRAY) return at(m, name, err, "model.merges: expected an array");
    tok_buf joined = {0};
    vkft_status st = VKFT_OK;
    uint32_t rank = 0;
    for (size_t i = 0; i < m->len && !st; i++) {
        const vkft_json *e = &m->items[i];
        const char *a, *b;
        size_t al, bl;
        if (e->type == VKFT_JSON_STRING) {
            if (!strncmp(e->str, "#version", 8)) continue;
            const char *sp = memchr(e->str, ' ', e->len);
            if (!sp || memchr(sp + 1, ' ', e->len - (size_t)(sp + 1 - e->str))) {
                st = at(e, name, err, "model.merges: a merge string must be \"left right\" "
                        "with exactly one space");
                break;
            }
            a = e->str;
            al = (size_t)(sp - e->str);
            b = sp + 1;
            bl = e->len - al - 1;
        } else if (e->type == VKFT_JSON_ARRAY && e->len == 2 &&
                   e->items[0].type == VKFT_JSON_STRING && e->items[1].type ==
                   VKFT_JSON_STRING) {
            a = e->items[0].str;
            al = e->items[0].len;
            b = e->items[1].str;
            bl = e->items[1].len;
        } else {
            st = at(e, name, err, "model.merges: expected \"a b\" or [\"a\", \"b\"]");
            break;
        }
        int32_t ai = tok_strmap_get(&t->vocab, a, al), bi = tok_strmap_get(&t->vocab, b, bl);
        size_t skip = t->prefix_len <= bl ? t->prefix_len : 0;
        joined.len = 0;
        if (tok_buf_append(&joined, a, al) || tok_buf_append(&joined, b + skip, bl - skip)) {
            st = oom(err);
            break;
        }
        int32_t ji = tok_strmap_get(&t->vocab, joined.p, joined.len);
        if (ai < 0 || bi < 0 || ji < 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "model.merges[%zu]: '%.*s' is not in the vocab", i,
                     (int)(ai < 0 ? (al > 100 ? 100 : al) : bi < 0 ? (bl > 100 ? 100 : bl)
                           : (joined.len > 100 ? 100 : joined.len)),
                     ai < 0 ? a : bi < 0 ? b : joined.p);
            st = at(e, name, err, msg);
            break;
        }
        if (tok_mergemap_put(&t->merges, ai, bi, rank++, ji)) st = oom(err);
    }
    free(joined.p);
    t->n_merges = (int32_t)rank;
    return st;
}

static vkft_status opt_str(vkft_tokenizer *t, const vkft_json *m, const char *key,
                           const char *name, char **out, size_t *len, vkft_err *err)
{
    const vkft_json *v = vkft_json_get(m, key);
    *out = NULL;
    *len = 0;
    if (!v || v->type == VKFT_JSON_NULL) return VKFT_OK;
    if (v->type != VKFT_JSON_STRING) return at(v, name, err, "expected a string or null");
    (void)t;
    if (!(*out = malloc(v->len + 1))) return oom(err);
    memcpy(*out, v->str, v->len + 1);
    *len = v->len;
    return VKFT_OK;
}

static vkft_status load_model(vkft_tokenizer *t, const vkft_json *m, const char *name,
                              int32_t *max_id, vkft_err *err)
{
    if (!m || m->type != VKFT_JSON_OBJECT) return at(m, name, err, "\"model\": expected an "
                                                     "object");
    const char *type = vkft_json_get_str(vkft_json_get(m, "type"));
    if (type ? strcmp(type, "BPE") != 0 : !vkft_json_get(m, "merges")) {
        char msg[200];
        snprintf(msg, sizeof msg, "model type \"%s\" is not supported (only BPE)",
                 type ? type : "?");
        return at(vkft_json_get(m, "type"), name, err, msg);
    }
    vkft_status st = opt_str(t, m, "continuing_subword_prefix", name, &t->subword_prefix,
                             &t->prefix_len, err);
    if (!st) st = opt_str(t, m, "end_of_word_suffix", name, &t->word_suffix, &t->suffix_len,
                          err);
    if (!st) st = load_vocab(t, vkft_json_get(m, "vocab"), name, max_id, err);
    if (!st) st = load_merges(t, vkft_json_get(m, "merges"), name, err);
    if (st) return st;
    vkft_json_get_bool(vkft_json_get(m, "byte_fallback"), &t->byte_fallback);
    vkft_json_get_bool(vkft_json_get(m, "ignore_merges"), &t->ignore_merges);
    vkft_json_get_bool(vkft_json_get(m, "fuse_unk"), &t->fuse_unk);
    const char *unk = vkft_json_get_str(vkft_json_get(m, "unk_token"));
    t->unk_id = unk ? tok_strmap_get(&t->vocab, unk, strlen(unk)) : -1;
    return VKFT_OK;
}

static bool flag(const vkft_json *o, const char *key, bool dflt)
{
    bool v = dflt;
    vkft_json_get_bool(vkft_json_get(o, key), &v);
    return v;
}

static vkft_status load_added(vkft_tokenizer *t, const vkft_json *a, const char *name,
                              int32_t *max_id, vkft_err *err)
{
    if (!a || a->type == VKFT_JSON_NULL) return VKFT_OK;
    if (a->type != VKFT_JSON_ARRAY) return at(a, name, err, "added_tokens: expected an array");
    t->added = calloc(a->len ? a->len : 1, sizeof *t->added);
    if (!t->added) return oom(err);
    int32_t next_id = (int32_t)t->vocab.n;
    for (size_t i = 0; i < a->len; i++) {
        const vkft_json *o = &a->items[i], *c = vkft_json_get(o, "content");
        int64_t id;
        if (!c || c->type != VKFT_JSON_STRING || !vkft_json_get_int(vkft_json_get(o, "id"), &id)
            || id < 0 || id >= INT32_MAX - 1)
            return at(o, name, err, "added_tokens: each needs \"id\" (>= 0) and \"content\"");
        if (!c->len) continue;  /* HF ignores empty added tokens */
        tok_added *t_a = &t->added[t->n_added++];
        t_a->content = tok_arena_strdup(t, c->str, c->len);
        if (!t_a->content) return oom(err);
        t_a->len = c->len;
        /* HF ignores the file's id: a known content keeps its id, a new one takes the next
         * id after the model vocab (the same in any consistent file) */
        int32_t known = vkft_tokenizer_token_to_id(t, c->str, c->len);
        t_a->id = known >= 0 ? known : next_id++;
        t_a->special = flag(o, "special", false);
        t_a->lstrip = flag(o, "lstrip", false);
        t_a->rstrip = flag(o, "rstrip", false);
        t_a->single_word = flag(o, "single_word", false);
        t_a->normalized = flag(o, "normalized", !t_a->special);
        if (tok_strmap_put(&t->added_map, t_a->content, t_a->len, t_a->id)) return oom(err);
        if (t_a->id > *max_id) *max_id = t_a->id;
    }
    return VKFT_OK;
}

/* Normalized added tokens are matched in their normalized form (and decode to it). */
static vkft_status normalize_added(vkft_tokenizer *t, vkft_err *err)
{
    if (!t->n_norms) return VKFT_OK;
    tok_work w;
    if (tok_work_init(&w, t)) return oom(err);
    vkft_status st = VKFT_OK;
    for (size_t i = 0; i < t->n_added && !st; i++) {
        tok_added *a = &t->added[i];
        if (!a->normalized) continue;
        const char *n;
        size_t nl;
        st = tok_normalize(t, &w, a->content, a->len, &n, &nl, err);
        if (st || (nl == a->len && !memcmp(n, a->content, nl))) continue;
        if (!(a->content = tok_arena_strdup(t, n, nl))) st = oom(err);
        a->len = nl;
    }
    tok_work_free(&w);
    return st;
}

static vkft_status build_tables(vkft_tokenizer *t, int32_t max_id, vkft_err *err)
{
    t->vocab_size = max_id + 1;
    size_t n = (size_t)t->vocab_size;
    t->id_tok = calloc(n ? n : 1, sizeof *t->id_tok);
    t->id_len = calloc(n ? n : 1, sizeof *t->id_len);
    t->special_ids = calloc(n ? n : 1, 1);
    if (!t->id_tok || !t->id_len || !t->special_ids) return oom(err);
    for (size_t i = 0; i < t->vocab.cap; i++) {
        const tok_strmap_slot *s = &t->vocab.slots[i];
        if (!s->key) continue;
        /* Two tokens with one id: keep the one HF's reverse map would (either; they decode
         * alike only if equal, which a sane file guarantees). Keep the first seen. */
        if (!t->id_tok[s->val]) {
            t->id_tok[s->val] = s->key;
            t->id_len[s->val] = s->len;
        }
    }
    for (size_t i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        t->id_tok[a->id] = a->content;
        t->id_len[a->id] = (uint32_t)a->len;
        if (a->special) t->special_ids[a->id] = 1;
    }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t len = tok_utf8_encode(tok_byte_to_cp((uint8_t)b), buf);
        t->byte_ids[b] = tok_strmap_get(&t->vocab, buf, len);
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        t->fallback_ids[b] = tok_strmap_get(&t->vocab, buf, 6);
        if (b < 128) {
            char c = (char)b;
            t->ascii_ids[b] = tok_strmap_get(&t->vocab, &c, 1);
        }
    }
    static const char meta[] = "\xe2\x96\x81";  /* U+2581 */
    t->sp_split = tok_strmap_get(&t->vocab, meta, 3) >= 0 && !t->prefix_len && !t->suffix_len &&
                  !t->ignore_merges;
    for (size_t i = 0; t->sp_split && i < t->vocab.cap; i++) {
        const tok_strmap_slot *s = &t->vocab.slots[i];
        for (size_t k = 1; s->key && k + 3 <= s->len && t->sp_split; k++)
            if (!memcmp(s->key + k, meta, 3) && (k < 3 || memcmp(s->key + k - 3, meta, 3)))
                t->sp_split = false;
    }
    if (tok_trie_build(&t->trie_raw, t->added, t->n_added, false) ||
        tok_trie_build(&t->trie_norm, t->added, t->n_added, true))
        return oom(err);
    return VKFT_OK;
}

static vkft_status compile_regexes(vkft_tokenizer *t, vkft_err *err)
{
    static const char gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
                               "|\\s+(?!\\S)|\\s+";
    for (size_t i = 0; i < t->n_pretoks; i++)
        if (t->pretoks[i].kind == TOK_PRE_BYTELEVEL && t->pretoks[i].use_regex && !t->gpt2_re) {
            vkft_status st = tok_regex_compile(gpt2, sizeof gpt2 - 1, TOK_RE_ONIG, &t->gpt2_re,
                                               err);
            if (st) return st;
        }
    return tok_regex_compile("\\w", 2, TOK_RE_RUST, &t->word_re, err);
}

vkft_status vkft_tokenizer_load_json(const char *json, size_t len, const char *name,
                                     vkft_tokenizer **out, vkft_err *err)
{
    *out = NULL;
    vkft_json_doc *doc;
    vkft_status st = vkft_json_parse(json, len, name, &doc, err);
    if (st) return st;
    vkft_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        vkft_json_free(doc);
        return oom(err);
    }
    t->unk_id = t->bos_id = t->eos_id = t->pad_id = -1;
    uint32_t jit = 0;
    t->jit = pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit;
    if (pthread_mutex_init(&t->pool_lock, NULL)) {
        st = oom(err);
        goto fail;
    }
    t->pool_ready = true;
    const vkft_json *root = vkft_json_root(doc);
    if (root->type != VKFT_JSON_OBJECT) {
        st = at(root, name, err, "expected a JSON object (tokenizer.json)");
        goto fail;
    }
    int32_t max_id = -1;
    st = load_model(t, vkft_json_get(root, "model"), name, &max_id, err);
    if (!st) st = tok_load_normalizer(t, vkft_json_get(root, "normalizer"), name, err);
    if (!st) st = tok_load_pretokenizer(t, vkft_json_get(root, "pre_tokenizer"), name, err);
    if (!st) st = tok_load_post_processor(t, vkft_json_get(root, "post_processor"), name, err);
    if (!st) st = tok_load_decoder(t, vkft_json_get(root, "decoder"), name, err);
    if (!st) st = load_added(t, vkft_json_get(root, "added_tokens"), name, &max_id, err);
    if (!st) st = compile_regexes(t, err);
    if (!st) st = normalize_added(t, err);
    if (!st) st = build_tables(t, max_id, err);
    if (!st && tok_name_defaults(t)) st = oom(err);
    if (st) goto fail;
    for (size_t i = 0; i < t->n_tmpl_pre + t->n_tmpl_post; i++) {
        int32_t id = i < t->n_tmpl_pre ? t->tmpl_pre[i] : t->tmpl_post[i - t->n_tmpl_pre];
        if (id >= t->vocab_size) {
            st = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: post_processor id %d is outside "
                              "the vocabulary (%d tokens)", name, id, t->vocab_size);
            goto fail;
        }
    }
    vkft_json_free(doc);
    *out = t;
    return VKFT_OK;
fail:
    vkft_json_free(doc);
    vkft_tokenizer_free(t);
    return st;
}

void vkft_tokenizer_free(vkft_tokenizer *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n_blocks; i++) free(t->blocks[i]);
    free(t->blocks);
    free(t->id_tok);
    free(t->id_len);
    tok_strmap_free(&t->vocab);
    tok_mergemap_free(&t->merges);
    free(t->subword_prefix);
    free(t->word_suffix);
    free(t->added);
    tok_strmap_free(&t->added_map);
    free(t->special_ids);
    tok_trie_free(&t->trie_raw);
    tok_trie_free(&t->trie_norm);
    for (size_t i = 0; i < t->n_norms; i++) {
        tok_pattern_free(&t->norms[i].pat);
        free(t->norms[i].str);
    }
    free(t->norms);
    free(t->nfc);
    for (size_t i = 0; i < t->n_pretoks; i++) tok_pattern_free(&t->pretoks[i].pat);
    free(t->pretoks);
    for (size_t i = 0; i < t->n_decs; i++) {
        tok_pattern_free(&t->decs[i].pat);
        free(t->decs[i].str);
    }
    free(t->decs);
    if (t->gpt2_re) pcre2_code_free(t->gpt2_re);
    if (t->word_re) pcre2_code_free(t->word_re);
    free(t->tmpl_pre);
    free(t->tmpl_post);
    free(t->eos_ids);
    free(t->chat_template);
    if (t->pool_ready) {
        tok_work_pool_free(t);
        pthread_mutex_destroy(&t->pool_lock);
    }
    free(t);
}

/* ---- vocabulary ---- */

int32_t vkft_tokenizer_vocab_size(const vkft_tokenizer *t)
{
    return t->vocab_size;
}

int32_t vkft_tokenizer_token_to_id(const vkft_tokenizer *t, const char *token, size_t len)
{
    int32_t id = tok_strmap_get(&t->added_map, token, len);
    return id >= 0 ? id : tok_strmap_get(&t->vocab, token, len);
}

const char *vkft_tokenizer_id_to_token(const vkft_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->vocab_size || !t->id_tok[id]) return NULL;
    if (len) *len = t->id_len[id];
    return t->id_tok[id];
}

bool vkft_tokenizer_is_special(const vkft_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->vocab_size && t->special_ids[id];
}
