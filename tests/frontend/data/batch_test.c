/*
 * Batches: the label shift, truncation and padding, packing (rows cut from the stream of
 * examples, segments, key mask, per-token task), file order wrapping at the end, shuffled
 * order (a permutation per epoch, the same for the same seed), the eval iterator (each
 * example once, last batch padded, training cursor untouched), the unshifted rows of the
 * first_target option (prompt tuning) and the batch counts - all against an oracle that
 * rebuilds the expected rows from the stored examples.
 */
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"

#define T_MAX 64
#define ROWS_MAX 64

/* Example k of a generated file: ids 100(k+1)+t, labels -100 on the first two tokens. */
static const char *write_examples(const char *name, const int *lens, int n)
{
    static char text[8192];
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        at += (size_t)snprintf(text + at, sizeof text - at, "{\"input_ids\": [");
        for (int t = 0; t < lens[k]; t++)
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%d", t ? ", " : "",
                                   100 * (k + 1) + t);
        at += (size_t)snprintf(text + at, sizeof text - at, "], \"labels\": [");
        for (int t = 0; t < lens[k]; t++)
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%d", t ? ", " : "",
                                   t < 2 ? -100 : 100 * (k + 1) + t);
        at += (size_t)snprintf(text + at, sizeof text - at, "]}\n");
    }
    return dt_write(name, text);
}

static bool first_target;   /* open_tokens and the oracle: rows unshifted (prompt tuning) */

static vkft_dataset *open_tokens(const char *path, int64_t T, bool packing, bool shuffle,
                                 uint64_t seed, int32_t pad)
{
    vkft_data_source src = {.path = path, .format = VKFT_DATA_TOKENS, .prompt_loss_weight = -1};
    vkft_data_options o;
    vkft_data_options_default(&o);
    o.seq_len = T;
    o.packing = packing;
    o.shuffle = shuffle;
    o.seed = seed;
    o.vocab_size = 2000;
    o.pad_id = pad;
    o.first_target = first_target;
    vkft_dataset *d = NULL;
    vkft_err err;
    CHECK_ST(vkft_dataset_open(&src, 1, &o, NULL, &d, &err), err);
    return d;
}

/* The expected batch: rows cut from examples order[0..) of source 0 (one per row, or packed),
 * shifted. Returns how many entries of order were started. */
typedef struct expected {
    int32_t tok[ROWS_MAX * T_MAX], lab[ROWS_MAX * T_MAX], seg[ROWS_MAX * T_MAX];
    int32_t tt[ROWS_MAX * T_MAX], task[ROWS_MAX];
    float w[ROWS_MAX * T_MAX], km[ROWS_MAX * T_MAX];
    int64_t examples, real, targets;
    double wsum;
} expected;

static void oracle(const vkft_dataset *d, const int64_t *order, int64_t *at, int64_t *off,
                   int64_t rows, int64_t T, bool packing, int32_t pad, bool eval_end,
                   int64_t n_order, expected *e)
{
    memset(e, 0, sizeof *e);
    for (int64_t r = 0; r < rows; r++) {
        int32_t lab[T_MAX];
        float w[T_MAX];
        int64_t p = 0;
        int32_t seg = 0;
        e->task[r] = -1;
        while (p < T && !(eval_end && *at >= n_order)) {
            const int32_t *ids, *l;
            const float *wt;
            int64_t n;
            if (!vkft_dataset_example(d, 0, order[*at], &ids, &l, &wt, &n)) exit(2);
            if (*off == 0) e->examples++;
            e->task[r] = 0;
            int64_t take = n - *off < T - p ? n - *off : T - p;
            for (int64_t t = 0; t < take; t++) {
                e->tok[r * T + p + t] = ids[*off + t];
                lab[p + t] = l[*off + t];
                w[p + t] = wt[*off + t];
                e->seg[r * T + p + t] = seg;
            }
            p += take;
            *off += take;
            seg++;
            if (*off == n || !packing) {
                *off = 0;
                (*at)++;
            }
            if (!packing) break;
        }
        e->real += p;
        for (int64_t t = 0; t < T; t++) {
            int64_t i = r * T + t;
            if (t >= p) e->tok[i] = pad, e->seg[i] = -1;
            e->km[i] = t < p ? 1.0f : 0.0f;
            int64_t src = first_target ? t : t + 1;   /* whose label position t trains on */
            e->lab[i] = src < p ? lab[src] : VKFT_IGNORE_INDEX;
            e->w[i] = src < p ? w[src] : 0.0f;
            e->tt[i] = e->lab[i] == VKFT_IGNORE_INDEX ? -1 : 0;
            e->targets += e->lab[i] != VKFT_IGNORE_INDEX;
            e->wsum += e->w[i];
        }
    }
}

