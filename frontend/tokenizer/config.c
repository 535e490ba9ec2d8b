/*
 * Model folders: tokenizer.json plus the companion files transformers reads -
 * tokenizer_config.json (bos/eos/pad tokens, chat_template, add_bos_token/add_eos_token),
 * config.json and generation_config.json (bos/eos/pad ids; eos may be a list),
 * chat_template.jinja / chat_template.json - and the accessors for what they give.
 *
 * Precedence for bos/eos/pad: tokenizer_config.json's token strings (an explicit null there
 * means none), then config.json's ids, then (no config at all) well-known special tokens. For Llama tokenizer classes,
 * transformers rebuilds the post-processor from add_bos_token (default true) and
 * add_eos_token (default false); we do the same, so add_eos_token: true appends </s>.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"
#include "util/file.h"

/* A token given as "text" or {"content": "text", ...} -> its id, or -1. */
static int32_t token_field(const vkft_tokenizer *t, const vkft_json *cfg, const char *key)
{
    const vkft_json *v = vkft_json_get(cfg, key);
    if (v && v->type == VKFT_JSON_OBJECT) v = vkft_json_get(v, "content");
    if (!v || v->type != VKFT_JSON_STRING) return -1;
    return vkft_tokenizer_token_to_id(t, v->str, v->len);
}

static int32_t id_field(const vkft_tokenizer *t, const vkft_json *v)
{
    int64_t id;
    if (v && v->type == VKFT_JSON_ARRAY) v = vkft_json_at(v, 0);
    if (!vkft_json_get_int(v, &id) || id < 0 || id >= t->vocab_size) return -1;
    return (int32_t)id;
}

static vkft_status add_eos(vkft_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->vocab_size) return VKFT_OK;
    for (size_t i = 0; i < t->n_eos_ids; i++)
        if (t->eos_ids[i] == id) return VKFT_OK;
    int32_t *v = realloc(t->eos_ids, (t->n_eos_ids + 1) * sizeof *v);
    if (!v) return VKFT_ERR_NO_MEMORY;
    v[t->n_eos_ids++] = id;
    t->eos_ids = v;
    return VKFT_OK;
}

static vkft_status set_template(vkft_tokenizer *t, const char *s, size_t len)
{
    free(t->chat_template);
    t->chat_template = malloc(len + 1);
    if (!t->chat_template) return VKFT_ERR_NO_MEMORY;
    memcpy(t->chat_template, s, len);
    t->chat_template[len] = '\0';
    return VKFT_OK;
}

/* "chat_template": "..." or [{"name": "default", "template": "..."}, ...]. */
static vkft_status read_template(vkft_tokenizer *t, const vkft_json *v)
{
    if (v && v->type == VKFT_JSON_STRING) return set_template(t, v->str, v->len);
    if (!v || v->type != VKFT_JSON_ARRAY || !v->len) return VKFT_OK;
    const vkft_json *pick = NULL;
    for (size_t i = 0; i < v->len; i++) {
        const char *name = vkft_json_get_str(vkft_json_get(&v->items[i], "name"));
        if (name && !strcmp(name, "default")) pick = &v->items[i];
    }
    const vkft_json *s = vkft_json_get(pick ? pick : &v->items[0], "template");
    return s && s->type == VKFT_JSON_STRING ? set_template(t, s->str, s->len) : VKFT_OK;
}

/* Llama classes: [bos if add_bos_token] A [eos if add_eos_token], as transformers'
 * LlamaTokenizerFast.update_post_processor. */
static vkft_status llama_template(vkft_tokenizer *t, const vkft_json *cfg)
{
    const char *cls = vkft_json_get_str(vkft_json_get(cfg, "tokenizer_class"));
    if (!cls || (strcmp(cls, "LlamaTokenizer") && strcmp(cls, "LlamaTokenizerFast") &&
                 strcmp(cls, "CodeLlamaTokenizer") && strcmp(cls, "CodeLlamaTokenizerFast")))
        return VKFT_OK;
    bool add_bos = true, add_eos = false;
    vkft_json_get_bool(vkft_json_get(cfg, "add_bos_token"), &add_bos);
    vkft_json_get_bool(vkft_json_get(cfg, "add_eos_token"), &add_eos);
    t->n_tmpl_pre = t->n_tmpl_post = 0;
    if (add_bos && t->bos_id >= 0) {
        int32_t *p = realloc(t->tmpl_pre, sizeof *p);
        if (!p) return VKFT_ERR_NO_MEMORY;
        p[0] = t->bos_id;
        t->tmpl_pre = p;
        t->n_tmpl_pre = 1;
    }
    if (add_eos && t->eos_id >= 0) {
        int32_t *p = realloc(t->tmpl_post, sizeof *p);
        if (!p) return VKFT_ERR_NO_MEMORY;
        p[0] = t->eos_id;
        t->tmpl_post = p;
        t->n_tmpl_post = 1;
    }
    return VKFT_OK;
}

/* Reads dir/name as JSON if it exists: *doc NULL when absent. */
static vkft_status read_optional(const char *dir, const char *name, vkft_json_doc **doc,
                                 vkft_err *err)
{
    *doc = NULL;
    char *path = vkft_path_join(dir, name);
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status st = vkft_is_file(path) ? vkft_json_parse_file(path, doc, err) : VKFT_OK;
    free(path);
    return st;
}

