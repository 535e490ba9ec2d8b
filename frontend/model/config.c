/*
 * Hugging Face config.json for the supported architectures: parsing (with file:line:col in
 * every message), validation, RoPE frequencies, and writing.
 *
 * Key names and defaults follow transformers' LlamaConfig / MistralConfig / Qwen2Config /
 * GPT2Config. Size keys are required (a config without hidden_size is more likely a wrong file
 * than a default model); the rest take the class defaults. Options that change the math and are
 * not implemented (another hidden_act, dynamic/yarn RoPE, Qwen2 sliding window) are refused by
 * name rather than silently ignored.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/file.h"

void vkft_model_config_default(vkft_model_config *cfg, vkft_model_arch arch) {
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = arch;
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s",
             arch == VKFT_ARCH_GPT2 ? "gpt2" : "llama");
    cfg->vocab = 512;
    cfg->hidden = 64;
    cfg->layers = 2;
    cfg->heads = 4;
    cfg->kv_heads = 4;
    cfg->head_dim = 16;
    cfg->ffn = arch == VKFT_ARCH_GPT2 ? 256 : 172;
    cfg->max_positions = 256;
    cfg->norm_eps = arch == VKFT_ARCH_GPT2 ? 1e-5 : 1e-6;
    cfg->rope_theta = 10000.0;
    cfg->rope_scaling.type = VKFT_ROPE_DEFAULT;
    cfg->tie_word_embeddings = arch == VKFT_ARCH_GPT2;
    cfg->bos_id = -1;
    snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "float32");
}

/* ---- parsing helpers: each names the key and where it is ---- */

typedef struct cfg_reader {
    const vkft_json *root;
    const char *file;
    vkft_err *err;
} cfg_reader;

static vkft_status bad_type(const cfg_reader *r, const char *key, const vkft_json *v,
                            const char *want) {
    return vkft_err_set(r->err, VKFT_ERR_INVALID_ARG, "%s:%d:%d: key '%s': expected %s, found %s",
                        r->file, v->line, v->col, key, want, vkft_json_type_name(v->type));
}

/* An integer key: required (absent -> error) or defaulted (absent or null -> *out unchanged).
 * Also checks lo <= value. */
static vkft_status get_int(const cfg_reader *r, const char *key, bool required, int64_t lo,
                           int64_t *out) {
    const vkft_json *v = vkft_json_get(r->root, key);
    if (!v || (v->type == VKFT_JSON_NULL && !required)) {
        if (!required) return VKFT_OK;
        return vkft_err_set(r->err, VKFT_ERR_INVALID_ARG,
                            "%s:%d:%d: missing required key '%s'", r->file, r->root->line,
                            r->root->col, key);
    }
    int64_t x;
    if (!vkft_json_get_int(v, &x)) return bad_type(r, key, v, "an integer");
    if (x < lo)
        return vkft_err_set(r->err, VKFT_ERR_INVALID_ARG,
                            "%s:%d:%d: key '%s': %lld is below the minimum %lld", r->file,
                            v->line, v->col, key, (long long)x, (long long)lo);
    *out = x;
    return VKFT_OK;
}

static vkft_status get_num(const cfg_reader *r, const vkft_json *obj, const char *key,
                           double *out) {
    const vkft_json *v = vkft_json_get(obj, key);
    if (!v || v->type == VKFT_JSON_NULL) return VKFT_OK;
    if (!vkft_json_get_double(v, out)) return bad_type(r, key, v, "a number");
    if (!isfinite(*out) || *out < 0)
        return vkft_err_set(r->err, VKFT_ERR_INVALID_ARG,
                            "%s:%d:%d: key '%s': expected a finite non-negative number",
                            r->file, v->line, v->col, key);
    return VKFT_OK;
}

static vkft_status get_bool(const cfg_reader *r, const char *key, bool *out) {
    const vkft_json *v = vkft_json_get(r->root, key);
    if (!v || v->type == VKFT_JSON_NULL) return VKFT_OK;
    if (!vkft_json_get_bool(v, out)) return bad_type(r, key, v, "true or false");
    return VKFT_OK;
}

