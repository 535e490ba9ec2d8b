/*
 * Dataset formats: every format's tokens, labels and weights against an oracle (the test
 * tokenizer maps bytes to ids 0..255, so expected ids are written as text), BOS from the
 * post-processor, EOS appended once, prompt masking and prompt_loss_weight (global and per
 * dataset), the Alpaca template, the four chat templates (recognised from the tokenizer's
 * template and forced), ShareGPT keys, format auto-detection, and TRL's boundary rule when a
 * merge crosses the prompt/completion boundary.
 */
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"

#define CAP 1024

typedef struct expect {
    int32_t ids[CAP];
    float w[CAP];
    int64_t n;
} expect;

static void ex_reset(expect *e)
{
    e->n = 0;
}

static void ex_add(expect *e, const char *s, float w)
{
    dt_expect_w(s, w, e->ids, e->w, &e->n, CAP);
}

static void ex_id(expect *e, int32_t id, float w)
{
    e->ids[e->n] = id;
    e->w[e->n++] = w;
}

#define CHECK_EX(d, i, j, e) CHECK(dt_example_is((d), (i), (j), (e)->ids, (e)->w, (e)->n))

static vkft_dataset *open_fmt(const char *fixture, vkft_data_format f, float plw,
                              float src_plw, vkft_chat_template tmpl, const vkft_tokenizer *tok)
{
    vkft_data_source src = {.path = dt_fixture(fixture), .format = f,
                            .prompt_loss_weight = src_plw};
    vkft_data_options o;
    vkft_data_options_default(&o);
    o.seq_len = 64;
    o.prompt_loss_weight = plw;
    o.chat_template = tmpl;
    if (!tok) o.vocab_size = 100;
    vkft_dataset *d = NULL;
    vkft_err err;
    CHECK_ST(vkft_dataset_open(&src, 1, &o, tok, &d, &err), err);
    return d;
}

static void test_text(const vkft_tokenizer *tok_a)
{
    vkft_dataset *d = open_fmt("text.jsonl", VKFT_DATA_TEXT, 0, -1, 0, tok_a);
    if (!d) return;
    expect e;
    ex_reset(&e);
    ex_id(&e, TT_BOS, 1);
    ex_add(&e, "Hello world", 1);
    ex_id(&e, TT_EOS, 1);
    CHECK_EX(d, 0, 0, &e);
    ex_reset(&e);
    ex_id(&e, TT_BOS, 1);
    ex_add(&e, "two\nlines", 1);
    ex_id(&e, TT_EOS, 1);
    CHECK_EX(d, 0, 1, &e);
    /* already ends with EOS: not appended again */
    ex_reset(&e);
    ex_id(&e, TT_BOS, 1);
    ex_add(&e, "ends with eos</s>", 1);
    CHECK_EX(d, 0, 2, &e);
    vkft_data_stats s;
    vkft_dataset_stats(d, 0, &s);
    CHECK(s.examples == 3);
    CHECK(s.tokens == 13 + 11 + 15);
    CHECK(s.target_tokens == s.tokens);
    CHECK(strcmp(vkft_dataset_task(d, 0), "text") == 0);
    /* the oracle check can fail: a wrong weight is caught */
    e.w[1] = 0.5f;
    CHECK(!dt_example_is(d, 0, 2, e.ids, e.w, e.n));
    vkft_dataset_free(d);
}

static void completion_expect(expect *e, float pw)
{
    ex_reset(e);
    ex_id(e, TT_BOS, pw);
    ex_add(e, "Q: 2+2?", pw);
    ex_add(e, " A: 4", 1);
    ex_id(e, TT_EOS, 1);
}

