/*
 * Multi-dataset mixes and resume: sampling probabilities (weights, sizes, temperature), the
 * observed frequencies over many draws (chi-square bound, see below), each source keeping its
 * own file order inside the mix, per-row task indices and names, and the cursor: saved as
 * JSON mid-epoch with a packing carry, restored into a fresh dataset, the next batches are
 * bit-identical; a cursor from another seed or changed data is refused and changes nothing.
 *
 * Chi-square bound: the counts of k sources over N draws give X² with k-1 degrees of freedom;
 * the bound used is the 1 - 1e-6 quantile (23.93 for 1 dof, 27.63 for 2), so a correct
 * sampler fails with probability 1e-6 (and the seeds are fixed, so the outcome is fixed).
 * A deliberately wrong expectation (uniform) must exceed it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"
#include "util/json.h"

/* Source s, example k: ids [100 s + k, 100 s + 50]. */
static const char *write_source(int s, int n)
{
    char text[4096], name[32];
    size_t at = 0;
    for (int k = 0; k < n; k++)
        at += (size_t)snprintf(text + at, sizeof text - at, "{\"input_ids\": [%d, %d]}\n",
                               100 * s + k, 100 * s + 50);
    snprintf(name, sizeof name, "src%d.jsonl", s);
    return dt_write(name, text);
}

static vkft_status open_mix(int n, const int *sizes, const float *weights, float temp,
                            bool packing, bool shuffle, uint64_t seed, int64_t T,
                            vkft_dataset **d, vkft_err *err)
{
    vkft_data_source src[4];
    static const char *tasks[] = {"alpha", "beta", NULL, "delta"};
    for (int s = 0; s < n; s++)
        src[s] = (vkft_data_source){.path = write_source(s, sizes[s]),
                                    .format = VKFT_DATA_TOKENS,
                                    .weight = weights ? weights[s] : 0.0f, .task = tasks[s],
                                    .prompt_loss_weight = -1};
    vkft_data_options o;
    vkft_data_options_default(&o);
    o.seq_len = T;
    o.packing = packing;
    o.shuffle = shuffle;
    o.seed = seed;
    o.mix_temperature = temp;
    o.vocab_size = 1000;
    return vkft_dataset_open(src, n, &o, NULL, d, err);
}

static double chi2(const int64_t *count, const double *p, int k, int64_t total)
{
    double x = 0.0;
    for (int i = 0; i < k; i++) {
        double e = p[i] * (double)total;
        x += ((double)count[i] - e) * ((double)count[i] - e) / e;
    }
    return x;
}

/* Draws rows one example each; checks tasks against tokens and per-source file order. */
static void draw(vkft_dataset *d, int k, const int *sizes, int64_t batches, int64_t rows,
                 int64_t *count)
{
    dt_batch b;
    dt_batch_alloc(&b, rows, 4, false);
    vkft_err err;
    int64_t next[4] = {0};
    bool order_ok = true, task_ok = true;
    memset(count, 0, (size_t)k * sizeof *count);
    for (int64_t i = 0; i < batches; i++) {
        CHECK_ST(vkft_dataset_next_batch(d, rows, &b.b, &err), err);
        for (int64_t r = 0; r < rows; r++) {
            int s = b.b.task[r];
            int32_t tok = b.b.tokens[r * 4];
            if (s < 0 || s >= k || tok / 100 != s) {
                task_ok = false;
                continue;
            }
            count[s]++;
            if (tok % 100 != next[s]) order_ok = false;
            next[s] = (next[s] + 1) % sizes[s];
        }
    }
    CHECK(task_ok);
    CHECK(order_ok);
    dt_batch_free(&b);
}