/* A string key that, when present, must equal one of the accepted values. */
static vkft_status expect_str(const cfg_reader *r, const char *key, const char *const *ok,
                              int n_ok) {
    const vkft_json *v = vkft_json_get(r->root, key);
    if (!v || v->type == VKFT_JSON_NULL) return VKFT_OK;
    const char *s = vkft_json_get_str(v);
    if (!s) return bad_type(r, key, v, "a string");
    for (int i = 0; i < n_ok; i++)
        if (!strcmp(s, ok[i])) return VKFT_OK;
    return vkft_err_set(r->err, VKFT_ERR_UNSUPPORTED,
                        "%s:%d:%d: key '%s': \"%s\" is not supported (supported: \"%s\")",
                        r->file, v->line, v->col, key, s, ok[0]);
}

static vkft_status get_token_ids(const cfg_reader *r, vkft_model_config *cfg) {
    int64_t bos = -1;
    vkft_status st = get_int(r, "bos_token_id", false, 0, &bos);
    if (st) return st;
    cfg->bos_id = (int32_t)bos;
    const vkft_json *v = vkft_json_get(r->root, "eos_token_id");
    if (!v || v->type == VKFT_JSON_NULL) return VKFT_OK;
    size_t n = v->type == VKFT_JSON_ARRAY ? v->len : 1;
    for (size_t i = 0; i < n; i++) {
        const vkft_json *e = v->type == VKFT_JSON_ARRAY ? vkft_json_at(v, i) : v;
        int64_t id;
        if (!vkft_json_get_int(e, &id) || id < 0 || id > INT32_MAX)
            return bad_type(r, "eos_token_id", e, "a token id or a list of token ids");
        if (cfg->n_eos == VKFT_MODEL_MAX_EOS)
            return vkft_err_set(r->err, VKFT_ERR_UNSUPPORTED,
                                "%s:%d:%d: key 'eos_token_id': more than %d ids", r->file,
                                v->line, v->col, VKFT_MODEL_MAX_EOS);
        cfg->eos_ids[cfg->n_eos++] = (int32_t)id;
    }
    return VKFT_OK;
}

/* rope_scaling (older) or rope_parameters (newer, which also carries rope_theta). */
static vkft_status get_rope(const cfg_reader *r, vkft_model_config *cfg) {
    const char *key = "rope_parameters";
    const vkft_json *rp = vkft_json_get(r->root, key);
    if (!rp || rp->type == VKFT_JSON_NULL) {
        key = "rope_scaling";
        rp = vkft_json_get(r->root, key);
    }
    vkft_status st = get_num(r, r->root, "rope_theta", &cfg->rope_theta);
    if (st || !rp || rp->type == VKFT_JSON_NULL) return st;
    if (rp->type != VKFT_JSON_OBJECT) return bad_type(r, key, rp, "an object");
    if ((st = get_num(r, rp, "rope_theta", &cfg->rope_theta))) return st;
    const vkft_json *t = vkft_json_get(rp, "rope_type");
    if (!t) t = vkft_json_get(rp, "type");
    const char *type = t ? vkft_json_get_str(t) : "default";
    if (!type) return bad_type(r, "rope_type", t, "a string");
    if (!strcmp(type, "default")) {
        cfg->rope_scaling.type = VKFT_ROPE_DEFAULT;
        return VKFT_OK;
    }
    if (!strcmp(type, "linear")) cfg->rope_scaling.type = VKFT_ROPE_LINEAR;
    else if (!strcmp(type, "llama3")) cfg->rope_scaling.type = VKFT_ROPE_LLAMA3;
    else
        return vkft_err_set(r->err, VKFT_ERR_UNSUPPORTED,
                            "%s:%d:%d: key '%s': rope type \"%s\" is not supported "
                            "(default, linear, llama3)", r->file, t->line, t->col, key, type);
    double f = 0;
    if ((st = get_num(r, rp, "factor", &f))) return st;
    if (f <= 0)
        return vkft_err_set(r->err, VKFT_ERR_INVALID_ARG,
                            "%s:%d:%d: key '%s': rope type \"%s\" needs a positive 'factor'",
                            r->file, rp->line, rp->col, key, type);
    cfg->rope_scaling.factor = f;
    if (cfg->rope_scaling.type != VKFT_ROPE_LLAMA3) return VKFT_OK;
    double lo = 0, hi = 0, orig = 0;
    if ((st = get_num(r, rp, "low_freq_factor", &lo)) ||
        (st = get_num(r, rp, "high_freq_factor", &hi)) ||
        (st = get_num(r, rp, "original_max_position_embeddings", &orig)))
        return st;
    if (lo <= 0 || hi <= lo || orig < 1)
        return vkft_err_set(r->err, VKFT_ERR_INVALID_ARG,
                            "%s:%d:%d: key '%s': llama3 scaling needs low_freq_factor > 0, "
                            "high_freq_factor > low_freq_factor and "
                            "original_max_position_embeddings", r->file, rp->line, rp->col, key);
    cfg->rope_scaling.low_freq_factor = lo;
    cfg->rope_scaling.high_freq_factor = hi;
    cfg->rope_scaling.original_max_positions = (int64_t)orig;
    return VKFT_OK;
}

