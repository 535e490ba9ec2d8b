/*
 * Dataset errors: every message a bad file or bad options produce, matched exactly
 * ("path:line:col: what"), with the line and column of the offending value (blank lines and
 * CRLF line ends counted as a user's editor counts them), and no dataset handed out.
 */
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"

typedef struct err_case {
    const char *text;           /* file content */
    vkft_data_format format;
    vkft_chat_template tmpl;
    bool tok;                   /* open with the test tokenizer (vocab 265) */
    int32_t vocab;              /* options.vocab_size (0: the tokenizer's) */
    vkft_status status;
    const char *msg;            /* expected message; %s is the file's path */
} err_case;

#define TOKENS VKFT_DATA_TOKENS
#define BAD VKFT_ERR_INVALID_ARG

static const err_case cases[] = {
    /* JSON and line structure */
    {"{\"text\": \"a\"}\n\n[1, 2]\n", VKFT_DATA_TEXT, 0, true, 0, BAD,
     "%s:3:1: expected a JSON object, got array"},
    {"{\"text\": \"a\"}\r\n{\"txt\": \"b\"}\r\n", VKFT_DATA_TEXT, 0, true, 0, BAD,
     "%s:2:1: text line has no key 'text'"},
    {"{\"text\": 5}\n", VKFT_DATA_TEXT, 0, true, 0, BAD,
     "%s:1:10: key 'text': expected a string, got number"},
    {"{\"foo\": 1}\n", VKFT_DATA_AUTO, 0, true, 0, BAD,
     "%s:1:1: cannot tell the format from the keys (expected input_ids, messages, "
     "instruction+output, prompt+completion or text); set the dataset's format"},
    /* completion and alpaca */
    {"{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\"}\n", VKFT_DATA_COMPLETION,
     0, true, 0, BAD, "%s:2:1: completion line has no key 'completion'"},
    {"{\"instruction\": \"a\", \"input\": 3, \"output\": \"b\"}\n", VKFT_DATA_ALPACA, 0, true, 0,
     BAD, "%s:1:31: key 'input': expected a string, got number"},
    {"{\"instruction\": \"a\"}\n", VKFT_DATA_ALPACA, 0, true, 0, BAD,
     "%s:1:1: alpaca line has no key 'output'"},
    /* chat */
    {"{\"messages\": {}}\n", VKFT_DATA_CHAT, 0, true, 0, BAD,
     "%s:1:14: key 'messages': expected an array, got object"},
    {"{\"messages\": []}\n", VKFT_DATA_CHAT, 0, true, 0, BAD, "%s:1:14: key 'messages' is empty"},
    {"{\"messages\": [{\"content\": \"x\"}]}\n", VKFT_DATA_CHAT, 0, true, 0, BAD,
     "%s:1:15: messages[0] has no key 'role'"},
    {"{\"messages\": [{\"role\": \"user\", \"content\": 1}]}\n", VKFT_DATA_CHAT, 0, true, 0, BAD,
     "%s:1:43: messages[0].content: expected a string, got number"},
    {"{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}\n", VKFT_DATA_CHAT,
     VKFT_CHAT_LLAMA2, true, 0, BAD, "%s:1:24: messages[0]: unknown role 'tool' (system, user, "
     "assistant; human and gpt are mapped)"},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"system\", "
     "\"content\": \"b\"}]}\n", VKFT_DATA_CHAT, VKFT_CHAT_LLAMA2, true, 0, BAD,
     "%s:1:58: messages[1]: role 'system' is not allowed here by the llama2 template (system "
     "first, then user/assistant)"},
    /* tokens */
    {"{\"input_ids\": [1, 2, 300]}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:22: input_ids[2]: token id 300 is outside the vocabulary [0, 100)"},
    {"{\"input_ids\": [-5]}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:16: input_ids[0]: token id -5 is outside the vocabulary [0, 100)"},
    {"{\"input_ids\": [1.5]}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:16: input_ids[0]: expected an integer token id, got a fraction"},
    {"{\"input_ids\": [\"a\"]}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:16: input_ids[0]: expected an integer token id, got string"},
    {"{\"input_ids\": [1], \"labels\": [-7]}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:31: labels[0]: token id -7 is outside the vocabulary [0, 100) and is not -100"},
    {"{\"input_ids\": [1, 2], \"labels\": [1]}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:33: key 'labels' has 1 entries, 'input_ids' 2"},
    {"{\"input_ids\": []}\n", TOKENS, 0, false, 100, BAD, "%s:1:15: key 'input_ids' is empty"},
    {"{\"input_ids\": 3}\n", TOKENS, 0, false, 100, BAD,
     "%s:1:15: key 'input_ids': expected an array, got number"},
    /* ids from the tokenizer beyond the model's vocabulary */
    {"{\"text\": \"a<|im_start|>\"}\n", VKFT_DATA_TEXT, 0, true, 259, BAD,
     "%s:1:1: token id 259 from the tokenizer is outside the vocabulary [0, 259)"},
    {"{\"text\": \"a\"}\n", VKFT_DATA_TEXT, 0, true, 50, BAD,
     "datasets: pad id 258 is outside the vocabulary [0, 50)"},
    /* empty */
    {"\n  \n\r\n", VKFT_DATA_TEXT, 0, true, 0, BAD,
     "%s: no examples (empty file or only blank lines)"},
    {"", TOKENS, 0, false, 100, BAD, "%s: no examples (empty file or only blank lines)"},
    {"{\"text\": \"a\"}\n", VKFT_DATA_TEXT, 0, false, 100, BAD,
     "%s: format text needs a tokenizer"},
    {"{\"text\": \"a\"}\n", VKFT_DATA_AUTO, 0, false, 100, BAD,
     "%s:1:1: format text needs a tokenizer"},
};

