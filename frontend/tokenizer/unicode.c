/*
 * UTF-8 and the small Unicode facts the tokenizers need: strict decoding (Unicode Table 3-7:
 * no overlongs, no surrogates, nothing past U+10FFFF), the lossy repair Rust's
 * String::from_utf8_lossy does (one U+FFFD per maximal ill-formed subpart), White_Space, and
 * GPT-2's byte-to-unicode map.
 */
#include <string.h>

#include "tokenizer/tok_internal.h"

/* Length of the well-formed prefix of the sequence starting at s[0] (s[0] >= 0x80), at most
 * the sequence's full length; *full receives that full length (0 for a byte that can never
 * start a sequence). */
static size_t utf8_prefix(const uint8_t *s, size_t len, size_t *full)
{
    uint8_t b = s[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        if (b == 0xe0) lo = 0xa0;
        if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        if (b == 0xf0) lo = 0x90;
        if (b == 0xf4) hi = 0x8f;
    } else {
        *full = 0;
        return 0;
    }
    *full = n;
    size_t k = 1;
    if (k < len && s[k] >= lo && s[k] <= hi) k++;
    else return 1;
    while (k < n && k < len && s[k] >= 0x80 && s[k] <= 0xbf) k++;
    return k;
}

size_t tok_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
    const uint8_t *s = (const uint8_t *)str;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t full, k = utf8_prefix(s, len, &full);
    if (!full || k != full) return 0;
    uint32_t c = s[0] & (full == 2 ? 0x1f : full == 3 ? 0x0f : 0x07);
    for (size_t i = 1; i < full; i++) c = c << 6 | (s[i] & 0x3f);
    *cp = c;
    return full;
}

size_t tok_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

size_t tok_utf8_valid_prefix(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t full, k = utf8_prefix(s + i, len - i, &full);
        if (!full || k != full) return i;
        i += k;
    }
    return len;
}

vkft_status tok_utf8_lossy_append(char **buf, size_t *len, size_t *cap, const char *str, size_t n)
{
    tok_buf b = {*buf, *len, *cap};
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    vkft_status st = VKFT_OK;
    while (i < n && st == VKFT_OK) {
        size_t good = tok_utf8_valid_prefix(str + i, n - i);
        st = tok_buf_append(&b, str + i, good);
        i += good;
        if (i >= n || st != VKFT_OK) break;
        size_t full, k = utf8_prefix(s + i, n - i, &full);
        st = tok_buf_append(&b, "\xef\xbf\xbd", 3);
        i += k ? k : 1;
    }
    *buf = b.p;
    *len = b.len;
    *cap = b.cap;
    return st;
}

bool tok_is_space(uint32_t cp)
{
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0d);
    if (cp < 0x85) return false;
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68 bytes map to
 * U+0100 + n, n counting them in byte order. */
static bool byte_is_self(unsigned b)
{
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
}

uint32_t tok_byte_to_cp(uint8_t b)
{
    if (byte_is_self(b)) return b;
    if (b <= 0x20) return 0x100 + b;                  /* n = 0..32 */
    if (b <= 0xa0) return 0x100 + 33 + (b - 0x7f);    /* 0x7f..0xa0: n = 33..66 */
    return 0x100 + 67;                                /* 0xad */
}

int tok_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100) return byte_is_self(cp) ? (int)cp : -1;
    if (cp >= 0x100 + 68) return -1;
    unsigned n = cp - 0x100;
    if (n <= 32) return (int)n;
    if (n <= 66) return (int)(0x7f + n - 33);
    return 0xad;
}