static vkft_status parse_llama(const cfg_reader *r, vkft_model_config *cfg) {
    bool qwen2 = !strcmp(cfg->model_type, "qwen2");
    cfg->max_positions = qwen2 ? 32768 : !strcmp(cfg->model_type, "mistral") ? 131072 : 2048;
    cfg->kv_heads = 0;
    cfg->head_dim = 0;
    cfg->tie_word_embeddings = false;
    vkft_status st;
    if ((st = get_int(r, "vocab_size", true, 1, &cfg->vocab)) ||
        (st = get_int(r, "hidden_size", true, 1, &cfg->hidden)) ||
        (st = get_int(r, "intermediate_size", true, 1, &cfg->ffn)) ||
        (st = get_int(r, "num_hidden_layers", true, 1, &cfg->layers)) ||
        (st = get_int(r, "num_attention_heads", true, 1, &cfg->heads)) ||
        (st = get_int(r, "num_key_value_heads", false, 1, &cfg->kv_heads)) ||
        (st = get_int(r, "head_dim", false, 2, &cfg->head_dim)) ||
        (st = get_int(r, "max_position_embeddings", false, 1, &cfg->max_positions)) ||
        (st = get_num(r, r->root, "rms_norm_eps", &cfg->norm_eps)) ||
        (st = get_rope(r, cfg)) ||
        (st = get_bool(r, "tie_word_embeddings", &cfg->tie_word_embeddings)))
        return st;
    if (!cfg->kv_heads) cfg->kv_heads = cfg->heads;
    if (!cfg->head_dim) cfg->head_dim = cfg->hidden / cfg->heads;
    static const char *const silu[] = {"silu"};
    if ((st = expect_str(r, "hidden_act", silu, 1))) return st;
    if (qwen2) {
        cfg->qkv_bias = true;   /* Qwen2Attention: q/k/v with bias, o_proj without */
        bool sliding = false;
        if ((st = get_bool(r, "use_sliding_window", &sliding))) return st;
        if (sliding)
            return vkft_err_set(r->err, VKFT_ERR_UNSUPPORTED,
                                "%s: key 'use_sliding_window': sliding-window attention is not "
                                "supported", r->file);
        return VKFT_OK;
    }
    bool attn_bias = false;
    if ((st = get_bool(r, "attention_bias", &attn_bias)) ||
        (st = get_bool(r, "mlp_bias", &cfg->mlp_bias)))
        return st;
    cfg->qkv_bias = cfg->o_bias = attn_bias;
    return VKFT_OK;
}

