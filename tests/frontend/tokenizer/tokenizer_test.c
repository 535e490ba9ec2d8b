/*
 * Tokenizer behaviour beyond the HF fixtures: both merge formats, unk and fuse_unk, id
 * lookups, decode errors and skip_special, lossy repair of invalid UTF-8 input, NFC details,
 * model folders (tokenizer_config.json / config.json / generation_config.json / the chat
 * template in its three places / Llama's add_eos_token), and every load error with its
 * message and position.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"
#include "util/json.h"

static vkft_tokenizer *load(const char *json)
{
    vkft_tokenizer *t = NULL;
    vkft_err err = {{0}};
    if (vkft_tokenizer_load_json(json, strlen(json), "t.json", &t, &err)) {
        fprintf(stderr, "load failed: %s\n", err.msg);
        test_failures++;
    }
    return t;
}

/* Encodes text and compares with want[0..n). */
static bool enc_is(const vkft_tokenizer *t, const char *text, size_t len, bool special,
                   const int32_t *want, size_t n)
{
    vkft_ids ids = {0};
    vkft_err err = {{0}};
    bool ok = t && !vkft_tokenizer_encode(t, text, len, special, &ids, &err) && ids.n == n &&
              (!n || !memcmp(ids.v, want, n * sizeof *want));
    if (!ok) {
        fprintf(stderr, "encode \"%s\": got", text);
        for (size_t i = 0; i < ids.n; i++) fprintf(stderr, " %d", ids.v[i]);
        fprintf(stderr, " %s\n", err.msg);
    }
    vkft_ids_free(&ids);
    return ok;
}

static bool dec_is(const vkft_tokenizer *t, const int32_t *ids, size_t n, bool skip,
                   const char *want)
{
    char *s = NULL;
    size_t len = 0;
    vkft_err err = {{0}};
    bool ok = t && !vkft_tokenizer_decode(t, ids, n, skip, &s, &len, &err) &&
              len == strlen(want) && !memcmp(s, want, len);
    if (!ok) fprintf(stderr, "decode: got \"%s\", want \"%s\" %s\n", s ? s : "", want, err.msg);
    free(s);
    return ok;
}

/* Requires load to fail with status st and a message containing each of the parts. */
static void load_fails(const char *json, vkft_status st, const char *part1, const char *part2)
{
    vkft_tokenizer *t = NULL;
    vkft_err err = {{0}};
    vkft_status got = vkft_tokenizer_load_json(json, strlen(json), "t.json", &t, &err);
    if (got != st || t || !strstr(err.msg, part1) || (part2 && !strstr(err.msg, part2))) {
        fprintf(stderr, "expected failure %d with '%s' / '%s', got %d: %s\n", (int)st, part1,
                part2 ? part2 : "", (int)got, err.msg);
        test_failures++;
    }
    vkft_tokenizer_free(t);
}

#define SMALL(merges, extra)                                                                 \
    "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", " extra "\"vocab\": "         \
    "{\"<unk>\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"c\": 4, \"abc\": 5}, \"merges\": "      \
    merges "},\n\"added_tokens\": [{\"id\": 6, \"content\": \"<s>\", \"special\": true}, "   \
    "{\"id\": 7, \"content\": \"<x>\", \"special\": false}]}"

