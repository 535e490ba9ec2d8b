/*
 * embedding and embedding_backward: f32/f16/bf16 tables, repeated and out-of-range ids, odd H
 * (1, 7, 33, 4095), rows no id names, Vulkan vs CPU, the gradient of the table vs finite
 * differences, the split path (runs with VKFT_MAX_BUFFER_RANGE=4096: tables and outputs here
 * are bigger than 4 KiB, so they go in chunks of rows and tokens; a row that cannot fit must
 * fail with VKFT_ERR_LIMIT) and bad input.
 * Tolerances: the forward op copies (16-bit values convert exactly): bit-exact. The backward op
 * sums each row's tokens in token order on both devices: bit-exact without a split; a split
 * adds per-chunk sums, a different grouping: atol 1e-6 rtol 1e-6 (dy is O(1), few repeats).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_device.h"
#include "test_util.h"

static uint64_t rng = 23;
static uint64_t max_range;  /* VKFT_MAX_BUFFER_RANGE when set (split runs), else 0 */

static bool row_fits(uint64_t bytes) { return !max_range || bytes + 16 <= max_range; }

/* ids: mostly in [0, vocab), some repeated, some out of range (-1, vocab, 1000000). */
static test_io make_ids(int ndim, const int64_t *shape, int64_t vocab, int64_t distinct) {
    test_io ids = test_io_new(VKFT_I32, ndim, shape);
    int32_t *d = ids.data;
    for (size_t i = 0; i < test_io_numel(&ids); i++) {
        uint64_t r = test_rand_u64(&rng);
        d[i] = (int32_t)(r % (uint64_t)distinct * (uint64_t)vocab / (uint64_t)distinct);
        if (r % 17 == 3) d[i] = -1;
        if (r % 19 == 5) d[i] = (int32_t)vocab;
        if (r % 23 == 7) d[i] = 1000000;
    }
    return ids;
}

static test_io make_table(vkft_dtype dt, int64_t vocab, int64_t h) {
    int64_t shape[2] = {vocab, h};
    test_io t = test_io_new(dt, 2, shape);
    for (size_t i = 0; i < (size_t)(vocab * h); i++) {
        float v = test_rand_normal(&rng);
        if (dt == VKFT_F32) ((float *)t.data)[i] = v;
        else if (dt == VKFT_F16) ((uint16_t *)t.data)[i] = vkft_f32_to_f16(v);
        else ((uint16_t *)t.data)[i] = vkft_f32_to_bf16(v);
    }
    return t;
}

static void test_embedding(test_env *env, vkft_dtype dt, int ndim, const int64_t *ishape,
                           int64_t vocab, int64_t h, int64_t distinct, bool fd) {
    test_io in[2] = {make_ids(ndim, ishape, vocab, distinct), make_table(dt, vocab, h)};
    test_io out = {.dtype = VKFT_F32, .ndim = ndim + 1};
    memcpy(out.shape, ishape, sizeof(int64_t) * (size_t)ndim);
    out.shape[ndim] = h;
    size_t n = test_io_numel(&in[0]);
    char what[128];
    snprintf(what, sizeof what, "embedding %s [%zu tokens] table [%lld, %lld]",
             vkft_dtype_name(dt), n, (long long)vocab, (long long)h);
    bool fits = row_fits((uint64_t)h * 4);
    if (fits) {
        test_vk_vs_cpu(env, what, VKFT_OP_EMBEDDING, NULL, in, 2, &out, 1, 0, 0);
    } else if (env->vk) {
        test_io o = out;
        CHECK(test_run_op(env->vk, VKFT_OP_EMBEDDING, NULL, in, 2, &o, 1, NULL) ==
              VKFT_ERR_LIMIT);
        CHECK(strstr(vkft_device_error(env->vk), "embedding") != NULL);
    }
    /* direct: each output row is its table row or zeros */
    test_io o = out;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_EMBEDDING, NULL, in, 2, &o, 1, NULL), env->cpu);
    const int32_t *ids = in[0].data;
    for (size_t t = 0; o.data && t < n; t++) {
        for (int64_t c = 0; c < h; c += h > 8 ? h / 7 : 1) {
            int32_t id = ids[t];
            float want = 0.0f;
            if (id >= 0 && id < vocab) {
                size_t e = (size_t)id * (size_t)h + (size_t)c;
                want = dt == VKFT_F32 ? ((float *)in[1].data)[e]
                       : dt == VKFT_F16 ? vkft_f16_to_f32(((uint16_t *)in[1].data)[e])
                                        : vkft_bf16_to_f32(((uint16_t *)in[1].data)[e]);
            }
            CHECK(((float *)o.data)[t * (size_t)h + (size_t)c] == want);
        }
    }
    test_io_free(&o);

    /* backward */
    test_io dy = test_io_new(VKFT_F32, ndim + 1, out.shape);
    test_fill_normal(&rng, dy.data, test_io_numel(&dy), 1.0f);
    vkft_embedding_backward_params bp = {.vocab = vocab};
    test_io bin[2] = {dy, in[0]};
    test_io dt_out = {.dtype = VKFT_F32, .ndim = 2, .shape = {vocab, h}};
    snprintf(what, sizeof what, "embedding_backward [%zu tokens] dtable [%lld, %lld]", n,
             (long long)vocab, (long long)h);
    if (fits) {
        float tol = max_range ? 1e-6f : 0.0f;
        test_vk_vs_cpu(env, what, VKFT_OP_EMBEDDING_BACKWARD, &bp, bin, 2, &dt_out, 1, tol, tol);
    } else if (env->vk) {
        test_io g = dt_out;
        CHECK(test_run_op(env->vk, VKFT_OP_EMBEDDING_BACKWARD, &bp, bin, 2, &g, 1, NULL) ==
              VKFT_ERR_LIMIT);
        CHECK(strstr(vkft_device_error(env->vk), "embedding_backward") != NULL);
    }
    test_io g = dt_out;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_EMBEDDING_BACKWARD, &bp, bin, 2, &g, 1, NULL),
             env->cpu);
    if (g.data) {
        /* direct: row v = sum of dy over tokens with id v in token order; others 0 */
        for (int64_t v = 0; v < vocab; v += vocab > 50 ? vocab / 23 : 1) {
            float want = 0.0f;
            for (size_t t = 0; t < n; t++)
                if (ids[t] == v) want += ((float *)dy.data)[t * (size_t)h];
            CHECK(((float *)g.data)[v * h] == want);
        }
        /* the table's gradient by finite differences (embedding is linear in the table) */
        float *proj[1] = {dy.data};
        if (fd && dt == VKFT_F32)
            test_grad_fd(env, what, VKFT_OP_EMBEDDING, NULL, in, 2, &out, 1, proj, 1, g.data,
                         1e-2f, 1e-3f, 1e-3f, 48);
    }
    test_io_free(&g);
    test_io_free(&dy);
    test_io_free(&in[0]);
    test_io_free(&in[1]);
}

