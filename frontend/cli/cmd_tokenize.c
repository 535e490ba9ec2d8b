/*
 * vkft tokenize / detokenize / bench tokenize.
 *   vkft tokenize --model PATH [--no-special]
 *       one text per stdin line (a JSON string if the line starts with '"', else the raw line
 *       without its '\n') -> one JSON array of ids per line
 *   vkft detokenize --model PATH [--skip-special]
 *       one JSON array of ids per line -> the text as a JSON string per line
 *   vkft bench tokenize --model PATH [--text FILE] [--mb N] [--threads T]
 *       encode (cold word cache, and the best of 3 warm runs; 1 and T threads) and decode
 *       speed in MB/s
 * PATH is a model folder (tokenizer.json + configs) or a tokenizer.json file. Exit status:
 * 0 ok, 1 a bad input line or an unreadable model (the message names the line), 2 bad usage.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tokenizer/tokenizer.h"
#include "util/file.h"
#include "util/json.h"

typedef struct tok_args {
    const char *model, *text;
    bool no_special, skip_special;
    double mb;
    int threads;
} tok_args;

static int parse(int argc, char **argv, const char *cmd, tok_args *a)
{
    memset(a, 0, sizeof *a);
    a->mb = 4;
    a->threads = 4;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(o, "--no-special") && strcmp(cmd, "detokenize")) a->no_special = true;
        else if (!strcmp(o, "--skip-special") && !strcmp(cmd, "detokenize"))
            a->skip_special = true;
        else if (!strcmp(o, "--model") && v) a->model = argv[++i];
        else if (!strcmp(o, "--text") && v && !strcmp(cmd, "bench")) a->text = argv[++i];
        else if (!strcmp(o, "--mb") && v && !strcmp(cmd, "bench") &&
                 (a->mb = strtod(v, &end)) > 0 && a->mb <= 1024 && !*end)
            i++;
        else if (!strcmp(o, "--threads") && v && !strcmp(cmd, "bench") &&
                 (a->threads = (int)strtol(v, &end, 10)) >= 1 && a->threads <= 64 && !*end)
            i++;
        else {
            fprintf(stderr, "vkft %s: bad option '%s'%s\n", cmd, o,
                    v || o[0] != '-' ? "" : " (missing value)");
            return 2;
        }
    }
    if (!a->model) {
        fprintf(stderr, "vkft %s: --model PATH is required (a model folder or tokenizer.json)\n",
                cmd);
        return 2;
    }
    return 0;
}

static vkft_tokenizer *open_tok(const char *cmd, const char *path)
{
    vkft_tokenizer *t = NULL;
    vkft_err err = {{0}};
    if (vkft_tokenizer_load(path, &t, &err)) {
        fprintf(stderr, "vkft %s: %s\n", cmd, err.msg);
        return NULL;
    }
    return t;
}

static char *read_line(size_t *len, size_t *cap, char **buf)
{
    ssize_t n = getline(buf, cap, stdin);
    if (n < 0) return NULL;
    if (n && (*buf)[n - 1] == '\n') (*buf)[--n] = '\0';
    *len = (size_t)n;
    return *buf;
}

int cmd_tokenize(int argc, char **argv)
{
    tok_args a;
    int rc = parse(argc, argv, "tokenize", &a);
    if (rc) return rc;
    vkft_tokenizer *tok = open_tok("tokenize", a.model);
    if (!tok) return 1;
    char *buf = NULL;
    size_t cap = 0, len, line = 0;
    vkft_ids ids = {0};
    vkft_err err = {{0}};
    while (!rc && read_line(&len, &cap, &buf)) {
        line++;
        const char *text = buf;
        size_t tlen = len;
        vkft_json_doc *doc = NULL;
        if (len && buf[0] == '"') {
            char name[64];
            snprintf(name, sizeof name, "stdin line %zu", line);
            if (vkft_json_parse(buf, len, name, &doc, &err)) {
                fprintf(stderr, "vkft tokenize: %s\n", err.msg);
                rc = 1;
                break;
            }
            text = vkft_json_root(doc)->str;
            tlen = vkft_json_root(doc)->len;
        }
        ids.n = 0;
        if (vkft_tokenizer_encode(tok, text, tlen, !a.no_special, &ids, &err)) {
            fprintf(stderr, "vkft tokenize: stdin line %zu: %s\n", line, err.msg);
            rc = 1;
        } else {
            putchar('[');
            for (size_t i = 0; i < ids.n; i++) printf(i ? ",%d" : "%d", ids.v[i]);
            puts("]");
        }
        vkft_json_free(doc);
    }
    if (!rc && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "vkft tokenize: writing stdout failed\n");
        rc = 1;
    }
    free(buf);
    vkft_ids_free(&ids);
    vkft_tokenizer_free(tok);
    return rc;
}

/* Reads a JSON array of ids; prints why not and returns false. */
static bool parse_ids(const char *buf, size_t len, size_t line, vkft_ids *ids)
{
    char name[64];
    snprintf(name, sizeof name, "stdin line %zu", line);
    vkft_json_doc *doc = NULL;
    vkft_err err = {{0}};
    if (vkft_json_parse(buf, len, name, &doc, &err)) {
        fprintf(stderr, "vkft detokenize: %s\n", err.msg);
        return false;
    }
    const vkft_json *r = vkft_json_root(doc);
    bool ok = r->type == VKFT_JSON_ARRAY;
    ids->n = 0;
    for (size_t i = 0; ok && i < r->len; i++) {
        int64_t v;
        ok = vkft_json_get_int(&r->items[i], &v) && v >= INT32_MIN && v <= INT32_MAX &&
             !vkft_ids_push(ids, (int32_t)v, &err);
    }
    if (!ok)
        fprintf(stderr, "vkft detokenize: stdin line %zu: expected a JSON array of integer "
                "ids\n", line);
    vkft_json_free(doc);
    return ok;
}