static void test_model(void)
{
    const int32_t abcab[] = {5, 3};
    vkft_tokenizer *legacy = load(SMALL("[\"a b\", \"ab c\"]", ""));
    vkft_tokenizer *tuple = load(SMALL("[[\"a\", \"b\"], [\"ab\", \"c\"]]", ""));
    CHECK(enc_is(legacy, "abcab", 5, false, abcab, 2));
    CHECK(enc_is(tuple, "abcab", 5, false, abcab, 2));
    const int32_t unk[] = {0, 0, 3, 0};
    CHECK(enc_is(tuple, "xyabz", 5, false, unk, 4));        /* no fuse_unk: one per char */
    vkft_tokenizer *fused = load(SMALL("[[\"a\", \"b\"]]", "\"fuse_unk\": true, "));
    const int32_t fu[] = {0, 3, 0};
    CHECK(enc_is(fused, "xyabz", 5, false, fu, 3));
    const int32_t with_added[] = {6, 1, 7, 4};
    CHECK(enc_is(tuple, "<s>a<x>c", 8, true, with_added, 4));  /* no post-processor */
    CHECK(vkft_tokenizer_vocab_size(tuple) == 8);
    CHECK(vkft_tokenizer_token_to_id(tuple, "abc", 3) == 5);
    CHECK(vkft_tokenizer_token_to_id(tuple, "<x>", 3) == 7);
    CHECK(vkft_tokenizer_token_to_id(tuple, "zz", 2) == -1);
    size_t len = 0;
    const char *s = vkft_tokenizer_id_to_token(tuple, 3, &len);
    CHECK(s && len == 2 && !strcmp(s, "ab"));
    CHECK(!vkft_tokenizer_id_to_token(tuple, 8, NULL) && !vkft_tokenizer_id_to_token(tuple, -1,
                                                                                    NULL));
    CHECK(vkft_tokenizer_is_special(tuple, 6) && !vkft_tokenizer_is_special(tuple, 7));
    CHECK(vkft_tokenizer_bos_id(tuple) == 6);  /* named <s> */
    /* no decoder: tokens joined with spaces; skip_special drops <s> only */
    const int32_t d[] = {6, 5, 7, 1};
    CHECK(dec_is(tuple, d, 4, false, "<s> abc <x> a"));
    CHECK(dec_is(tuple, d, 4, true, "abc <x> a"));
    const int32_t bad[] = {1, 8};
    char *out = (char *)1;
    vkft_err err = {{0}};
    CHECK(vkft_tokenizer_decode(tuple, bad, 2, false, &out, NULL, &err) == VKFT_ERR_INVALID_ARG &&
          !out && strstr(err.msg, "id 8 at position 1"));
    /* a failed encode leaves the list as it was */
    vkft_ids ids = {0};
    CHECK(!vkft_ids_push(&ids, 42, NULL) && ids.n == 1);
    CHECK(vkft_tokenizer_encode(tuple, NULL, 3, false, &ids, &err) == VKFT_ERR_INVALID_ARG);
    CHECK(ids.n == 1 && ids.v[0] == 42);
    CHECK(!vkft_tokenizer_encode(tuple, "", 0, false, &ids, &err) && ids.n == 1);
    vkft_ids_free(&ids);
    CHECK(!ids.v && !ids.n);
    vkft_tokenizer_free(legacy);
    vkft_tokenizer_free(tuple);
    vkft_tokenizer_free(fused);
    /* continuing_subword_prefix: chars after the first carry it; a merge drops it from its
     * right part ("a ##b" -> "ab", "##a ##b" -> "##ab") */
    vkft_tokenizer *pre = load("{\"model\": {\"type\": \"BPE\", \"continuing_subword_prefix\": "
                               "\"##\", \"vocab\": {\"a\": 0, \"##b\": 1, \"ab\": 2, \"##c\": 3, "
                               "\"abc\": 4, \"##a\": 5, \"##ab\": 6}, \"merges\": [\"a ##b\", "
                               "\"ab ##c\", \"##a ##b\"]}}");
    const int32_t p1[] = {4}, p2[] = {0, 6};
    CHECK(enc_is(pre, "abc", 3, false, p1, 1));
    CHECK(enc_is(pre, "aab", 3, false, p2, 2));
    vkft_tokenizer_free(pre);
}

