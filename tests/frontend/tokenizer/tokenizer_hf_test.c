/*
 * Tokenizers against Hugging Face: for each NAME given on the command line, loads
 * $VKFT_FIXTURES/tokenizer/NAME.json and checks every case of NAME.expected.json (made by
 * tools/gen_tokenizer_fixtures.js with HF's tokenizers library):
 *   encode(text, add_special false) == ids, encode(text, true) == ids_special,
 *   decode(ids, skip_special false) == decoded, decode(ids_special, true) == decoded_skip,
 *   so decode(encode(text)) == text exactly where HF's decode gives the text back.
 * The same cases are then encoded on four threads at once with one tokenizer; each thread
 * must get the single-thread ids. Before all that, a deliberately wrong id proves that the
 * comparison reports a mismatch.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"
#include "util/json.h"

static char *fixture(const char *name)
{
    const char *dir = getenv("VKFT_FIXTURES");
    char *path = malloc(strlen(dir ? dir : "tests/fixtures") + strlen(name) + 16);
    sprintf(path, "%s/tokenizer/%s", dir ? dir : "tests/fixtures", name);
    return path;
}

/* Reads a JSON array of ints into ids. */
static void json_ids(const vkft_json *arr, vkft_ids *ids)
{
    ids->n = 0;
    for (size_t i = 0; arr && i < arr->len; i++) {
        int64_t v = -1;
        vkft_json_get_int(&arr->items[i], &v);
        vkft_ids_push(ids, (int32_t)v, NULL);
    }
}

/* Compares got with want; prints the first difference (unless quiet). */
static bool same_ids(const char *what, const char *text, const vkft_ids *got,
                     const vkft_ids *want, bool quiet)
{
    size_t i = 0;
    while (i < got->n && i < want->n && got->v[i] == want->v[i]) i++;
    if (i == got->n && i == want->n) return true;
    if (!quiet) {
        fprintf(stderr, "%s: ids differ at %zu (got %zu ids, want %zu) for text \"%.80s\"\n",
                what, i, got->n, want->n, text);
        fprintf(stderr, "  got: ");
        for (size_t k = i > 3 ? i - 3 : 0; k < got->n && k < i + 6; k++)
            fprintf(stderr, "%d ", got->v[k]);
        fprintf(stderr, "\n  want:");
        for (size_t k = i > 3 ? i - 3 : 0; k < want->n && k < i + 6; k++)
            fprintf(stderr, " %d", want->v[k]);
        fprintf(stderr, "\n");
    }
    return false;
}

static bool same_text(const char *what, const char *got, size_t got_len, const vkft_json *want)
{
    if (want && want->type == VKFT_JSON_STRING && got_len == want->len &&
        !memcmp(got, want->str, got_len))
        return true;
    fprintf(stderr, "%s: got \"%.*s\"\n  want \"%s\"\n", what, (int)(got_len > 200 ? 200 :
            got_len), got, want && want->str ? want->str : "?");
    return false;
}

typedef struct thread_job {
    const vkft_tokenizer *tok;
    const vkft_json *cases;
    const vkft_ids *expect;     /* single-thread ids per case */
    int mismatches;
} thread_job;

static void *encode_all(void *arg)
{
    thread_job *j = arg;
    vkft_ids ids = {0};
    for (int round = 0; round < 3; round++)
        for (size_t c = 0; c < j->cases->len; c++) {
            const vkft_json *text = vkft_json_get(&j->cases->items[c], "text");
            ids.n = 0;
            if (vkft_tokenizer_encode(j->tok, text->str, text->len, false, &ids, NULL) ||
                !same_ids("thread", text->str, &ids, &j->expect[c], true))
                j->mismatches++;
        }
    vkft_ids_free(&ids);
    return NULL;
}

