/*
 * JSON parser and writer: values and positions of parsed trees, every error with its exact
 * message and position, accessors, writer output (compact and pretty), shortest float
 * round trips, writer misuse, parse -> write -> parse round trips, and a deterministic
 * mutation fuzz loop (run under ASan in CI) that must never crash and whose accepted outputs
 * must re-parse to the same tree.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "util/json.h"

/* ---- helpers ---- */

static vkft_json_doc *parse_ok(const char *text) {
    vkft_json_doc *doc = NULL;
    vkft_err err = {{0}};
    vkft_status st = vkft_json_parse(text, strlen(text), "t", &doc, &err);
    if (st != VKFT_OK) {
        fprintf(stderr, "parse of %s failed: %s\n", text, err.msg);
        test_failures++;
    }
    return doc;
}

/* Parses text[0..len) and requires the error message want exactly. Returns whether it matched
 * (quiet: print nothing, count nothing; used to prove the check itself can fail). */
static bool expect_error_n(const char *text, size_t len, const char *want, bool quiet) {
    vkft_json_doc *doc = (vkft_json_doc *)1;
    vkft_err err = {{0}};
    vkft_status st = vkft_json_parse(text, len, "t", &doc, &err);
    bool ok = st == VKFT_ERR_INVALID_ARG && doc == NULL && !strcmp(err.msg, want);
    if (!ok && !quiet) {
        fprintf(stderr, "input %.60s\n  want error: %s\n  got (%d): %s\n", text, want, (int)st,
                st ? err.msg : "success");
        test_failures++;
    }
    if (st == VKFT_OK) vkft_json_free(doc);
    return ok;
}

static bool expect_error(const char *text, const char *want) {
    return expect_error_n(text, strlen(text), want, false);
}

/* Writes a parsed tree back through the writer (numbers as their source text). */
static void write_tree(vkft_json_writer *w, const vkft_json *v) {
    switch (v->type) {
    case VKFT_JSON_NULL: vkft_json_null(w); break;
    case VKFT_JSON_BOOL: vkft_json_bool(w, v->boolean); break;
    case VKFT_JSON_NUMBER: vkft_json_raw(w, v->str, v->len); break;
    case VKFT_JSON_STRING: vkft_json_strn(w, v->str, v->len); break;
    case VKFT_JSON_ARRAY:
        vkft_json_arr_begin(w);
        for (size_t i = 0; i < v->len; i++) write_tree(w, &v->items[i]);
        vkft_json_arr_end(w);
        break;
    case VKFT_JSON_OBJECT:
        vkft_json_obj_begin(w);
        for (size_t i = 0; i < v->len; i++) {
            vkft_json_keyn(w, v->keys[i], v->key_lens[i]);
            write_tree(w, &v->items[i]);
        }
        vkft_json_obj_end(w);
        break;
    }
}

static bool tree_equal(const vkft_json *a, const vkft_json *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case VKFT_JSON_NULL: return true;
    case VKFT_JSON_BOOL: return a->boolean == b->boolean;
    case VKFT_JSON_NUMBER: return !memcmp(&a->number, &b->number, sizeof a->number);
    case VKFT_JSON_STRING: return a->len == b->len && !memcmp(a->str, b->str, a->len);
    case VKFT_JSON_ARRAY:
    case VKFT_JSON_OBJECT:
        if (a->len != b->len) return false;
        for (size_t i = 0; i < a->len; i++) {
            if (a->type == VKFT_JSON_OBJECT &&
                (a->key_lens[i] != b->key_lens[i] ||
                 memcmp(a->keys[i], b->keys[i], a->key_lens[i])))
                return false;
            if (!tree_equal(&a->items[i], &b->items[i])) return false;
        }
        return true;
    }
    return false;
}

/* Writes the tree (indent 0 or 2), parses the text again and compares the trees. */
static bool rewrite_equal(const vkft_json *root, int indent) {
    vkft_json_writer w;
    vkft_json_writer_init(&w, indent);
    write_tree(&w, root);
    char *text;
    size_t n;
    vkft_err err = {{0}};
    if (vkft_json_writer_finish(&w, &text, &n, &err)) {
        fprintf(stderr, "writer failed: %s\n", err.msg);
        return false;
    }
    vkft_json_doc *doc;
    bool ok = false;
    if (vkft_json_parse(text, n, "rewrite", &doc, &err) == VKFT_OK) {
        ok = tree_equal(root, vkft_json_root(doc));
        vkft_json_free(doc);
    } else {
        fprintf(stderr, "rewritten text does not parse: %s\n%s\n", err.msg, text);
    }
    free(text);
    return ok;
}