static void test_load_errors(void)
{
    load_fails("{\"model\": ", VKFT_ERR_INVALID_ARG, "t.json:1:", NULL);
    load_fails("[1]", VKFT_ERR_INVALID_ARG, "t.json:1:1", "object");
    load_fails("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", VKFT_ERR_INVALID_ARG,
               "Unigram", "only BPE");
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0},\n \"merges\": [\"a z\"]}}",
               VKFT_ERR_INVALID_ARG, "t.json:2:13", "'z' is not in the vocab");
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"aa\": 1},\n \"merges\": "
               "[\"a a a\"]}}", VKFT_ERR_INVALID_ARG, "exactly one space", NULL);
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a\"]}}",
               VKFT_ERR_INVALID_ARG, "'aa' is not in the vocab", NULL);
    load_fails("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
               VKFT_ERR_INVALID_ARG, "model.vocab", NULL);
    load_fails("{\"normalizer\": {\"type\": \"Lowercase\"}, \"model\": {\"type\": \"BPE\", "
               "\"vocab\": {}, \"merges\": []}}", VKFT_ERR_INVALID_ARG,
               "unsupported normalizer \"Lowercase\"", NULL);
    load_fails("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, "
               "\"behavior\": \"Isolated\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, "
               "\"merges\": []}}", VKFT_ERR_INVALID_ARG, "regex /(/", "t.json:1:");
    load_fails("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, "
               "\"behavior\": \"Sideways\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, "
               "\"merges\": []}}", VKFT_ERR_INVALID_ARG, "behavior must be", NULL);
    load_fails("{\"decoder\": {\"type\": \"WordPiece\"}, \"model\": {\"type\": \"BPE\", "
               "\"vocab\": {}, \"merges\": []}}", VKFT_ERR_INVALID_ARG, "WordPiece", NULL);
    load_fails("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
               "[{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], "
               "\"special_tokens\": {}}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, "
               "\"merges\": []}}", VKFT_ERR_INVALID_ARG, "'<s>' is not in", NULL);
    load_fails("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
               "[{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], "
               "\"special_tokens\": {\"<s>\": {\"ids\": [9]}}}, \"model\": {\"type\": \"BPE\", "
               "\"vocab\": {\"a\": 0}, \"merges\": []}}", VKFT_ERR_INVALID_ARG,
               "post_processor id 9", NULL);
    load_fails("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}, "
               "\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
               VKFT_ERR_INVALID_ARG, "one character", NULL);
    vkft_tokenizer *t = (vkft_tokenizer *)1;
    vkft_err err = {{0}};
    CHECK(vkft_tokenizer_load("/nonexistent/tok.json", &t, &err) == VKFT_ERR_IO && !t &&
          strstr(err.msg, "/nonexistent/tok.json"));
}

/* The trained fixture (byte-level, GPT-2 style) with its normalizer replaced. */
static vkft_tokenizer *trained_with(const char *normalizer)
{
    char *path = NULL, *text = NULL;
    const char *dir = getenv("VKFT_FIXTURES");
    size_t len = 0;
    vkft_err err = {{0}};
    path = malloc(strlen(dir ? dir : "tests/fixtures") + 64);
    sprintf(path, "%s/tokenizer/trained.json", dir ? dir : "tests/fixtures");
    vkft_tokenizer *t = NULL;
    if (!vkft_file_read(path, &text, &len, &err)) {
        const char *at = strstr(text, "\"normalizer\":null");
        size_t nl = strlen(normalizer), head = at ? (size_t)(at - text) : 0;
        char *mod = malloc(len + nl + 32);
        if (at) {
            sprintf(mod, "%.*s\"normalizer\":%s%s", (int)head, text, normalizer, at + 17);
            t = load(mod);
        }
        free(mod);
    }
    CHECK(t != NULL);
    free(text);
    free(path);
    return t;
}

