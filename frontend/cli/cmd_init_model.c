/*
 * `vkft init-model --arch llama|gpt2 --out DIR [--hidden H --layers L --heads N --kv-heads K
 *  --ffn F --vocab V --seq S --seed S --corpus FILE --tie]`: a small randomly initialised model
 * folder to train from scratch: config.json, model.safetensors (f32, normal(0, 0.02)),
 * tokenizer.json (byte-level BPE trained on --corpus or a built-in English text, with vocab V
 * including <|endoftext|>, which is also bos and eos) and tokenizer_config.json.
 * Refuses a DIR that already holds a model (nothing is changed then).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"

/* A built-in corpus for the tokenizer when no --corpus is given: plain English prose. */
static const char builtin_corpus[] =
    "The river ran slowly past the old mill, and the children walked along its bank every "
    "morning on their way to school. They counted the boats, named the ducks, and argued "
    "about whether the water was colder in spring or in autumn. Nobody ever settled it.\n"
    "In the town there was a small library with a green door. The librarian, a patient woman "
    "who had read most of the books twice, kept a list of every question she could not "
    "answer. Each year the list grew shorter, though she said that was only because people "
    "had stopped asking difficult things.\n"
    "A good recipe for bread needs flour, water, salt and time. Mix the flour and the water, "
    "let the dough rest, then fold it gently until it feels smooth. Bake it in a hot oven "
    "until the crust is brown and sounds hollow when you knock on it.\n"
    "Machines that learn from examples are trained by showing them many inputs and the "
    "answers that should follow. After each example the machine changes its numbers a "
    "little, so that the next answer is slightly better than the last one was.\n"
    "When the weather turned, the farmers brought the sheep down from the hills. The dogs "
    "ran ahead, the gates were opened one by one, and by evening the whole valley smelled of "
    "wet wool and wood smoke. It was the same every year, and everyone liked it that way.\n"
    "Numbers can be written in many ways: one, two, three; 1, 2, 3; or as tallies scratched "
    "on a stick. What matters is that the reader and the writer agree on what they mean.\n"
    "She opened the letter, read the first line, and smiled. \"We are coming home on "
    "Thursday,\" it said, \"and we are bringing the cat.\" The house would be noisy again.\n";

static void usage(FILE *f) {
    fprintf(f, "usage: vkft init-model --arch llama|gpt2 --out DIR [--hidden H] [--layers L]\n"
               "         [--heads N] [--kv-heads K] [--ffn F] [--vocab V] [--seq S]\n"
               "         [--seed S] [--corpus FILE] [--tie]\n");
}