static void test_completion(const vkft_tokenizer *tok_a, const vkft_tokenizer *tok_g)
{
    expect e;
    vkft_dataset *d = open_fmt("completion.jsonl", VKFT_DATA_COMPLETION, 0, -1, 0, tok_a);
    completion_expect(&e, 0);
    if (d) CHECK_EX(d, 0, 0, &e);
    vkft_data_stats s;
    if (d) vkft_dataset_stats(d, 0, &s);
    if (d) CHECK(s.target_tokens == 5 + 1 + 3 + 1);
    vkft_dataset_free(d);
    d = open_fmt("completion.jsonl", VKFT_DATA_COMPLETION, 0.25f, -1, 0, tok_a);
    completion_expect(&e, 0.25f);
    if (d) CHECK_EX(d, 0, 0, &e);
    vkft_dataset_free(d);
    /* the dataset's own weight overrides the global one */
    d = open_fmt("completion.jsonl", VKFT_DATA_COMPLETION, 0.25f, 0.5f, 0, tok_a);
    completion_expect(&e, 0.5f);
    if (d) CHECK_EX(d, 0, 0, &e);
    vkft_dataset_free(d);
    /* no BOS post-processor: no BOS; GPT-2's <|endoftext|> is the EOS */
    d = open_fmt("completion.jsonl", VKFT_DATA_COMPLETION, 0, -1, 0, tok_g);
    ex_reset(&e);
    ex_add(&e, "Say hi", 0);
    ex_add(&e, " hi", 1);
    ex_id(&e, TT_ENDOFTEXT, 1);
    if (d) CHECK_EX(d, 0, 1, &e);
    vkft_dataset_free(d);
}

static void test_alpaca(const vkft_tokenizer *tok_g)
{
    vkft_dataset *d = open_fmt("alpaca.jsonl", VKFT_DATA_ALPACA, 0, -1, 0, tok_g);
    if (!d) return;
    expect e;
    ex_reset(&e);
    ex_add(&e, "Below is an instruction that describes a task, paired with an input that "
               "provides further context. Write a response that appropriately completes the "
               "request.\n\n### Instruction:\nAdd the numbers.\n\n### Input:\n2 and 3\n\n"
               "### Response:\n", 0);
    ex_add(&e, "5", 1);
    ex_id(&e, TT_ENDOFTEXT, 1);
    CHECK_EX(d, 0, 0, &e);
    static const char plain[] = "Below is an instruction that describes a task. Write a "
                                "response that appropriately completes the request.\n\n"
                                "### Instruction:\n";
    ex_reset(&e);
    ex_add(&e, plain, 0);
    ex_add(&e, "Name a colour.\n\n### Response:\n", 0);
    ex_add(&e, "Blue", 1);
    ex_id(&e, TT_ENDOFTEXT, 1);
    CHECK_EX(d, 0, 1, &e);
    ex_reset(&e);
    ex_add(&e, plain, 0);
    ex_add(&e, "Say yes.\n\n### Response:\n", 0);
    ex_add(&e, "Yes", 1);
    ex_id(&e, TT_ENDOFTEXT, 1);
    CHECK_EX(d, 0, 2, &e);
    vkft_dataset_free(d);
}