static bool same(const expected *e, const vkft_batch *b, int64_t rows, int64_t T, bool opt)
{
    for (int64_t i = 0; i < rows * T; i++) {
        if (b->tokens[i] != e->tok[i] || b->labels[i] != e->lab[i] || b->weights[i] != e->w[i] ||
            (opt && (b->segment[i] != e->seg[i] || b->key_mask[i] != e->km[i] ||
                     b->token_task[i] != e->tt[i]))) {
            fprintf(stderr, "row %lld pos %lld: got tok %d lab %d w %g seg %d km %g tt %d, "
                    "expected %d %d %g %d %g %d\n", (long long)(i / T), (long long)(i % T),
                    b->tokens[i], b->labels[i], (double)b->weights[i], opt ? b->segment[i] : 0,
                    opt ? (double)b->key_mask[i] : 0.0, opt ? b->token_task[i] : 0, e->tok[i],
                    e->lab[i], (double)e->w[i], e->seg[i], (double)e->km[i], e->tt[i]);
            return false;
        }
    }
    for (int64_t r = 0; r < rows; r++)
        if (b->task[r] != e->task[r]) {
            fprintf(stderr, "row %lld: task %d, expected %d\n", (long long)r, b->task[r],
                    e->task[r]);
            return false;
        }
    if (b->examples != e->examples || b->real_tokens != e->real ||
        b->target_tokens != e->targets || b->weight_sum != e->wsum) {
        fprintf(stderr, "counts: examples %lld real %lld targets %lld wsum %g, expected %lld "
                "%lld %lld %g\n", (long long)b->examples, (long long)b->real_tokens,
                (long long)b->target_tokens, b->weight_sum, (long long)e->examples,
                (long long)e->real, (long long)e->targets, e->wsum);
        return false;
    }
    return true;
}

static expected exp_buf;