static bool parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "vkft init-model: %s: expected an integer in [%lld, %lld], got '%s'\n",
                flag, (long long)lo, (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

static int write_tokenizer(const char *out, const char *corpus_path, int64_t vocab,
                           int32_t *eos_id) {
    vkft_err err = {{0}};
    char *corpus = NULL, *json = NULL;
    size_t len = 0, json_len = 0;
    const char *text = builtin_corpus;
    if (corpus_path) {
        if (vkft_file_read(corpus_path, &corpus, &len, &err)) {
            fprintf(stderr, "vkft init-model: %s\n", err.msg);
            return 1;
        }
        text = corpus;
    } else {
        len = sizeof builtin_corpus - 1;
    }
    const char *special[] = {"<|endoftext|>"};
    vkft_status st = vkft_bpe_train_bytelevel(text, len, (int)vocab, special, 1, &json,
                                              &json_len, &err);
    free(corpus);
    vkft_tokenizer *tok = NULL;
    if (!st) st = vkft_tokenizer_load_json(json, json_len, "tokenizer.json", &tok, &err);
    if (!st) *eos_id = vkft_tokenizer_token_to_id(tok, special[0], strlen(special[0]));
    vkft_tokenizer_free(tok);
    char *path = vkft_path_join(out, "tokenizer.json");
    if (!st && !path) st = vkft_err_set(&err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!st) st = vkft_file_write_atomic(path, json, json_len, &err);
    free(path);
    free(json);
    if (!st) {
        static const char tc[] =
            "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\",\n"
            "  \"bos_token\": \"<|endoftext|>\",\n  \"eos_token\": \"<|endoftext|>\",\n"
            "  \"unk_token\": \"<|endoftext|>\",\n  \"add_prefix_space\": false\n}\n";
        path = vkft_path_join(out, "tokenizer_config.json");
        st = path ? vkft_file_write_atomic(path, tc, sizeof tc - 1, &err)
                  : vkft_err_set(&err, VKFT_ERR_NO_MEMORY, "out of memory");
        free(path);
    }
    if (st) {
        fprintf(stderr, "vkft init-model: tokenizer: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int cmd_init_model(int argc, char **argv) {
    const char *arch = NULL, *out = NULL, *corpus = NULL;
    int64_t hidden = -1, layers = -1, heads = -1, kv = -1, ffn = -1, vocab = 512, seq = -1;
    int64_t seed = 0;
    bool tie = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--tie")) {
            tie = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vkft init-model: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--corpus")) corpus = v;
        else if (!strcmp(a, "--hidden")) ok = parse_i64(a, v, 1, 1 << 16, &hidden);
        else if (!strcmp(a, "--layers")) ok = parse_i64(a, v, 1, 1024, &layers);
        else if (!strcmp(a, "--heads")) ok = parse_i64(a, v, 1, 1024, &heads);
        else if (!strcmp(a, "--kv-heads")) ok = parse_i64(a, v, 1, 1024, &kv);
        else if (!strcmp(a, "--ffn")) ok = parse_i64(a, v, 1, 1 << 20, &ffn);
        else if (!strcmp(a, "--vocab")) ok = parse_i64(a, v, 257, 1 << 22, &vocab);
        else if (!strcmp(a, "--seq")) ok = parse_i64(a, v, 1, 1 << 20, &seq);
        else if (!strcmp(a, "--seed")) ok = parse_i64(a, v, 0, INT64_MAX, &seed);
        else {
            fprintf(stderr, "vkft init-model: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!arch || !out || (strcmp(arch, "llama") && strcmp(arch, "gpt2"))) {
        fprintf(stderr, "vkft init-model: %s\n", !arch || !out ? "--arch and --out are required"
                                                              : "--arch must be llama or gpt2");
        usage(stderr);
        return 2;
    }
    vkft_model_config cfg;
    vkft_model_config_default(&cfg, !strcmp(arch, "gpt2") ? VKFT_ARCH_GPT2 : VKFT_ARCH_LLAMA);
    if (hidden > 0) {
        cfg.hidden = hidden;
        cfg.ffn = cfg.arch == VKFT_ARCH_GPT2 ? 4 * hidden : (8 * hidden / 3 + 7) / 8 * 8;
    }
    if (layers > 0) cfg.layers = layers;
    if (heads > 0) cfg.heads = cfg.kv_heads = heads;
    if (kv > 0) {
        if (cfg.arch == VKFT_ARCH_GPT2 && kv != cfg.heads) {
            fprintf(stderr, "vkft init-model: GPT-2 has no grouped-query attention "
                            "(--kv-heads must equal --heads)\n");
            return 2;
        }
        cfg.kv_heads = kv;
    }
    if (ffn > 0) cfg.ffn = ffn;
    if (seq > 0) cfg.max_positions = seq;
    cfg.vocab = vocab;
    cfg.head_dim = cfg.hidden / cfg.heads;
    cfg.tie_word_embeddings = cfg.arch == VKFT_ARCH_GPT2 || tie;
    if (cfg.hidden % cfg.heads) {
        fprintf(stderr, "vkft init-model: --hidden (%lld) must be a multiple of --heads (%lld)\n",
                (long long)cfg.hidden, (long long)cfg.heads);
        return 2;
    }
    vkft_err err = {{0}};
    if (vkft_model_config_validate(&cfg, &err)) {
        fprintf(stderr, "vkft init-model: %s\n", err.msg);
        return 2;
    }
    char *existing = vkft_path_join(out, "config.json");
    bool taken = existing && vkft_is_file(existing);
    free(existing);
    if (taken) {
        fprintf(stderr, "vkft init-model: %s already holds a model (config.json); choose another "
                        "--out\n", out);
        return 1;
    }
    if (vkft_mkdirs(out, &err)) {
        fprintf(stderr, "vkft init-model: %s\n", err.msg);
        return 1;
    }
    int32_t eos = -1;
    if (write_tokenizer(out, corpus, vocab, &eos)) return 1;
    cfg.bos_id = eos;
    cfg.n_eos = eos >= 0;
    cfg.eos_ids[0] = eos;
    if (vkft_model_init_random(&cfg, (uint64_t)seed, out, &err)) {
        fprintf(stderr, "vkft init-model: %s\n", err.msg);
        return 1;
    }
    printf("%s: %s model, %lld layers, hidden %lld, %lld heads (%lld kv), ffn %lld, vocab %lld, "
           "%lld positions%s\n", out, arch, (long long)cfg.layers, (long long)cfg.hidden,
           (long long)cfg.heads, (long long)cfg.kv_heads, (long long)cfg.ffn,
           (long long)cfg.vocab, (long long)cfg.max_positions,
           cfg.tie_word_embeddings ? ", tied head" : "");
    return 0;
}
