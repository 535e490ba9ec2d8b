/*
 * Prompt tuning (Lester et al. 2021), as PEFT's PROMPT_TUNING: P = method.num_virtual_tokens
 * trainable embeddings E [P, hidden] prepended to every row through the input_prefix hook. They
 * take positions 0..P-1, the real tokens P..P+T-1; the loss covers the real positions only.
 * Base weights frozen.
 *
 * Start: random N(0, 1) (PEFT's RANDOM init: nn.Embedding's default), one vkft_rng stream from
 * train.seed; or with method.init_text the rows of the model's input embedding table for the
 * text's token ids (encoded with special tokens, as PEFT's tokenizer(text)["input_ids"]),
 * repeated to fill P or cut to P. init_text needs the tokenizer and the model folder
 * (vkft_method_set_base).
 *
 * Saved as PEFT saves it: adapter_model.safetensors {"prompt_embeddings": [P, hidden]} and
 * adapter_config.json with peft_type PROMPT_TUNING, num_virtual_tokens, token_dim = hidden,
 * num_layers, num_attention_heads, num_transformer_submodules 1, prompt_tuning_init RANDOM |
 * TEXT (+ prompt_tuning_init_text, tokenizer_name_or_path = the base model). The leaf is named
 * "prompt_embeddings" too.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "train/method_common.h"
#include "train/method_impl.h"

#define PROMPT_LEAF "prompt_embeddings"

typedef struct prompt_state {
    int64_t tokens, hidden;     /* P, H */
} prompt_state;

static vkft_status prompt_input(void *user, vkft_graph *g, int64_t hidden, vkft_value *prefix,
                                vkft_err *err)
{
    vkft_method *m = user;
    const prompt_state *s = m->impl;
    if (hidden != s->hidden)
        return vkft_err_set(err, VKFT_ERR_SHAPE, "prompt: hidden size %lld, expected %lld",
                            (long long)hidden, (long long)s->hidden);
    vkft_value e = vkft_method_leaf(g, PROMPT_LEAF, 2, (int64_t[]){s->tokens, s->hidden}, err);
    if (e == VKFT_NONE) return VKFT_ERR_INVALID_ARG;
    *prefix = e;
    return VKFT_OK;
}

static vkft_status prompt_create(vkft_method *m, vkft_err *err)
{
    if (m->spec.num_virtual_tokens < 1 || m->spec.num_virtual_tokens > (1 << 20))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "method.num_virtual_tokens must be in [1, %d], got %lld", 1 << 20,
                            (long long)m->spec.num_virtual_tokens);
    prompt_state *s = calloc(1, sizeof *s);
    if (!s) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->impl = s;
    s->tokens = m->spec.num_virtual_tokens;
    s->hidden = m->cfg.hidden;
    m->hooks.param_role = vkft_method_frozen_role;
    m->hooks.input_prefix = prompt_input;
    return VKFT_OK;
}

static void prompt_destroy(vkft_method *m) { free(m->impl); }

/* Row `id` of the embedding table t [V, H] as f32 into dst[0..H). */
static vkft_status embedding_row(const vkft_st_tensor *t, int32_t id, float *dst, vkft_err *err)
{
    int64_t V = t->shape[0], H = t->shape[1];
    if (id < 0 || id >= V)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.init_text: token id %d is "
                            "outside the model's vocabulary of %lld", (int)id, (long long)V);
    const unsigned char *row = t->data;
    if (t->dtype == VKFT_ST_F32) {
        memcpy(dst, row + (size_t)id * (size_t)H * 4, (size_t)H * sizeof *dst);
        return VKFT_OK;
    }
    if (t->dtype != VKFT_ST_F16 && t->dtype != VKFT_ST_BF16)
        return vkft_err_set(err, VKFT_ERR_DTYPE, "%s: %s is %s; init_text reads F32, F16 or "
                            "BF16", t->file, t->name, vkft_st_dtype_name(t->dtype));
    row += (size_t)id * (size_t)H * 2;
    for (int64_t j = 0; j < H; j++) {
        uint16_t h = (uint16_t)(row[2 * j] | (row[2 * j + 1] << 8));
        dst[j] = t->dtype == VKFT_ST_F16 ? vkft_st_f16_to_f32(h) : vkft_st_bf16_to_f32(h);
    }
    return VKFT_OK;
}

/* PEFT's TEXT init: the text's ids repeated / cut to P, their input embeddings. */
static vkft_status prompt_from_text(vkft_method *m, float *out, vkft_err *err)
{
    const prompt_state *s = m->impl;
    if (!m->tokenizer || !m->base_path)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.init_text needs the model's "
                            "tokenizer (tokenizer.json in the model folder)");
    vkft_ids ids = {0};
    vkft_status rc = vkft_tokenizer_encode(m->tokenizer, m->spec.init_text,
                                           strlen(m->spec.init_text), true, &ids, err);
    if (!rc && ids.n == 0)
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.init_text: the text has no token");
    vkft_st *st = NULL;
    if (!rc) rc = vkft_st_open(m->base_path, &st, err);
    const char *name = m->cfg.arch == VKFT_ARCH_GPT2 ? "transformer.wte.weight"
                                                     : "model.embed_tokens.weight";
    const vkft_st_tensor *t = rc ? NULL : vkft_st_find(st, name);
    if (!t && !rc && m->cfg.arch == VKFT_ARCH_GPT2) t = vkft_st_find(st, "wte.weight");
    if (!rc && (!t || t->ndim != 2 || t->shape[1] != s->hidden))
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: no embedding table %s [vocab, %lld]",
                          m->base_path, name, (long long)s->hidden);
    for (int64_t p = 0; p < s->tokens && !rc; p++)
        rc = embedding_row(t, ids.v[(size_t)p % ids.n], out + p * s->hidden, err);
    vkft_st_close(st);
    vkft_ids_free(&ids);
    return rc;
}