vkft_status tok_name_defaults(vkft_tokenizer *t)
{
    static const char *const bos[] = {"<s>", "<|begin_of_text|>"};
    static const char *const eos[] = {"</s>", "<|end_of_text|>", "<|endoftext|>", "<|im_end|>"};
    if (t->bos_id < 0 && t->n_tmpl_pre) t->bos_id = t->tmpl_pre[0];
    for (size_t i = 0; t->bos_id < 0 && i < sizeof bos / sizeof bos[0]; i++)
        t->bos_id = vkft_tokenizer_token_to_id(t, bos[i], strlen(bos[i]));
    for (size_t i = 0; t->eos_id < 0 && i < sizeof eos / sizeof eos[0]; i++)
        t->eos_id = vkft_tokenizer_token_to_id(t, eos[i], strlen(eos[i]));
    return add_eos(t, t->eos_id);
}

static vkft_status load_companions(vkft_tokenizer *t, const char *dir, vkft_err *err)
{
    vkft_json_doc *tc = NULL, *mc = NULL, *gc = NULL;
    vkft_status st = read_optional(dir, "tokenizer_config.json", &tc, err);
    if (!st) st = read_optional(dir, "config.json", &mc, err);
    if (!st) st = read_optional(dir, "generation_config.json", &gc, err);
    if (st) goto out;
    const vkft_json *tcj = tc ? vkft_json_root(tc) : NULL, *mcj = mc ? vkft_json_root(mc) : NULL;
    const vkft_json *gcj = gc ? vkft_json_root(gc) : NULL;
    if (tcj || mcj) {  /* the configs decide; without them the name defaults stay */
        t->bos_id = token_field(t, tcj, "bos_token");
        t->eos_id = token_field(t, tcj, "eos_token");
        t->pad_id = token_field(t, tcj, "pad_token");
        /* config.json only where tokenizer_config.json does not name the token at all (an
         * explicit null there means none, as for Qwen's bos) */
        if (t->bos_id < 0 && !vkft_json_get(tcj, "bos_token"))
            t->bos_id = id_field(t, vkft_json_get(mcj, "bos_token_id"));
        if (t->eos_id < 0 && !vkft_json_get(tcj, "eos_token"))
            t->eos_id = id_field(t, vkft_json_get(mcj, "eos_token_id"));
        if (t->pad_id < 0 && !vkft_json_get(tcj, "pad_token"))
            t->pad_id = id_field(t, vkft_json_get(mcj, "pad_token_id"));
        t->n_eos_ids = 0;
        st = add_eos(t, t->eos_id);
    }
    const vkft_json *lists[2] = {vkft_json_get(mcj, "eos_token_id"),
                                 vkft_json_get(gcj, "eos_token_id")};
    for (int k = 0; k < 2 && !st; k++) {
        const vkft_json *l = lists[k];
        if (l && l->type == VKFT_JSON_ARRAY)
            for (size_t i = 0; i < l->len && !st; i++) st = add_eos(t, id_field(t, &l->items[i]));
        else if (l) st = add_eos(t, id_field(t, l));
    }
    if (!st) st = read_template(t, vkft_json_get(tcj, "chat_template"));
    if (!st && !t->chat_template) {
        char *path = vkft_path_join(dir, "chat_template.jinja"), *text = NULL;
        size_t len;
        if (!path) st = VKFT_ERR_NO_MEMORY;
        else if (vkft_is_file(path) && !(st = vkft_file_read(path, &text, &len, err)))
            st = set_template(t, text, len);
        free(text);
        free(path);
    }
    if (!st && !t->chat_template) {
        vkft_json_doc *ct = NULL;
        st = read_optional(dir, "chat_template.json", &ct, err);
        if (!st && ct) st = read_template(t, vkft_json_get(vkft_json_root(ct), "chat_template"));
        vkft_json_free(ct);
    }
    if (!st && tcj) st = llama_template(t, tcj);
    if (st == VKFT_ERR_NO_MEMORY) vkft_err_set(err, st, "out of memory");
out:
    vkft_json_free(tc);
    vkft_json_free(mc);
    vkft_json_free(gc);
    return st;
}

vkft_status vkft_tokenizer_load(const char *path, vkft_tokenizer **out, vkft_err *err)
{
    *out = NULL;
    bool dir = vkft_is_dir(path);
    char *file = dir ? vkft_path_join(path, "tokenizer.json") : NULL;
    if (dir && !file) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    const char *json_path = dir ? file : path;
    char *text = NULL;
    size_t len = 0;
    vkft_status st = vkft_file_read(json_path, &text, &len, err);
    if (st && dir && !vkft_is_file(json_path))
        st = vkft_err_set(err, VKFT_ERR_IO, "%s: no tokenizer.json in this folder (vkft reads "
                          "Hugging Face tokenizer.json files; convert a SentencePiece "
                          "tokenizer.model with transformers first)", path);
    vkft_tokenizer *t = NULL;
    if (!st) st = vkft_tokenizer_load_json(text, len, json_path, &t, err);
    free(text);
    if (!st && dir) st = load_companions(t, path, err);
    free(file);
    if (st) {
        vkft_tokenizer_free(t);
        return st;
    }
    *out = t;
    return VKFT_OK;
}

int32_t vkft_tokenizer_bos_id(const vkft_tokenizer *t)
{
    return t->bos_id;
}

int32_t vkft_tokenizer_eos_id(const vkft_tokenizer *t)
{
    return t->eos_id;
}

int32_t vkft_tokenizer_pad_id(const vkft_tokenizer *t)
{
    return t->pad_id;
}

const int32_t *vkft_tokenizer_eos_ids(const vkft_tokenizer *t, size_t *n)
{
    *n = t->n_eos_ids;
    return t->n_eos_ids ? t->eos_ids : NULL;
}

const char *vkft_tokenizer_chat_template(const vkft_tokenizer *t)
{
    return t->chat_template;
}