/* One example per row: truncation, padding, shift, file order wrapping over 3 epochs. */
static void test_plain(void)
{
    const int lens[] = {5, 12, 3};
    const char *path = write_examples("plain.jsonl", lens, 3);
    const int64_t T = 8;
    vkft_dataset *d = open_tokens(path, T, false, false, 0, -1);
    if (!d) return;
    vkft_data_stats s;
    vkft_dataset_stats(d, 0, &s);
    CHECK(s.examples == 3 && s.tokens == 20 && s.truncated == 1 && s.longest == 12);
    CHECK(s.target_tokens == 3 + 10 + 1);
    const int64_t order[] = {0, 1, 2, 0, 1, 2, 0, 1, 2};
    int64_t at = 0, off = 0;
    dt_batch b;
    dt_batch_alloc(&b, 2, T, true);
    vkft_err err;
    for (int step = 0; step < 4; step++) {
        CHECK_ST(vkft_dataset_next_batch(d, 2, &b.b, &err), err);
        oracle(d, order, &at, &off, 2, T, false, 0, false, 9, &exp_buf);
        CHECK(b.b.rows == 2);
        CHECK(same(&exp_buf, &b.b, 2, T, true));
    }
    /* exact values for the first example's row, by hand: [100..104, pad 0 x3] */
    vkft_dataset_rewind(d);
    CHECK_ST(vkft_dataset_next_batch(d, 1, &b.b, &err), err);
    const int32_t tok0[8] = {100, 101, 102, 103, 104, 0, 0, 0};
    const int32_t lab0[8] = {-100, 102, 103, 104, -100, -100, -100, -100};
    const float w0[8] = {0, 1, 1, 1, 0, 0, 0, 0};
    CHECK(memcmp(b.b.tokens, tok0, sizeof tok0) == 0);
    CHECK(memcmp(b.b.labels, lab0, sizeof lab0) == 0);
    CHECK(memcmp(b.b.weights, w0, sizeof w0) == 0);
    CHECK(b.b.target_tokens == 3 && b.b.weight_sum == 3.0 && b.b.real_tokens == 5);
    /* the truncated example: 8 of 12 tokens, the last position has no target */
    CHECK_ST(vkft_dataset_next_batch(d, 1, &b.b, &err), err);
    CHECK(b.b.tokens[7] == 207 && b.b.labels[6] == 207 && b.b.labels[7] == -100);
    /* the comparison can fail: one wrong weight is caught */
    at = 1, off = 0;
    oracle(d, order, &at, &off, 1, T, false, 0, false, 9, &exp_buf);
    CHECK(same(&exp_buf, &b.b, 1, T, true));
    b.b.weights[3] = 0.5f;
    CHECK(!same(&exp_buf, &b.b, 1, T, true));
    /* position after 1 + 1 rows: epoch 0, position 2 */
    vkft_dataset_stats(d, 0, &s);
    CHECK(s.epoch == 0 && s.position == 2);
    dt_batch_free(&b);
    vkft_dataset_free(d);
    /* an explicit pad id; optional arrays left out */
    d = open_tokens(path, T, false, false, 0, 7);
    if (!d) return;
    dt_batch_alloc(&b, 1, T, false);
    CHECK_ST(vkft_dataset_next_batch(d, 1, &b.b, &err), err);
    CHECK(b.b.tokens[5] == 7 && b.b.tokens[7] == 7);
    dt_batch_free(&b);
    vkft_dataset_free(d);
}

/* Packing: rows are consecutive T-token windows of the example stream; no padding. */
static void test_packing(void)
{
    const int lens[] = {5, 12, 3};
    const char *path = write_examples("pack.jsonl", lens, 3);
    const int64_t T = 8;
    vkft_dataset *d = open_tokens(path, T, true, false, 0, -1);
    if (!d) return;
    vkft_data_stats s;
    vkft_dataset_stats(d, 0, &s);
    CHECK(s.truncated == 0);
    int64_t order[32];
    for (int i = 0; i < 32; i++) order[i] = i % 3;
    int64_t at = 0, off = 0;
    dt_batch b;
    dt_batch_alloc(&b, 3, T, true);
    vkft_err err;
    for (int step = 0; step < 5; step++) {
        CHECK_ST(vkft_dataset_next_batch(d, 3, &b.b, &err), err);
        oracle(d, order, &at, &off, 3, T, true, 0, false, 32, &exp_buf);
        CHECK(same(&exp_buf, &b.b, 3, T, true));
        CHECK(b.b.real_tokens == 3 * T);
    }
    /* by hand, row 0: example 0 (5 tokens) then example 1's first 3 */
    vkft_dataset_rewind(d);
    CHECK_ST(vkft_dataset_next_batch(d, 1, &b.b, &err), err);
    const int32_t tok0[8] = {100, 101, 102, 103, 104, 200, 201, 202};
    const int32_t lab0[8] = {-100, 102, 103, 104, -100, -100, 202, -100};
    const int32_t seg0[8] = {0, 0, 0, 0, 0, 1, 1, 1};
    CHECK(memcmp(b.b.tokens, tok0, sizeof tok0) == 0);
    CHECK(memcmp(b.b.labels, lab0, sizeof lab0) == 0);
    CHECK(memcmp(b.b.segment, seg0, sizeof seg0) == 0);
    CHECK(b.b.examples == 2);
    dt_batch_free(&b);
    vkft_dataset_free(d);
}

