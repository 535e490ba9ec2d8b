/*
 * attention and attention_backward: the CPU forward against a naive softmax in double (GQA with
 * nKV = nH/2 and 1, a prefix of P = 3, key padding masks, non-causal, q_pos_offset > 0 with
 * T < S, T = 1, odd T/S, D = 6, 8, 12, 64, 80, 128, key loops longer than a block), Vulkan vs
 * CPU for both ops, every gradient (q, k, v, prefix_k, prefix_v) against finite differences,
 * rows that see no key (o = 0, lse = +INF, zero gradients, no NaN) and bad shapes.
 * Shapes keep one batch element's q/k/v under 4 KiB, so the split run (buffer range 4096) can
 * run them; "d128" and "decode" (prefix gradients added chunk by chunk) then take two chunks.
 * Kernel families (backend/vulkan/ops_attention.c): on a CPU-shaped driver (or VKFT_KERNEL=cpu)
 * every D % 4 == 0 case runs the texel kernels and "long d6" the storage-buffer ones; with
 * VKFT_KERNEL=gpu every case runs the storage-buffer kernels. The texel backward keeps ds in a
 * scratch of whole batch elements; in the split run "mqa mask" (one batch element's ds is
 * 11.8 KB > 4096) takes its fallback that recomputes the scores in the dq pass.
 *
 * Tolerances:
 *  - CPU vs double reference: the CPU works in f32 (online softmax, expf/logf < 1 ulp), outputs
 *    are convex combinations of O(1) values: atol 2e-5, rtol 1e-4 (lse: atol 2e-5, rtol 1e-5).
 *  - Vulkan vs CPU: same order of accumulation (keys in increasing order, D in increasing
 *    order), but GLSL exp/log on lavapipe and GPUs are a few ulp off libm's and fma may or may
 *    not be fused: o and lse atol 2e-5 rtol 1e-4; gradients sum up to B*T*nH/nKV products of
 *    such terms: atol 1e-4 rtol 1e-3.
 *  - Finite differences (f32 forward, step 1e-2, loss ~10 in magnitude): atol 2e-3 rtol 1e-2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 7;

typedef struct {
    int64_t B, T, S, nh, nkv, d, P;
    bool causal, mask;
    int64_t off;
} shape;

/* The inputs of a forward call: q, k, v, prefix_k, prefix_v, key_mask (absent ones NULL). */
typedef struct { test_io in[6]; vkft_attention_params p; } problem;

static test_io rand_io(int ndim, const int64_t *sh) {
    test_io io = test_io_new(VKFT_F32, ndim, sh);
    test_fill_normal(&rng, io.data, test_io_numel(&io), 1.0f);
    return io;
}

static problem make_problem(const shape *s) {
    problem pr = {.p = {.causal = s->causal, .scale = 1.0f / sqrtf((float)s->d),
                        .q_pos_offset = s->off}};
    pr.in[0] = rand_io(4, (int64_t[]){s->B, s->T, s->nh, s->d});
    pr.in[1] = rand_io(4, (int64_t[]){s->B, s->S, s->nkv, s->d});
    pr.in[2] = rand_io(4, (int64_t[]){s->B, s->S, s->nkv, s->d});
    if (s->P) {
        pr.in[3] = rand_io(3, (int64_t[]){s->P, s->nkv, s->d});
        pr.in[4] = rand_io(3, (int64_t[]){s->P, s->nkv, s->d});
    }
    if (s->mask) {
        /* padding: batch element b keeps its first S - 1 - 2b keys, plus random holes */
        pr.in[5] = test_io_new(VKFT_F32, 2, (int64_t[]){s->B, s->S});
        float *m = pr.in[5].data;
        for (int64_t b = 0; b < s->B; b++)
            for (int64_t j = 0; j < s->S; j++)
                m[b * s->S + j] = j < s->S - 1 - 2 * b && test_rand_u64(&rng) % 5 ? 1.0f : 0.0f;
    }
    return pr;
}

static void free_problem(problem *pr) {
    for (int i = 0; i < 6; i++) test_io_free(&pr->in[i]);
}

