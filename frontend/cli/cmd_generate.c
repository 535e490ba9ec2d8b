/*
 * `vkft generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T] [--top-p P]
 *  [--seed S] [--device D] [--no-cache]`: continues the prompt with the model, printing the
 * text as tokens are chosen. Greedy at temperature 0 (the default); generation stops at an
 * end-of-sequence id of the tokenizer or config, or after --max-tokens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train/method.h"
#include "model/generate.h"
#include "model_open.h"

typedef struct printer {
    const vkft_tokenizer *tok;
    int32_t *ids;
    size_t n, printed;     /* ids so far; bytes of their text already written */
} printer;

/* Decodes every generated id and writes the new text, holding back a trailing U+FFFD (an
 * incomplete UTF-8 sequence that the next byte token may complete). */
static vkft_status print_token(void *user, int32_t id, vkft_err *err) {
    printer *p = user;
    p->ids[p->n++] = id;
    char *text = NULL;
    size_t len = 0;
    vkft_status st = vkft_tokenizer_decode(p->tok, p->ids, p->n, true, &text, &len, err);
    if (st) return st;
    size_t end = len;
    if (end >= 3 && !memcmp(text + end - 3, "\xef\xbf\xbd", 3)) end -= 3;
    if (end > p->printed) {
        fwrite(text + p->printed, 1, end - p->printed, stdout);
        fflush(stdout);
        p->printed = end;
    }
    free(text);
    return VKFT_OK;
}

static bool num(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi)) {
        fprintf(stderr, "vkft generate: %s: expected a number in [%g, %g], got '%s'\n", flag, lo,
                hi, s);
        return false;
    }
    *out = v;
    return true;
}

/* After each compile: the adapter's tensors into the plan. */
static vkft_status upload_adapter(void *user, vkft_plan *plan, vkft_err *err) {
    return vkft_method_init_params(user, plan, 0, err);
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *device = NULL, *adapter = NULL;
    double max_tokens = 64, temperature = 0, top_p = 1, seed = 0;
    bool no_cache = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-cache")) {
            no_cache = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: vkft generate --model DIR [--adapter DIR] --prompt TEXT "
                   "[--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--device D] [--no-cache]\n");
            return 0;
        }
        if (!v) {
            fprintf(stderr, "vkft generate: %s needs a value\n", a);
            return 2;
        }
        i++;
        bool ok = true;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--adapter")) adapter = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--max-tokens")) ok = num(a, v, 1, 1 << 20, &max_tokens);
        else if (!strcmp(a, "--temperature")) ok = num(a, v, 0, 100, &temperature);
        else if (!strcmp(a, "--top-p")) ok = num(a, v, 1e-6, 1, &top_p);
        else if (!strcmp(a, "--seed")) ok = num(a, v, 0, 9007199254740992.0, &seed);
        else {
            fprintf(stderr, "vkft generate: unknown option '%s'\n", a);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!model || !prompt) {
        fprintf(stderr, "vkft generate: --model and --prompt are required\n");
        return 2;
    }
    cli_model m;
    if (cli_model_open("generate", model, device, &m)) return 1;
    vkft_err err = {{0}};
    vkft_ids ids = {0};
    int rc = 1;
    int32_t stop[VKFT_MODEL_MAX_EOS + 16];
    int n_stop = 0;
    size_t n_tok_eos = 0;
    const int32_t *tok_eos = vkft_tokenizer_eos_ids(m.tok, &n_tok_eos);
    for (size_t i = 0; i < n_tok_eos && n_stop < 16; i++) stop[n_stop++] = tok_eos[i];
    for (int i = 0; i < m.cfg.n_eos; i++) stop[n_stop++] = m.cfg.eos_ids[i];
    printer pr = {.tok = m.tok};
    vkft_method *method = NULL;
    int32_t *out = malloc(sizeof *out * (size_t)max_tokens);
    pr.ids = malloc(sizeof *pr.ids * (size_t)max_tokens);
    if (adapter && vkft_method_from_adapter(adapter, &m.cfg, &method, &err)) {
        fprintf(stderr, "vkft generate: --adapter: %s\n", err.msg);
        goto done;
    }
    if (!out || !pr.ids) {
        fprintf(stderr, "vkft generate: out of memory\n");
        goto done;
    }
    if (vkft_tokenizer_encode(m.tok, prompt, strlen(prompt), true, &ids, &err)) {
        fprintf(stderr, "vkft generate: prompt: %s\n", err.msg);
        goto done;
    }
    if (!ids.n) {
        fprintf(stderr, "vkft generate: the prompt encodes to no tokens\n");
        goto done;
    }
    vkft_generate_options o;
    vkft_generate_options_default(&o);
    o.max_tokens = (int)max_tokens;
    o.temperature = (float)temperature;
    o.top_p = (float)top_p;
    o.seed = (uint64_t)seed;
    o.no_cache = no_cache;
    o.stop_ids = stop;
    o.n_stop = n_stop;
    o.on_token = print_token;
    o.user = &pr;
    o.frozen_dtype = vkft_model_config_file_dtype(&m.cfg);
    if (method) {
        o.hooks = vkft_method_hooks(method);
        o.upload = upload_adapter;
        o.upload_user = method;
        if (vkft_method_needs_full_sequence(method)) o.no_cache = true;  /* prompt tuning */
    }
    size_t n_out = 0;
    fputs(prompt, stdout);
    if (vkft_generate(m.dev, &m.cfg, m.st, ids.v, ids.n, &o, out, &n_out, &err)) {
        fprintf(stderr, "\nvkft generate: %s\n", err.msg);
        goto done;
    }
    putchar('\n');
    rc = 0;
done:
    vkft_method_free(method);
    free(out);
    free(pr.ids);
    vkft_ids_free(&ids);
    cli_model_close(&m);
    return rc;
}