/* Shuffle: each epoch visits every example once; the same seed gives the same order. */
static void shuffled_order(uint64_t seed, int64_t *out, int n)
{
    const int lens[] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    const char *path = write_examples("shuf.jsonl", lens, 10);
    vkft_dataset *d = open_tokens(path, 4, false, true, seed, -1);
    if (!d) return;
    dt_batch b;
    dt_batch_alloc(&b, 1, 4, false);
    vkft_err err;
    for (int i = 0; i < n; i++) {
        CHECK_ST(vkft_dataset_next_batch(d, 1, &b.b, &err), err);
        out[i] = b.b.tokens[0] / 100 - 1;
    }
    dt_batch_free(&b);
    vkft_dataset_free(d);
}

static void test_shuffle(void)
{
    int64_t a[30], b[30], c[30];
    shuffled_order(7, a, 30);
    shuffled_order(7, b, 30);
    shuffled_order(8, c, 30);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    for (int e = 0; e < 3; e++) {
        int seen[10] = {0};
        for (int i = 0; i < 10; i++) {
            int64_t k = a[e * 10 + i];
            CHECK(k >= 0 && k < 10);
            if (k >= 0 && k < 10) seen[k]++;
        }
        for (int k = 0; k < 10; k++) CHECK(seen[k] == 1);
    }
    /* a new permutation each epoch, and not the file order */
    CHECK(memcmp(a, a + 10, 10 * sizeof a[0]) != 0);
    CHECK(memcmp(a + 10, a + 20, 10 * sizeof a[0]) != 0);
    int64_t id[10];
    for (int i = 0; i < 10; i++) id[i] = i;
    CHECK(memcmp(a, id, sizeof id) != 0);
}

/* Eval: every example once in file order, the last batch padded, then done. */
static void test_eval(bool packing)
{
    const int lens[] = {5, 12, 3, 4, 6};
    const char *path = write_examples("eval.jsonl", lens, 5);
    const int64_t T = 8;
    vkft_dataset *d = open_tokens(path, T, packing, true, 3, -1);
    if (!d) return;
    const int64_t order[] = {0, 1, 2, 3, 4};
    int64_t at = 0, off = 0, rows_seen = 0;
    dt_batch b;
    dt_batch_alloc(&b, 2, T, true);
    vkft_err err;
    bool done = false;
    int calls = 0;
    vkft_dataset_eval_reset(d);
    while (calls++ < 20) {
        CHECK_ST(vkft_dataset_eval_next(d, 2, &b.b, &done, &err), err);
        if (done) break;
        oracle(d, order, &at, &off, 2, T, packing, 0, true, 5, &exp_buf);
        CHECK(same(&exp_buf, &b.b, 2, T, true));
        rows_seen += b.b.rows;
    }
    CHECK(done && b.b.rows == 0);
    CHECK(at == 5);
    /* 5 rows unpacked (one padded row at the end); packed: 30 tokens → 4 rows */
    CHECK(rows_seen == (packing ? 4 : 5));
    CHECK(calls == (packing ? 3 : 4));
    /* the training cursor is untouched: its first batch is the start of epoch 0 */
    vkft_data_stats s;
    vkft_dataset_stats(d, 0, &s);
    CHECK(s.epoch == 0 && s.position == 0);
    /* reset walks it again */
    vkft_dataset_eval_reset(d);
    CHECK_ST(vkft_dataset_eval_next(d, 2, &b.b, &done, &err), err);
    CHECK(!done && b.b.rows == 2 && b.b.tokens[0] == 100);
    dt_batch_free(&b);
    vkft_dataset_free(d);
}

/* first_target: rows are not shifted, so a row's first token is a target too (with its own
 * weight), plain and packed, in training and eval order; the counts include it. */
