/*
 * Dataset formats: their names, detection from a line's keys, and rendering of the text
 * formats into prompt and completion parts (chat lives in chat.c). Templates are in
 * docs/data.md; the Alpaca ones are Stanford Alpaca's (train.py PROMPT_DICT).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static const char *const format_names[VKFT_DATA_FORMAT_COUNT] = {
    [VKFT_DATA_AUTO] = "auto",
    [VKFT_DATA_TOKENS] = "tokens",
    [VKFT_DATA_TEXT] = "text",
    [VKFT_DATA_COMPLETION] = "completion",
    [VKFT_DATA_ALPACA] = "alpaca",
    [VKFT_DATA_CHAT] = "chat",
};

static const char *const template_names[VKFT_CHAT_TEMPLATE_COUNT] = {
    [VKFT_CHAT_AUTO] = "auto",
    [VKFT_CHAT_CHATML] = "chatml",
    [VKFT_CHAT_LLAMA2] = "llama2",
    [VKFT_CHAT_LLAMA3] = "llama3",
    [VKFT_CHAT_ZEPHYR] = "zephyr",
};

const char *vkft_data_format_name(vkft_data_format f)
{
    return (unsigned)f < VKFT_DATA_FORMAT_COUNT ? format_names[f] : "?";
}

bool vkft_data_format_parse(const char *name, vkft_data_format *out)
{
    for (int i = 0; name && i < VKFT_DATA_FORMAT_COUNT; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (vkft_data_format)i;
            return true;
        }
    }
    return false;
}

const char *vkft_chat_template_name(vkft_chat_template t)
{
    return (unsigned)t < VKFT_CHAT_TEMPLATE_COUNT ? template_names[t] : "?";
}

bool vkft_chat_template_parse(const char *name, vkft_chat_template *out)
{
    for (int i = 0; name && i < VKFT_CHAT_TEMPLATE_COUNT; i++) {
        if (strcmp(name, template_names[i]) == 0) {
            *out = (vkft_chat_template)i;
            return true;
        }
    }
    return false;
}

/* ---- rendered text ---- */

void data_render_reset(data_render *r)
{
    r->len = 0;
    r->n = 0;
    r->failed = false;
}

void data_render_free(data_render *r)
{
    free(r->text);
    free(r->ends);
    free(r->completion);
    memset(r, 0, sizeof *r);
}

void data_render_add(data_render *r, const char *s, size_t n, bool completion)
{
    if (r->failed || n == 0) return;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + n + 1) cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) {
            r->failed = true;
            return;
        }
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, s, n);
    r->len += n;
    r->text[r->len] = '\0';
    if (r->n > 0 && r->completion[r->n - 1] == completion) {
        r->ends[r->n - 1] = r->len;
        return;
    }
    if (r->n == r->cap_parts) {
        int cap = r->cap_parts ? 2 * r->cap_parts : 8;
        size_t *e = realloc(r->ends, (size_t)cap * sizeof *e);
        if (!e) {
            r->failed = true;
            return;
        }
        r->ends = e;
        bool *c = realloc(r->completion, (size_t)cap * sizeof *c);
        if (!c) {
            r->failed = true;
            return;
        }
        r->completion = c;
        r->cap_parts = cap;
    }
    r->ends[r->n] = r->len;
    r->completion[r->n] = completion;
    r->n++;
}

void data_render_adds(data_render *r, const char *s, bool completion)
{
    data_render_add(r, s, strlen(s), completion);
}

/* ---- errors and keys ---- */

vkft_status data_err_at(vkft_err *err, data_where w, int col, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s:%lld:%d: %s", w.path, (long long)w.line,
                        col, msg);
}

vkft_status data_get_str(const vkft_json *obj, const char *key, bool optional, data_where w,
                         const char *what, const vkft_json **out, vkft_err *err)
{
    const vkft_json *v = vkft_json_get(obj, key);
    *out = NULL;
    if (!v || (optional && v->type == VKFT_JSON_NULL)) {
        if (optional) return VKFT_OK;
        return data_err_at(err, w, obj->col, "%s line has no key '%s'", what, key);
    }
    if (v->type != VKFT_JSON_STRING)
        return data_err_at(err, w, v->col, "key '%s': expected a string, got %s", key,
                           vkft_json_type_name(v->type));
    *out = v;
    return VKFT_OK;
}

vkft_data_format data_format_detect(const vkft_json *obj)
{
    if (vkft_json_get(obj, "input_ids")) return VKFT_DATA_TOKENS;
    if (vkft_json_get(obj, "messages") || vkft_json_get(obj, "conversations"))
        return VKFT_DATA_CHAT;
    if (vkft_json_get(obj, "instruction") && vkft_json_get(obj, "output"))
        return VKFT_DATA_ALPACA;
    if (vkft_json_get(obj, "prompt") && vkft_json_get(obj, "completion"))
        return VKFT_DATA_COMPLETION;
    if (vkft_json_get(obj, "text")) return VKFT_DATA_TEXT;
    return VKFT_DATA_AUTO;
}

/* Stanford Alpaca's two prompts (with and without an input). */
static const char alpaca_head_input[] =
    "Below is an instruction that describes a task, paired with an input that provides "
    "further context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n";
static const char alpaca_head_plain[] =
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n";

static vkft_status render_alpaca(const vkft_json *obj, data_render *r, data_where w,
                                 vkft_err *err)
{
    const vkft_json *ins, *in, *out;
    vkft_status st = data_get_str(obj, "instruction", false, w, "alpaca", &ins, err);
    if (!st) st = data_get_str(obj, "input", true, w, "alpaca", &in, err);
    if (!st) st = data_get_str(obj, "output", false, w, "alpaca", &out, err);
    if (st) return st;
    bool has_input = in && in->len > 0;
    data_render_adds(r, has_input ? alpaca_head_input : alpaca_head_plain, false);
    data_render_add(r, ins->str, ins->len, false);
    if (has_input) {
        data_render_adds(r, "\n\n### Input:\n", false);
        data_render_add(r, in->str, in->len, false);
    }
    data_render_adds(r, "\n\n### Response:\n", false);
    data_render_add(r, out->str, out->len, true);
    return VKFT_OK;
}

vkft_status data_format_render(const vkft_json *obj, vkft_data_format f, vkft_chat_template tmpl,
                               const vkft_tokenizer *tok, data_render *r, data_where w,
                               vkft_err *err)
{
    const vkft_json *a, *b;
    vkft_status st;
    data_render_reset(r);
    switch (f) {
    case VKFT_DATA_TEXT:
        if ((st = data_get_str(obj, "text", false, w, "text", &a, err))) return st;
        data_render_add(r, a->str, a->len, true);
        break;
    case VKFT_DATA_COMPLETION:
        st = data_get_str(obj, "prompt", false, w, "completion", &a, err);
        if (!st) st = data_get_str(obj, "completion", false, w, "completion", &b, err);
        if (st) return st;
        data_render_add(r, a->str, a->len, false);
        data_render_add(r, b->str, b->len, true);
        break;
    case VKFT_DATA_ALPACA:
        if ((st = render_alpaca(obj, r, w, err))) return st;
        break;
    case VKFT_DATA_CHAT:
        if ((st = data_chat_render(obj, tmpl, tok, r, w, err))) return st;
        break;
    default:
        return data_err_at(err, w, obj->col, "format %s cannot be rendered as text",
                           vkft_data_format_name(f));
    }
    if (r->failed) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s:%lld: out of memory",
                                       w.path, (long long)w.line);
    return VKFT_OK;
}
