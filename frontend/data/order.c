/*
 * The order of training examples and the cursor that records it.
 *
 * Each source walks its examples epoch after epoch: in file order, or (shuffle) in a
 * permutation that is a pure function of (seed, source index, epoch), so it needs no saved
 * state. With several sources a sampler (vkft_rng, state {seed, counter}) picks the source of
 * each example with the mix probabilities. The cursor is therefore: per source (epoch,
 * position), the sampler's counter, and the packing carry (an example partly put in a row).
 *
 * Mix probabilities: p_i ∝ b_i^(1/T), b_i = the source's weight when every source has one,
 * else its number of examples; T = mix_temperature (1: proportional; large: uniform).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

uint64_t data_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;          /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A stream seed for (seed, purpose, a, b): distinct purposes never share a stream. */
static uint64_t derive(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    uint64_t k[4] = {seed, purpose, a, b};
    return data_hash_bytes(k, sizeof k);
}

enum { PURPOSE_PERM = 1, PURPOSE_MIX = 2 };

/* Fills source i's permutation for its current epoch (shuffle only). */
static void make_perm(vkft_dataset *d, int i)
{
    data_source *s = &d->src[i];
    if (!s->perm) return;
    for (int64_t j = 0; j < s->store.n_examples; j++) s->perm[j] = (uint32_t)j;
    vkft_rng r;
    vkft_rng_init(&r, derive(d->opt.seed, PURPOSE_PERM, (uint64_t)i, (uint64_t)s->epoch));
    vkft_rng_shuffle_u32(&r, s->perm, (size_t)s->store.n_examples);
}

void vkft_dataset_rewind(vkft_dataset *d)
{
    for (int i = 0; i < d->n; i++) {
        d->src[i].epoch = 0;
        d->src[i].pos = 0;
        make_perm(d, i);
    }
    vkft_rng_init(&d->sampler, derive(d->opt.seed, PURPOSE_MIX, 0, 0));
    memset(&d->carry, 0, sizeof d->carry);
}

vkft_status data_order_init(vkft_dataset *d, vkft_err *err)
{
    int given = 0;
    for (int i = 0; i < d->n; i++) given += d->src[i].weight > 0.0f;
    if (given != 0 && given != d->n) {
        for (int i = 0; i < d->n; i++)
            if (d->src[i].weight <= 0.0f)
                return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: no weight; give a weight "
                                    "to every dataset of the mix or to none", d->src[i].path);
    }
    d->cum = malloc((size_t)d->n * sizeof *d->cum);
    if (!d->cum) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "datasets: out of memory");
    double total = 0.0, inv_t = 1.0 / (double)d->opt.mix_temperature;
    for (int i = 0; i < d->n; i++) {
        double b = given ? (double)d->src[i].weight : (double)d->src[i].store.n_examples;
        d->src[i].prob = pow(b, inv_t);
        total += d->src[i].prob;
    }
    if (!(total > 0.0) || !isfinite(total))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "datasets: mix weights ^ (1/%g) do not "
                            "sum to a positive finite number", (double)d->opt.mix_temperature);
    double acc = 0.0;
    for (int i = 0; i < d->n; i++) {
        d->src[i].prob /= total;
        acc += d->src[i].prob;
        d->cum[i] = acc;
    }
    d->cum[d->n - 1] = 1.0;
    for (int i = 0; i < d->n; i++) {
        data_source *s = &d->src[i];
        if (s->store.n_examples > (int64_t)UINT32_MAX)
            return vkft_err_set(err, VKFT_ERR_LIMIT, "%s: more than 2^32-1 examples", s->path);
        if (d->opt.shuffle) {
            s->perm = malloc((size_t)s->store.n_examples * sizeof *s->perm);
            if (!s->perm) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory",
                                              s->path);
        }
        s->stats.probability = s->prob;
    }
    vkft_dataset_rewind(d);
    vkft_dataset_eval_reset(d);
    return VKFT_OK;
}