static void out_descs(const shape *s, test_io *out) {
    out[0] = (test_io){.dtype = VKFT_F32, .ndim = 4, .shape = {s->B, s->T, s->nh, s->d}};
    out[1] = (test_io){.dtype = VKFT_F32, .ndim = 3, .shape = {s->B, s->nh, s->T}};
}

/* Softmax over the visible keys in double: o [B, T, nH, D], lse [B, nH, T]. */
static void naive_forward(const shape *s, const problem *pr, double *o, double *lse) {
    const float *q = pr->in[0].data, *k = pr->in[1].data, *v = pr->in[2].data;
    const float *pk = pr->in[3].data, *pv = pr->in[4].data, *m = pr->in[5].data;
    int64_t n = s->P + s->S, rep = s->nh / s->nkv, D = s->d;
    double *sc = malloc(sizeof(double) * (size_t)n);
    for (int64_t b = 0; b < s->B; b++)
        for (int64_t t = 0; t < s->T; t++)
            for (int64_t h = 0; h < s->nh; h++) {
                int64_t g = h / rep;
                const float *qr = q + ((b * s->T + t) * s->nh + h) * D;
                double mx = -INFINITY;
                for (int64_t j = 0; j < n; j++) {
                    int64_t sk = j - s->P;
                    bool vis = j < s->P || ((!s->causal || sk <= t + s->off) &&
                                            (!m || m[b * s->S + sk] != 0.0f));
                    const float *kr = j < s->P ? pk + (j * s->nkv + g) * D
                                               : k + ((b * s->S + sk) * s->nkv + g) * D;
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++) dot += (double)qr[d] * kr[d];
                    sc[j] = vis ? dot * pr->p.scale : -INFINITY;
                    if (sc[j] > mx) mx = sc[j];
                }
                double *orow = o + ((b * s->T + t) * s->nh + h) * D, l = 0;
                for (int64_t d = 0; d < D; d++) orow[d] = 0;
                for (int64_t j = 0; j < n && mx > -INFINITY; j++) {
                    if (sc[j] == -INFINITY) continue;
                    double p = exp(sc[j] - mx);
                    int64_t sk = j - s->P;
                    const float *vr = j < s->P ? pv + (j * s->nkv + g) * D
                                               : v + ((b * s->S + sk) * s->nkv + g) * D;
                    l += p;
                    for (int64_t d = 0; d < D; d++) orow[d] += p * vr[d];
                }
                for (int64_t d = 0; d < D && l > 0; d++) orow[d] /= l;
                lse[(b * s->nh + h) * s->T + t] = l > 0 ? mx + log(l) : INFINITY;
            }
    free(sc);
}

static bool finite_all(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i])) return false;
    return true;
}

