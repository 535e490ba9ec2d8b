/*
 * Patterns of tokenizer.json (Split, Replace): literals are searched with memcmp, regexes run
 * on PCRE2 with UTF + UCP so \p{L}, \s and \w have their Unicode meaning, as in Oniguruma
 * which HF uses. Patterns are JIT-compiled when PCRE2 has a JIT. Texts handed to the matcher
 * are valid UTF-8 (encode repairs its input first), so the per-call UTF check is skipped.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

vkft_status tok_regex_compile(const char *pattern, size_t len, pcre2_code **out, vkft_err *err)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP, &code, &off,
                                   NULL);
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
