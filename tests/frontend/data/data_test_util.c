/* Helpers for the frontend/data tests (see data_test_util.h). */
#include "data_test_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"
#include "util/json.h"

static char scratch[256];

static const char *const added[] = {
    "<|endoftext|>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|start_header_id|>",
    "<|end_header_id|>", "<|eot_id|>", "<|begin_of_text|>",
};
#define N_ADDED ((int)(sizeof added / sizeof added[0]))

const char *dt_dir(void)
{
    if (scratch[0]) return scratch;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/vkft-data-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        exit(1);
    }
    return scratch;
}

void dt_cleanup(void)
{
    if (!scratch[0]) return;
    DIR *dir = opendir(scratch);
    struct dirent *e;
    char path[600];
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
        if (unlink(path) != 0) {
            /* a tokenizer folder: its two files, then itself */
            char sub[700];
            snprintf(sub, sizeof sub, "%s/tokenizer.json", path);
            unlink(sub);
            snprintf(sub, sizeof sub, "%s/tokenizer_config.json", path);
            unlink(sub);
            rmdir(path);
        }
    }
    if (dir) closedir(dir);
    rmdir(scratch);
    scratch[0] = '\0';
}

const char *dt_write(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", dt_dir(), name);
    vkft_err err;
    if (vkft_file_write_atomic(p, text, strlen(text), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return p;
}

const char *dt_fixture(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    const char *root = getenv("VKFT_FIXTURES");
    snprintf(p, 512, "%s/data/%s", root ? root : "tests/fixtures", name);
    return p;
}

/* GPT-2's byte → printable code point map. */
static unsigned byte_char(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    unsigned n = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

static void write_tokenizer_json(vkft_json_writer *w, bool bos_template)
{
    vkft_json_obj_begin(w);
    vkft_json_key(w, "version");
    vkft_json_str(w, "1.0");
    vkft_json_key(w, "added_tokens");
    vkft_json_arr_begin(w);
    for (int i = 0; i < N_ADDED; i++) {
        vkft_json_obj_begin(w);
        vkft_json_key(w, "id");
        vkft_json_int(w, 256 + i);
        vkft_json_key(w, "content");
        vkft_json_str(w, added[i]);
        const char *flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
        for (int f = 0; f < 4; f++) {
            vkft_json_key(w, flags[f]);
            vkft_json_bool(w, false);
        }
        vkft_json_key(w, "special");
        vkft_json_bool(w, true);
        vkft_json_obj_end(w);
    }
    vkft_json_arr_end(w);
    vkft_json_key(w, "normalizer");
    vkft_json_null(w);
    vkft_json_key(w, "pre_tokenizer");
    const char *pre = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":"
                      "true,\"use_regex\":true}";
    vkft_json_raw(w, pre, strlen(pre));
    vkft_json_key(w, "post_processor");
    if (bos_template) {
        const char *t =
            "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\","
            "\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[{"
            "\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\","
            "\"type_id\":0}},{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":1}},{\"Sequence\":{"
            "\"id\":\"B\",\"type_id\":1}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\","
            "\"ids\":[257],\"tokens\":[\"<s>\"]}}}";
        vkft_json_raw(w, t, strlen(t));
    } else {
        const char *t = "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":"
                        "false,\"use_regex\":true}";
        vkft_json_raw(w, t, strlen(t));
    }
    vkft_json_key(w, "decoder");
    const char *dec = "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,"
                      "\"use_regex\":true}";
    vkft_json_raw(w, dec, strlen(dec));
    vkft_json_key(w, "model");
    vkft_json_obj_begin(w);
    vkft_json_key(w, "type");
    vkft_json_str(w, "BPE");
    vkft_json_key(w, "dropout");
    vkft_json_null(w);
    vkft_json_key(w, "unk_token");
    vkft_json_null(w);
    vkft_json_key(w, "byte_fallback");
    vkft_json_bool(w, false);
    vkft_json_key(w, "vocab");
    vkft_json_obj_begin(w);
    for (unsigned b = 0; b < 256; b++) {
        unsigned c = byte_char(b);
        char key[4];
        if (c < 0x80) {
            key[0] = (char)c;
            key[1] = '\0';
        } else {
            key[0] = (char)(0xC0 | (c >> 6));
            key[1] = (char)(0x80 | (c & 0x3F));
            key[2] = '\0';
        }
        vkft_json_key(w, key);
        vkft_json_int(w, b);
    }
    vkft_json_obj_end(w);
    vkft_json_key(w, "merges");
    vkft_json_arr_begin(w);
    vkft_json_arr_end(w);
    vkft_json_obj_end(w);
    vkft_json_obj_end(w);
}

vkft_tokenizer *dt_tokenizer(bool bos_template, const char *bos, const char *eos,
                             const char *chat_template)
{
    static int count;
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/tok%d", dt_dir(), count++);
    vkft_err err;
    vkft_json_writer w;
    char *text;
    size_t len;
    vkft_json_writer_init(&w, 0);
    write_tokenizer_json(&w, bos_template);
    if (vkft_mkdirs(dir, &err) || vkft_json_writer_finish(&w, &text, &len, &err)) goto fail;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    vkft_status st = vkft_file_write_atomic(path, text, len, &err);
    free(text);
    if (st) goto fail;
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    if (bos) vkft_json_key(&w, "bos_token"), vkft_json_str(&w, bos);
    if (eos) vkft_json_key(&w, "eos_token"), vkft_json_str(&w, eos);
    if (chat_template) vkft_json_key(&w, "chat_template"), vkft_json_str(&w, chat_template);
    vkft_json_obj_end(&w);
    if (vkft_json_writer_finish(&w, &text, &len, &err)) goto fail;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    st = vkft_file_write_atomic(path, text, len, &err);
    free(text);
    if (st) goto fail;
    vkft_tokenizer *tok;
    if (vkft_tokenizer_load(dir, &tok, &err)) goto fail;
    return tok;
fail:
    fprintf(stderr, "test tokenizer: %s\n", err.msg);
    exit(1);
}

void dt_expect(const char *s, int32_t *ids, int64_t *n, int64_t cap)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        int hit = -1;
        size_t hit_len = 0;
        for (int k = 0; k < N_ADDED; k++) {
            size_t l = strlen(added[k]);
            if (l > hit_len && i + l <= len && memcmp(s + i, added[k], l) == 0) {
                hit = k;
                hit_len = l;
            }
        }
        if (*n >= cap) {
            fprintf(stderr, "dt_expect: more than %lld ids\n", (long long)cap);
            exit(1);
        }
        if (hit >= 0) {
            ids[(*n)++] = 256 + hit;
            i += hit_len;
        } else {
            ids[(*n)++] = (unsigned char)s[i++];
        }
    }
}

