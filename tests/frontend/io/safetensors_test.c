/*
 * safetensors: a fixture built by tools/gen_safetensors_fixture.py by the format's spec in the
 * reference writer's layout (every dtype, 0-d and empty tensors, F16/BF16 edge values checked
 * against bit patterns that Python computed), an unaligned older layout, writer -> reader
 * round trips of every dtype, the writer's layout promises (padding, alignment, order,
 * atomicity) and refusals, sharded checkpoints through an index, folder resolution, and the
 * f16/bf16 conversions (exhaustive round trips, rounding against the compiler's _Float16 and
 * a nearest-value oracle). Malformed files are in safetensors_errors_test.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io_test_util.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

static void expect_msg(const vkft_err *err, const char *want) {
    if (strcmp(err->msg, want)) {
        fprintf(stderr, "message\n  got:  %s\n  want: %s\n", err->msg, want);
        test_failures++;
    }
}

/* ---- the Python-built fixture ---- */

static void check_bits(const vkft_st_tensor *t, const vkft_json *want) {
    size_t n = t->bytes / vkft_st_dtype_size(t->dtype);
    CHECK(want && want->len == n);
    if (!want || want->len != n) return;
    float *got = malloc((n ? n : 1) * sizeof *got);
    vkft_err err;
    CHECK(got && vkft_st_read_f32(t, got, n, &err) == VKFT_OK);
    for (size_t i = 0; got && i < n; i++) {
        uint32_t b;
        int64_t w = -1;
        memcpy(&b, &got[i], 4);
        vkft_json_get_int(vkft_json_at(want, i), &w);
        if ((int64_t)b != w) {
            fprintf(stderr, "%s[%zu]: got bits 0x%08x (%g), want 0x%08llx\n", t->name, i, b,
                    (double)got[i], (long long)w);
            test_failures++;
        }
    }
    free(got);
}

