/*
 * config.json: the fixtures' configs parse to the expected fields (defaults, eos lists, Qwen2
 * biases, rope_scaling and rope_parameters forms, GPT-2 n_inner null); bad configs fail with
 * the key and file:line:col; written configs read back equal.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "test_util.h"

static const char *fixture_dir(const char *name) {
    static char buf[512];
    const char *root = getenv("VKFT_FIXTURES");
    snprintf(buf, sizeof buf, "%s/model/%s", root ? root : "tests/fixtures", name);
    return buf;
}

static void test_fixture_configs(void) {
    vkft_model_config c;
    vkft_err err = {{0}};
    CHECK(!vkft_model_config_load(fixture_dir("llama_gqa"), &c, &err));
    CHECK(c.arch == VKFT_ARCH_LLAMA && c.vocab == 96 && c.hidden == 32 && c.heads == 4 &&
          c.kv_heads == 2 && c.head_dim == 8 && c.ffn == 48 && c.layers == 2);
    CHECK(!c.tie_word_embeddings && !c.qkv_bias && c.rope_scaling.type == VKFT_ROPE_DEFAULT);
    CHECK(c.bos_id == 1 && c.n_eos == 1 && c.eos_ids[0] == 2);
    CHECK(!strcmp(c.torch_dtype, "float32") && vkft_model_config_file_dtype(&c) == VKFT_F32);

    CHECK(!vkft_model_config_load(fixture_dir("llama3_tied"), &c, &err));
    CHECK(c.tie_word_embeddings && c.rope_scaling.type == VKFT_ROPE_LLAMA3);
    CHECK(c.rope_scaling.factor == 8.0 && c.rope_scaling.high_freq_factor == 4.0 &&
          c.rope_scaling.original_max_positions == 16 && c.rope_theta == 500000.0);
    CHECK(c.n_eos == 2 && c.eos_ids[1] == 3 && vkft_model_config_file_dtype(&c) == VKFT_BF16);
    /* llama3 bands: wavelength 2pi (j=0) is between 16/4 and 16: smoothed; the others (>16)
     * are divided by the factor */
    float inv[4], scale = 0;
    vkft_model_rope_inv_freq(&c, inv, &scale);
    double base1 = 1.0 / pow(500000.0, 2.0 / 8.0), smooth = (16.0 / (2 * M_PI) - 1.0) / 3.0;
    CHECK(fabsf(inv[0] - (float)((1 - smooth) / 8.0 + smooth)) < 1e-6f);
    CHECK(fabsf(inv[1] - (float)(base1 / 8.0)) < 1e-9f && scale == 1.0f);

    CHECK(!vkft_model_config_load(fixture_dir("qwen2_bias"), &c, &err));
    CHECK(!strcmp(c.model_type, "qwen2") && c.qkv_bias && !c.o_bias && !c.mlp_bias);
    CHECK(c.rope_scaling.type == VKFT_ROPE_LINEAR && c.rope_scaling.factor == 2.0 &&
          c.rope_theta == 1e6 && c.kv_heads == 1);

    char path[600];
    snprintf(path, sizeof path, "%s/config.json", fixture_dir("gpt2"));
    CHECK(!vkft_model_config_load(path, &c, &err));
    CHECK(c.arch == VKFT_ARCH_GPT2 && c.ffn == 128 && c.kv_heads == 4 && c.head_dim == 8 &&
          c.max_positions == 16 && c.tie_word_embeddings && c.qkv_bias && c.mlp_bias);
    CHECK(!vkft_model_config_load(fixture_dir("gpt2_untied"), &c, &err));
    CHECK(c.ffn == 40 && !c.tie_word_embeddings && c.n_eos == 0 && c.bos_id == -1);
    if (test_failures) fprintf(stderr, "last error: %s\n", err.msg);
}

/* Parses text; expects failure whose message contains every NULL-terminated needle. */
static void expect_error(const char *text, const char *const *needles) {
    vkft_json_doc *doc = NULL;
    vkft_err err = {{0}};
    vkft_model_config c;
    vkft_status st = vkft_json_parse(text, strlen(text), "cfg.json", &doc, &err);
    CHECK(st == VKFT_OK);
    if (st) return;
    st = vkft_model_config_parse(vkft_json_root(doc), "cfg.json", &c, &err);
    vkft_json_free(doc);
    if (st == VKFT_OK) {
        fprintf(stderr, "config accepted but should fail: %s\n", text);
        test_failures++;
        return;
    }
    for (int i = 0; needles[i]; i++)
        if (!strstr(err.msg, needles[i])) {
            fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err.msg, needles[i]);
            test_failures++;
        }
}

#define LLAMA_SIZES                                                                            \
    "\"vocab_size\": 10, \"hidden_size\": 8, \"intermediate_size\": 16,"                      \
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2"

