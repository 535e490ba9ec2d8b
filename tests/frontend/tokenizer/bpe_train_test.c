/*
 * The byte-level BPE trainer: trains on tests/fixtures/tokenizer/train_corpus.txt and checks
 * that the result is byte-identical to the committed trained.json (whose ids HF's tokenizers
 * library reproduces: the 'tokenizer/hf trained' test), that two runs agree, that it loads
 * back with the special tokens at the end and round-trips every corpus text, the tie rule
 * (equal counts: the pair whose bytes sort first), running out of pairs, and the argument
 * errors.
 *
 * usage: bpe_train_test [--write DIR]   (--write: write DIR/trained.json and stop; used by
 *        tools/gen_tokenizer_fixtures.js's instructions to refresh the fixture)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"
#include "util/json.h"

#define VOCAB 1000

static const char *const specials[] = {"<|endoftext|>", "<|pad|>"};

static char *fixture(const char *name)
{
    const char *dir = getenv("VKFT_FIXTURES");
    char *path = malloc(strlen(dir ? dir : "tests/fixtures") + strlen(name) + 16);
    sprintf(path, "%s/tokenizer/%s", dir ? dir : "tests/fixtures", name);
    return path;
}

static char *train(const char *corpus, size_t len, int vocab, size_t *out_len)
{
    char *json = NULL;
    vkft_err err = {{0}};
    if (vkft_bpe_train_bytelevel(corpus, len, vocab, specials, 2, &json, out_len, &err)) {
        fprintf(stderr, "train failed: %s\n", err.msg);
        test_failures++;
        return NULL;
    }
    return json;
}

static void check_round_trips(const vkft_tokenizer *tok)
{
    char *path = fixture("corpus.json");
    vkft_json_doc *doc = NULL;
    vkft_err err = {{0}};
    if (vkft_json_parse_file(path, &doc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        free(path);
        return;
    }
    const vkft_json *texts = vkft_json_get(vkft_json_root(doc), "texts");
    int bad = 0;
    vkft_ids ids = {0};
    for (size_t i = 0; texts && i < texts->len; i++) {
        const vkft_json *t = &texts->items[i];
        char *dec = NULL;
        size_t n = 0;
        ids.n = 0;
        if (vkft_tokenizer_encode(tok, t->str, t->len, false, &ids, &err) ||
            vkft_tokenizer_decode(tok, ids.v, ids.n, false, &dec, &n, &err) || n != t->len ||
            memcmp(dec, t->str, n)) {
            fprintf(stderr, "round trip failed for \"%.60s\"\n", t->str);
            bad++;
        }
        free(dec);
    }
    CHECK(texts && texts->len > 50);
    CHECK(bad == 0);
    vkft_ids_free(&ids);
    vkft_json_free(doc);
    free(path);
}

static void check_trained(const char *json, size_t len)
{
    vkft_tokenizer *tok = NULL;
    vkft_err err = {{0}};
    if (vkft_tokenizer_load_json(json, len, "trained", &tok, &err)) {
        fprintf(stderr, "load of the trained tokenizer failed: %s\n", err.msg);
        test_failures++;
        return;
    }
    CHECK(vkft_tokenizer_vocab_size(tok) == VOCAB);
    CHECK(vkft_tokenizer_token_to_id(tok, "<|endoftext|>", 13) == VOCAB - 2);
    CHECK(vkft_tokenizer_token_to_id(tok, "<|pad|>", 7) == VOCAB - 1);
    CHECK(vkft_tokenizer_is_special(tok, VOCAB - 2) && !vkft_tokenizer_is_special(tok, 300));
    CHECK(vkft_tokenizer_eos_id(tok) == VOCAB - 2);  /* named <|endoftext|> */
    size_t n;
    const char *s = vkft_tokenizer_id_to_token(tok, 'a', &n);
    CHECK(s && n == 1 && s[0] == 'a');                   /* token b is byte b */
    s = vkft_tokenizer_id_to_token(tok, ' ', &n);
    CHECK(s && !strcmp(s, "\xc4\xa0"));                  /* "Ġ" */
    vkft_ids ids = {0};
    CHECK(!vkft_tokenizer_encode(tok, "the model<|endoftext|>", 22, false, &ids, &err));
    CHECK(ids.n >= 2 && ids.n < 10 && ids.v[ids.n - 1] == VOCAB - 2);
    CHECK(ids.n && ids.v[0] >= 256);  /* "the" was learned */
    vkft_ids_free(&ids);
    check_round_trips(tok);
    vkft_tokenizer_free(tok);
}

