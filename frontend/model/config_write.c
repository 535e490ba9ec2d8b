/*
 * Writing config.json in the Hugging Face layout of each architecture, so transformers'
 * AutoModelForCausalLM.from_pretrained reads what init-model and full fine-tuning produce.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/file.h"

static void write_ids(const vkft_model_config *c, vkft_json_writer *w) {
    if (c->bos_id >= 0) {
        vkft_json_key(w, "bos_token_id");
        vkft_json_int(w, c->bos_id);
    }
    if (c->n_eos == 1) {
        vkft_json_key(w, "eos_token_id");
        vkft_json_int(w, c->eos_ids[0]);
    } else if (c->n_eos > 1) {
        vkft_json_key(w, "eos_token_id");
        vkft_json_arr_begin(w);
        for (int i = 0; i < c->n_eos; i++) vkft_json_int(w, c->eos_ids[i]);
        vkft_json_arr_end(w);
    }
}

static void write_rope(const vkft_model_config *c, vkft_json_writer *w) {
    vkft_json_key(w, "rope_theta");
    vkft_json_f64(w, c->rope_theta);
    vkft_json_key(w, "rope_scaling");
    if (c->rope_scaling.type == VKFT_ROPE_DEFAULT) {
        vkft_json_null(w);
        return;
    }
    vkft_json_obj_begin(w);
    vkft_json_key(w, "rope_type");
    vkft_json_str(w, c->rope_scaling.type == VKFT_ROPE_LINEAR ? "linear" : "llama3");
    vkft_json_key(w, "factor");
    vkft_json_f64(w, c->rope_scaling.factor);
    if (c->rope_scaling.type == VKFT_ROPE_LLAMA3) {
        vkft_json_key(w, "low_freq_factor");
        vkft_json_f64(w, c->rope_scaling.low_freq_factor);
        vkft_json_key(w, "high_freq_factor");
        vkft_json_f64(w, c->rope_scaling.high_freq_factor);
        vkft_json_key(w, "original_max_position_embeddings");
        vkft_json_int(w, c->rope_scaling.original_max_positions);
    }
    vkft_json_obj_end(w);
}

static void kv_int(vkft_json_writer *w, const char *k, int64_t v) {
    vkft_json_key(w, k);
    vkft_json_int(w, v);
}

static void kv_str(vkft_json_writer *w, const char *k, const char *v) {
    vkft_json_key(w, k);
    vkft_json_str(w, v);
}

static void kv_bool(vkft_json_writer *w, const char *k, bool v) {
    vkft_json_key(w, k);
    vkft_json_bool(w, v);
}

static void write_llama(const vkft_model_config *c, vkft_json_writer *w) {
    bool qwen2 = !strcmp(c->model_type, "qwen2"), mistral = !strcmp(c->model_type, "mistral");
    vkft_json_key(w, "architectures");
    vkft_json_arr_begin(w);
    vkft_json_str(w, qwen2 ? "Qwen2ForCausalLM" : mistral ? "MistralForCausalLM"
                                                           : "LlamaForCausalLM");
    vkft_json_arr_end(w);
    kv_str(w, "model_type", qwen2 ? "qwen2" : mistral ? "mistral" : "llama");
    kv_int(w, "vocab_size", c->vocab);
    kv_int(w, "hidden_size", c->hidden);
    kv_int(w, "intermediate_size", c->ffn);
    kv_int(w, "num_hidden_layers", c->layers);
    kv_int(w, "num_attention_heads", c->heads);
    kv_int(w, "num_key_value_heads", c->kv_heads);
    kv_int(w, "head_dim", c->head_dim);
    kv_int(w, "max_position_embeddings", c->max_positions);
    vkft_json_key(w, "rms_norm_eps");
    vkft_json_f64(w, c->norm_eps);
    write_rope(c, w);
    kv_str(w, "hidden_act", "silu");
    if (!qwen2) {
        kv_bool(w, "attention_bias", c->qkv_bias);
        kv_bool(w, "mlp_bias", c->mlp_bias);
    } else {
        kv_bool(w, "use_sliding_window", false);
    }
    vkft_json_key(w, "attention_dropout");
    vkft_json_f64(w, 0.0);
}

static void write_gpt2(const vkft_model_config *c, vkft_json_writer *w) {
    vkft_json_key(w, "architectures");
    vkft_json_arr_begin(w);
    vkft_json_str(w, "GPT2LMHeadModel");
    vkft_json_arr_end(w);
    kv_str(w, "model_type", "gpt2");
    kv_int(w, "vocab_size", c->vocab);
    kv_int(w, "n_embd", c->hidden);
    kv_int(w, "n_layer", c->layers);
    kv_int(w, "n_head", c->heads);
    kv_int(w, "n_inner", c->ffn);
    kv_int(w, "n_positions", c->max_positions);
    kv_int(w, "n_ctx", c->max_positions);
    vkft_json_key(w, "layer_norm_epsilon");
    vkft_json_f64(w, c->norm_eps);
    kv_str(w, "activation_function", "gelu_new");
    kv_bool(w, "scale_attn_weights", true);
    static const char *const zero[] = {"attn_pdrop", "embd_pdrop", "resid_pdrop"};
    for (int i = 0; i < 3; i++) {
        vkft_json_key(w, zero[i]);
        vkft_json_f64(w, 0.0);
    }
}

void vkft_model_config_to_json(const vkft_model_config *c, vkft_json_writer *w) {
    vkft_json_obj_begin(w);
    if (c->arch == VKFT_ARCH_GPT2) write_gpt2(c, w);
    else write_llama(c, w);
    kv_bool(w, "tie_word_embeddings", c->tie_word_embeddings);
    write_ids(c, w);
    vkft_json_key(w, "initializer_range");
    vkft_json_f64(w, 0.02);
    kv_str(w, "torch_dtype", c->torch_dtype[0] ? c->torch_dtype : "float32");
    kv_bool(w, "use_cache", true);
    vkft_json_obj_end(w);
}

vkft_status vkft_model_config_write(const vkft_model_config *cfg, const char *path,
                                    vkft_err *err) {
    vkft_status st = vkft_model_config_validate(cfg, err);
    if (st) return vkft_err_prefix(err, st, "%s", path);
    vkft_json_writer w;
    vkft_json_writer_init(&w, 2);
    vkft_model_config_to_json(cfg, &w);
    char *text = NULL;
    size_t len = 0;
    if ((st = vkft_json_writer_finish(&w, &text, &len, err))) return st;
    st = vkft_file_write_atomic(path, text, len, err);  /* pretty output ends with a newline */
    free(text);
    return st;
}
