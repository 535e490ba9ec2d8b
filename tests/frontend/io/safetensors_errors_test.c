/*
 * safetensors reader strictness: one hand-built malformed file per rule, each refused with its
 * exact message (naming the file and, where there is one, the tensor) and status, and nothing
 * left open; then a mutation fuzz loop over a valid file (under ASan in CI) that must never
 * crash, and whose accepted mutants must still satisfy the layout invariants.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "io_test_util.h"
#include "test_util.h"
#include "util/file.h"

/* Writes <len u64><header><data> with len = strlen(header) unless len_override. */
static void raw_file(const char *name, uint64_t len_override, const char *header,
                     const void *data, size_t dlen) {
    size_t hn = strlen(header);
    size_t total = 8 + hn + dlen;
    unsigned char *buf = malloc(total);
    if (!buf) {
        test_failures++;
        return;
    }
    uint64_t n = len_override ? len_override : hn;
    for (int b = 0; b < 8; b++) buf[b] = (unsigned char)(n >> (8 * b));
    memcpy(buf + 8, header, hn);
    if (dlen) memcpy(buf + 8 + hn, data, dlen);
    vkft_err err;
    CHECK(vkft_file_write_atomic(tmp_path(name), buf, total, &err) == VKFT_OK);
    free(buf);
}

/* Opens name and requires the status and (on failure) the message fmt with every %s the
 * file's path. */
static void expect(const char *name, vkft_status status, const char *fmt) {
    const char *p = tmp_path(name);
    char want[2048];
    snprintf(want, sizeof want, fmt, p, p, p);
    vkft_st *st = (vkft_st *)1;
    vkft_err err = {{0}};
    vkft_status s = vkft_st_open(p, &st, &err);
    bool ok = status == VKFT_OK ? s == VKFT_OK && st != NULL
                                : s == status && st == NULL && !strcmp(err.msg, want);
    if (!ok) {
        fprintf(stderr, "%s: status %d (want %d)\n  got:  %s\n  want: %s\n", name, (int)s,
                (int)status, err.msg, want);
        test_failures++;
    }
    if (s == VKFT_OK) vkft_st_close(st);
}

#define BAD VKFT_ERR_INVALID_ARG

static const unsigned char zeros[64];

/* Header of one F32 tensor "w" with the given shape and offsets. */
static const char *one(const char *shape, const char *offsets) {
    static char h[256];
    snprintf(h, sizeof h, "{\"w\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":%s}}", shape,
             offsets);
    return h;
}

static void test_container(void) {
    vkft_err err;
    CHECK(vkft_file_write_atomic(tmp_path("tiny"), "abc", 3, &err) == VKFT_OK);
    expect("tiny", BAD, "%s: file too small (3 bytes) for the 8-byte header length");
    raw_file("huge", 100000001, "{}", NULL, 0);
    expect("huge", BAD, "%s: header length 100000001 exceeds the limit of 100000000 bytes (not a "
                        "safetensors file?)");
    raw_file("past", 40, "{}", NULL, 0);
    expect("past", BAD, "%s: header length 40 runs past the end of the file (10 bytes)");
    raw_file("past2", UINT64_MAX, "{}", NULL, 0);
    expect("past2", BAD, "%s: header length 18446744073709551615 exceeds the limit of "
                         "100000000 bytes (not a safetensors file?)");
    raw_file("array", 0, "[1, 2]  ", NULL, 0);
    expect("array", BAD, "%s: the header does not start with '{' (not a safetensors file?)");
    raw_file("space", 0, " {}     ", NULL, 0);
    expect("space", BAD, "%s: the header does not start with '{' (not a safetensors file?)");
    raw_file("zero", 0, "", NULL, 0);
    expect("zero", BAD, "%s: the header does not start with '{' (not a safetensors file?)");
    expect("missing", VKFT_ERR_IO, "%s: cannot open: No such file or directory");
}

static void test_json(void) {
    raw_file("json", 0, "{\"w\":{\"dtype\":\"F32\",}}", NULL, 0);
    expect("json", BAD, "%s (header):1:21: trailing comma in object");
    raw_file("utf8", 0, "{\"w\xff\":{}}", NULL, 0);
    expect("utf8", BAD, "%s (header):1:4: invalid UTF-8 byte 0xff in string");
    raw_file("trail", 0, "{} x", NULL, 0);
    expect("trail", BAD, "%s (header):1:4: unexpected 'x' after the JSON value");
    /* A duplicate name is a duplicate key. */
    raw_file("dup", 0,
             "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
             "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", zeros, 2);
    expect("dup", BAD, "%s (header):1:54: duplicate key \"w\" (first at 1:2)");
    /* Padding with spaces (and a newline) after the object is fine. */
    raw_file("padded", 0, "{}\n      ", NULL, 0);
    expect("padded", VKFT_OK, "");
}