static vkft_status parse_gpt2(const cfg_reader *r, vkft_model_config *cfg) {
    cfg->max_positions = 1024;
    cfg->norm_eps = 1e-5;
    cfg->ffn = 0;
    cfg->tie_word_embeddings = true;
    vkft_status st;
    if ((st = get_int(r, "vocab_size", true, 1, &cfg->vocab)) ||
        (st = get_int(r, "n_embd", true, 1, &cfg->hidden)) ||
        (st = get_int(r, "n_layer", true, 1, &cfg->layers)) ||
        (st = get_int(r, "n_head", true, 1, &cfg->heads)) ||
        (st = get_int(r, "n_inner", false, 1, &cfg->ffn)) ||
        (st = get_int(r, "n_positions", false, 1, &cfg->max_positions)) ||
        (st = get_num(r, r->root, "layer_norm_epsilon", &cfg->norm_eps)) ||
        (st = get_bool(r, "tie_word_embeddings", &cfg->tie_word_embeddings)))
        return st;
    if (!cfg->ffn) cfg->ffn = 4 * cfg->hidden;
    cfg->kv_heads = cfg->heads;
    cfg->head_dim = cfg->hidden / cfg->heads;
    cfg->qkv_bias = cfg->o_bias = cfg->mlp_bias = true;
    static const char *const gelu[] = {"gelu_new", "gelu_pytorch_tanh"};
    if ((st = expect_str(r, "activation_function", gelu, 2))) return st;
    bool flag = false;
    if ((st = get_bool(r, "scale_attn_by_inverse_layer_idx", &flag))) return st;
    if (flag)
        return vkft_err_set(r->err, VKFT_ERR_UNSUPPORTED,
                            "%s: key 'scale_attn_by_inverse_layer_idx' is not supported",
                            r->file);
    flag = true;
    if ((st = get_bool(r, "scale_attn_weights", &flag))) return st;
    if (!flag)
        return vkft_err_set(r->err, VKFT_ERR_UNSUPPORTED,
                            "%s: key 'scale_attn_weights': false is not supported", r->file);
    return VKFT_OK;
}

vkft_status vkft_model_config_parse(const vkft_json *root, const char *file,
                                    vkft_model_config *cfg, vkft_err *err) {
    if (!root || !cfg) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "config: no input");
    if (!file) file = "config.json";
    cfg_reader r = {.root = root, .file = file, .err = err};
    if (root->type != VKFT_JSON_OBJECT)
        return bad_type(&r, "(top level)", root, "an object");
    const vkft_json *mt = vkft_json_get(root, "model_type");
    if (!mt)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s:%d:%d: missing required key "
                            "'model_type'", file, root->line, root->col);
    const char *type = vkft_json_get_str(mt);
    if (!type) return bad_type(&r, "model_type", mt, "a string");
    static const char *const llamas[] = {"llama", "mistral", "qwen2"};
    vkft_model_arch arch;
    if (!strcmp(type, "gpt2")) arch = VKFT_ARCH_GPT2;
    else {
        arch = VKFT_ARCH_LLAMA;
        bool known = false;
        for (int i = 0; i < 3; i++) known |= !strcmp(type, llamas[i]);
        if (!known)
            return vkft_err_set(err, VKFT_ERR_UNSUPPORTED,
                                "%s:%d:%d: key 'model_type': architecture \"%s\" is not "
                                "supported (llama, mistral, qwen2, gpt2)", file, mt->line,
                                mt->col, type);
    }
    vkft_model_config c;
    vkft_model_config_default(&c, arch);
    snprintf(c.model_type, sizeof c.model_type, "%s", type);
    vkft_status st = arch == VKFT_ARCH_GPT2 ? parse_gpt2(&r, &c) : parse_llama(&r, &c);
    if (!st) st = get_token_ids(&r, &c);
    if (st) return st;
    c.torch_dtype[0] = 0;
    const vkft_json *dt = vkft_json_get(root, "torch_dtype");
    if (!dt) dt = vkft_json_get(root, "dtype");
    if (dt && dt->type != VKFT_JSON_NULL) {
        const char *s = vkft_json_get_str(dt);
        if (!s) return bad_type(&r, "torch_dtype", dt, "a string");
        snprintf(c.torch_dtype, sizeof c.torch_dtype, "%s", s);
    }
    if ((st = vkft_model_config_validate(&c, err))) return vkft_err_prefix(err, st, "%s", file);
    *cfg = c;
    return VKFT_OK;
}

vkft_status vkft_model_config_load(const char *path, vkft_model_config *cfg, vkft_err *err) {
    if (!path) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "config: no path");
    char *joined = NULL;
    if (vkft_is_dir(path)) {
        joined = vkft_path_join(path, "config.json");
        if (!joined) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "config: out of memory");
        path = joined;
    }
    vkft_json_doc *doc = NULL;
    vkft_status st = vkft_json_parse_file(path, &doc, err);
    if (!st) st = vkft_model_config_parse(vkft_json_root(doc), path, cfg, err);
    vkft_json_free(doc);
    free(joined);
    return st;
}