static char *finish(vkft_json_writer *w) {
    char *text = NULL;
    size_t n;
    vkft_err err = {{0}};
    if (vkft_json_writer_finish(w, &text, &n, &err)) {
        fprintf(stderr, "writer failed: %s\n", err.msg);
        test_failures++;
        return NULL;
    }
    CHECK(n == strlen(text));
    return text;
}

/* ---- parsing ---- */

static void test_values(void) {
    const char *text =
        "{\"n\": null, \"t\": true, \"f\": false, \"i\": -42, \"big\": 9223372036854775807,\n"
        " \"min\": -9223372036854775808, \"over\": 9223372036854775808, \"x\": 1.5e-3,\n"
        " \"e\": 3E2, \"z\": -0, \"two\": 2.0, \"s\": \"a\\\"\\\\\\/\\b\\f\\n\\r\\t\",\n"
        " \"u\": \"\\u00e9\\u20AC\\uD83D\\uDE00\\u0000x\", \"raw\": \"\xc3\xa9\xe2\x82\xac\",\n"
        " \"arr\": [1, [2, []], {}], \"\": \"empty key\"}";
    vkft_json_doc *doc = parse_ok(text);
    if (!doc) return;
    const vkft_json *r = vkft_json_root(doc);
    CHECK(r->type == VKFT_JSON_OBJECT && r->len == 16 && r->line == 1 && r->col == 1);
    CHECK(vkft_json_get(r, "n")->type == VKFT_JSON_NULL);
    bool b = false;
    CHECK(vkft_json_get_bool(vkft_json_get(r, "t"), &b) && b);
    CHECK(vkft_json_get_bool(vkft_json_get(r, "f"), &b) && !b);
    int64_t i = 0;
    CHECK(vkft_json_get_int(vkft_json_get(r, "i"), &i) && i == -42);
    CHECK(vkft_json_get_int(vkft_json_get(r, "big"), &i) && i == INT64_MAX);
    CHECK(vkft_json_get_int(vkft_json_get(r, "min"), &i) && i == INT64_MIN);
    i = 7;
    CHECK(!vkft_json_get_int(vkft_json_get(r, "over"), &i) && i == 7);
    CHECK(!vkft_json_get_int(vkft_json_get(r, "x"), &i) && i == 7);
    CHECK(vkft_json_get_int(vkft_json_get(r, "e"), &i) && i == 300);
    CHECK(vkft_json_get_int(vkft_json_get(r, "two"), &i) && i == 2);
    CHECK(!vkft_json_get_int(vkft_json_get(r, "s"), &i) && i == 2);
    double d = 0;
    CHECK(vkft_json_get_double(vkft_json_get(r, "x"), &d) && d == 1.5e-3);
    CHECK(vkft_json_get_double(vkft_json_get(r, "z"), &d) && d == 0 && signbit(d));
    CHECK(!strcmp(vkft_json_get(r, "x")->str, "1.5e-3") && vkft_json_get(r, "x")->len == 6);
    CHECK(!vkft_json_get_double(vkft_json_get(r, "t"), &d));
    const vkft_json *s = vkft_json_get(r, "s");
    CHECK(s->len == 9 && !memcmp(s->str, "a\"\\/\b\f\n\r\t", 9));
    const vkft_json *u = vkft_json_get(r, "u");
    /* é (2 bytes), € (3), U+1F600 from a surrogate pair (4), NUL, x */
    CHECK(u->len == 11 && !memcmp(u->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0x", 11));
    CHECK(!strcmp(vkft_json_get_str(vkft_json_get(r, "raw")), "\xc3\xa9\xe2\x82\xac"));
    CHECK(vkft_json_get_str(vkft_json_get(r, "i")) == NULL);
    CHECK(!strcmp(vkft_json_get_str(vkft_json_get(r, "")), "empty key"));
    const vkft_json *arr = vkft_json_get(r, "arr");
    CHECK(arr->type == VKFT_JSON_ARRAY && arr->len == 3);
    CHECK(vkft_json_at(arr, 1)->len == 2 && vkft_json_at(vkft_json_at(arr, 1), 1)->len == 0);
    CHECK(vkft_json_at(arr, 2)->type == VKFT_JSON_OBJECT && vkft_json_at(arr, 2)->len == 0);
    CHECK(vkft_json_at(arr, 3) == NULL && vkft_json_at(r, 0) == NULL);
    CHECK(vkft_json_get(arr, "x") == NULL && vkft_json_get(NULL, "x") == NULL);
    CHECK(vkft_json_get(r, "missing") == NULL);
    /* Positions: "i" is on line 1; "min" on line 2 at column 9; the array's 2nd item. */
    CHECK(vkft_json_get(r, "i")->line == 1 && vkft_json_get(r, "i")->col == 41);
    CHECK(vkft_json_get(r, "min")->line == 2 && vkft_json_get(r, "min")->col == 9);
    CHECK(vkft_json_at(arr, 1)->line == 5 && vkft_json_at(arr, 1)->col == 13);
    CHECK(!strcmp(vkft_json_type_name(VKFT_JSON_BOOL), "boolean"));
    CHECK(!strcmp(vkft_json_type_name(VKFT_JSON_OBJECT), "object"));
    vkft_json_free(doc);

    /* Columns count characters: the value after "é€" is at column 9, not 12. */
    doc = parse_ok("[\"\xc3\xa9\xe2\x82\xac\", 5]");
    if (doc) {
        CHECK(vkft_json_at(vkft_json_root(doc), 1)->col == 8);
        vkft_json_free(doc);
    }
    /* A byte order mark is skipped; whitespace around the value is fine. */
    doc = parse_ok("\xEF\xBB\xBF \r\n\t 7 \n");
    if (doc) {
        CHECK(vkft_json_root(doc)->line == 2 && vkft_json_root(doc)->col == 3);
        vkft_json_free(doc);
    }
    /* Not NUL-terminated: only len bytes are read. */
    vkft_json_doc *d2;
    vkft_err err;
    CHECK(vkft_json_parse("[1]]]", 3, "t", &d2, &err) == VKFT_OK);
    if (d2) vkft_json_free(d2);
}

static void test_depth_and_size(void) {
    char deep[600];
    /* 256 nested arrays are fine, 257 are not. */
    memset(deep, '[', 256);
    memset(deep + 256, ']', 256);
    vkft_json_doc *doc;
    vkft_err err;
    CHECK(vkft_json_parse(deep, 512, "t", &doc, &err) == VKFT_OK);
    if (doc) vkft_json_free(doc);
    memset(deep, '[', 257);
    memset(deep + 257, ']', 257);
    expect_error_n(deep, 514, "t:1:257: nesting deeper than 256", false);
    memcpy(deep, "{\"a\":", 5);
    for (int i = 0; i < 300; i++) memcpy(deep + 5 + i, "[", 1);
    expect_error_n(deep, 305, "t:1:261: nesting deeper than 256", false);

    /* A 50,000-key object (tokenizer vocab size): parses, finds keys, and a late duplicate is
     * found through the hash path with both positions. */
    size_t cap = 50000 * 24 + 64, n = 0;
    char *big = malloc(cap);
    if (!big) {
        test_failures++;
        return;
    }
    big[n++] = '{';
    for (int i = 0; i < 50000; i++)
        n += (size_t)snprintf(big + n, cap - n, "%s\"tok%d\": %d", i ? ",\n" : "", i, i);
    big[n++] = '}';
    CHECK(vkft_json_parse(big, n, "t", &doc, &err) == VKFT_OK);
    if (doc) {
        int64_t v = 0;
        CHECK(vkft_json_root(doc)->len == 50000);
        CHECK(vkft_json_get_int(vkft_json_get(vkft_json_root(doc), "tok49999"), &v) &&
              v == 49999);
        vkft_json_free(doc);
    }
    n--;
    n += (size_t)snprintf(big + n, cap - n, ",\n\"tok123\": 1}");
    expect_error_n(big, n, "t:50001:1: duplicate key \"tok123\" (first at 124:1)", false);
    free(big);
}

static void test_errors(void) {
    static const struct { const char *text, *msg; } cases[] = {
        {"", "t:1:1: unexpected end of input, expected a value"},
        {"   \n  ", "t:2:3: unexpected end of input, expected a value"},
        {"{\"a\": 1,}", "t:1:9: trailing comma in object"},
        {"[1, 2, ]", "t:1:8: trailing comma in array"},
        {"[1,,2]", "t:1:4: expected a value, found ','"},
        {"01", "t:1:1: leading zero in number"},
        {"[-01]", "t:1:3: leading zero in number"},
        {"-", "t:1:2: expected a digit after '-', found end of input"},
        {"-a", "t:1:2: expected a digit after '-', found 'a'"},
        {"1.", "t:1:3: expected a digit after '.', found end of input"},
        {"[1.e5]", "t:1:4: expected a digit after '.', found 'e'"},
        {"1e", "t:1:3: expected a digit in exponent, found end of input"},
        {"1e+", "t:1:4: expected a digit in exponent, found end of input"},
        {".5", "t:1:1: expected a value, found '.'"},
        {"+1", "t:1:1: expected a value, found '+'"},
        {"[1e999]", "t:1:2: number 1e999 is out of range"},
        {"-1e400", "t:1:1: number -1e400 is out of range"},
        {"NaN", "t:1:1: expected a value, found 'N'"},
        {"-Infinity", "t:1:2: expected a digit after '-', found 'I'"},
        {"\"a\\x\"", "t:1:3: invalid escape: backslash followed by 'x'"},
        {"\"\\'\"", "t:1:2: invalid escape: backslash followed by '''"},
        {"\"\\u12\"", "t:1:2: bad \\u escape: expected 4 hex digits"},
        {"\"\\u12G4\"", "t:1:2: bad \\u escape: expected 4 hex digits"},
        {"\"ab\\uD800\"", "t:1:4: lone high surrogate \\uD800 (a \\uDC00-\\uDFFF low surrogate "
                          "must follow)"},
        {"\"\\uD83Dx\\uDE00\"", "t:1:2: lone high surrogate \\uD83D (a \\uDC00-\\uDFFF low "
                                "surrogate must follow)"},
        {"\"\\uD800\\u0041\"", "t:1:2: lone high surrogate \\uD800 (a \\uDC00-\\uDFFF low "
                               "surrogate must follow)"},
        {"\"\\uDC00\"", "t:1:2: lone low surrogate \\uDC00"},
        {"\"a\nb\"", "t:1:3: control character 0x0a in string (must be escaped)"},
        {"\"a\tb\"", "t:1:3: control character 0x09 in string (must be escaped)"},
        {"[\"abc", "t:1:2: unterminated string"},
        {"\"abc\\\"", "t:1:1: unterminated string"},
        {"\"\xff\"", "t:1:2: invalid UTF-8 byte 0xff in string"},
        {"\"\xc0\xaf\"", "t:1:2: invalid UTF-8 byte 0xc0 in string"},        /* overlong '/' */
        {"\"\xed\xa0\x80\"", "t:1:2: invalid UTF-8 byte 0xed in string"},    /* raw surrogate */
        {"\"\xf4\x90\x80\x80\"", "t:1:2: invalid UTF-8 byte 0xf4 in string"}, /* > U+10FFFF */
        {"\"\xe2\x82\"", "t:1:2: invalid UTF-8 byte 0xe2 in string"},        /* truncated */
        {"[1 2]", "t:1:4: expected ',' or ']' after array element, found '2'"},
        {"[1", "t:1:3: expected ',' or ']' after array element, found end of input"},
        {"{\"a\" 1}", "t:1:6: expected ':' after object key, found '1'"},
        {"{\"a\": 1 \"b\": 2}", "t:1:9: expected ',' or '}' after object member, found '\"'"},
        {"{\n  \"a\": 1,\n  \"b\": 2\n  \"c\": 3\n}",
         "t:4:3: expected ',' or '}' after object member, found '\"'"},
        {"{1: 2}", "t:1:2: expected a string key, found '1'"},
        {"{\"a\": 1, }", "t:1:10: trailing comma in object"},
        {"{'a': 1}", "t:1:2: expected a string key, found '''"},
        {"{\"a\": 1, \"b\": {\"a\": 2}, \"a\": 3}",
         "t:1:25: duplicate key \"a\" (first at 1:2)"},
        {"[1] x", "t:1:5: unexpected 'x' after the JSON value"},
        {"{} {}", "t:1:4: unexpected '{' after the JSON value"},
        {"1 2", "t:1:3: unexpected '2' after the JSON value"},
        {"tru", "t:1:1: invalid literal (expected true, false or null)"},
        {"[nul]", "t:1:2: invalid literal (expected true, false or null)"},
        {"True", "t:1:1: expected a value, found 'T'"},
        {"\x01", "t:1:1: expected a value, found byte 0x01"},
        {"[\"\xc3\xa9\xc3\xa9\" x]",
         "t:1:7: expected ',' or ']' after array element, found 'x'"},  /* columns in chars */
        {"// c\n1", "t:1:1: expected a value, found '/'"},
        {"[1,]\n", "t:1:4: trailing comma in array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].text, cases[i].msg);
    /* Embedded NUL outside a string. */
    expect_error_n("[1,\0]", 5, "t:1:4: expected a value, found byte 0x00", false);
    /* The check itself can fail: a wrong expected message or position is reported. */
    CHECK(!expect_error_n("[1,]", 4, "t:1:3: trailing comma in array", true));
    CHECK(!expect_error_n("[1]", 3, "anything", true));

    /* parse_file names the path. */
    vkft_json_doc *doc;
    vkft_err err;
    CHECK(vkft_json_parse_file("/nonexistent/x.json", &doc, &err) == VKFT_ERR_IO && !doc);
    CHECK(!strcmp(err.msg, "/nonexistent/x.json: cannot open: No such file or directory"));
}

/* ---- writer ---- */

static void test_writer(void) {
    vkft_json_writer w;
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "a");
    vkft_json_int(&w, -5);
    vkft_json_key(&w, "list");
    vkft_json_arr_begin(&w);
    vkft_json_f32(&w, 0.1f);
    vkft_json_f64(&w, 0.1);
    vkft_json_bool(&w, true);
    vkft_json_null(&w);
    vkft_json_str(&w, "q\"\\\n\x01\x7f\xc3\xa9");
    vkft_json_arr_begin(&w);
    vkft_json_arr_end(&w);
    vkft_json_obj_begin(&w);
    vkft_json_obj_end(&w);
    vkft_json_raw(&w, "{\"r\":1}", 7);
    vkft_json_arr_end(&w);
    vkft_json_key(&w, "bad\xff");
    vkft_json_strn(&w, "x\0y", 3);
    vkft_json_obj_end(&w);
    char *t = finish(&w);
    const char *want = "{\"a\":-5,\"list\":[0.1,0.1,true,null,\"q\\\"\\\\\\n\\u0001\x7f\xc3\xa9\","
                       "[],{},{\"r\":1}],\"bad\xef\xbf\xbd\":\"x\\u0000y\"}";
    CHECK(t && !strcmp(t, want));
    if (t && strcmp(t, want)) fprintf(stderr, "got  %s\nwant %s\n", t, want);
    free(t);

    vkft_json_writer_init(&w, 2);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "r");
    vkft_json_int(&w, 8);
    vkft_json_key(&w, "t");
    vkft_json_arr_begin(&w);
    vkft_json_str(&w, "q");
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "k");
    vkft_json_arr_begin(&w);
    vkft_json_arr_end(&w);
    vkft_json_obj_end(&w);
    vkft_json_arr_end(&w);
    vkft_json_obj_end(&w);
    t = finish(&w);
    want = "{\n  \"r\": 8,\n  \"t\": [\n    \"q\",\n    {\n      \"k\": []\n    }\n  ]\n}\n";
    CHECK(t && !strcmp(t, want));
    if (t && strcmp(t, want)) fprintf(stderr, "got  %s\nwant %s\n", t, want);
    free(t);

    /* Shortest round trip for known values. */
    static const struct { float f; const char *s; } f32s[] = {
        {0.1f, "0.1"}, {1.0f / 3.0f, "0.33333334"}, {16777216.0f, "16777216"},
        {FLT_MAX, "3.4028235e+38"}, {1e-45f, "1.4013e-45"}, {-0.0f, "-0"},
        {1e10f, "1e+10"}, {2.5f, "2.5"}, {100.0f, "100"}, {1.17549435e-38f, "1.1754944e-38"},
    };
    for (size_t i = 0; i < sizeof f32s / sizeof f32s[0]; i++) {
        vkft_json_writer_init(&w, 0);
        vkft_json_f32(&w, f32s[i].f);
        t = finish(&w);
        CHECK(t && !strcmp(t, f32s[i].s));
        if (t && strcmp(t, f32s[i].s)) fprintf(stderr, "f32: got %s want %s\n", t, f32s[i].s);
        free(t);
    }
    vkft_json_writer_init(&w, 0);
    vkft_json_arr_begin(&w);
    vkft_json_f32(&w, NAN);
    vkft_json_f32(&w, -INFINITY);
    vkft_json_f64(&w, INFINITY);
    vkft_json_f64(&w, 1.0 / 3.0);
    vkft_json_f64(&w, 5e-324);
    vkft_json_arr_end(&w);
    t = finish(&w);
    CHECK(t && !strcmp(t, "[null,null,null,0.3333333333333333,4.94065645841247e-324]"));
    free(t);

    /* Random bit patterns: every finite float/double reads back to the same bits, and no
     * shorter precision (within the tried range) would have. */
    uint64_t rs = 12345;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = test_rand_u64(&rs);
        uint32_t b32 = (uint32_t)bits;
        float f;
        double dd;
        memcpy(&f, &b32, 4);
        memcpy(&dd, &bits, 8);
        char buf[400];
        if (isfinite(f)) {
            vkft_json_writer_init(&w, 0);
            vkft_json_f32(&w, f);
            t = finish(&w);
            float back = t ? strtof(t, NULL) : 0;
            if (!t || memcmp(&back, &f, 4)) bad++;
            int digits = 0;
            for (const char *c = t; c && *c && *c != 'e'; c++) digits += *c >= '0' && *c <= '9';
            if (t && digits > 6) {  /* one digit fewer must not round-trip */
                snprintf(buf, sizeof buf, "%.*g", digits - 1, (double)f);
                back = strtof(buf, NULL);
                if (!memcmp(&back, &f, 4) && strlen(buf) < strlen(t)) bad++;
            }
            free(t);
        }
        if (isfinite(dd)) {
            vkft_json_writer_init(&w, 0);
            vkft_json_f64(&w, dd);
            t = finish(&w);
            double back = t ? strtod(t, NULL) : 0;
            if (!t || memcmp(&back, &dd, 8)) bad++;
            free(t);
        }
    }
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "%d float round trips failed\n", bad);
}