void data_order_next(vkft_dataset *d, int *src, int64_t *ex)
{
    int i = 0;
    if (d->n > 1) {
        double u = vkft_rng_uniform(&d->sampler);
        while (i < d->n - 1 && u >= d->cum[i]) i++;
    }
    data_source *s = &d->src[i];
    *src = i;
    *ex = s->perm ? (int64_t)s->perm[s->pos] : s->pos;
    if (++s->pos == s->store.n_examples) {
        s->pos = 0;
        s->epoch++;
        make_perm(d, i);
    }
}

/* ---- cursor ---- */

static void hex64(vkft_json_writer *w, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%016" PRIx64, v);
    vkft_json_str(w, buf);
}

void vkft_dataset_cursor_write(const vkft_dataset *d, vkft_json_writer *w)
{
    vkft_json_obj_begin(w);
    vkft_json_key(w, "version");
    vkft_json_int(w, 1);
    vkft_json_key(w, "seed");
    hex64(w, d->opt.seed);
    vkft_json_key(w, "shuffle");
    vkft_json_bool(w, d->opt.shuffle);
    vkft_json_key(w, "packing");
    vkft_json_bool(w, d->opt.packing);
    vkft_json_key(w, "seq_len");
    vkft_json_int(w, d->opt.seq_len);
    vkft_json_key(w, "sampler_counter");
    hex64(w, d->sampler.counter);
    vkft_json_key(w, "sources");
    vkft_json_arr_begin(w);
    for (int i = 0; i < d->n; i++) {
        const data_source *s = &d->src[i];
        vkft_json_obj_begin(w);
        vkft_json_key(w, "task");
        vkft_json_str(w, s->task);
        vkft_json_key(w, "hash");
        hex64(w, s->stats.content_hash);
        vkft_json_key(w, "examples");
        vkft_json_int(w, s->store.n_examples);
        vkft_json_key(w, "epoch");
        vkft_json_int(w, s->epoch);
        vkft_json_key(w, "position");
        vkft_json_int(w, s->pos);
        vkft_json_obj_end(w);
    }
    vkft_json_arr_end(w);
    vkft_json_key(w, "carry");
    if (d->carry.active) {
        vkft_json_obj_begin(w);
        vkft_json_key(w, "source");
        vkft_json_int(w, d->carry.src);
        vkft_json_key(w, "example");
        vkft_json_int(w, d->carry.ex);
        vkft_json_key(w, "offset");
        vkft_json_int(w, d->carry.off);
        vkft_json_obj_end(w);
    } else {
        vkft_json_null(w);
    }
    vkft_json_obj_end(w);
}

static bool read_hex64(const vkft_json *v, uint64_t *out)
{
    const char *s = vkft_json_get_str(v);
    if (!s || v->len == 0 || v->len > 16) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        char c = s[i];
        int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (digit < 0) return false;
        x = x << 4 | (uint64_t)digit;
    }
    *out = x;
    return true;
}

/* An integer member in [lo, hi], or an error naming the key. */
static vkft_status get_range(const vkft_json *obj, const char *key, int64_t lo, int64_t hi,
                             int64_t *out, vkft_err *err)
{
    const vkft_json *v = vkft_json_get(obj, key);
    if (!vkft_json_get_int(v, out) || *out < lo || *out > hi)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "data cursor: key '%s' must be an "
                            "integer in [%lld, %lld]", key, (long long)lo, (long long)hi);
    return VKFT_OK;
}

#define CUR_ERR(...) vkft_err_set(err, VKFT_ERR_INVALID_ARG, "data cursor: " __VA_ARGS__)