static void test_utf8_and_nfc(void)
{
    vkft_tokenizer *plain = trained_with("null"), *nfc = trained_with("{\"type\": \"NFC\"}");
    vkft_ids a = {0}, b = {0};
    vkft_err err = {{0}};
    /* invalid bytes are read as U+FFFD, one per maximal ill-formed subpart */
    CHECK(!vkft_tokenizer_encode(plain, "a\xff" "b\xe2\x82", 5, false, &a, &err));
    CHECK(!vkft_tokenizer_encode(plain, "a\xef\xbf\xbd" "b\xef\xbf\xbd", 8, false, &b, &err));
    CHECK(a.n == b.n && a.n && !memcmp(a.v, b.v, a.n * sizeof *a.v));
    /* a char cut short decodes to one U+FFFD per maximal ill-formed part, as HF's lossy UTF-8
     * (byte tokens of the trained tokenizer: id b is byte b) */
    const int32_t cut[] = {'x', 0xe4, 0xb8, 0xff, 'y', 0xe4};
    CHECK(dec_is(plain, cut, 6, false, "x\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd"));
    static const char *const cases[][2] = {
        {"A\xcc\x8a", "\xc3\x85"},                    /* A + ring above -> Å */
        {"\xe2\x84\xab", "\xc3\x85"},                 /* Angstrom sign (singleton) -> Å */
        {"q\xcc\x87\xcc\xa3", "q\xcc\xa3\xcc\x87"},   /* marks reordered, no composite */
        {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81"},  /* jamo -> 각 */
        {"e\xcc\x81te\xcc\x81", "\xc3\xa9t\xc3\xa9"}, /* été */
        {"plain ascii", "plain ascii"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        a.n = 0;
        CHECK(!vkft_tokenizer_encode(nfc, cases[i][0], strlen(cases[i][0]), false, &a, &err));
        CHECK(dec_is(nfc, a.v, a.n, false, cases[i][1]));
    }
    /* NFC against Python's unicodedata on 1500 random mixes (tools/gen_tokenizer_unicode.py):
     * through a byte-level tokenizer, decode(encode(x)) is NFC(x) */
    const char *dir = getenv("VKFT_FIXTURES");
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer/nfc_cases.json", dir ? dir : "tests/fixtures");
    vkft_json_doc *doc = NULL;
    CHECK(!vkft_json_parse_file(path, &doc, &err));
    const vkft_json *nc = doc ? vkft_json_get(vkft_json_root(doc), "cases") : NULL;
    int bad = 0;
    for (size_t i = 0; nc && i < nc->len; i++) {
        const vkft_json *in = vkft_json_at(&nc->items[i], 0);
        const vkft_json *want = vkft_json_at(&nc->items[i], 1);
        char *s = NULL;
        size_t n = 0;
        a.n = 0;
        if (vkft_tokenizer_encode(nfc, in->str, in->len, false, &a, &err) ||
            vkft_tokenizer_decode(nfc, a.v, a.n, false, &s, &n, &err) || n != want->len ||
            memcmp(s, want->str, n)) {
            if (bad++ < 5) fprintf(stderr, "NFC case %zu: got \"%.*s\"\n", i, (int)n, s ? s : "");
        }
        free(s);
    }
    CHECK(nc && nc->len == 1500 && bad == 0);
    vkft_json_free(doc);
    vkft_ids_free(&a);
    vkft_ids_free(&b);
    vkft_tokenizer_free(plain);
    vkft_tokenizer_free(nfc);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vkft_err err = {{0}};
    CHECK(!vkft_file_write_atomic(path, text, strlen(text), &err));
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static vkft_tokenizer *load_dir(const char *dir)
{
    vkft_tokenizer *t = NULL;
    vkft_err err = {{0}};
    if (vkft_tokenizer_load(dir, &t, &err)) {
        fprintf(stderr, "load %s: %s\n", dir, err.msg);
        test_failures++;
    }
    return t;
}

static void test_folder(void)
{
    char dir[] = "/tmp/vkft_tok_XXXXXX";
    if (!mkdtemp(dir)) {
        test_failures++;
        return;
    }
    vkft_tokenizer *t = NULL;
    vkft_err err = {{0}};
    CHECK(vkft_tokenizer_load(dir, &t, &err) == VKFT_ERR_IO && strstr(err.msg,
                                                                       "no tokenizer.json"));
    write_file(dir, "tokenizer.json",
               "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": []},"
               "\"added_tokens\": [{\"id\": 2, \"content\": \"<s>\", \"special\": true},"
               "{\"id\": 3, \"content\": \"</s>\", \"special\": true},"
               "{\"id\": 4, \"content\": \"<eot>\", \"special\": true},"
               "{\"id\": 5, \"content\": \"<pad>\", \"special\": true}],"
               "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
               "[{\"SpecialToken\": {\"id\": \"<s>\"}}, {\"Sequence\": {\"id\": \"A\"}}], "
               "\"special_tokens\": {\"<s>\": {\"ids\": [2]}}}}");
    t = load_dir(dir);  /* bare: names decide */
    CHECK(t && vkft_tokenizer_bos_id(t) == 2 && vkft_tokenizer_eos_id(t) == 3 &&
          vkft_tokenizer_pad_id(t) == -1 && !vkft_tokenizer_chat_template(t));
    const int32_t tmpl[] = {2, 0, 1};
    CHECK(enc_is(t, "ab", 2, true, tmpl, 3));
    vkft_tokenizer_free(t);

    write_file(dir, "tokenizer_config.json",
               "{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"<eot>\"}, "
               "\"pad_token\": \"<pad>\", \"tokenizer_class\": \"LlamaTokenizer\", "
               "\"add_eos_token\": true, \"chat_template\": [{\"name\": \"tool_use\", "
               "\"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"}]}");
    write_file(dir, "config.json", "{\"bos_token_id\": 0, \"eos_token_id\": [3, 4]}");
    write_file(dir, "generation_config.json", "{\"eos_token_id\": [4, 5]}");
    t = load_dir(dir);
    size_t n = 0;
    const int32_t *eos = t ? vkft_tokenizer_eos_ids(t, &n) : NULL;
    CHECK(t && vkft_tokenizer_bos_id(t) == 2 && vkft_tokenizer_eos_id(t) == 4 &&
          vkft_tokenizer_pad_id(t) == 5);
    CHECK(n == 3 && eos && eos[0] == 4 && eos[1] == 3 && eos[2] == 5);
    CHECK(t && vkft_tokenizer_chat_template(t) && !strcmp(vkft_tokenizer_chat_template(t), "D"));
    const int32_t llama[] = {2, 0, 4};  /* add_eos_token: the template gains eos */
    CHECK(enc_is(t, "a", 1, true, llama, 3));
    vkft_tokenizer_free(t);

    write_file(dir, "tokenizer_config.json", "{\"eos_token\": \"</s>\", \"pad_token\": null}");
    write_file(dir, "config.json", "{\"bos_token_id\": 0, \"pad_token_id\": 1}");
    write_file(dir, "chat_template.jinja", "{{ messages }}");
    t = load_dir(dir);
    CHECK(t && vkft_tokenizer_bos_id(t) == 0);  /* config.json's bos_token_id */
    CHECK(t && vkft_tokenizer_pad_id(t) == -1);  /* tokenizer_config.json says none */
    CHECK(t && vkft_tokenizer_chat_template(t) &&
          !strcmp(vkft_tokenizer_chat_template(t), "{{ messages }}"));
    vkft_tokenizer_free(t);

    write_file(dir, "tokenizer_config.json", "{\"eos_token\": ");  /* broken: named */
    CHECK(vkft_tokenizer_load(dir, &t, &err) == VKFT_ERR_INVALID_ARG && !t &&
          strstr(err.msg, "tokenizer_config.json:1:"));
    const char *names[] = {"tokenizer.json", "tokenizer_config.json", "config.json",
                           "generation_config.json", "chat_template.jinja"};
    for (size_t i = 0; i < 5; i++) remove_file(dir, names[i]);
    rmdir(dir);
}

int main(void)
{
    test_model();
    test_load_errors();
    test_utf8_and_nfc();
    test_folder();
    printf("tokenizer: %s\n", test_failures ? "FAILED" : "ok");
    return test_failures ? 1 : 0;
}