static void expect_misuse(vkft_json_writer *w, const char *msg) {
    char *t = NULL;
    vkft_err err = {{0}};
    CHECK(vkft_json_writer_finish(w, &t, NULL, &err) == VKFT_ERR_INVALID_ARG && !t);
    CHECK(!strcmp(err.msg, msg));
    if (strcmp(err.msg, msg)) fprintf(stderr, "misuse: got '%s' want '%s'\n", err.msg, msg);
    CHECK(w->buf == NULL);
}

static void test_writer_misuse(void) {
    vkft_json_writer w;
    vkft_json_writer_init(&w, 0);
    vkft_json_key(&w, "a");
    expect_misuse(&w, "JSON writer: key outside an object");
    vkft_json_writer_init(&w, 0);
    vkft_json_int(&w, 1);
    vkft_json_int(&w, 2);
    expect_misuse(&w, "JSON writer: more than one top-level value");
    vkft_json_writer_init(&w, 0);
    vkft_json_arr_begin(&w);
    expect_misuse(&w, "JSON writer: unclosed object or array");
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_int(&w, 1);
    expect_misuse(&w, "JSON writer: value in an object without a key");
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_arr_end(&w);
    expect_misuse(&w, "JSON writer: array end without a matching begin");
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "a");
    vkft_json_key(&w, "b");
    expect_misuse(&w, "JSON writer: two keys without a value between them");
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "a");
    vkft_json_obj_end(&w);
    expect_misuse(&w, "JSON writer: object ended after a key without its value");
    vkft_json_writer_init(&w, 0);
    for (int i = 0; i < 64; i++) vkft_json_arr_begin(&w);
    expect_misuse(&w, "JSON writer: nesting deeper than 63 levels");
    vkft_json_writer_init(&w, 0);
    expect_misuse(&w, "JSON writer: no value written");
    /* 63 levels are fine. */
    vkft_json_writer_init(&w, 0);
    for (int i = 0; i < 63; i++) vkft_json_arr_begin(&w);
    for (int i = 0; i < 63; i++) vkft_json_arr_end(&w);
    free(finish(&w));
}