static void check_case(test_env *env, const char *name, const shape *s, bool fd) {
    problem pr = make_problem(s);
    test_io out[2];
    out_descs(s, out);
    char what[160];
    snprintf(what, sizeof what, "%s B%lld T%lld S%lld nH%lld nKV%lld D%lld P%lld", name,
             (long long)s->B, (long long)s->T, (long long)s->S, (long long)s->nh,
             (long long)s->nkv, (long long)s->d, (long long)s->P);

    /* CPU forward vs the double reference */
    test_io fo[2] = {out[0], out[1]};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_ATTENTION, &pr.p, pr.in, 6, fo, 2, NULL), env->cpu);
    size_t no = test_io_numel(&out[0]), nl = test_io_numel(&out[1]);
    double *ro = malloc(sizeof(double) * no), *rl = malloc(sizeof(double) * nl);
    float *fro = malloc(sizeof(float) * no), *frl = malloc(sizeof(float) * nl);
    naive_forward(s, &pr, ro, rl);
    for (size_t i = 0; i < no; i++) fro[i] = (float)ro[i];
    for (size_t i = 0; i < nl; i++) frl[i] = (float)rl[i];
    char w2[200];
    snprintf(w2, sizeof w2, "%s: o vs reference", what);
    if (fo[0].data) test_compare(w2, fo[0].data, fro, no, 2e-5f, 1e-4f);
    snprintf(w2, sizeof w2, "%s: lse vs reference", what);
    if (fo[1].data) test_compare(w2, fo[1].data, frl, nl, 2e-5f, 1e-5f);

    test_vk_vs_cpu(env, what, VKFT_OP_ATTENTION, &pr.p, pr.in, 6, out, 2, 2e-5f, 1e-4f);

    /* backward: dO random, o and lse from the CPU forward */
    test_io dout = rand_io(4, out[0].shape);
    test_io bin[9] = {dout, pr.in[0], pr.in[1], pr.in[2], pr.in[3], pr.in[4], pr.in[5], fo[0],
                      fo[1]};
    test_io bout[5] = {pr.in[0], pr.in[1], pr.in[2], pr.in[3], pr.in[4]};
    for (int i = 0; i < 5; i++) bout[i].data = NULL;
    if (!s->P) bout[3].ndim = bout[4].ndim = 0;
    snprintf(w2, sizeof w2, "%s backward", what);
    test_vk_vs_cpu(env, w2, VKFT_OP_ATTENTION_BACKWARD, &pr.p, bin, 9, bout, 5, 1e-4f, 1e-3f);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_ATTENTION_BACKWARD, &pr.p, bin, 9, bout, 5, NULL),
             env->cpu);
    for (int i = 0; i < 5; i++)
        if (bout[i].data) CHECK(finite_all(bout[i].data, test_io_numel(&bout[i])));
    static const char *gname[5] = {"dq", "dk", "dv", "dprefix_k", "dprefix_v"};
    float *proj[2] = {dout.data, NULL};   /* L = <dO, o>; lse is not in the loss */
    for (int i = 0; fd && i < 5; i++) {
        if (!bout[i].data) continue;
        snprintf(w2, sizeof w2, "%s %s", what, gname[i]);
        test_grad_fd(env, w2, VKFT_OP_ATTENTION, &pr.p, pr.in, 6, out, 2, proj, i,
                     bout[i].data, 1e-2f, 2e-3f, 1e-2f, 40);
    }
    for (int i = 0; i < 5; i++) test_io_free(&bout[i]);
    test_io_free(&dout);
    free(ro);
    free(rl);
    free(fro);
    free(frl);
    test_io_free(&fo[0]);
    test_io_free(&fo[1]);
    free_problem(&pr);
}

/* Rows that see no key: batch element 1 fully masked, and q_pos_offset = -3 (causal) hides every
 * key from queries 0..2. o = 0, lse = +INF, their gradients 0, nothing NaN. */
static void check_empty_rows(test_env *env) {
    shape s = {.B = 2, .T = 6, .S = 6, .nh = 2, .nkv = 1, .d = 8, .causal = true, .mask = true,
               .off = -3};
    problem pr = make_problem(&s);
    float *m = pr.in[5].data;
    for (int64_t j = 0; j < s.S; j++) m[j] = 1.0f, m[s.S + j] = 0.0f;
    test_io out[2];
    out_descs(&s, out);
    test_vk_vs_cpu(env, "empty rows", VKFT_OP_ATTENTION, &pr.p, pr.in, 6, out, 2, 2e-5f, 1e-4f);
    test_io fo[2] = {out[0], out[1]};
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_ATTENTION, &pr.p, pr.in, 6, fo, 2, NULL), env->cpu);
    if (!fo[0].data || !fo[1].data) return;
    const float *o = fo[0].data, *lse = fo[1].data;
    for (int64_t b = 0; b < s.B; b++)
        for (int64_t h = 0; h < s.nh; h++)
            for (int64_t t = 0; t < s.T; t++) {
                bool empty = b == 1 || t < 3;
                CHECK(empty == (lse[(b * s.nh + h) * s.T + t] == INFINITY));
                for (int64_t d = 0; d < s.d && empty; d++)
                    CHECK(o[((b * s.T + t) * s.nh + h) * s.d + d] == 0.0f);
            }
    test_io dout = rand_io(4, out[0].shape);
    test_io bin[9] = {dout, pr.in[0], pr.in[1], pr.in[2], {0}, {0}, pr.in[5], fo[0], fo[1]};
    test_io bout[5] = {pr.in[0], pr.in[1], pr.in[2], {0}, {0}};
    for (int i = 0; i < 3; i++) bout[i].data = NULL;
    test_vk_vs_cpu(env, "empty rows backward", VKFT_OP_ATTENTION_BACKWARD, &pr.p, bin, 9, bout,
                   5, 1e-4f, 1e-3f);
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_ATTENTION_BACKWARD, &pr.p, bin, 9, bout, 5, NULL),
             env->cpu);
    if (bout[0].data && bout[1].data && bout[2].data) {
        size_t half_q = test_io_numel(&bout[0]) / 2, half_k = test_io_numel(&bout[1]) / 2;
        const float *dq = bout[0].data, *dk = bout[1].data, *dv = bout[2].data;
        for (int i = 0; i < 3; i++) CHECK(finite_all(bout[i].data, test_io_numel(&bout[i])));
        for (size_t i = 0; i < half_q; i++) CHECK(dq[half_q + i] == 0.0f);
        for (size_t i = 0; i < half_k; i++) CHECK(dk[half_k + i] == 0.0f && dv[half_k + i] == 0);
        for (int64_t t = 0; t < 3; t++)   /* queries 0..2 of batch 0 */
            for (int64_t i = 0; i < s.nh * s.d; i++) CHECK(dq[t * s.nh * s.d + i] == 0.0f);
    }
    for (int i = 0; i < 3; i++) test_io_free(&bout[i]);
    test_io_free(&dout);
    test_io_free(&fo[0]);
    test_io_free(&fo[1]);
    free_problem(&pr);
}

