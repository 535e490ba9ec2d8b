/*
 * Patterns of tokenizer.json (Split, Replace): literals are searched with memcmp, regexes run
 * on PCRE2 with UTF + UCP, JIT-compiled when PCRE2 has a JIT. Texts handed to the matcher are
 * valid UTF-8 (encode repairs its input first), so the per-call UTF check is skipped.
 *
 * HF runs Split / Replace / ByteLevel regexes on Oniguruma and its Whitespace pre-tokenizer
 * and added-token word checks on Rust's regex crate; their \s and \w differ from PCRE2's
 * (PCRE2's \w lacks marks and connector punctuation, its \s has U+180E), so those escapes are
 * rewritten to the engine's own definition before compiling:
 *   Oniguruma  \s: U+0009-U+000D, U+0085, Zl, Zp, Zs     \w: L, M, N, Pc   (its doc/RE)
 *   Rust regex \s: White_Space      \w: Alphabetic, M, Pc, Nd, Join_Control (UTS #18)
 * Inside a character class \s and \w expand in place; \S and \W there keep PCRE2's meaning
 * (a class cannot hold a negated subset).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_internal.h"

static const char *const space_def[] = {"\\x{9}-\\x{D}\\x{85}\\p{Zl}\\p{Zp}\\p{Zs}",
                                        "\\p{White_Space}"};
static const char *const word_def[] = {"\\p{L}\\p{M}\\p{N}\\p{Pc}",
                                       "\\p{Alphabetic}\\p{M}\\p{Pc}\\p{Nd}\\p{Join_Control}"};

/* Rewrites \s \S \w \W of pattern for flavor into out. */
static vkft_status rewrite(const char *p, size_t len, tok_regex_flavor flavor, tok_buf *out)
{
    bool in_class = false;
    vkft_status st = VKFT_OK;
    for (size_t i = 0; i < len && !st; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < len) {
            char e = p[i + 1];
            const char *def = e == 's' || e == 'S' ? space_def[flavor]
                            : e == 'w' || e == 'W' ? word_def[flavor] : NULL;
            i++;
            if (!def || (in_class && (e == 'S' || e == 'W'))) {
                st = tok_buf_append(out, p + i - 1, 2);
            } else if (in_class) {
                st = tok_buf_append(out, def, strlen(def));
            } else {
                bool neg = e == 'S' || e == 'W';
                st = tok_buf_append(out, neg ? "[^" : "[", neg ? 2 : 1);
                if (!st) st = tok_buf_append(out, def, strlen(def));
                if (!st) st = tok_buf_append(out, "]", 1);
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            st = tok_buf_append(out, p + i, 1);
            /* a ']' right after '[' or '[^' is a literal */
            if (i + 1 < len && p[i + 1] == '^' && !st) st = tok_buf_append(out, p + ++i, 1);
            if (i + 1 < len && p[i + 1] == ']' && !st) st = tok_buf_append(out, p + ++i, 1);
            continue;
        }
        if (in_class && c == ']') in_class = false;
        st = tok_buf_append(out, &c, 1);
    }
    return st;
}

vkft_status tok_regex_compile(const char *pattern, size_t len, tok_regex_flavor flavor,
                              pcre2_code **out, vkft_err *err)
{
    tok_buf b = {0};
    if (rewrite(pattern, len, flavor, &b)) {
        free(b.p);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    }
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(b.p ? b.p : ""), b.len, PCRE2_UTF | PCRE2_UCP,
                                   &code, &off, NULL);
    free(b.p);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "regex /%.*s/ at offset %zu: %s",
                            (int)(len > 200 ? 200 : len), pattern, (size_t)off, (char *)msg);
    }
    uint32_t jit = 0;
    if (pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit)
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
    *out = re;
    return VKFT_OK;
}

int tok_pattern_find(const tok_pattern *p, const char *s, size_t len, size_t start,
                     pcre2_match_data *md, pcre2_match_context *mc, size_t *ms, size_t *me)
{
    if (p->lit) {
        size_t n = p->lit_len;
        if (!n || n > len) return 0;
        for (size_t i = start; i + n <= len; i++) {
            if (s[i] == p->lit[0] && !memcmp(s + i, p->lit, n)) {
                *ms = i;
                *me = i + n;
                return 1;
            }
        }
        return 0;
    }
    if (start > len) return 0;
    int rc = pcre2_match(p->re, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, md, mc);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) return -1;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    *ms = ov[0];
    *me = ov[1];
    return 1;
}

void tok_pattern_free(tok_pattern *p)
{
    free(p->lit);
    if (p->re) pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}