static void test_frequencies(void)
{
    const int sizes[] = {4, 6, 10};
    const float w[] = {1, 2, 5};
    vkft_dataset *d = NULL;
    vkft_err err;
    CHECK_ST(open_mix(3, sizes, w, 1.0f, false, false, 11, 4, &d, &err), err);
    if (!d) return;
    double p[3];
    for (int s = 0; s < 3; s++) {
        vkft_data_stats st;
        vkft_dataset_stats(d, s, &st);
        p[s] = st.probability;
        CHECK(fabs(st.probability - w[s] / 8.0) < 1e-12);
    }
    CHECK(strcmp(vkft_dataset_task(d, 0), "alpha") == 0);
    CHECK(strcmp(vkft_dataset_task(d, 2), "src2") == 0);   /* from the file name */
    int64_t count[3];
    draw(d, 3, sizes, 100, 400, count);
    double x = chi2(count, p, 3, 40000);
    fprintf(stderr, "mix 1:2:5 over 40000 draws: %lld %lld %lld, chi2 %.2f (bound 27.63)\n",
            (long long)count[0], (long long)count[1], (long long)count[2], x);
    CHECK(x < 27.63);
    const double uniform[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    CHECK(chi2(count, uniform, 3, 40000) > 27.63);           /* the check can fail */
    vkft_dataset_free(d);

    /* temperature 2 on weights 1 and 4: p ∝ 1, 2 */
    const float w2[] = {1, 4};
    CHECK_ST(open_mix(2, sizes, w2, 2.0f, false, true, 5, 4, &d, &err), err);
    if (!d) return;
    double p2[2] = {1.0 / 3, 2.0 / 3};
    vkft_data_stats st;
    vkft_dataset_stats(d, 1, &st);
    CHECK(fabs(st.probability - p2[1]) < 1e-12);
    int64_t c2[2];
    dt_batch b;
    dt_batch_alloc(&b, 300, 4, false);
    c2[0] = c2[1] = 0;
    for (int i = 0; i < 100; i++) {
        CHECK_ST(vkft_dataset_next_batch(d, 300, &b.b, &err), err);
        for (int r = 0; r < 300; r++)
            if (b.b.task[r] == 0 || b.b.task[r] == 1) c2[b.b.task[r]]++;
    }
    dt_batch_free(&b);
    x = chi2(c2, p2, 2, 30000);
    CHECK(c2[0] + c2[1] == 30000);
    CHECK(x < 23.93);
    vkft_dataset_free(d);

    /* no weights: proportional to sizes; a huge temperature flattens to uniform */
    CHECK_ST(open_mix(3, sizes, NULL, 1.0f, false, false, 1, 4, &d, &err), err);
    if (d) {
        vkft_dataset_stats(d, 2, &st);
        CHECK(fabs(st.probability - 0.5) < 1e-12);
    }
    vkft_dataset_free(d);
    CHECK_ST(open_mix(3, sizes, NULL, 1e6f, false, false, 1, 4, &d, &err), err);
    if (d) {
        vkft_dataset_stats(d, 0, &st);
        CHECK(fabs(st.probability - 1.0 / 3) < 1e-5);
    }
    vkft_dataset_free(d);

    /* weights on some sources only */
    const float w3[] = {1, 0, 2};
    CHECK(open_mix(3, sizes, w3, 1.0f, false, false, 1, 4, &d, &err) == VKFT_ERR_INVALID_ARG);
    CHECK(d == NULL && strstr(err.msg, "src1.jsonl: no weight") != NULL);
}

typedef struct snap {
    int32_t tok[3 * 5], lab[3 * 5], task[3], seg[3 * 5], tt[3 * 5];
    float w[3 * 5], km[3 * 5];
} snap;

static void take(vkft_dataset *d, snap *out, int n)
{
    dt_batch b;
    dt_batch_alloc(&b, 3, 5, true);
    vkft_err err;
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        CHECK_ST(vkft_dataset_next_batch(d, 3, &b.b, &err), err);
        memcpy(out[i].tok, b.b.tokens, sizeof out[i].tok);
        memcpy(out[i].lab, b.b.labels, sizeof out[i].lab);
        memcpy(out[i].w, b.b.weights, sizeof out[i].w);
        memcpy(out[i].task, b.b.task, sizeof out[i].task);
        memcpy(out[i].seg, b.b.segment, sizeof out[i].seg);
        memcpy(out[i].tt, b.b.token_task, sizeof out[i].tt);
        memcpy(out[i].km, b.b.key_mask, sizeof out[i].km);
    }
    dt_batch_free(&b);
}

static char *save_cursor(const vkft_dataset *d)
{
    vkft_json_writer w;
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "data");
    vkft_dataset_cursor_write(d, &w);
    vkft_json_obj_end(&w);
    char *text = NULL;
    size_t len;
    vkft_err err;
    CHECK_ST(vkft_json_writer_finish(&w, &text, &len, &err), err);
    return text;
}