static void test_first_target(void)
{
    static const char text[] =
        "{\"input_ids\": [10, 11, 12], \"labels\": [10, 11, 12]}\n"
        "{\"input_ids\": [20, 21, 22, 23, 24, 25], \"labels\": [-100, 21, 22, 23, 24, 25]}\n";
    const char *path = dt_write("first.jsonl", text);
    const int64_t T = 4;
    first_target = true;
    vkft_dataset *d = open_tokens(path, T, false, false, 0, -1);
    vkft_dataset *pk = open_tokens(path, T, true, false, 0, -1);
    first_target = false;
    vkft_dataset *sh = open_tokens(path, T, false, false, 0, -1);
    if (!d || !pk || !sh) return;
    dt_batch b;
    dt_batch_alloc(&b, 2, T, true);
    vkft_err err;
    CHECK_ST(vkft_dataset_next_batch(d, 2, &b.b, &err), err);
    const int32_t lab[8] = {10, 11, 12, -100, -100, 21, 22, 23};
    const int32_t tt[8] = {0, 0, 0, -1, -1, 0, 0, 0};
    const float w[8] = {1, 1, 1, 0, 0, 1, 1, 1};
    CHECK(memcmp(b.b.labels, lab, sizeof lab) == 0 && memcmp(b.b.weights, w, sizeof w) == 0);
    CHECK(memcmp(b.b.token_task, tt, sizeof tt) == 0);
    CHECK(b.b.target_tokens == 6 && b.b.weight_sum == 6.0 && b.b.real_tokens == 7);
    /* the shifted rows of the same data have one target fewer per row (and can differ) */
    CHECK_ST(vkft_dataset_next_batch(sh, 2, &b.b, &err), err);
    CHECK(b.b.target_tokens == 5 && b.b.labels[0] == 11);
    /* packed: rows cut anywhere, each row's first token a target when it has a label */
    int64_t order[16];
    for (int i = 0; i < 16; i++) order[i] = i % 2;
    int64_t at = 0, off = 0;
    first_target = true;
    for (int step = 0; step < 4; step++) {
        CHECK_ST(vkft_dataset_next_batch(pk, 2, &b.b, &err), err);
        oracle(pk, order, &at, &off, 2, T, true, 0, false, 16, &exp_buf);
        CHECK(same(&exp_buf, &b.b, 2, T, true));
    }
    vkft_dataset_rewind(pk);
    CHECK_ST(vkft_dataset_next_batch(pk, 2, &b.b, &err), err);
    const int32_t plab[8] = {10, 11, 12, -100, 21, 22, 23, 24};
    CHECK(memcmp(b.b.labels, plab, sizeof plab) == 0 && b.b.target_tokens == 7);
    /* eval order too */
    bool done = false;
    at = 0, off = 0;
    const int64_t eorder[2] = {0, 1};
    CHECK_ST(vkft_dataset_eval_next(d, 2, &b.b, &done, &err), err);
    oracle(d, eorder, &at, &off, 2, T, false, 0, true, 2, &exp_buf);
    CHECK(!done && same(&exp_buf, &b.b, 2, T, true));
    first_target = false;
    /* and the oracle comparison can fail: the shifted expectation does not match */
    at = 0, off = 0;
    oracle(d, eorder, &at, &off, 2, T, false, 0, true, 2, &exp_buf);
    CHECK(!same(&exp_buf, &b.b, 2, T, true));
    dt_batch_free(&b);
    vkft_dataset_free(d);
    vkft_dataset_free(pk);
    vkft_dataset_free(sh);
}

static void test_bad_calls(void)
{
    const int lens[] = {3};
    const char *path = write_examples("one.jsonl", lens, 1);
    vkft_dataset *d = open_tokens(path, 4, false, false, 0, -1);
    if (!d) return;
    dt_batch b;
    dt_batch_alloc(&b, 1, 4, false);
    vkft_err err;
    CHECK(vkft_dataset_next_batch(d, 0, &b.b, &err) == VKFT_ERR_INVALID_ARG);
    int32_t *task = b.b.task;
    b.b.task = NULL;
    CHECK(vkft_dataset_next_batch(d, 1, &b.b, &err) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "task") != NULL);
    b.b.task = task;
    /* failed calls did not move the cursor */
    vkft_data_stats s;
    vkft_dataset_stats(d, 0, &s);
    CHECK(s.position == 0 && s.epoch == 0);
    dt_batch_free(&b);
    vkft_dataset_free(d);
}

int main(void)
{
    test_plain();
    test_packing();
    test_shuffle();
    test_eval(false);
    test_eval(true);
    test_first_target();
    test_bad_calls();
    dt_cleanup();
    if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
    return test_failures ? 1 : 0;
}