int cmd_detokenize(int argc, char **argv)
{
    tok_args a;
    int rc = parse(argc, argv, "detokenize", &a);
    if (rc) return rc;
    vkft_tokenizer *tok = open_tok("detokenize", a.model);
    if (!tok) return 1;
    char *buf = NULL;
    size_t cap = 0, len, line = 0;
    vkft_ids ids = {0};
    vkft_err err = {{0}};
    while (!rc && read_line(&len, &cap, &buf)) {
        line++;
        char *text = NULL, *json = NULL;
        size_t tlen = 0, jlen = 0;
        if (!parse_ids(buf, len, line, &ids)) {
            rc = 1;
            break;
        }
        if (vkft_tokenizer_decode(tok, ids.v, ids.n, a.skip_special, &text, &tlen, &err)) {
            fprintf(stderr, "vkft detokenize: stdin line %zu: %s\n", line, err.msg);
            rc = 1;
            break;
        }
        vkft_json_writer w;
        vkft_json_writer_init(&w, 0);
        vkft_json_strn(&w, text, tlen);
        if (vkft_json_writer_finish(&w, &json, &jlen, &err)) {
            fprintf(stderr, "vkft detokenize: %s\n", err.msg);
            rc = 1;
        } else {
            puts(json);
        }
        free(json);
        free(text);
    }
    if (!rc && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "vkft detokenize: writing stdout failed\n");
        rc = 1;
    }
    free(buf);
    vkft_ids_free(&ids);
    vkft_tokenizer_free(tok);
    return rc;
}

/* ---- bench tokenize ---- */

