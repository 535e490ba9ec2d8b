/*
 * Chat templates without a Jinja interpreter: the common templates are recognised by the
 * content of the tokenizer's chat_template and rendered by hand (docs/data.md lists the
 * exact strings). Assistant turns (their content and end-of-turn token) are completion
 * parts; headers, system and user turns are prompt. The very first BOS is not written: the
 * encoder's add_special supplies it as the post-processor does. The separator after the last
 * message is left out, so an example ends with its end-of-turn token.
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

vkft_chat_template data_chat_resolve(vkft_chat_template want, const vkft_tokenizer *tok)
{
    if (want != VKFT_CHAT_AUTO) return want;
    const char *t = tok ? vkft_tokenizer_chat_template(tok) : NULL;
    if (!t) return VKFT_CHAT_CHATML;
    if (strstr(t, "<|start_header_id|>")) return VKFT_CHAT_LLAMA3;
    if (strstr(t, "<|im_start|>")) return VKFT_CHAT_CHATML;
    if (strstr(t, "[INST]")) return VKFT_CHAT_LLAMA2;
    if (strstr(t, "<|assistant|>")) return VKFT_CHAT_ZEPHYR;
    return VKFT_CHAT_CHATML;
}

/* One message, with its role normalised (ShareGPT's human/gpt → user/assistant). */
typedef struct chat_msg {
    const char *role;
    size_t role_len;
    const char *content;
    size_t len;
    int col;
} chat_msg;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Python's str.strip() / Jinja's trim on ASCII whitespace. */
static void strip(const char **s, size_t *n, bool left)
{
    while (left && *n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1])) (*n)--;
}

static bool role_is(const chat_msg *m, const char *name)
{
    return m->role_len == strlen(name) && memcmp(m->role, name, m->role_len) == 0;
}

static vkft_status read_msg(const vkft_json *v, size_t i, chat_msg *m, data_where w,
                            vkft_err *err)
{
    if (v->type != VKFT_JSON_OBJECT)
        return data_err_at(err, w, v->col, "messages[%zu]: expected an object, got %s", i,
                           vkft_json_type_name(v->type));
    const vkft_json *role = vkft_json_get(v, "role");
    const vkft_json *content = vkft_json_get(v, "content");
    if (!role) role = vkft_json_get(v, "from");
    if (!content) content = vkft_json_get(v, "value");
    if (!role) return data_err_at(err, w, v->col, "messages[%zu] has no key 'role'", i);
    if (!content) return data_err_at(err, w, v->col, "messages[%zu] has no key 'content'", i);
    if (role->type != VKFT_JSON_STRING)
        return data_err_at(err, w, role->col, "messages[%zu].role: expected a string, got %s",
                           i, vkft_json_type_name(role->type));
    if (content->type != VKFT_JSON_STRING)
        return data_err_at(err, w, content->col,
                           "messages[%zu].content: expected a string, got %s", i,
                           vkft_json_type_name(content->type));
    m->role = role->str;
    m->role_len = role->len;
    if (strcmp(role->str, "human") == 0) m->role = "user", m->role_len = 4;
    if (strcmp(role->str, "gpt") == 0) m->role = "assistant", m->role_len = 9;
    m->content = content->str;
    m->len = content->len;
    m->col = role->col;
    return VKFT_OK;
}

static void add_token_text(data_render *r, const vkft_tokenizer *tok, int32_t id, bool compl)
{
    size_t n = 0;
    const char *s = tok && id >= 0 ? vkft_tokenizer_id_to_token(tok, id, &n) : NULL;
    if (s) data_render_add(r, s, n, compl);
}

static void render_chatml(data_render *r, const chat_msg *m, bool last)
{
    bool a = role_is(m, "assistant");
    data_render_adds(r, "<|im_start|>", false);
    data_render_add(r, m->role, m->role_len, false);
    data_render_adds(r, "\n", false);
    data_render_add(r, m->content, m->len, a);
    data_render_adds(r, "<|im_end|>", a);
    if (!last) data_render_adds(r, "\n", false);
}

static void render_llama3(data_render *r, const chat_msg *m)
{
    bool a = role_is(m, "assistant");
    const char *c = m->content;
    size_t n = m->len;
    strip(&c, &n, true);
    data_render_adds(r, "<|start_header_id|>", false);
    data_render_add(r, m->role, m->role_len, false);
    data_render_adds(r, "<|end_header_id|>\n\n", false);
    data_render_add(r, c, n, a);
    data_render_adds(r, "<|eot_id|>", a);
}