static vkft_status load_cursor(vkft_dataset *d, const char *text, vkft_err *err)
{
    vkft_json_doc *doc;
    vkft_status st = vkft_json_parse(text, strlen(text), "cursor", &doc, err);
    if (st) return st;
    st = vkft_dataset_cursor_read(d, vkft_json_get(vkft_json_root(doc), "data"), err);
    vkft_json_free(doc);
    return st;
}

/* text with the number after the first key replaced by value (malloc'd). */
static char *replace_value(const char *text, const char *key, const char *value)
{
    const char *at = strstr(text, key);
    if (!at) return NULL;
    const char *v = at + strlen(key), *end = v;
    while (*end == '-' || (*end >= '0' && *end <= '9')) end++;
    char *out = malloc(strlen(text) + strlen(value) + 1);
    if (!out) return NULL;
    size_t n = (size_t)(v - text);
    memcpy(out, text, n);
    strcpy(out + n, value);
    strcat(out, end);
    return out;
}

static void test_resume(void)
{
    const int sizes[] = {4, 6, 9};
    const float w[] = {1, 2, 3};
    vkft_dataset *a = NULL, *b = NULL, *c = NULL;
    vkft_err err;
    CHECK_ST(open_mix(3, sizes, w, 1.0f, true, true, 99, 5, &a, &err), err);
    CHECK_ST(open_mix(3, sizes, w, 1.0f, true, true, 99, 5, &b, &err), err);
    CHECK_ST(open_mix(3, sizes, w, 1.0f, true, true, 98, 5, &c, &err), err);
    if (!a || !b || !c) goto out;
    snap before[7], after[5], resumed[5];
    take(a, before, 7);
    char *cur = save_cursor(a);
    CHECK(cur && strstr(cur, "\"carry\":{") != NULL);   /* saved in the middle of an example */
    take(a, after, 5);
    /* a cursor from another seed, a bad position, or changed data: refused, b unchanged */
    char *other = save_cursor(c);
    CHECK(load_cursor(b, other, &err) == VKFT_ERR_INVALID_ARG && strstr(err.msg, "seed"));
    free(other);
    char *bad = cur ? replace_value(cur, "\"position\":", "9") : NULL;
    if (bad) {
        CHECK(load_cursor(b, bad, &err) == VKFT_ERR_INVALID_ARG);
        CHECK(strstr(err.msg, "'position'") != NULL);
        free(bad);
    }
    /* after the refusals b still starts at the beginning, like a freshly opened dataset */
    snap first[1], fresh[1];
    take(b, first, 1);
    vkft_dataset *b0 = NULL;
    CHECK_ST(open_mix(3, sizes, w, 1.0f, true, true, 99, 5, &b0, &err), err);
    if (b0) {
        take(b0, fresh, 1);
        CHECK(memcmp(first, fresh, sizeof first) == 0);
        vkft_dataset_free(b0);
    }
    /* the real resume (b has moved on by a batch: the cursor sets everything) */
    CHECK_ST(load_cursor(b, cur, &err), err);
    take(b, resumed, 5);
    CHECK(memcmp(after, resumed, sizeof after) == 0);
    /* and a deliberate fault shows: the batches before the cursor differ from after it */
    CHECK(memcmp(before, resumed, sizeof resumed) != 0);
    free(cur);
    /* changed data: the same cursor no longer fits */
    vkft_dataset_free(c);
    c = NULL;
    const int sizes2[] = {4, 7, 9};
    cur = save_cursor(a);
    CHECK_ST(open_mix(3, sizes2, w, 1.0f, true, true, 99, 5, &c, &err), err);
    if (c && cur) {
        CHECK(load_cursor(c, cur, &err) == VKFT_ERR_INVALID_ARG);
        CHECK(strstr(err.msg, "src1.jsonl changed") != NULL);
    }
    free(cur);
out:
    vkft_dataset_free(a);
    vkft_dataset_free(b);
    vkft_dataset_free(c);
}

int main(void)
{
    test_frequencies();
    test_resume();
    dt_cleanup();
    if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}