vkft_status vkft_model_config_validate(const vkft_model_config *c, vkft_err *err) {
    if (c->vocab < 1 || c->hidden < 1 || c->layers < 1 || c->heads < 1 || c->kv_heads < 1 ||
        c->head_dim < 1 || c->ffn < 1 || c->max_positions < 1)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "model sizes must be positive (vocab %lld, hidden %lld, layers %lld, "
                            "heads %lld, kv_heads %lld, head_dim %lld, ffn %lld)",
                            (long long)c->vocab, (long long)c->hidden, (long long)c->layers,
                            (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim,
                            (long long)c->ffn);
    if (c->vocab > INT32_MAX || c->hidden > (1 << 20) || c->ffn > (1 << 22) ||
        c->layers > 4096 || c->heads > 4096 || c->head_dim > 4096)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "model sizes are implausibly large");
    if (c->heads % c->kv_heads)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "num_attention_heads (%lld) must be a multiple of "
                            "num_key_value_heads (%lld)", (long long)c->heads,
                            (long long)c->kv_heads);
    if (c->arch == VKFT_ARCH_GPT2 && c->hidden % c->heads)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "n_embd (%lld) must be a multiple of "
                            "n_head (%lld)", (long long)c->hidden, (long long)c->heads);
    if (c->arch == VKFT_ARCH_LLAMA && c->head_dim % 2)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "head_dim (%lld) must be even for "
                            "rotary embeddings", (long long)c->head_dim);
    if (!(c->norm_eps > 0) || !(c->rope_theta > 0))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "norm epsilon and rope_theta must be "
                            "positive");
    if (c->bos_id >= c->vocab)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "bos_token_id %d is outside the vocab "
                            "(%lld)", c->bos_id, (long long)c->vocab);
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] >= c->vocab)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "eos_token_id %d is outside the "
                                "vocab (%lld)", c->eos_ids[i], (long long)c->vocab);
    return VKFT_OK;
}

vkft_dtype vkft_model_config_file_dtype(const vkft_model_config *cfg) {
    if (!strcmp(cfg->torch_dtype, "float16")) return VKFT_F16;
    if (!strcmp(cfg->torch_dtype, "bfloat16")) return VKFT_BF16;
    return VKFT_F32;
}

/* transformers' _compute_default_rope_parameters / _compute_linear_scaling_rope_parameters /
 * _compute_llama3_parameters, computed in double then rounded (torch computes in f32 from an
 * int64 arange; the difference is below an f32 ulp for the exponents used). */
void vkft_model_rope_inv_freq(const vkft_model_config *cfg, float *inv_freq,
                              float *attention_scaling) {
    int64_t half = cfg->head_dim / 2;
    const double pi = 3.14159265358979323846;
    for (int64_t j = 0; j < half; j++) {
        float base = (float)(1.0 / pow(cfg->rope_theta, (double)(2 * j) / (double)cfg->head_dim));
        double f = base;
        if (cfg->rope_scaling.type == VKFT_ROPE_LINEAR) {
            f = base / cfg->rope_scaling.factor;
        } else if (cfg->rope_scaling.type == VKFT_ROPE_LLAMA3) {
            double factor = cfg->rope_scaling.factor, lo = cfg->rope_scaling.low_freq_factor;
            double hi = cfg->rope_scaling.high_freq_factor;
            double old = (double)cfg->rope_scaling.original_max_positions;
            double low_wavelen = old / lo, high_wavelen = old / hi;
            double wavelen = 2 * pi / base;
            if (wavelen > low_wavelen) {
                f = base / factor;
            } else if (wavelen >= high_wavelen) {
                double smooth = (old / wavelen - lo) / (hi - lo);
                f = (1 - smooth) * base / factor + smooth * base;
            }
        }
        if (inv_freq) inv_freq[j] = (float)f;
    }
    if (attention_scaling) *attention_scaling = 1.0f;
}