static void run_case(int i, const err_case *c, const vkft_tokenizer *tok)
{
    char name[32], want[1024];
    snprintf(name, sizeof name, "err%d.jsonl", i);
    const char *path = dt_write(name, c->text);
    snprintf(want, sizeof want, c->msg, path);
    vkft_data_source src = {.path = path, .format = c->format, .prompt_loss_weight = -1};
    vkft_data_options o;
    vkft_data_options_default(&o);
    o.seq_len = 16;
    o.vocab_size = c->vocab;
    o.chat_template = c->tmpl;
    vkft_dataset *d = (vkft_dataset *)&src;     /* must come back NULL */
    vkft_err err = {{0}};
    vkft_status st = vkft_dataset_open(&src, 1, &o, c->tok ? tok : NULL, &d, &err);
    if (st != c->status || d != NULL || strcmp(err.msg, want) != 0) {
        fprintf(stderr, "case %d: status %d, message\n  got:  %s\n  want: %s\n", i, (int)st,
                err.msg, want);
        test_failures++;
        if (st == VKFT_OK && d) vkft_dataset_free(d);
    }
}

/* The parser's own messages get the file's line: "path:2:<col>: ...". */
static void test_bad_json(void)
{
    const char *path = dt_write("badjson.jsonl", "{\"text\": \"a\"}\n{\"text\": \"a\",}\n");
    vkft_dataset *d = NULL;
    vkft_err err;
    vkft_tokenizer *tok = dt_tokenizer(false, NULL, "</s>", NULL);
    CHECK(dt_open1(path, VKFT_DATA_TEXT, NULL, tok, &d, &err) == BAD && d == NULL);
    char want[600];
    snprintf(want, sizeof want, "%s:2:14: ", path);
    if (strncmp(err.msg, want, strlen(want)) != 0) {
        fprintf(stderr, "bad json: got '%s', want prefix '%s'\n", err.msg, want);
        test_failures++;
    }
    vkft_tokenizer_free(tok);
}

static void test_options(const vkft_tokenizer *tok)
{
    const char *path = dt_write("ok.jsonl", "{\"input_ids\": [1, 2]}\n");
    vkft_data_source src = {.path = path, .format = TOKENS, .prompt_loss_weight = -1};
    vkft_data_options o;
    vkft_dataset *d = NULL;
    vkft_err err;
    vkft_data_options_default(&o);
    o.seq_len = 1;
    CHECK(vkft_dataset_open(&src, 1, &o, tok, &d, &err) == BAD);
    CHECK(strcmp(err.msg, "datasets: seq_len 1 must be in [2, 2^31)") == 0);
    vkft_data_options_default(&o);
    o.mix_temperature = 0;
    CHECK(vkft_dataset_open(&src, 1, &o, tok, &d, &err) == BAD);
    CHECK(strcmp(err.msg, "datasets: mix_temperature 0 must be > 0") == 0);
    vkft_data_options_default(&o);
    CHECK(vkft_dataset_open(&src, 0, &o, tok, &d, &err) == BAD);
    CHECK(strcmp(err.msg, "datasets: need 1..64 sources, got 0") == 0);
    CHECK(vkft_dataset_open(&src, 1, &o, NULL, &d, &err) == BAD);
    CHECK(strcmp(err.msg, "datasets: without a tokenizer vocab_size must be set") == 0);
    src.weight = -1;
    CHECK(vkft_dataset_open(&src, 1, &o, tok, &d, &err) == BAD);
    char want[600];
    snprintf(want, sizeof want, "%s: weight -1 must be >= 0", path);
    CHECK(strcmp(err.msg, want) == 0);
    src.weight = 0;
    src.path = "/nonexistent/vkft/data.jsonl";
    CHECK(vkft_dataset_open(&src, 1, &o, tok, &d, &err) == VKFT_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/vkft/data.jsonl") != NULL);
    CHECK(d == NULL);
}

int main(void)
{
    vkft_tokenizer *tok = dt_tokenizer(true, "<s>", "</s>", NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case((int)i, &cases[i], tok);
    test_bad_json();
    test_options(tok);
    vkft_tokenizer_free(tok);
    dt_cleanup();
    if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}