/* Runs the forward with the given input shapes; expects VKFT_ERR_SHAPE naming attention. */
static void expect_shape_error(test_env *env, const int64_t *qs, const int64_t *ks,
                               const int64_t *ms) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *q = NULL, *k = NULL, *v = NULL, *m = NULL, *o = NULL, *l = NULL;
    int64_t ls[3] = {qs[0], qs[2], qs[1]};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 4, qs, &q), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 4, ks, &k), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 4, ks, &v), dev);
    if (ms) CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, ms, &m), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 4, qs, &o), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 3, ls, &l), dev);
    vkft_attention_params p = {.causal = true, .scale = 0.5f};
    vkft_tensor *in[6] = {q, k, v, NULL, NULL, m}, *out[2] = {o, l};
    CHECK(vkft_op_run(dev, VKFT_OP_ATTENTION, &p, in, 6, out, 2) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "attention") != NULL);
    vkft_tensor *all[6] = {q, k, v, m, o, l};
    for (int i = 0; i < 6; i++) vkft_tensor_destroy(all[i]);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    /* name, {B, T, S, nH, nKV, D, P, causal, mask, off}, finite differences */
    check_case(&env, "gqa", &(shape){2, 13, 13, 4, 2, 8, 0, true, false, 0}, true);
    check_case(&env, "mqa mask", &(shape){1, 37, 37, 2, 1, 8, 0, true, true, 0}, false);
    check_case(&env, "prefix mask", &(shape){2, 5, 7, 4, 2, 12, 3, true, true, 2}, true);
    check_case(&env, "non-causal", &(shape){1, 5, 13, 2, 1, 64, 0, false, false, 0}, false);
    check_case(&env, "kv cache", &(shape){2, 4, 37, 4, 1, 8, 0, true, true, 33}, true);
    check_case(&env, "decode", &(shape){2, 1, 37, 4, 2, 8, 3, true, true, 36}, false);
    check_case(&env, "d128", &(shape){2, 7, 7, 1, 1, 128, 0, true, false, 0}, false);
    check_case(&env, "d80 prefix", &(shape){1, 9, 9, 1, 1, 80, 3, true, false, 0}, false);
    check_case(&env, "long d6", &(shape){1, 150, 150, 1, 1, 6, 2, true, true, 0}, false);
    check_empty_rows(&env);
    /* nH % nKV != 0; mismatched D; a mask of the wrong shape */
    expect_shape_error(&env, (int64_t[]){1, 4, 3, 8}, (int64_t[]){1, 4, 2, 8}, NULL);
    expect_shape_error(&env, (int64_t[]){1, 4, 2, 8}, (int64_t[]){1, 4, 2, 12}, NULL);
    expect_shape_error(&env, (int64_t[]){1, 4, 2, 8}, (int64_t[]){1, 4, 2, 8},
                       (int64_t[]){1, 5});
    return test_finish(&env);
}