/* Default text (when no --text): prose, code, numbers and some non-Latin scripts. */
static const char *const sample[] = {
    "The quick brown fox jumps over the lazy dog. It's 2024, and we've trained 3 models "
    "on 1,234,567 tokens; the loss fell from 10.41 to 2.87 in 1500 steps.",
    "Fine-tuning a language model with LoRA adds two small matrices next to each frozen "
    "weight, so only a fraction of a percent of the parameters learn.",
    "def forward(self, x):\n    h = self.norm(x)\n    return x + self.mlp(h)  # residual\n",
    "    for (int i = 0; i < n; i++) {\n        y[i] = a * x[i] + y[i];\n    }\n",
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi!\"}, {\"role\": \"assistant\"}]}",
    "Привет! Как дела? Сегодня хорошая погода.", "你好，世界！今天我们测试分词器的速度。",
    "Café, naïve, résumé — Ünïcödé text with émojis 🙂🚀 and   runs of   spaces.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong said: \"That's one small step\".",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct bench_docs {
    char *text;
    size_t *off, *len, n;
    vkft_ids *ids;              /* per document */
} bench_docs;

typedef struct bench_job {
    const vkft_tokenizer *tok;
    bench_docs *d;
    size_t first, step;
    int failed;
} bench_job;

static void *bench_encode(void *arg)
{
    bench_job *j = arg;
    for (size_t i = j->first; i < j->d->n; i += j->step) {
        j->d->ids[i].n = 0;
        if (vkft_tokenizer_encode(j->tok, j->d->text + j->d->off[i], j->d->len[i], false,
                                  &j->d->ids[i], NULL))
            j->failed = 1;
    }
    return NULL;
}

/* Encodes every document on `threads` threads; returns seconds (negative on failure). */
static double time_encode(const vkft_tokenizer *tok, bench_docs *d, int threads)
{
    bench_job jobs[64];
    pthread_t th[64];
    double t0 = now_s();
    int started = 0;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (bench_job){tok, d, (size_t)i, (size_t)threads, 0};
        if (pthread_create(&th[i], NULL, bench_encode, &jobs[i])) break;
        started++;
    }
    int failed = started < threads;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        failed |= jobs[i].failed;
    }
    return failed ? -1 : now_s() - t0;
}

/* The source texts: --text FILE (a JSON {"texts": [...]} file such as
 * tests/fixtures/tokenizer/corpus.json, or any text file as one source) or the built-in
 * sample. Documents of about 2 KB are drawn from them in a seeded random order until mb MB are
 * there. */
static int make_docs(const tok_args *a, bench_docs *d)
{
    const char *const *src = sample;
    size_t n_src = sizeof sample / sizeof sample[0];
    size_t *src_len = NULL;
    const char **src_v = NULL;
    char *file = NULL;
    vkft_json_doc *doc = NULL;
    vkft_err err = {{0}};
    if (a->text) {
        size_t flen;
        if (vkft_file_read(a->text, &file, &flen, &err)) {
            fprintf(stderr, "vkft bench tokenize: %s\n", err.msg);
            return 1;
        }
        const vkft_json *texts = NULL;
        if (!vkft_json_parse(file, flen, a->text, &doc, &err))
            texts = vkft_json_get(vkft_json_root(doc), "texts");
        n_src = texts && texts->type == VKFT_JSON_ARRAY && texts->len ? texts->len : 1;
        src_v = calloc(n_src, sizeof *src_v);
        src_len = calloc(n_src, sizeof *src_len);
        if (!src_v || !src_len) return 1;
        for (size_t i = 0; i < n_src; i++) {
            src_v[i] = texts && texts->len ? texts->items[i].str : file;
            src_len[i] = texts && texts->len ? texts->items[i].len : flen;
        }
        src = src_v;
    }
    size_t total = (size_t)(a->mb * 1e6), cap = total + 8192, used = 0, cap_docs = 64;
    d->text = malloc(cap);
    d->off = malloc(cap_docs * sizeof *d->off);
    d->len = malloc(cap_docs * sizeof *d->len);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int rc = !d->text || !d->off || !d->len;
    while (!rc && used < total) {
        if (d->n == cap_docs) {
            cap_docs *= 2;
            size_t *o = realloc(d->off, cap_docs * sizeof *o), *l;
            if (o) d->off = o;
            l = realloc(d->len, cap_docs * sizeof *l);
            if (l) d->len = l;
            if (!o || !l) rc = 1;
            if (rc) break;
        }
        d->off[d->n] = used;
        size_t start = used;
        while (used - start < 2048 && used < total) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t k = (size_t)(rng >> 33) % n_src;
            size_t l = src_len ? src_len[k] : strlen(src[k]);
            if (l > cap - used - 1) l = cap - used - 1;
            memcpy(d->text + used, src[k], l);
            used += l;
            if (used < cap - 1) d->text[used++] = '\n';
            if (used >= cap - 1) break;
        }
        d->len[d->n++] = used - start;
        if (used >= cap - 1) break;
    }
    d->ids = rc ? NULL : calloc(d->n, sizeof *d->ids);
    if (!d->ids) rc = 1;
    free(src_v);
    free(src_len);
    vkft_json_free(doc);
    free(file);
    if (rc) fprintf(stderr, "vkft bench tokenize: out of memory\n");
    return rc;
}