static void render_zephyr(data_render *r, const chat_msg *m, const vkft_tokenizer *tok,
                          bool last)
{
    bool a = role_is(m, "assistant");
    data_render_adds(r, "<|", false);
    data_render_add(r, m->role, m->role_len, false);
    data_render_adds(r, "|>\n", false);
    data_render_add(r, m->content, m->len, a);
    add_token_text(r, tok, tok ? vkft_tokenizer_eos_id(tok) : -1, a);
    if (!last) data_render_adds(r, "\n", false);
}

/* Llama 2: <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST]... */
static vkft_status render_llama2(data_render *r, const chat_msg *m, size_t n,
                                 const vkft_tokenizer *tok, data_where w, vkft_err *err)
{
    const chat_msg *sys = NULL;
    size_t first = 0, users = 0;
    if (n > 0 && role_is(&m[0], "system")) sys = &m[0], first = 1;
    for (size_t i = first; i < n; i++) {
        const char *c = m[i].content;
        size_t len = m[i].len;
        if (role_is(&m[i], "user")) {
            if (users++ > 0) add_token_text(r, tok, tok ? vkft_tokenizer_bos_id(tok) : -1, false);
            data_render_adds(r, "[INST] ", false);
            if (sys && i == first) {
                data_render_adds(r, "<<SYS>>\n", false);
                data_render_add(r, sys->content, sys->len, false);
                data_render_adds(r, "\n<</SYS>>\n\n", false);
                strip(&c, &len, false);
            } else {
                strip(&c, &len, true);
            }
            data_render_add(r, c, len, false);
            data_render_adds(r, " [/INST]", false);
        } else if (role_is(&m[i], "assistant")) {
            strip(&c, &len, true);
            data_render_adds(r, " ", true);
            data_render_add(r, c, len, true);
            data_render_adds(r, " ", true);
            add_token_text(r, tok, tok ? vkft_tokenizer_eos_id(tok) : -1, true);
        } else {
            return data_err_at(err, w, m[i].col,
                               "messages[%zu]: role '%.*s' is not allowed here by the llama2 "
                               "template (system first, then user/assistant)", i,
                               (int)m[i].role_len, m[i].role);
        }
    }
    return VKFT_OK;
}

vkft_status data_chat_render(const vkft_json *obj, vkft_chat_template tmpl,
                             const vkft_tokenizer *tok, data_render *r, data_where w,
                             vkft_err *err)
{
    const vkft_json *msgs = vkft_json_get(obj, "messages");
    if (!msgs) msgs = vkft_json_get(obj, "conversations");
    if (!msgs) return data_err_at(err, w, obj->col, "chat line has no key 'messages'");
    if (msgs->type != VKFT_JSON_ARRAY)
        return data_err_at(err, w, msgs->col, "key 'messages': expected an array, got %s",
                           vkft_json_type_name(msgs->type));
    if (msgs->len == 0) return data_err_at(err, w, msgs->col, "key 'messages' is empty");
    chat_msg stack[64];
    chat_msg *m = stack;
    if (msgs->len > sizeof stack / sizeof stack[0]) {
        m = malloc(msgs->len * sizeof *m);
        if (!m) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s:%lld: out of memory", w.path,
                                    (long long)w.line);
    }
    vkft_status st = VKFT_OK;
    for (size_t i = 0; i < msgs->len && !st; i++)
        st = read_msg(&msgs->items[i], i, &m[i], w, err);
    for (size_t i = 0; i < msgs->len && !st && tmpl != VKFT_CHAT_CHATML; i++) {
        if (!role_is(&m[i], "system") && !role_is(&m[i], "user") &&
            !role_is(&m[i], "assistant"))
            st = data_err_at(err, w, m[i].col,
                             "messages[%zu]: unknown role '%.*s' (system, user, assistant; "
                             "human and gpt are mapped)", i, (int)m[i].role_len, m[i].role);
    }
    for (size_t i = 0; i < msgs->len && !st; i++) {
        bool last = i + 1 == msgs->len;
        switch (tmpl) {
        case VKFT_CHAT_LLAMA3: render_llama3(r, &m[i]); break;
        case VKFT_CHAT_ZEPHYR: render_zephyr(r, &m[i], tok, last); break;
        case VKFT_CHAT_LLAMA2: break;
        default: render_chatml(r, &m[i], last); break;
        }
    }
    if (!st && tmpl == VKFT_CHAT_LLAMA2) st = render_llama2(r, m, msgs->len, tok, w, err);
    if (m != stack) free(m);
    return st;
}