/* ---- round trips and fuzz ---- */

static const char *const seeds[] = {
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2},"
    " \"merges\": [[\"a\", \"b\"]], \"byte_fallback\": false, \"unk_token\": null}}",
    "[1, -2.5e+3, 0.000001, 1E-7, 123456789012345678, -0, true, false, null, \"\\u00e9\"]",
    "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
    " \"__metadata__\": {\"format\": \"pt\"}}",
    "{\"s\": \"tab\\there \\\"q\\\" \\\\ \\/ \\ud83d\\ude00 \xe2\x82\xac\", \"e\": [], \"o\": {},"
    " \"n\": [[[[[]]]]]}",
    "\"just a string\"",
    "{\"k\\u0000ey\": [\"nul \\u0000 inside\"], \"k\": 1}",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"},"
    " {\"role\": \"assistant\", \"content\": \"hello\\nworld\"}]}",
};

static void test_round_trips(void) {
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        vkft_json_doc *doc = parse_ok(seeds[i]);
        if (!doc) continue;
        CHECK(rewrite_equal(vkft_json_root(doc), 0));
        CHECK(rewrite_equal(vkft_json_root(doc), 2));
        vkft_json_free(doc);
    }
}

static void test_fuzz(void) {
    static const char tokens[] = "{}[]\",:\\u0e-+.tfn \n\x80\xc3\xff\x01";
    uint64_t rs = 0x5eed;
    int accepted = 0, rejected = 0;
    char buf[1024];
    for (int iter = 0; iter < 10000; iter++) {
        const char *seed = seeds[test_rand_u64(&rs) % (sizeof seeds / sizeof seeds[0])];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int muts = 1 + (int)(test_rand_u64(&rs) % 4);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t at = test_rand_u64(&rs) % n;
            switch (test_rand_u64(&rs) % 5) {
            case 0:  /* replace a byte with a token character */
                buf[at] = tokens[test_rand_u64(&rs) % (sizeof tokens - 1)];
                break;
            case 1:  /* flip a bit */
                buf[at] ^= (char)(1u << (test_rand_u64(&rs) % 8));
                break;
            case 2:  /* delete a byte */
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            case 3:  /* insert a token character */
                if (n + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = tokens[test_rand_u64(&rs) % (sizeof tokens - 1)];
                    n++;
                }
                break;
            case 4:  /* truncate */
                n = at;
                break;
            }
        }
        vkft_json_doc *doc = NULL;
        vkft_err err;
        /* An exact-size heap copy so ASan catches any read past len. */
        char *exact = malloc(n ? n : 1);
        if (!exact) {
            test_failures++;
            return;
        }
        memcpy(exact, buf, n);
        vkft_status st = vkft_json_parse(exact, n, "fuzz", &doc, &err);
        if (st == VKFT_OK) {
            accepted++;
            const vkft_json *root = vkft_json_root(doc);
            if (!rewrite_equal(root, iter % 2 ? 2 : 0)) {
                fprintf(stderr, "fuzz %d: rewrite differs for %.*s\n", iter, (int)n, buf);
                test_failures++;
            }
            vkft_json_free(doc);
        } else {
            rejected++;
            if (st != VKFT_ERR_INVALID_ARG || strncmp(err.msg, "fuzz:", 5) || doc) {
                fprintf(stderr, "fuzz %d: bad failure %d: %s\n", iter, (int)st, err.msg);
                test_failures++;
            }
        }
        free(exact);
    }
    printf("fuzz: %d accepted, %d rejected\n", accepted, rejected);
    CHECK(accepted > 100 && rejected > 1000);
}

int main(void) {
    test_values();
    test_depth_and_size();
    test_errors();
    test_writer();
    test_writer_misuse();
    test_round_trips();
    test_fuzz();
    if (test_failures) fprintf(stderr, "json: %d checks failed\n", test_failures);
    else printf("json: all checks passed\n");
    return test_failures ? 1 : 0;
}