static void check_tokenizer(const char *name)
{
    char file[256], exp_file[256];
    snprintf(file, sizeof file, "%s.json", name);
    snprintf(exp_file, sizeof exp_file, "%s.expected.json", name);
    char *path = fixture(file), *exp_path = fixture(exp_file);
    vkft_err err = {{0}};
    vkft_tokenizer *tok = NULL;
    vkft_json_doc *doc = NULL;
    if (vkft_tokenizer_load(path, &tok, &err) || vkft_json_parse_file(exp_path, &doc, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        test_failures++;
        goto out;
    }
    const vkft_json *root = vkft_json_root(doc), *cases = vkft_json_get(root, "cases");
    const char *format = vkft_json_get_str(vkft_json_get(root, "format"));
    int64_t version = 0, vocab = 0;
    vkft_json_get_int(vkft_json_get(root, "version"), &version);
    vkft_json_get_int(vkft_json_get(root, "vocab_size"), &vocab);
    CHECK(format && !strcmp(format, "vkft-tokenizer-expected") && version == 1);
    CHECK(cases && cases->type == VKFT_JSON_ARRAY && cases->len > 50);
    CHECK(vkft_tokenizer_vocab_size(tok) == vocab);
    if (!cases || cases->type != VKFT_JSON_ARRAY) goto out;

    vkft_ids got = {0}, want = {0};
    vkft_ids *single = calloc(cases->len, sizeof *single);
    int bad = 0, round_trips = 0, hf_round_trips = 0;
    for (size_t c = 0; c < cases->len; c++) {
        const vkft_json *cs = &cases->items[c], *text = vkft_json_get(cs, "text");
        for (int sp = 0; sp < 2; sp++) {
            got.n = 0;
            json_ids(vkft_json_get(cs, sp ? "ids_special" : "ids"), &want);
            if (vkft_tokenizer_encode(tok, text->str, text->len, sp, &got, &err)) {
                fprintf(stderr, "%s: encode failed: %s\n", name, err.msg);
                bad++;
                continue;
            }
            if (!sp) vkft_ids_append(&single[c], got.v, got.n, NULL);
            if (!same_ids(sp ? "encode (special)" : "encode", text->str, &got, &want, false)) {
                bad++;
                continue;
            }
            char *dec = NULL;
            size_t dec_len = 0;
            if (vkft_tokenizer_decode(tok, want.v, want.n, sp, &dec, &dec_len, &err)) {
                fprintf(stderr, "%s: decode failed: %s\n", name, err.msg);
                bad++;
                continue;
            }
            const vkft_json *hf = vkft_json_get(cs, sp ? "decoded_skip" : "decoded");
            if (!same_text(sp ? "decode (skip special)" : "decode", dec, dec_len, hf)) bad++;
            if (!sp && dec_len == text->len && !memcmp(dec, text->str, dec_len)) round_trips++;
            if (!sp && hf && hf->len == text->len && !memcmp(hf->str, text->str, hf->len))
                hf_round_trips++;
            free(dec);
        }
    }
    printf("%s: %zu cases, %d mismatches, %d exact round trips\n", name, cases->len, bad,
           round_trips);
    test_failures += bad;
    CHECK(round_trips == hf_round_trips);  /* decode(encode(x)) == x wherever HF's is */

    /* a wrong id must be reported (the comparison can fail) */
    if (single[1].n) {
        vkft_ids wrong = {0};
        vkft_ids_append(&wrong, single[1].v, single[1].n, NULL);
        wrong.v[0] ^= 1;
        CHECK(!same_ids("self-test", "", &wrong, &single[1], true));
        vkft_ids_free(&wrong);
    }

    thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){tok, cases, single, 0};
        CHECK(pthread_create(&th[i], NULL, encode_all, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].mismatches == 0);
    }
    for (size_t c = 0; c < cases->len; c++) vkft_ids_free(&single[c]);
    free(single);
    vkft_ids_free(&got);
    vkft_ids_free(&want);
out:
    vkft_json_free(doc);
    vkft_tokenizer_free(tok);
    free(path);
    free(exp_path);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s NAME... (fixtures tests/fixtures/tokenizer/NAME.json)\n",
                argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) check_tokenizer(argv[i]);
    if (test_failures) fprintf(stderr, "%d failures\n", test_failures);
    return test_failures ? 1 : 0;
}