static void test_bad_input(test_env *env) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *idf, *ids, *tab, *out, *dy;
    int64_t si[1] = {5}, st[2] = {10, 4}, so[2] = {5, 4}, sd[2] = {6, 4};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 1, si, &idf), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_I32, 1, si, &ids), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, st, &tab), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, so, &out), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sd, &dy), dev);
    vkft_tensor *in[2] = {idf, tab};
    CHECK(vkft_op_run(dev, VKFT_OP_EMBEDDING, NULL, in, 2, &out, 1) == VKFT_ERR_DTYPE);
    CHECK(strstr(vkft_device_error(dev), "embedding") && strstr(vkft_device_error(dev), "ids"));
    in[0] = ids;
    in[1] = ids;
    CHECK(vkft_op_run(dev, VKFT_OP_EMBEDDING, NULL, in, 2, &out, 1) == VKFT_ERR_DTYPE);
    vkft_embedding_backward_params bp = {.vocab = 10};
    vkft_tensor *bin[2] = {dy, ids};
    CHECK(vkft_op_run(dev, VKFT_OP_EMBEDDING_BACKWARD, &bp, bin, 2, &tab, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "embedding_backward") != NULL);
    vkft_tensor_destroy(idf);
    vkft_tensor_destroy(ids);
    vkft_tensor_destroy(tab);
    vkft_tensor_destroy(out);
    vkft_tensor_destroy(dy);
}

int main(void) {
    const char *mr = getenv("VKFT_MAX_BUFFER_RANGE");
    max_range = mr ? strtoull(mr, NULL, 10) : 0;
    test_env env;
    test_env_open(&env);
    test_embedding(&env, VKFT_F32, 2, (int64_t[]){2, 40}, 50, 33, 12, true);
    test_embedding(&env, VKFT_F16, 2, (int64_t[]){3, 50}, 300, 7, 40, false);
    test_embedding(&env, VKFT_BF16, 1, (int64_t[]){77}, 300, 7, 300, false);
    test_embedding(&env, VKFT_F32, 1, (int64_t[]){500}, 2000, 1, 2000, true);
    test_embedding(&env, VKFT_F16, 3, (int64_t[]){2, 3, 5}, 3, 4095, 3, false);
    test_embedding(&env, VKFT_F32, 2, (int64_t[]){4, 300}, 500, 16, 100, true);
    test_embedding(&env, VKFT_F32, 1, (int64_t[]){1}, 1, 1, 1, true);
    test_bad_input(&env);
    return test_finish(&env);
}