static vkft_status prompt_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                      vkft_err *err)
{
    const prompt_state *s = m->impl;
    int64_t shape[2] = {s->tokens, s->hidden};
    size_t n = (size_t)(s->tokens * s->hidden);
    float *buf = NULL;
    vkft_status rc = VKFT_OK;
    if (m->spec.init) {
        vkft_st *st = NULL;
        rc = vkft_method_folder_open(m->spec.init, &st, err);
        if (!rc) rc = vkft_method_folder_read(st, m->spec.init, PROMPT_LEAF, 2, shape, &buf,
                                              err);
        vkft_st_close(st);
    } else if (!(buf = malloc(n * sizeof *buf))) {
        rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    } else if (m->spec.init_text) {
        rc = prompt_from_text(m, buf, err);
    } else {
        vkft_method_fill_normal(buf, n, seed, 0);
    }
    if (!rc) rc = vkft_method_upload(plan, PROMPT_LEAF, buf, n, err);
    free(buf);
    return rc;
}

static vkft_status prompt_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                               const char *dir, const char *base_model, vkft_err *err)
{
    (void)b;
    const prompt_state *s = m->impl;
    int64_t shape[2] = {s->tokens, s->hidden};
    size_t n = (size_t)(s->tokens * s->hidden);
    float *buf = NULL;
    vkft_st_writer *w = NULL;
    vkft_status rc = vkft_method_download(plan, PROMPT_LEAF, n, &buf, err);
    if (!rc) rc = vkft_st_writer_create(&w, err);
    if (!rc) rc = vkft_st_writer_add(w, PROMPT_LEAF, VKFT_ST_F32, 2, shape, buf,
                                     n * sizeof(float), err);
    if (!rc) {
        bool text = m->spec.init_text != NULL;
        vkft_json_writer j;
        vkft_json_writer_init(&j, 2);
        vkft_json_obj_begin(&j);
        vkft_json_key(&j, "auto_mapping"); vkft_json_null(&j);
        vkft_json_key(&j, "base_model_name_or_path"); vkft_json_str(&j, base_model);
        vkft_json_key(&j, "inference_mode"); vkft_json_bool(&j, true);
        vkft_json_key(&j, "modules_to_save"); vkft_json_null(&j);
        vkft_json_key(&j, "num_attention_heads"); vkft_json_int(&j, m->cfg.heads);
        vkft_json_key(&j, "num_layers"); vkft_json_int(&j, m->cfg.layers);
        vkft_json_key(&j, "num_transformer_submodules"); vkft_json_int(&j, 1);
        vkft_json_key(&j, "num_virtual_tokens"); vkft_json_int(&j, s->tokens);
        vkft_json_key(&j, "peft_type"); vkft_json_str(&j, "PROMPT_TUNING");
        vkft_json_key(&j, "prompt_tuning_init"); vkft_json_str(&j, text ? "TEXT" : "RANDOM");
        vkft_json_key(&j, "prompt_tuning_init_text");
        if (text) vkft_json_str(&j, m->spec.init_text);
        else vkft_json_null(&j);
        vkft_json_key(&j, "revision"); vkft_json_null(&j);
        vkft_json_key(&j, "task_type"); vkft_json_str(&j, "CAUSAL_LM");
        vkft_json_key(&j, "token_dim"); vkft_json_int(&j, s->hidden);
        vkft_json_key(&j, "tokenizer_kwargs"); vkft_json_null(&j);
        vkft_json_key(&j, "tokenizer_name_or_path");
        if (text && base_model) vkft_json_str(&j, base_model);
        else vkft_json_null(&j);
        vkft_json_obj_end(&j);
        rc = vkft_method_folder_write(dir, &j, w, err);
    }
    vkft_st_writer_free(w);
    free(buf);
    return rc;
}

/* num_virtual_tokens of a saved PROMPT_TUNING adapter; token_dim must be the hidden size. */
static vkft_status prompt_from_adapter(vkft_method *m, const vkft_json *cfg, const char *dir,
                                       vkft_err *err)
{
    int64_t dim = m->cfg.hidden, sub = 1;
    vkft_status rc = vkft_method_config_int(cfg, dir, "num_virtual_tokens", true, 1, 1 << 20,
                                            &m->spec.num_virtual_tokens, err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "token_dim", false, 1, INT64_MAX, &dim, err);
    if (!rc) rc = vkft_method_config_int(cfg, dir, "num_transformer_submodules", false, 1, 2,
                                         &sub, err);
    if (!rc && dim != m->cfg.hidden)
        rc = vkft_err_set(err, VKFT_ERR_SHAPE, "%s/adapter_config.json: token_dim %lld, but this "
                          "model's hidden size is %lld", dir, (long long)dim,
                          (long long)m->cfg.hidden);
    if (!rc && sub != 1)
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s/adapter_config.json: "
                          "num_transformer_submodules %lld (encoder-decoder) is not supported",
                          dir, (long long)sub);
    return rc;
}

const vkft_method_ops vkft_method_prompt_ops = {
    .output = "adapter",
    .peft_type = "PROMPT_TUNING",
    .from_adapter = prompt_from_adapter,
    .create = prompt_create,
    .destroy = prompt_destroy,
    .init_params = prompt_init_params,
    .save = prompt_save,
};