static void test_entries(void) {
    raw_file("dtype", 0, "{\"w\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             zeros, 4);
    expect("dtype", BAD, "%s: tensor \"w\": unknown dtype \"F17\"");
    raw_file("u32", 0, "{\"w\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             zeros, 4);
    expect("u32", VKFT_ERR_DTYPE, "%s: tensor \"w\": dtype U32 is not supported by vkft");
    raw_file("dtype_num", 0, "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}",
             zeros, 4);
    expect("dtype_num", BAD, "%s: tensor \"w\": \"dtype\" must be a string, found number");
    raw_file("no_dtype", 0, "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", zeros, 4);
    expect("no_dtype", BAD, "%s: tensor \"w\": missing \"dtype\"");
    raw_file("entry", 0, "{\"w\":[1]}", NULL, 0);
    expect("entry", BAD, "%s: tensor \"w\": expected an object, found array");
    raw_file("shape_neg", 0, one("[-1]", "[0,4]"), zeros, 4);
    expect("shape_neg", BAD,
           "%s: tensor \"w\": \"shape\" must be an array of non-negative integers");
    raw_file("shape_frac", 0, one("[1.5]", "[0,4]"), zeros, 4);
    expect("shape_frac", BAD,
           "%s: tensor \"w\": \"shape\" must be an array of non-negative integers");
    raw_file("shape_exp", 0, one("[1e0]", "[0,4]"), zeros, 4);
    expect("shape_exp", BAD,
           "%s: tensor \"w\": \"shape\" must be an array of non-negative integers");
    raw_file("shape_str", 0, one("\"2\"", "[0,4]"), zeros, 4);
    expect("shape_str", BAD,
           "%s: tensor \"w\": \"shape\" must be an array of non-negative integers");
    raw_file("shape_9", 0, one("[1,1,1,1,1,1,1,1,1]", "[0,4]"), zeros, 4);
    expect("shape_9", BAD, "%s: tensor \"w\": shape has 9 dimensions (at most 8)");
    raw_file("offs_3", 0, one("[1]", "[0,4,8]"), zeros, 8);
    expect("offs_3", BAD, "%s: tensor \"w\": \"data_offsets\" must be [begin, end] "
                          "(non-negative integers)");
    raw_file("offs_missing", 0, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", zeros, 4);
    expect("offs_missing", BAD, "%s: tensor \"w\": \"data_offsets\" must be [begin, end] "
                                "(non-negative integers)");
    raw_file("offs_rev", 0, one("[0]", "[4,0]"), zeros, 4);
    expect("offs_rev", BAD, "%s: tensor \"w\": data_offsets [4, 0] end before they begin");
    raw_file("size", 0, one("[2,3]", "[0,20]"), zeros, 20);
    expect("size", BAD, "%s: tensor \"w\": shape [2, 3] of F32 needs 6 x 4 bytes but "
                        "data_offsets [0, 20] hold 20");
    raw_file("overflow", 0, one("[4611686018427387904,8]", "[0,4]"), zeros, 4);
    expect("overflow", BAD, "%s: tensor \"w\": element count overflows");
    raw_file("overflow2", 0, one("[4611686018427387904]", "[0,4]"), zeros, 4);
    expect("overflow2", BAD, "%s: tensor \"w\": shape [4611686018427387904] of F32 needs "
                             "4611686018427387904 x 4 bytes but data_offsets [0, 4] hold 4");
    raw_file("past_end", 0, one("[2]", "[0,8]"), zeros, 4);
    expect("past_end", BAD, "%s: tensor \"w\": data_offsets [0, 8] run past the end of the "
                            "data (4 bytes)");
    raw_file("nul_name", 0, "{\"w\\u0000x\":{\"dtype\":\"U8\",\"shape\":[1],"
                            "\"data_offsets\":[0,1]}}", zeros, 1);
    expect("nul_name", BAD, "%s: a tensor name contains a NUL character (\"w...\")");
}

static void test_layout(void) {
    /* Two U8 tensors a and b in every bad arrangement. */
    static const struct { const char *name, *a, *b; size_t dlen; const char *msg; } cases[] = {
        {"overlap", "[0,4]", "[2,6]", 6,
         "%s: tensors \"a\" and \"b\" overlap (data_offsets [0, 4] and [2, 6])"},
        {"same", "[0,4]", "[0,4]", 4,
         "%s: tensors \"a\" and \"b\" overlap (data_offsets [0, 4] and [0, 4])"},
        {"hole", "[0,4]", "[6,10]", 10,
         "%s: tensor \"b\": hole of 2 bytes between it and \"a\" (data_offsets [6, 10] after "
         "one ending at 4)"},
        {"late_start", "[2,6]", "[6,10]", 10,
         "%s: tensor \"a\": 2 unused bytes before it (data_offsets begin at 2, not 0)"},
        {"tail", "[0,4]", "[4,8]", 12,
         "%s: 4 bytes of data after the last tensor \"b\" (the data must end where the last "
         "tensor ends)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char h[256];
        size_t na = 4, nb = 4;
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[%zu],\"data_offsets\":%s},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[%zu],\"data_offsets\":%s}}", na, cases[i].a,
                 nb, cases[i].b);
        raw_file(cases[i].name, 0, h, zeros, cases[i].dlen);
        expect(cases[i].name, BAD, cases[i].msg);
    }
    raw_file("no_tensors", 0, "{}", zeros, 3);
    expect("no_tensors", BAD, "%s: 3 bytes of data but no tensors");
    /* Order in the header does not matter; empty tensors may sit anywhere, even at the end. */
    raw_file("unordered", 0,
             "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
             "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
             "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", zeros, 4);
    expect("unordered", VKFT_OK, "");
}

static void test_metadata(void) {
    raw_file("meta_num", 0, "{\"__metadata__\":{\"format\":\"pt\",\"step\":5}}", NULL, 0);
    expect("meta_num", BAD, "%s: __metadata__ \"step\": value must be a string, found number");
    raw_file("meta_arr", 0, "{\"__metadata__\":[]}", NULL, 0);
    expect("meta_arr", BAD, "%s: \"__metadata__\" must be an object of strings, found array");
    raw_file("meta_ok", 0, "{\"__metadata__\":{}}", NULL, 0);
    expect("meta_ok", VKFT_OK, "");
}

/* Mutates a valid two-tensor file many times: no crash, no leak (ASan), and a mutant that
 * opens must still tile its data exactly with in-bounds tensors. */
static void test_fuzz(void) {
    vkft_st_writer *w;
    vkft_err err;
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t b[4] = {1, 2, 3, 4};
    int64_t sa[2] = {2, 3}, sb[1] = {4};
    CHECK(vkft_st_writer_create(&w, &err) == VKFT_OK);
    CHECK(vkft_st_writer_add(w, "a", VKFT_ST_F32, 2, sa, a, sizeof a, &err) == VKFT_OK);
    CHECK(vkft_st_writer_add(w, "b", VKFT_ST_BF16, 1, sb, b, sizeof b, &err) == VKFT_OK);
    CHECK(vkft_st_writer_metadata(w, "format", "pt", &err) == VKFT_OK);
    CHECK(vkft_st_writer_finish(w, tmp_path("seed"), &err) == VKFT_OK);
    vkft_st_writer_free(w);
    char *seed;
    size_t n;
    CHECK(vkft_file_read(tmp_path("seed"), &seed, &n, &err) == VKFT_OK);
    if (!seed) return;
    static const char tokens[] = "0123456789{}[],:\"-. eE\xff";
    char *buf = malloc(n + 8);
    uint64_t rs = 77;
    int opened = 0, refused = 0;
    for (int iter = 0; iter < 2000 && buf; iter++) {
        size_t len = n;
        memcpy(buf, seed, n);
        int muts = 1 + (int)(test_rand_u64(&rs) % 3);
        for (int m = 0; m < muts; m++) {
            size_t at = test_rand_u64(&rs) % len;
            unsigned r = (unsigned)(test_rand_u64(&rs) % 4);
            if (r == 0) buf[at] = tokens[test_rand_u64(&rs) % (sizeof tokens - 1)];
            else if (r == 1) buf[at] ^= (char)(1u << (test_rand_u64(&rs) % 8));
            else if (r == 2 && at >= 8) len = at;                  /* truncate */
            else buf[test_rand_u64(&rs) % 8] = (char)test_rand_u64(&rs);  /* header length */
        }
        /* A plain write to a fresh inode: an fsync per mutant, or truncating the file just
         * mapped, would make this loop I/O-bound. */
        unlink(tmp_path("mut"));
        FILE *f = fopen(tmp_path("mut"), "wb");
        CHECK(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
        vkft_st *st = NULL;
        if (vkft_st_open(tmp_path("mut"), &st, &err) == VKFT_OK) {
            opened++;
            /* The tensors tile the data exactly: their bytes add up to len - 8 - N. */
            uint64_t hn = 0, total = 0;
            for (int b = 0; b < 8; b++) hn |= (uint64_t)(unsigned char)buf[b] << (8 * b);
            for (int i = 0; i < vkft_st_count(st); i++) total += vkft_st_at(st, i)->bytes;
            CHECK(hn <= len - 8 && total == len - 8 - hn);
            vkft_st_close(st);
        } else {
            refused++;
            CHECK(st == NULL && strstr(err.msg, tmp_path("mut")) == err.msg);
        }
    }
    printf("fuzz: %d mutants opened, %d refused\n", opened, refused);
    CHECK(refused > 1000);
    free(buf);
    free(seed);
}

int main(void) {
    if (tmp_dir_open("vkft_st_errors_test")) return 1;
    test_container();
    test_json();
    test_entries();
    test_layout();
    test_metadata();
    test_fuzz();
    CHECK(count_temp_files() == 0);
    tmp_dir_remove();
    if (test_failures) fprintf(stderr, "safetensors_errors: %d checks failed\n", test_failures);
    else printf("safetensors_errors: all checks passed\n");
    return test_failures ? 1 : 0;
}