vkft_status vkft_dataset_cursor_read(vkft_dataset *d, const vkft_json *v, vkft_err *err)
{
    int64_t x;
    uint64_t u, counter;
    bool b;
    vkft_status st;
    if (!d || !v || v->type != VKFT_JSON_OBJECT) return CUR_ERR("expected an object");
    if ((st = get_range(v, "version", 1, 1, &x, err))) return st;
    if (!read_hex64(vkft_json_get(v, "seed"), &u)) return CUR_ERR("key 'seed' is not hex");
    if (u != d->opt.seed)
        return CUR_ERR("saved with seed %" PRIu64 ", this run has %" PRIu64, u, d->opt.seed);
    if (!vkft_json_get_bool(vkft_json_get(v, "shuffle"), &b) || b != d->opt.shuffle)
        return CUR_ERR("key 'shuffle' missing or different from this run's");
    if (!vkft_json_get_bool(vkft_json_get(v, "packing"), &b) || b != d->opt.packing)
        return CUR_ERR("key 'packing' missing or different from this run's");
    if ((st = get_range(v, "seq_len", 2, INT32_MAX, &x, err))) return st;
    if (d->opt.packing && x != d->opt.seq_len)
        return CUR_ERR("saved with seq_len %lld, this run packs %lld", (long long)x,
                       (long long)d->opt.seq_len);
    if (!read_hex64(vkft_json_get(v, "sampler_counter"), &counter))
        return CUR_ERR("key 'sampler_counter' is not hex");
    const vkft_json *srcs = vkft_json_get(v, "sources");
    if (!srcs || srcs->type != VKFT_JSON_ARRAY || srcs->len != (size_t)d->n)
        return CUR_ERR("key 'sources' must list %d datasets", d->n);
    int64_t epoch[VKFT_DATA_MAX_SOURCES], pos[VKFT_DATA_MAX_SOURCES];
    for (int i = 0; i < d->n; i++) {
        const vkft_json *s = &srcs->items[i];
        const data_source *ds = &d->src[i];
        if (!read_hex64(vkft_json_get(s, "hash"), &u) || u != ds->stats.content_hash)
            return CUR_ERR("%s changed since the cursor was saved (content hash differs)",
                           ds->path);
        if ((st = get_range(s, "examples", ds->store.n_examples, ds->store.n_examples, &x,
                            err)) ||
            (st = get_range(s, "epoch", 0, INT64_MAX, &epoch[i], err)) ||
            (st = get_range(s, "position", 0, ds->store.n_examples - 1, &pos[i], err)))
            return vkft_err_prefix(err, st, "%s", ds->path);
    }
    data_carry carry = {0};
    const vkft_json *c = vkft_json_get(v, "carry");
    if (!c) return CUR_ERR("key 'carry' is missing");
    if (c->type != VKFT_JSON_NULL) {
        int64_t src;
        if ((st = get_range(c, "source", 0, d->n - 1, &src, err))) return st;
        const data_store *s = &d->src[src].store;
        if ((st = get_range(c, "example", 0, s->n_examples - 1, &carry.ex, err))) return st;
        int64_t len = s->off[carry.ex + 1] - s->off[carry.ex];
        if ((st = get_range(c, "offset", 0, len - 1, &carry.off, err))) return st;
        carry.src = (int)src;
        carry.active = true;
    }
    /* Everything checked: apply. */
    for (int i = 0; i < d->n; i++) {
        d->src[i].epoch = epoch[i];
        d->src[i].pos = pos[i];
        make_perm(d, i);
    }
    d->sampler.counter = counter;
    d->carry = carry;
    return VKFT_OK;
}

void vkft_dataset_stats(const vkft_dataset *d, int i, vkft_data_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!d) return;
    if (i >= 0 && i < d->n) {
        *out = d->src[i].stats;
        out->epoch = d->src[i].epoch;
        out->position = d->src[i].pos;
        return;
    }
    if (i != -1) return;
    uint64_t hashes[VKFT_DATA_MAX_SOURCES];
    for (int k = 0; k < d->n; k++) {
        const vkft_data_stats *s = &d->src[k].stats;
        out->examples += s->examples;
        out->tokens += s->tokens;
        out->target_tokens += s->target_tokens;
        out->truncated += s->truncated;
        if (s->longest > out->longest) out->longest = s->longest;
        hashes[k] = s->content_hash;
    }
    out->content_hash = data_hash_bytes(hashes, (size_t)d->n * sizeof hashes[0]);
    out->probability = 1.0;
}