static void test_errors(void) {
    expect_error("{\"model_type\": \"llama\", \"vocab_size\": 10}",
                 (const char *[]){"cfg.json:1:1", "hidden_size", NULL});
    expect_error("{\n  \"model_type\": \"bert\"\n}",
                 (const char *[]){"cfg.json:2:17", "bert", "not supported", NULL});
    expect_error("{\"hidden_size\": 8}", (const char *[]){"model_type", NULL});
    expect_error("{\"model_type\": \"llama\",\n \"vocab_size\": \"10\"}",
                 (const char *[]){"cfg.json:2:16", "vocab_size", "integer", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES ", \"num_key_value_heads\": 3}",
                 (const char *[]){"num_key_value_heads", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES ", \"hidden_act\": \"gelu\"}",
                 (const char *[]){"hidden_act", "gelu", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES
                 ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2}}",
                 (const char *[]){"rope_scaling", "yarn", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES
                 ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 2}}",
                 (const char *[]){"low_freq_factor", NULL});
    expect_error("{\"model_type\": \"qwen2\", " LLAMA_SIZES ", \"use_sliding_window\": true}",
                 (const char *[]){"use_sliding_window", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES ", \"eos_token_id\": [1, \"x\"]}",
                 (const char *[]){"eos_token_id", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES ", \"eos_token_id\": 99}",
                 (const char *[]){"eos_token_id 99", "vocab", NULL});
    expect_error("{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_embd\": 8, \"n_layer\": 1,"
                 " \"n_head\": 3}", (const char *[]){"n_head", NULL});
    expect_error("{\"model_type\": \"llama\", " LLAMA_SIZES ", \"tie_word_embeddings\": 1}",
                 (const char *[]){"tie_word_embeddings", "true or false", NULL});
    vkft_model_config c;
    vkft_err err = {{0}};
    CHECK(vkft_model_config_load("/nonexistent/dir", &c, &err) == VKFT_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/dir") != NULL);
}

static bool same_config(const vkft_model_config *a, const vkft_model_config *b) {
    return a->arch == b->arch && !strcmp(a->model_type, b->model_type) && a->vocab == b->vocab &&
           a->hidden == b->hidden && a->layers == b->layers && a->heads == b->heads &&
           a->kv_heads == b->kv_heads && a->head_dim == b->head_dim && a->ffn == b->ffn &&
           a->max_positions == b->max_positions && a->norm_eps == b->norm_eps &&
           a->rope_theta == b->rope_theta && a->rope_scaling.type == b->rope_scaling.type &&
           a->rope_scaling.factor == b->rope_scaling.factor &&
           a->rope_scaling.low_freq_factor == b->rope_scaling.low_freq_factor &&
           a->rope_scaling.original_max_positions == b->rope_scaling.original_max_positions &&
           a->tie_word_embeddings == b->tie_word_embeddings && a->qkv_bias == b->qkv_bias &&
           a->o_bias == b->o_bias && a->mlp_bias == b->mlp_bias && a->bos_id == b->bos_id &&
           a->n_eos == b->n_eos && !memcmp(a->eos_ids, b->eos_ids, sizeof a->eos_ids) &&
           !strcmp(a->torch_dtype, b->torch_dtype);
}

static void test_round_trip(void) {
    char dir[] = "/tmp/vkft_config_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/config.json", dir);
    static const char *const cases[] = {"llama_gqa", "llama3_tied", "qwen2_bias", "gpt2",
                                        "gpt2_untied"};
    for (int i = 0; i < 5; i++) {
        vkft_model_config a, b;
        vkft_err err = {{0}};
        CHECK(!vkft_model_config_load(fixture_dir(cases[i]), &a, &err));
        CHECK(!vkft_model_config_write(&a, path, &err));
        CHECK(!vkft_model_config_load(path, &b, &err));
        if (!same_config(&a, &b)) {
            fprintf(stderr, "%s: config changed in a write/read round trip (%s)\n", cases[i],
                    err.msg);
            test_failures++;
        }
    }
    /* defaults are valid and survive too; a changed field is detected */
    vkft_model_config a, b;
    vkft_err err = {{0}};
    vkft_model_config_default(&a, VKFT_ARCH_LLAMA);
    a.n_eos = 2, a.eos_ids[0] = 5, a.eos_ids[1] = 7, a.bos_id = 4;
    CHECK(!vkft_model_config_write(&a, path, &err) && !vkft_model_config_load(path, &b, &err));
    CHECK(same_config(&a, &b));
    b.kv_heads = 2;
    CHECK(!same_config(&a, &b));
    a.heads = 3;   /* invalid: the writer refuses and leaves the file as it was */
    CHECK(vkft_model_config_write(&a, path, &err) != VKFT_OK);
    CHECK(!vkft_model_config_load(path, &b, &err) && b.heads == 4);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_fixture_configs();
    test_errors();
    test_round_trip();
    if (test_failures) fprintf(stderr, "FAILED: %d check(s)\n", test_failures);
    return test_failures ? 1 : 0;
}