static void test_chat(void)
{
    expect e;
    /* ChatML fallback (no template), BOS from the post-processor, EOS </s> appended */
    vkft_tokenizer *tok = dt_tokenizer(true, "<s>", "</s>", NULL);
    vkft_dataset *d = open_fmt("chat.jsonl", VKFT_DATA_CHAT, 0, -1, 0, tok);
    ex_reset(&e);
    ex_id(&e, TT_BOS, 0);
    ex_add(&e, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n"
               "<|im_start|>assistant\n", 0);
    ex_add(&e, " Hello <|im_end|>", 1);
    ex_add(&e, "\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n", 0);
    ex_add(&e, "Ok<|im_end|>", 1);
    ex_id(&e, TT_EOS, 1);
    if (d) CHECK_EX(d, 0, 0, &e);
    /* ShareGPT keys: conversations / from / value, human and gpt */
    ex_reset(&e);
    ex_id(&e, TT_BOS, 0);
    ex_add(&e, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", 0);
    ex_add(&e, "Hello<|im_end|>", 1);
    ex_id(&e, TT_EOS, 1);
    if (d) CHECK_EX(d, 0, 1, &e);
    vkft_dataset_free(d);
    /* forced Llama 3 on the same tokenizer */
    d = open_fmt("chat.jsonl", VKFT_DATA_CHAT, 0, -1, VKFT_CHAT_LLAMA3, tok);
    ex_reset(&e);
    ex_id(&e, TT_BOS, 0);
    ex_add(&e, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n", 0);
    ex_add(&e, "Hello<|eot_id|>", 1);
    ex_id(&e, TT_EOS, 1);
    if (d) CHECK_EX(d, 0, 1, &e);
    vkft_dataset_free(d);
    vkft_tokenizer_free(tok);

    /* Llama 2, recognised by [INST] */
    tok = dt_tokenizer(true, "<s>", "</s>", "{{ bos_token + '[INST] ' + content }}");
    d = open_fmt("chat.jsonl", VKFT_DATA_CHAT, 0, -1, 0, tok);
    ex_reset(&e);
    ex_id(&e, TT_BOS, 0);
    ex_add(&e, "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\n Hi [/INST]", 0);
    ex_add(&e, " Hello </s>", 1);
    ex_add(&e, "<s>[INST] Bye [/INST]", 0);
    ex_add(&e, " Ok </s>", 1);
    if (d) CHECK_EX(d, 0, 0, &e);
    vkft_dataset_free(d);
    vkft_tokenizer_free(tok);

    /* Llama 3, recognised by its header ids; no BOS post-processor in this tokenizer */
    tok = dt_tokenizer(false, "<|begin_of_text|>", "<|eot_id|>",
                       "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}");
    d = open_fmt("chat.jsonl", VKFT_DATA_CHAT, 0, -1, 0, tok);
    ex_reset(&e);
    ex_add(&e, "<|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|>"
               "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n", 0);
    ex_add(&e, "Hello<|eot_id|>", 1);
    ex_add(&e, "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n", 0);
    ex_add(&e, "Ok<|eot_id|>", 1);
    if (d) CHECK_EX(d, 0, 0, &e);
    vkft_dataset_free(d);
    vkft_tokenizer_free(tok);

    /* Zephyr, recognised by <|assistant|>, with a prompt loss weight */
    tok = dt_tokenizer(true, "<s>", "</s>", "{{ '<|assistant|>\n' + message['content'] }}");
    d = open_fmt("chat.jsonl", VKFT_DATA_CHAT, 0.125f, -1, 0, tok);
    ex_reset(&e);
    ex_id(&e, TT_BOS, 0.125f);
    ex_add(&e, "<|system|>\nBe kind.</s>\n<|user|>\n Hi </s>\n<|assistant|>\n", 0.125f);
    ex_add(&e, " Hello </s>", 1);
    ex_add(&e, "\n<|user|>\nBye</s>\n<|assistant|>\n", 0.125f);
    ex_add(&e, "Ok</s>", 1);
    if (d) CHECK_EX(d, 0, 0, &e);
    vkft_dataset_free(d);
    vkft_tokenizer_free(tok);
}

static void test_tokens(void)
{
    vkft_dataset *d = open_fmt("tokens.jsonl", VKFT_DATA_TOKENS, 0, -1, 0, NULL);
    if (!d) return;
    const int32_t ids0[] = {1, 2, 3, 4}, ids1[] = {5, 6, 7};
    const float w0[] = {0, 0, 1, 1}, w1[] = {1, 1, 1};
    CHECK(dt_example_is(d, 0, 0, ids0, w0, 4));
    CHECK(dt_example_is(d, 0, 1, ids1, w1, 3));
    vkft_dataset_free(d);
}

/* AUTO picks the same format as the explicit one: identical examples. */
static void test_auto(const vkft_tokenizer *tok_a)
{
    static const struct { const char *file; vkft_data_format f; } cases[] = {
        {"text.jsonl", VKFT_DATA_TEXT}, {"completion.jsonl", VKFT_DATA_COMPLETION},
        {"alpaca.jsonl", VKFT_DATA_ALPACA}, {"chat.jsonl", VKFT_DATA_CHAT},
        {"tokens.jsonl", VKFT_DATA_TOKENS},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vkft_dataset *a = open_fmt(cases[c].file, VKFT_DATA_AUTO, 0, -1, 0, tok_a);
        vkft_dataset *b = open_fmt(cases[c].file, cases[c].f, 0, -1, 0, tok_a);
        if (!a || !b) {
            vkft_dataset_free(a);
            vkft_dataset_free(b);
            continue;
        }
        vkft_data_stats sa, sb;
        vkft_dataset_stats(a, 0, &sa);
        vkft_dataset_stats(b, 0, &sb);
        CHECK(sa.examples == sb.examples);
        for (int64_t j = 0; j < sa.examples; j++) {
            const int32_t *ids;
            const float *w;
            int64_t n;
            CHECK(vkft_dataset_example(b, 0, j, &ids, NULL, &w, &n));
            CHECK(dt_example_is(a, 0, j, ids, w, n));
        }
        vkft_dataset_free(a);
        vkft_dataset_free(b);
    }
    vkft_data_format f;
    CHECK(vkft_data_format_parse("alpaca", &f) && f == VKFT_DATA_ALPACA);
    CHECK(!vkft_data_format_parse("sharegpt", &f));
    CHECK(strcmp(vkft_data_format_name(VKFT_DATA_CHAT), "chat") == 0);
    vkft_chat_template t;
    CHECK(vkft_chat_template_parse("zephyr", &t) && t == VKFT_CHAT_ZEPHYR);
    CHECK(!vkft_chat_template_parse("jinja", &t));
}

/* A merge across the prompt/completion boundary: "a" + "a" encodes as the one token "aa",
 * which TRL's rule gives to the prompt (len(encode("a")) == 1 token is the prompt). */
static void test_boundary_merge(void)
{
    static const char corpus[] = "aaaa aaaa aaaa aaaa";
    const char *special[] = {"<|endoftext|>"};
    char *json;
    size_t len;
    vkft_err err;
    vkft_tokenizer *tok = NULL;
    CHECK_ST(vkft_bpe_train_bytelevel(corpus, sizeof corpus - 1, 258, special, 1, &json, &len,
                                      &err), err);
    if (test_failures) return;
    CHECK_ST(vkft_tokenizer_load_json(json, len, "merge", &tok, &err), err);
    free(json);
    if (!tok) return;
    int32_t aa = vkft_tokenizer_token_to_id(tok, "aa", 2);
    int32_t eos = vkft_tokenizer_eos_id(tok);
    CHECK(aa >= 256 && eos >= 0);
    const char *path = dt_write("merge.jsonl", "{\"prompt\": \"a\", \"completion\": \"a\"}\n"
                                               "{\"prompt\": \"a\", \"completion\": \"aa\"}\n");
    vkft_dataset *d = NULL;
    CHECK_ST(dt_open1(path, VKFT_DATA_COMPLETION, NULL, tok, &d, &err), err);
    if (d) {
        const int32_t ids0[] = {aa, eos}, ids1[] = {aa, 'a', eos};
        const float w0[] = {0, 1}, w1[] = {0, 1, 1};
        CHECK(dt_example_is(d, 0, 0, ids0, w0, 2));
        CHECK(dt_example_is(d, 0, 1, ids1, w1, 3));
    }
    vkft_dataset_free(d);
    vkft_tokenizer_free(tok);
}

int main(void)
{
    vkft_tokenizer *tok_a = dt_tokenizer(true, "<s>", "</s>", NULL);
    vkft_tokenizer *tok_g = dt_tokenizer(false, NULL, "<|endoftext|>", NULL);
    test_text(tok_a);
    test_completion(tok_a, tok_g);
    test_alpaca(tok_g);
    test_chat();
    test_tokens();
    test_auto(tok_a);
    test_boundary_merge();
    vkft_tokenizer_free(tok_a);
    vkft_tokenizer_free(tok_g);
    dt_cleanup();
    if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}