static void test_fixture(void) {
    const char *dir = getenv("VKFT_FIXTURES");
    if (!dir) {
        fprintf(stderr, "VKFT_FIXTURES is not set\n");
        test_failures++;
        return;
    }
    char path[1024], exp_path[1024];
    snprintf(path, sizeof path, "%s/io/reference.safetensors", dir);
    snprintf(exp_path, sizeof exp_path, "%s/io/reference_expected.json", dir);
    vkft_st *st;
    vkft_err err;
    if (vkft_st_open(path, &st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        return;
    }
    /* Stale fixtures fail loudly: the generator stamps its version in the metadata. */
    CHECK(vkft_st_metadata(st, "vkft_fixture") &&
          !strcmp(vkft_st_metadata(st, "vkft_fixture"), "safetensors-v1"));
    CHECK(vkft_st_metadata(st, "format") && !strcmp(vkft_st_metadata(st, "format"), "pt"));
    CHECK(vkft_st_metadata(st, "missing") == NULL);
    CHECK(vkft_st_count(st) == 12);
    for (int i = 1; i < vkft_st_count(st); i++)
        CHECK(strcmp(vkft_st_at(st, i - 1)->name, vkft_st_at(st, i)->name) < 0);
    CHECK(vkft_st_at(st, -1) == NULL && vkft_st_at(st, 12) == NULL);
    CHECK(vkft_st_find(st, "nope") == NULL);

    const vkft_st_tensor *t = vkft_st_find(st, "lm_head.weight");
    CHECK(t && t->dtype == VKFT_ST_BF16 && t->ndim == 2 && t->shape[0] == 2 &&
          t->shape[1] == 5 && t->bytes == 20 && !strcmp(t->file, path));
    t = vkft_st_find(st, "scalar");
    CHECK(t && t->ndim == 0 && t->bytes == 4);
    t = vkft_st_find(st, "empty");
    CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 4 && t->bytes == 0);
    t = vkft_st_find(st, "ids.i64");
    int64_t i64[4];
    CHECK(t && t->dtype == VKFT_ST_I64 && t->bytes == 32);
    if (t) {
        memcpy(i64, t->data, 32);
        CHECK(i64[0] == INT64_MIN && i64[1] == INT64_MAX && i64[2] == 0 && i64[3] == -1);
    }
    t = vkft_st_find(st, "ids.i32");
    int32_t i32[3];
    CHECK(t && t->dtype == VKFT_ST_I32 && t->bytes == 12);
    if (t) {
        memcpy(i32, t->data, 12);
        CHECK(i32[0] == INT32_MIN && i32[1] == INT32_MAX && i32[2] == 7);
    }
    t = vkft_st_find(st, "ids.i16");
    CHECK(t && t->dtype == VKFT_ST_I16 && !memcmp(t->data, "\x00\x80\xff\x7f", 4));
    t = vkft_st_find(st, "ids.i8");
    CHECK(t && t->dtype == VKFT_ST_I8 && !memcmp(t->data, "\x80\x7f", 2));
    t = vkft_st_find(st, "bytes.u8");
    CHECK(t && t->dtype == VKFT_ST_U8 && t->ndim == 2 && !memcmp(t->data, "\x00\x80\xff", 3));
    t = vkft_st_find(st, "mask.bool");
    CHECK(t && t->dtype == VKFT_ST_BOOL && !memcmp(t->data, "\x01\x00", 2));
    /* The reference layout keeps every tensor aligned to its element size. */
    for (int i = 0; i < vkft_st_count(st); i++) {
        t = vkft_st_at(st, i);
        CHECK((uintptr_t)t->data % vkft_st_dtype_size(t->dtype) == 0);
    }

    vkft_json_doc *doc;
    if (vkft_json_parse_file(exp_path, &doc, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
    } else {
        const vkft_json *r = vkft_json_root(doc);
        CHECK(!strcmp(vkft_json_get_str(vkft_json_get(r, "vkft_fixture")), "safetensors-v1"));
        static const char *const floats[] = {"model.embed_tokens.weight", "model.norm.weight",
                                             "lm_head.weight", "scale.f64", "scalar", "empty"};
        for (size_t i = 0; i < 6; i++) {
            t = vkft_st_find(st, floats[i]);
            CHECK(t != NULL);
            if (t) check_bits(t, vkft_json_get(r, floats[i]));
        }
        vkft_json_free(doc);
    }
    /* read_f32 refuses other dtypes and wrong counts, naming file and tensor. */
    float f[4];
    CHECK(vkft_st_read_f32(vkft_st_find(st, "ids.i32"), f, 3, &err) == VKFT_ERR_DTYPE);
    char want[1200];
    snprintf(want, sizeof want, "%s: tensor \"ids.i32\": dtype I32 is not a float type (F32, "
             "F16, BF16 or F64)", path);
    expect_msg(&err, want);
    CHECK(vkft_st_read_f32(vkft_st_find(st, "scalar"), f, 2, &err) == VKFT_ERR_SHAPE);
    snprintf(want, sizeof want, "%s: tensor \"scalar\": has 1 elements, not 2", path);
    expect_msg(&err, want);
    vkft_st_close(st);

    /* An older layout with F32 data at an odd address reads correctly (memcpy, no UB). */
    snprintf(path, sizeof path, "%s/io/unaligned.safetensors", dir);
    if (vkft_st_open(path, &st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        return;
    }
    t = vkft_st_find(st, "b");
    CHECK(t && (uintptr_t)t->data % 4 != 0);
    CHECK(t && vkft_st_read_f32(t, f, 2, &err) == VKFT_OK && f[0] == 1.5f && f[1] == -2.0f);
    vkft_st_close(st);

    /* The fixture folder has no model file: the message lists what was looked for. */
    snprintf(path, sizeof path, "%s/io", dir);
    st = (vkft_st *)1;
    CHECK(vkft_st_open(path, &st, &err) == VKFT_ERR_IO && st == NULL);
    snprintf(want, sizeof want, "%s: no model.safetensors, model.safetensors.index.json or "
             "adapter_model.safetensors in this folder", path);
    expect_msg(&err, want);
}

/* ---- writer round trips ---- */

static void test_round_trip(void) {
    /* One tensor of every dtype with distinct bytes, plus 0-d and empty tensors. */
    static const vkft_st_dtype all[] = {
        VKFT_ST_F32, VKFT_ST_F16, VKFT_ST_BF16, VKFT_ST_F64, VKFT_ST_I64, VKFT_ST_I32,
        VKFT_ST_I16, VKFT_ST_I8, VKFT_ST_U8, VKFT_ST_BOOL,
    };
    enum { N = 10 };
    uint8_t data[N][3 * 5 * 8];
    uint64_t rs = 99;
    vkft_st_writer *w;
    vkft_err err;
    CHECK(vkft_st_writer_create(&w, &err) == VKFT_OK);
    char names[N][32];
    int64_t shape[2] = {3, 5};
    for (int i = 0; i < N; i++) {
        size_t bytes = 15 * vkft_st_dtype_size(all[i]);
        for (size_t b = 0; b < bytes; b++) data[i][b] = (uint8_t)test_rand_u64(&rs);
        if (all[i] == VKFT_ST_BOOL)
            for (size_t b = 0; b < bytes; b++) data[i][b] &= 1;
        snprintf(names[i], sizeof names[i], "t.%02d.%s", N - i, vkft_st_dtype_name(all[i]));
        CHECK(vkft_st_writer_add(w, names[i], all[i], 2, shape, data[i], bytes, &err) == 0);
    }
    float scalar = 3.5f;
    CHECK(vkft_st_writer_add(w, "scalar", VKFT_ST_F32, 0, NULL, &scalar, 4, &err) == VKFT_OK);
    int64_t eshape[3] = {2, 0, 7};
    CHECK(vkft_st_writer_add(w, "empty", VKFT_ST_BF16, 3, eshape, NULL, 0, &err) == VKFT_OK);
    CHECK(vkft_st_writer_metadata(w, "format", "pt", &err) == VKFT_OK);
    CHECK(vkft_st_writer_metadata(w, "note", "quote \" and \xc3\xa9", &err) == VKFT_OK);

    /* Refusals, each naming the tensor. */
    CHECK(vkft_st_writer_add(w, "scalar", VKFT_ST_F32, 0, NULL, &scalar, 4, &err) != VKFT_OK);
    expect_msg(&err, "safetensors writer: tensor \"scalar\" added twice");
    CHECK(vkft_st_writer_add(w, "x", VKFT_ST_F32, 2, shape, data[0], 59, &err) != VKFT_OK);
    expect_msg(&err, "safetensors writer: tensor \"x\": 15 elements of F32 need 60 bytes, "
                     "got 59");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, neg[1] = {-1};
    CHECK(vkft_st_writer_add(w, "x", VKFT_ST_F32, 9, nine, data[0], 4, &err) != VKFT_OK);
    expect_msg(&err, "safetensors writer: tensor \"x\": 9 dimensions (0 to 8)");
    CHECK(vkft_st_writer_add(w, "x", VKFT_ST_F32, 1, neg, data[0], 4, &err) != VKFT_OK);
    expect_msg(&err, "safetensors writer: tensor \"x\": bad dimension 0 (-1)");
    CHECK(vkft_st_writer_add(w, "__metadata__", VKFT_ST_F32, 0, NULL, &scalar, 4, &err) != 0);
    expect_msg(&err, "safetensors writer: \"__metadata__\" cannot name a tensor");
    CHECK(vkft_st_writer_metadata(w, "format", "np", &err) != VKFT_OK);
    expect_msg(&err, "safetensors writer: metadata \"format\" set twice");

    char *path = tmp_path("rt.safetensors");
    CHECK(vkft_st_writer_finish(w, path, &err) == VKFT_OK);
    CHECK(vkft_st_writer_finish(w, tmp_path("no/such/dir/x.safetensors"), &err) == VKFT_ERR_IO);
    CHECK(strstr(err.msg, "no/such/dir/x.safetensors.tmp.") != NULL);
    vkft_st_writer_free(w);
    CHECK(count_temp_files() == 0);

    /* The raw layout: header length a multiple of 8, padded with spaces, data aligned. */
    char *raw;
    size_t len;
    CHECK(vkft_file_read(path, &raw, &len, &err) == VKFT_OK);
    uint64_t hn;
    memcpy(&hn, raw, 8);
    CHECK(hn % 8 == 0 && 8 + hn <= len && raw[8] == '{');
    size_t last = 8 + hn - 1;
    while (raw[last] == ' ') last--;
    CHECK(raw[last] == '}' && 8 + hn - 1 - last < 8);
    CHECK(!strncmp(raw + 8, "{\"__metadata__\":{\"format\":\"pt\",\"note\":", 38));
    free(raw);

    vkft_st *st;
    CHECK(vkft_st_open(path, &st, &err) == VKFT_OK);
    if (!st) return;
    CHECK(vkft_st_count(st) == N + 2);
    CHECK(!strcmp(vkft_st_metadata(st, "note"), "quote \" and \xc3\xa9"));
    for (int i = 0; i < N; i++) {
        const vkft_st_tensor *t = vkft_st_find(st, names[i]);
        size_t bytes = 15 * vkft_st_dtype_size(all[i]);
        CHECK(t && t->dtype == all[i] && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 5);
        CHECK(t && t->bytes == bytes && !memcmp(t->data, data[i], bytes));
        CHECK(t && (uintptr_t)t->data % vkft_st_dtype_size(all[i]) == 0);
    }
    /* Data order: largest element size first (F64 and I64 lead, then F32/I32). */
    const vkft_st_tensor *f64 = vkft_st_find(st, names[3]), *i64 = vkft_st_find(st, names[4]);
    const vkft_st_tensor *u8 = vkft_st_find(st, names[8]);
    CHECK(f64 && i64 && u8 && (const uint8_t *)i64->data < (const uint8_t *)f64->data &&
          (const uint8_t *)f64->data < (const uint8_t *)u8->data);
    const vkft_st_tensor *t = vkft_st_find(st, "scalar");
    float f = 0;
    CHECK(t && t->ndim == 0 && vkft_st_read_f32(t, &f, 1, &err) == VKFT_OK && f == 3.5f);
    t = vkft_st_find(st, "empty");
    CHECK(t && t->ndim == 3 && t->shape[1] == 0 && t->bytes == 0 && t->dtype == VKFT_ST_BF16);
    CHECK(t && vkft_st_read_f32(t, &f, 0, &err) == VKFT_OK);
    vkft_st_close(st);

    /* An empty writer makes a valid file with no tensors. */
    CHECK(vkft_st_writer_create(&w, &err) == VKFT_OK);
    CHECK(vkft_st_writer_finish(w, tmp_path("none.safetensors"), &err) == VKFT_OK);
    vkft_st_writer_free(w);
    CHECK(vkft_st_open(tmp_path("none.safetensors"), &st, &err) == VKFT_OK);
    if (st) {
        CHECK(vkft_st_count(st) == 0 && vkft_st_metadata(st, "format") == NULL);
        vkft_st_close(st);
    }
}

/* ---- shards and folders ---- */

static void write_shard(const char *file, const char *const *names, int n, const float *v) {
    vkft_st_writer *w;
    vkft_err err;
    int64_t shape[1] = {2};
    CHECK(vkft_st_writer_create(&w, &err) == VKFT_OK);
    for (int i = 0; i < n; i++)
        CHECK(vkft_st_writer_add(w, names[i], VKFT_ST_F32, 1, shape, v + 2 * i, 8, &err) == 0);
    CHECK(vkft_st_writer_metadata(w, "format", file, &err) == VKFT_OK);
    CHECK(vkft_st_writer_finish(w, tmp_path(file), &err) == VKFT_OK);
    vkft_st_writer_free(w);
}

static void write_text(const char *file, const char *text) {
    vkft_err err;
    CHECK(vkft_file_write_atomic(tmp_path(file), text, strlen(text), &err) == VKFT_OK);
}

static void expect_open_error(const char *file, vkft_status status, const char *fmt) {
    vkft_st *st = (vkft_st *)1;
    vkft_err err;
    char want[2048];
    const char *p = tmp_path(file);
    snprintf(want, sizeof want, fmt, p, p, p);
    CHECK(vkft_st_open(p, &st, &err) == status && st == NULL);
    expect_msg(&err, want);
}

static void test_shards(void) {
    vkft_err err;
    CHECK(vkft_mkdirs(tmp_path("m"), &err) == VKFT_OK);
    static const char *const a[] = {"layers.0.w", "embed"}, *const b[] = {"layers.1.w", "norm"};
    const float va[] = {1, 2, 3, 4}, vb[] = {5, 6, 7, 8};
    write_shard("m/model-00001-of-00002.safetensors", a, 2, va);
    write_shard("m/model-00002-of-00002.safetensors", b, 2, vb);
    write_text("m/model.safetensors.index.json",
               "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {"
               "\"embed\": \"model-00001-of-00002.safetensors\","
               "\"layers.0.w\": \"model-00001-of-00002.safetensors\","
               "\"layers.1.w\": \"model-00002-of-00002.safetensors\","
               "\"norm\": \"model-00002-of-00002.safetensors\"}}");
    vkft_st *st;
    CHECK(vkft_st_open(tmp_path("m"), &st, &err) == VKFT_OK);
    if (st) {
        CHECK(vkft_st_count(st) == 4);
        CHECK(!strcmp(vkft_st_at(st, 0)->name, "embed") &&
              !strcmp(vkft_st_at(st, 3)->name, "norm"));
        const vkft_st_tensor *t = vkft_st_find(st, "norm");
        float f[2];
        CHECK(t && vkft_st_read_f32(t, f, 2, &err) == VKFT_OK && f[0] == 7 && f[1] == 8);
        CHECK(t && !strcmp(t->file, tmp_path("m/model-00002-of-00002.safetensors")));
        /* Metadata comes from the first shard. */
        CHECK(!strcmp(vkft_st_metadata(st, "format"), "m/model-00001-of-00002.safetensors"));
        vkft_st_close(st);
    }
    /* The index file itself opens the same way. */
    CHECK(vkft_st_open(tmp_path("m/model.safetensors.index.json"), &st, &err) == VKFT_OK);
    if (st) {
        CHECK(vkft_st_count(st) == 4);
        vkft_st_close(st);
    }
    /* A folder with both prefers model.safetensors, as transformers does. */
    write_shard("m/model.safetensors", a, 1, va);
    CHECK(vkft_st_open(tmp_path("m"), &st, &err) == VKFT_OK);
    if (st) {
        CHECK(vkft_st_count(st) == 1);
        vkft_st_close(st);
    }
    CHECK(vkft_mkdirs(tmp_path("adapter"), &err) == VKFT_OK);
    write_shard("adapter/adapter_model.safetensors", b, 2, vb);
    CHECK(vkft_st_open(tmp_path("adapter"), &st, &err) == VKFT_OK);
    if (st) {
        CHECK(vkft_st_count(st) == 2);
        vkft_st_close(st);
    }

    /* Index errors. */
    write_text("i1.json", "{\"weight_map\": []}");
    expect_open_error("i1.json", VKFT_ERR_INVALID_ARG,
                      "%s: \"weight_map\" must be an object of tensor name -> shard file");
    write_text("i2.json", "{\"weight_map\": {}}");
    expect_open_error("i2.json", VKFT_ERR_INVALID_ARG, "%s: \"weight_map\" names no tensors");
    write_text("i3.json", "{\"weight_map\": {\"a\": \"x.safetensors\",\n \"b\": 7}}");
    expect_open_error("i3.json", VKFT_ERR_INVALID_ARG,
                      "%s:2:7: weight_map \"b\": expected a shard file name, found number");
    write_text("i4.json", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
    expect_open_error("i4.json", VKFT_ERR_INVALID_ARG,
                      "%s:1:22: weight_map \"a\": shard \"../x.safetensors\" is not a file "
                      "name inside the index's folder");
    write_text("i5.json", "{\"weight_map\": {\"a\": \"missing.safetensors\"}}");
    char want[2048];
    vkft_st *bad = (vkft_st *)1;
    CHECK(vkft_st_open(tmp_path("i5.json"), &bad, &err) == VKFT_ERR_IO && !bad);
    snprintf(want, sizeof want, "%s: %s: cannot open: No such file or directory",
             tmp_path("i5.json"), tmp_path("missing.safetensors"));
    expect_msg(&err, want);
    write_text("m/i6.json", "{\"weight_map\": {\"ghost\": \"model-00001-of-00002.safetensors\"}}");
    expect_open_error("m/i6.json", VKFT_ERR_INVALID_ARG,
                      "%s: tensor \"ghost\" is mapped to model-00001-of-00002.safetensors but "
                      "that shard does not have it");
    write_text("m/i7.json", "{\"weight_map\": {\"norm\": \"model-00001-of-00002.safetensors\","
               " \"embed\": \"model-00002-of-00002.safetensors\"}}");
    snprintf(want, sizeof want, "%%s: tensor \"norm\" is mapped to "
             "model-00001-of-00002.safetensors but found in %s",
             tmp_path("m/model-00002-of-00002.safetensors"));
    expect_open_error("m/i7.json", VKFT_ERR_INVALID_ARG, want);
    /* The same name in two shards. */
    write_shard("m/dup.safetensors", b, 1, vb);
    write_text("m/i8.json", "{\"weight_map\": {\"layers.1.w\": \"dup.safetensors\","
               " \"norm\": \"model-00002-of-00002.safetensors\"}}");
    CHECK(vkft_st_open(tmp_path("m/i8.json"), &bad, &err) == VKFT_ERR_INVALID_ARG && !bad);
    snprintf(want, sizeof want, "%s: tensor \"layers.1.w\" is in both %s and %s",
             tmp_path("m/i8.json"), tmp_path("m/dup.safetensors"),
             tmp_path("m/model-00002-of-00002.safetensors"));
    expect_msg(&err, want);
    write_text("i9.json", "{\"weight_map\": {\"a\": \"x\"");
    expect_open_error("i9.json", VKFT_ERR_INVALID_ARG,
                      "%s:1:25: expected ',' or '}' after object member, found end of input");
    CHECK(count_temp_files() == 0);
}

/* ---- conversions ---- */

static uint32_t bits_of(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static void test_conversions(void) {
    /* Every f16 / bf16 pattern survives 16 -> 32 -> 16 (NaNs stay NaN). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = vkft_st_f16_to_f32((uint16_t)h);
        bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan ? !isnan(f) || !isnan(vkft_st_f16_to_f32(vkft_st_f32_to_f16(f)))
                : vkft_st_f32_to_f16(f) != h)
            bad++;
        float g = vkft_st_bf16_to_f32((uint16_t)h);
        bool bnan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        if (bnan ? !isnan(g) || !isnan(vkft_st_bf16_to_f32(vkft_st_f32_to_bf16(g)))
                 : vkft_st_f32_to_bf16(g) != h)
            bad++;
    }
    CHECK(bad == 0);
    /* Edge values by their bits. */
    CHECK(bits_of(vkft_st_f16_to_f32(0x0001)) == bits_of(0x1p-24f));
    CHECK(bits_of(vkft_st_f16_to_f32(0x03ff)) == bits_of(0x3ffp-24f));
    CHECK(bits_of(vkft_st_f16_to_f32(0x8000)) == 0x80000000u);
    CHECK(vkft_st_f16_to_f32(0x7bff) == 65504.0f && isinf(vkft_st_f16_to_f32(0xfc00)));
    CHECK(bits_of(vkft_st_bf16_to_f32(0x0001)) == 0x00010000u);  /* a subnormal f32 */
    /* f32 -> f16 rounding: ties to even, overflow, underflow. */
    CHECK(vkft_st_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);        /* tie: down to even */
    CHECK(vkft_st_f32_to_f16(1.0f + 0x3p-11f) == 0x3c02);        /* tie: up to even */
    CHECK(vkft_st_f32_to_f16(65519.0f) == 0x7bff && vkft_st_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(vkft_st_f32_to_f16(-1e9f) == 0xfc00 && vkft_st_f32_to_f16(0x1p-25f) == 0x0000);
    CHECK(vkft_st_f32_to_f16(0x1.01p-25f) == 0x0001 && vkft_st_f32_to_f16(0x3p-25f) == 0x0002);
    CHECK(vkft_st_f32_to_f16(0x1.ffcp-15f) == 0x0400);           /* rounds up to normal */
    CHECK(vkft_st_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 && vkft_st_f32_to_bf16(1.0f +
          0x3p-8f) == 0x3f82);
    CHECK(vkft_st_f32_to_bf16(3.4028235e38f) == 0x7f80);          /* FLT_MAX rounds to inf */

    /* Random floats: f16 against the compiler's _Float16 conversion (round to nearest even),
     * bf16 against the nearer of its two neighbours (ties to even) computed in double. */
    uint64_t rs = 4242;
    int bad16 = 0, badbf = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t b = (uint32_t)test_rand_u64(&rs);
        if (i % 2) b = (b & 0x87ffffffu) | 0x30000000u;  /* half the draws near f16's range */
        float f;
        memcpy(&f, &b, 4);
        if (isnan(f)) continue;
#ifdef __FLT16_MAX__
        _Float16 h = (_Float16)f;
        uint16_t hb;
        memcpy(&hb, &h, 2);
        bad16 += vkft_st_f32_to_f16(f) != hb;
#endif
        uint16_t r = vkft_st_f32_to_bf16(f), lo = (uint16_t)(b >> 16), hi = (uint16_t)(lo + 1);
        if ((lo & 0x7fff) >= 0x7f7f) continue;  /* next to inf: checked with FLT_MAX above */
        double dl = fabs((double)f - vkft_st_bf16_to_f32(lo));
        double dh = fabs((double)f - vkft_st_bf16_to_f32(hi));
        uint16_t want = dl < dh ? lo : dh < dl ? hi : (lo & 1 ? hi : lo);
        badbf += r != want;
    }
#ifdef __FLT16_MAX__
    const char *oracle = "_Float16";
#else
    const char *oracle = "none: f16 random check skipped";
#endif
    printf("conversions: %d f16 (oracle %s) and %d bf16 mismatches in 200000 random floats\n",
           bad16, oracle, badbf);
    CHECK(bad16 == 0 && badbf == 0);
}

int main(void) {
    if (tmp_dir_open("vkft_st_test")) return 1;
    test_fixture();
    test_round_trip();
    test_shards();
    test_conversions();
    tmp_dir_remove();
    if (test_failures) fprintf(stderr, "safetensors: %d checks failed\n", test_failures);
    else printf("safetensors: all checks passed\n");
    return test_failures ? 1 : 0;
}