void dt_expect_w(const char *s, float wt, int32_t *ids, float *w, int64_t *n, int64_t cap)
{
    int64_t start = *n;
    dt_expect(s, ids, n, cap);
    for (int64_t t = start; t < *n; t++) w[t] = wt;
}

bool dt_example_is(const vkft_dataset *d, int i, int64_t j, const int32_t *ids, const float *w,
                   int64_t n)
{
    const int32_t *gi, *gl;
    const float *gw;
    int64_t gn;
    if (!vkft_dataset_example(d, i, j, &gi, &gl, &gw, &gn)) {
        fprintf(stderr, "example %d/%lld missing\n", i, (long long)j);
        return false;
    }
    if (gn != n) {
        fprintf(stderr, "example %d/%lld: %lld tokens, expected %lld\n", i, (long long)j,
                (long long)gn, (long long)n);
        for (int64_t t = 0; t < gn; t++) fprintf(stderr, " %d", gi[t]);
        fprintf(stderr, "\n");
        return false;
    }
    for (int64_t t = 0; t < n; t++) {
        int32_t lab = w[t] > 0.0f ? ids[t] : VKFT_IGNORE_INDEX;
        if (gi[t] != ids[t] || gl[t] != lab || gw[t] != w[t]) {
            fprintf(stderr, "example %d/%lld token %lld: got (%d, %d, %g), expected (%d, %d, "
                    "%g)\n", i, (long long)j, (long long)t, gi[t], gl[t], (double)gw[t], ids[t],
                    lab, (double)w[t]);
            return false;
        }
    }
    return true;
}

vkft_status dt_open1(const char *path, vkft_data_format f, const vkft_data_options *o,
                     const vkft_tokenizer *tok, vkft_dataset **out, vkft_err *err)
{
    vkft_data_source src = {.path = path, .format = f, .prompt_loss_weight = -1.0f};
    vkft_data_options def;
    vkft_data_options_default(&def);
    def.seq_len = 64;
    return vkft_dataset_open(&src, 1, o ? o : &def, tok, out, err);
}

void dt_batch_alloc(dt_batch *b, int64_t rows, int64_t T, bool optional)
{
    memset(b, 0, sizeof *b);
    b->rows = rows;
    b->T = T;
    size_t n = (size_t)(rows * T);
    b->b.tokens = calloc(n, sizeof(int32_t));
    b->b.labels = calloc(n, sizeof(int32_t));
    b->b.weights = calloc(n, sizeof(float));
    b->b.task = calloc((size_t)rows, sizeof(int32_t));
    if (optional) {
        b->b.key_mask = calloc(n, sizeof(float));
        b->b.segment = calloc(n, sizeof(int32_t));
        b->b.token_task = calloc(n, sizeof(int32_t));
    }
    if (!b->b.tokens || !b->b.labels || !b->b.weights || !b->b.task ||
        (optional && (!b->b.key_mask || !b->b.segment || !b->b.token_task))) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
}

void dt_batch_free(dt_batch *b)
{
    free(b->b.tokens);
    free(b->b.labels);
    free(b->b.weights);
    free(b->b.task);
    free(b->b.key_mask);
    free(b->b.segment);
    free(b->b.token_task);
    memset(b, 0, sizeof *b);
}