/* argv[0] is "tokenize" (the bench subcommand), options follow. */
int cmd_bench_tokenize(int argc, char **argv)
{
    tok_args a;
    int rc = parse(argc, argv, "bench", &a);
    if (rc) return rc;
    bench_docs d = {0};
    if (make_docs(&a, &d)) return 1;
    size_t bytes = d.n ? d.off[d.n - 1] + d.len[d.n - 1] : 0;
    double mb = (double)bytes / 1e6, t[4] = {0};
    for (int run = 0; run < 2 && !rc; run++) {  /* run 0: 1 thread, run 1: --threads */
        vkft_tokenizer *tok = open_tok("bench tokenize", a.model);
        if (!tok) {
            rc = 1;
            break;
        }
        int threads = run ? a.threads : 1;
        t[2 * run] = time_encode(tok, &d, threads);       /* cold word cache */
        t[2 * run + 1] = 1e30;
        for (int k = 0; k < 3 && t[2 * run] >= 0; k++) {  /* warm: best of 3 (busy machines) */
            double x = time_encode(tok, &d, threads);
            if (x < 0) t[2 * run] = -1;
            else if (x < t[2 * run + 1]) t[2 * run + 1] = x;
        }
        if (t[2 * run] < 0) {
            fprintf(stderr, "vkft bench tokenize: encoding failed\n");
            rc = 1;
        }
        if (!rc && run == 1) {
            size_t n_ids = 0, out_bytes = 0;
            for (size_t i = 0; i < d.n; i++) n_ids += d.ids[i].n;
            double t0 = now_s();
            for (size_t i = 0; i < d.n && !rc; i++) {
                char *s = NULL;
                size_t len = 0;
                if (vkft_tokenizer_decode(tok, d.ids[i].v, d.ids[i].n, false, &s, &len, NULL))
                    rc = 1;
                out_bytes += len;
                free(s);
            }
            double td = now_s() - t0;
            printf("text: %.2f MB in %zu documents -> %zu tokens (%.2f bytes/token)\n", mb, d.n,
                   n_ids, n_ids ? (double)bytes / (double)n_ids : 0.0);
            printf("encode, 1 thread:   %8.1f MB/s cold cache, %8.1f MB/s warm\n", mb / t[0],
                   mb / t[1]);
            printf("encode, %d threads: %8.1f MB/s cold cache, %8.1f MB/s warm\n", a.threads,
                   mb / t[2], mb / t[3]);
            printf("decode, 1 thread:   %8.1f MB/s of text\n", (double)out_bytes / 1e6 / td);
        }
        vkft_tokenizer_free(tok);
    }
    for (size_t i = 0; d.ids && i < d.n; i++) vkft_ids_free(&d.ids[i]);
    free(d.ids);
    free(d.text);
    free(d.off);
    free(d.len);
    return rc;
}