static void check_small_cases(void)
{
    vkft_err err = {{0}};
    char *json = NULL;
    size_t len = 0;
    /* "ab", " cd": three pairs seen once each; the first merge is the one whose bytes sort
     * first: (" ", "c") */
    CHECK(!vkft_bpe_train_bytelevel("ab cd", 5, 257, NULL, 0, &json, &len, &err));
    CHECK(json && strstr(json, "\"merges\":[[\"\xc4\xa0\",\"c\"]]"));
    free(json);
    /* running out of pairs: fewer tokens than asked, still valid */
    json = NULL;
    CHECK(!vkft_bpe_train_bytelevel("abab abab", 9, 5000, specials, 1, &json, &len, &err));
    vkft_tokenizer *tok = NULL;
    CHECK(json && !vkft_tokenizer_load_json(json, len, "small", &tok, &err));
    CHECK(tok && vkft_tokenizer_vocab_size(tok) < 270);
    vkft_ids ids = {0};
    CHECK(tok && !vkft_tokenizer_encode(tok, "abab", 4, false, &ids, &err) && ids.n == 1);
    vkft_ids_free(&ids);
    vkft_tokenizer_free(tok);
    free(json);
    /* argument errors */
    json = NULL;
    CHECK(vkft_bpe_train_bytelevel("x", 1, 257, specials, 2, &json, &len, &err) ==
          VKFT_ERR_INVALID_ARG && strstr(err.msg, "vocab_size 257") && !json);
    const char *rep[] = {"<a>", "<a>"};
    CHECK(vkft_bpe_train_bytelevel("x", 1, 300, rep, 2, &json, &len, &err) ==
          VKFT_ERR_INVALID_ARG && strstr(err.msg, "repeated"));
    const char *empty[] = {""};
    CHECK(vkft_bpe_train_bytelevel("x", 1, 300, empty, 1, &json, &len, &err) ==
          VKFT_ERR_INVALID_ARG && strstr(err.msg, "empty"));
    /* an empty corpus: just the bytes and the specials */
    CHECK(!vkft_bpe_train_bytelevel("", 0, 300, specials, 2, &json, &len, &err));
    CHECK(json && !vkft_tokenizer_load_json(json, len, "empty", &tok, &err));
    CHECK(tok && vkft_tokenizer_vocab_size(tok) == 258);
    vkft_tokenizer_free(tok);
    free(json);
}

int main(int argc, char **argv)
{
    char *corpus_path = fixture("train_corpus.txt"), *corpus = NULL;
    size_t corpus_len = 0, len = 0, len2 = 0;
    vkft_err err = {{0}};
    if (vkft_file_read(corpus_path, &corpus, &corpus_len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char *json = train(corpus, corpus_len, VOCAB, &len);
    if (argc == 3 && !strcmp(argv[1], "--write")) {
        char *out = malloc(strlen(argv[2]) + 16);
        sprintf(out, "%s/trained.json", argv[2]);
        int rc = json && !vkft_file_write_atomic(out, json, len, &err) ? 0 : 1;
        printf("%s %s\n", rc ? "failed to write" : "wrote", out);
        free(out);
        free(json);
        free(corpus);
        free(corpus_path);
        return rc;
    }
    char *json2 = train(corpus, corpus_len, VOCAB, &len2);
    CHECK(json && json2 && len == len2 && !memcmp(json, json2, len));  /* deterministic */
    char *fixed_path = fixture("trained.json"), *fixed = NULL;
    size_t fixed_len = 0;
    CHECK(!vkft_file_read(fixed_path, &fixed, &fixed_len, &err));
    CHECK(fixed && json && fixed_len == len && !memcmp(fixed, json, len));  /* stable */
    if (json) check_trained(json, len);
    check_small_cases();
    free(fixed);
    free(fixed_path);
    free(json);
    free(json2);
    free(corpus);
    free(corpus_path);
    printf("bpe_train: %s\n", test_failures ? "FAILED" : "ok");
    return test_failures ? 1 : 0;
}
