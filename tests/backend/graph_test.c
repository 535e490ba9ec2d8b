/*
 * Graphs end to end: a two-layer MLP with a frozen input projection and cross-entropy, built
 * with the graph API, differentiated by autograd, planned, compiled and run on the CPU backend
 * and on Vulkan. Checks gradients against finite differences, CPU against Vulkan, determinism of
 * whole training runs, accumulation (2 x 4 == 1 x 8), record-once (steps 2..N create nothing),
 * the planner's reuse and the over-budget refusal; reshapes (COPY) as free views whose storage
 * no in-place op may take over while the view lives.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/plan.h"
#include "test_util.h"
#include "vkft/graph.h"

enum { IN = 6, HID = 5, OUT = 3, FROZEN = 7 };

/* loss = summed cross-entropy of W2 gelu(W1 (W0 x) + b1) + 1e-3 * sum of (h*h)^2 (h used
 * twice); seed = 1 / (count * K), so the gradients are those of loss / (count * K). */
static bool (*build_decays)(const char *name, void *user);  /* build's decay filter */
static float build_wd = 0.01f;                               /* and weight decay */

static vkft_graph *build(int batch, int K, float clip) {
    vkft_graph *g;
    CHECK(vkft_graph_create(&g) == VKFT_OK);
    vkft_value x = vkft_graph_leaf(g, "x", VKFT_ROLE_INPUT, VKFT_F32, 2, (int64_t[]){batch, IN});
    vkft_value labels = vkft_graph_leaf(g, "labels", VKFT_ROLE_INPUT, VKFT_I32, 1,
                                        (int64_t[]){batch});
    vkft_value w0 = vkft_graph_leaf(g, "w0", VKFT_ROLE_WEIGHT, VKFT_F32, 2,
                                    (int64_t[]){FROZEN, IN});
    vkft_value w1 = vkft_graph_leaf(g, "w1", VKFT_ROLE_TRAINABLE, VKFT_F32, 2,
                                    (int64_t[]){HID, FROZEN});
    vkft_value b1 = vkft_graph_leaf(g, "b1", VKFT_ROLE_TRAINABLE, VKFT_F32, 1, (int64_t[]){HID});
    vkft_value w2 = vkft_graph_leaf(g, "w2", VKFT_ROLE_TRAINABLE, VKFT_F32, 2,
                                    (int64_t[]){OUT, HID});
    vkft_matmul_params lin = {.trans_b = true, .alpha = 1.0f};
    vkft_value x0 = vkft_graph_op1(g, VKFT_OP_MATMUL, &lin, (vkft_value[]){x, w0, VKFT_NONE}, 3);
    vkft_value h = vkft_graph_op1(g, VKFT_OP_MATMUL, &lin, (vkft_value[]){x0, w1, VKFT_NONE}, 3);
    h = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){h, b1}, 2);
    h = vkft_graph_op1(g, VKFT_OP_GELU, NULL, &h, 1);
    vkft_value logits = vkft_graph_op1(g, VKFT_OP_MATMUL, &lin,
                                       (vkft_value[]){h, w2, VKFT_NONE}, 3);
    vkft_cross_entropy_params cp = {.ignore_index = -100};
    vkft_value ce[3] = {0, 0, 0};
    CHECK(vkft_graph_op(g, VKFT_OP_CROSS_ENTROPY, &cp, (vkft_value[]){logits, labels, VKFT_NONE},
                        3, ce, 3) == VKFT_OK);
    vkft_value hh = vkft_graph_op1(g, VKFT_OP_MUL, NULL, (vkft_value[]){h, h}, 2);
    vkft_value reg = vkft_graph_op1(g, VKFT_OP_SUM_SQUARES, NULL, &hh, 1);
    vkft_scale_params sp = {.alpha = 1e-3f, .beta = 0.0f};
    reg = vkft_graph_op1(g, VKFT_OP_SCALE, &sp, &reg, 1);
    vkft_value loss = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){ce[0], reg}, 2);
    vkft_value kc = vkft_graph_op1(g, VKFT_OP_SCALE, &(vkft_scale_params){(float)K, 0.0f},
                                   &ce[1], 1);
    vkft_value one = vkft_graph_fill(g, VKFT_F32, 1, (int64_t[]){1}, 1.0f);
    vkft_value seed = vkft_graph_op1(g, VKFT_OP_DIV, NULL, (vkft_value[]){one, kc}, 2);
    CHECK(vkft_graph_keep(g, loss, "loss") == VKFT_OK);
    vkft_status st = vkft_graph_backward(g, loss, seed);
    if (st) fprintf(stderr, "backward: %s\n", vkft_graph_error(g));
    CHECK(st == VKFT_OK);
    CHECK(vkft_graph_grad(g, w0) == VKFT_NONE);  /* frozen: no dW */
    CHECK(vkft_graph_grad(g, w1) != VKFT_NONE && vkft_graph_grad(g, b1) != VKFT_NONE);
    vkft_optimizer_options o = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                .weight_decay = build_wd, .clip = clip,
                                .decays = build_decays};
    CHECK(vkft_graph_optimizer(g, &o) == 1);
    return g;
}

typedef struct { float x[64 * IN]; int32_t labels[64]; float w0[FROZEN * IN];
                 float w1[HID * FROZEN], b1[HID], w2[OUT * HID]; } data;

static void make_data(data *d, int batch) {
    uint64_t r = 99;
    test_fill_normal(&r, d->x, (size_t)batch * IN, 1.0f);
    for (int i = 0; i < batch; i++) d->labels[i] = (int32_t)(test_rand_u64(&r) % OUT);
    test_fill_normal(&r, d->w0, FROZEN * IN, 0.5f);
    test_fill_normal(&r, d->w1, HID * FROZEN, 0.5f);
    test_fill_normal(&r, d->b1, HID, 0.1f);
    test_fill_normal(&r, d->w2, OUT * HID, 0.5f);
}

static vkft_plan *compile(vkft_device *dev, vkft_graph *g, const data *d, int batch) {
    vkft_plan *p = NULL;
    vkft_memory_report rep;
    vkft_status st = vkft_compile(dev, g, NULL, &rep, &p);
    if (st) {
        fprintf(stderr, "compile: %s\n", vkft_device_error(dev));
        test_failures++;
        return NULL;
    }
    CHECK(rep.activations <= rep.activations_no_reuse);
    CHECK(vkft_plan_device_bytes(p) <= rep.total + 4096);
    CHECK(!vkft_plan_upload(p, "w0", d->w0, sizeof d->w0));
    CHECK(!vkft_plan_upload(p, "w1", d->w1, sizeof d->w1));
    CHECK(!vkft_plan_upload(p, "b1", d->b1, sizeof d->b1));
    CHECK(!vkft_plan_upload(p, "w2", d->w2, sizeof d->w2));
    (void)batch;
    return p;
}

static void feed(vkft_plan *p, const data *d, int first, int batch, int step) {
    CHECK(!vkft_plan_upload(p, "x", d->x + first * IN, sizeof(float) * (size_t)batch * IN));
    CHECK(!vkft_plan_upload(p, "labels", d->labels + first, sizeof(int32_t) * (size_t)batch));
    float hyper[2] = {0.05f, (float)step};
    CHECK(!vkft_plan_upload(p, "hyper", hyper, sizeof hyper));
}

static float run_loss(vkft_plan *p) {
    float l = NAN;
    CHECK(vkft_plan_run(p, 0) == VKFT_OK);
    CHECK(!vkft_plan_download(p, "loss", &l, sizeof l));
    return l;
}

/* Gradient of the loss (mean CE + reg) wrt w1 vs central differences through the plan. */
static void test_gradients(vkft_device *dev) {
    enum { B = 8 };
    data d;
    make_data(&d, B);
    vkft_graph *g = build(B, 1, 0.0f);
    vkft_plan *p = compile(dev, g, &d, B);
    if (!p) return;
    feed(p, &d, 0, B, 1);
    run_loss(p);
    float grad[HID * FROZEN], zero[HID * FROZEN] = {0};
    CHECK(!vkft_plan_download(p, "grad:w1", grad, sizeof grad));
    for (int i = 0; i < HID * FROZEN; i += 3) {
        float w[HID * FROZEN];
        memcpy(w, d.w1, sizeof w);
        const float eps = 1e-2f;
        w[i] += eps;
        CHECK(!vkft_plan_upload(p, "w1", w, sizeof w));
        double lp = run_loss(p);
        w[i] -= 2 * eps;
        CHECK(!vkft_plan_upload(p, "w1", w, sizeof w));
        double lm = run_loss(p);
        double fd = (lp - lm) / (2 * eps) / B;  /* the seed is 1/count, count = B */
        if (fabs(fd - grad[i]) > 2e-3 + 2e-2 * fabs(fd)) {
            fprintf(stderr, "%s: grad w1[%d] %g vs fd %g\n", vkft_device_get_info(dev)->spec, i,
                    grad[i], fd);
            test_failures++;
        }
    }
    (void)zero;
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
}

/* N optimizer steps of K micro-batches; returns the final w1 and the losses. */
static void train(vkft_device *dev, int batch, int K, int steps, float clip, float *w1_out,
                  float *losses, vkft_plan_stats *stats_after_first, vkft_plan_stats *stats_end) {
    data d;
    make_data(&d, 16);
    vkft_graph *g = build(batch, K, clip);
    vkft_plan *p = compile(dev, g, &d, batch);
    vkft_graph_destroy(g);
    if (!p) return;
    for (int s = 0; s < steps; s++) {
        float sum = 0;
        for (int k = 0; k < K; k++) {
            feed(p, &d, ((s * K + k) * batch) % 16, batch, s + 1);
            sum += run_loss(p) / (float)batch;
        }
        losses[s] = sum / (float)K;
        CHECK(vkft_plan_run(p, 1) == VKFT_OK);
        if (s == 0 && stats_after_first) vkft_plan_get_stats(p, stats_after_first);
    }
    if (stats_end) vkft_plan_get_stats(p, stats_end);
    CHECK(!vkft_plan_download(p, "w1", w1_out, sizeof(float) * HID * FROZEN));
    vkft_plan_destroy(p);
}

static void test_training(test_env *env) {
    float w_cpu[HID * FROZEN], w_cpu2[HID * FROZEN], l_cpu[6], l_cpu2[6];
    train(env->cpu, 8, 1, 6, 1.0f, w_cpu, l_cpu, NULL, NULL);
    train(env->cpu, 8, 1, 6, 1.0f, w_cpu2, l_cpu2, NULL, NULL);
    CHECK(!memcmp(w_cpu, w_cpu2, sizeof w_cpu) && !memcmp(l_cpu, l_cpu2, sizeof l_cpu));
    CHECK(l_cpu[5] < l_cpu[0]);  /* it learns */
    /* accumulation: 2 micro-batches of 4 == one batch of 8 (same examples, equal counts) */
    float w_acc[HID * FROZEN], l_acc[6];
    train(env->cpu, 4, 2, 6, 1.0f, w_acc, l_acc, NULL, NULL);
    test_compare("accumulated (2x4) vs one batch (8): w1", w_acc, w_cpu, HID * FROZEN, 1e-5f,
                 1e-4f);
    test_compare("accumulated vs one batch: losses", l_acc, l_cpu, 6, 1e-5f, 1e-4f);
    if (!env->vk) return;
    float w_vk[HID * FROZEN], w_vk2[HID * FROZEN], l_vk[6], l_vk2[6];
    vkft_plan_stats first, end;
    train(env->vk, 8, 1, 6, 1.0f, w_vk, l_vk, &first, &end);
    train(env->vk, 8, 1, 6, 1.0f, w_vk2, l_vk2, NULL, NULL);
    CHECK(!memcmp(w_vk, w_vk2, sizeof w_vk) && !memcmp(l_vk, l_vk2, sizeof l_vk));
    /* f32 with different summation orders and transcendentals over 6 Adam steps */
    test_compare("vulkan vs cpu: w1 after 6 steps", w_vk, w_cpu, HID * FROZEN, 1e-4f, 1e-3f);
    test_compare("vulkan vs cpu: losses", l_vk, l_cpu, 6, 1e-5f, 1e-4f);
    /* record once: after step 1 nothing is created; each later step is 2 phase submits plus
     * the 3 uploads of its inputs */
    CHECK(end.pipelines_created == first.pipelines_created);
    CHECK(end.descriptor_sets_allocated == first.descriptor_sets_allocated);
    CHECK(end.submits - first.submits == 5 * (2 + 3 + 1)); /* + the loss download */
    CHECK(first.dispatches[0] > 0 && first.barriers[0] <= first.dispatches[0] + 1);
}

static void test_budget(test_env *env) {
    vkft_graph *g = build(8, 1, 0.0f);
    vkft_compile_options o = {.memory_budget = 1000};
    vkft_plan *p = NULL;
    vkft_memory_report rep;
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    CHECK(vkft_compile(dev, g, &o, &rep, &p) == VKFT_ERR_NO_MEMORY && !p);
    CHECK(strstr(vkft_device_error(dev), "the biggest part is"));
    CHECK(rep.total > 1000 && rep.budget == 1000);
    vkft_graph_destroy(g);
}

static void test_bad_graphs(void) {
    vkft_graph *g;
    CHECK(vkft_graph_create(&g) == VKFT_OK);
    vkft_value a = vkft_graph_leaf(g, "a", VKFT_ROLE_TRAINABLE, VKFT_F32, 2, (int64_t[]){2, 3});
    vkft_value b = vkft_graph_leaf(g, "b", VKFT_ROLE_INPUT, VKFT_F32, 2, (int64_t[]){4, 3});
    CHECK(vkft_graph_leaf(g, "a", VKFT_ROLE_INPUT, VKFT_F32, 1, (int64_t[]){1}) == VKFT_NONE);
    CHECK(vkft_graph_leaf(g, "h", VKFT_ROLE_TRAINABLE, VKFT_F16, 1, (int64_t[]){1}) == VKFT_NONE);
    CHECK(vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){a, b}, 2) == VKFT_NONE);
    CHECK(strstr(vkft_graph_error(g), "add"));
    vkft_value s = vkft_graph_op1(g, VKFT_OP_SUM_SQUARES, NULL, &b, 1);
    CHECK(vkft_graph_backward(g, s, VKFT_NONE) == VKFT_ERR_INVALID_ARG);  /* no trainable */
    vkft_graph_destroy(g);
}

/*
 * y = reshape(x) is a view of x (no copy, the node is skipped); z = x + b could be done in place
 * into x (x's last reader), but y still lives, so it must get storage of its own.
 */
static void test_reshape_alias(test_env *env) {
    vkft_graph *g;
    CHECK(vkft_graph_create(&g) == VKFT_OK);
    vkft_value a = vkft_graph_leaf(g, "a", VKFT_ROLE_INPUT, VKFT_F32, 2, (int64_t[]){4, 6});
    vkft_value b = vkft_graph_leaf(g, "b", VKFT_ROLE_INPUT, VKFT_F32, 2, (int64_t[]){4, 6});
    vkft_value x = vkft_graph_op1(g, VKFT_OP_SCALE, &(vkft_scale_params){2.0f, 0.0f}, &a, 1);
    vkft_shape_params sp = {.ndim = 2, .shape = {6, 4}};
    vkft_value y = vkft_graph_op1(g, VKFT_OP_COPY, &sp, &x, 1);
    vkft_value z = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){x, b}, 2);
    vkft_value z2 = vkft_graph_op1(g, VKFT_OP_SCALE, &(vkft_scale_params){1.0f, 0.0f}, &z, 1);
    vkft_value y2 = vkft_graph_op1(g, VKFT_OP_SCALE, &(vkft_scale_params){1.0f, 1.0f}, &y, 1);
    CHECK(!vkft_graph_keep(g, y2, "y2") && !vkft_graph_keep(g, z2, "z"));
    vkft_layout l;
    vkft_err e;
    CHECK(vkft_layout_plan(g, &l, &e) == VKFT_OK);
    CHECK(l.v[y].store == VKFT_STORE_ALIAS && l.v[y].alias == x);  /* a view */
    CHECK(l.v[z].store == VKFT_STORE_ARENA);  /* not in place into x: y still reads it */
    vkft_layout_free(&l);
    float ha[24], hb[24], want_y[24], want_z[24], got[24];
    for (int i = 0; i < 24; i++) {
        ha[i] = (float)i;
        hb[i] = 100.0f + (float)i;
        want_y[i] = 2.0f * ha[i] + 1.0f;
        want_z[i] = 2.0f * ha[i] + hb[i];
    }
    vkft_device *devs[2] = {env->cpu, env->vk};
    for (int d = 0; d < 2 && devs[d]; d++) {
        vkft_plan *p = NULL;
        CHECK_OK(vkft_compile(devs[d], g, NULL, NULL, &p), devs[d]);
        if (!p) continue;
        CHECK(!vkft_plan_upload(p, "a", ha, sizeof ha) && !vkft_plan_upload(p, "b", hb, sizeof hb));
        CHECK(vkft_plan_run(p, 0) == VKFT_OK);
        CHECK(!vkft_plan_download(p, "y2", got, sizeof got));
        test_compare("reshape view: y", got, want_y, 24, 0.0f, 0.0f);
        CHECK(!vkft_plan_download(p, "z", got, sizeof got));
        test_compare("reshape view: z", got, want_z, 24, 0.0f, 0.0f);
        vkft_plan_destroy(p);
    }
    vkft_graph_destroy(g);
}

/* A forward-only phase (vkft_graph_copy_forward) gives phase 0's loss bit for bit, touches no
 * gradient, and follows the trainables after an update; a node that writes a leaf is refused. */
static void test_forward_copy(test_env *env) {
    enum { B = 8 };
    vkft_device *devs[2] = {env->cpu, env->vk};
    for (int dv = 0; dv < 2 && devs[dv]; dv++) {
        data d;
        make_data(&d, B);
        vkft_graph *g = build(B, 1, 0.0f);
        vkft_value loss = VKFT_NONE, copy = VKFT_NONE;
        for (int v = 0; v < vkft_graph_value_count(g); v++) {
            const char *name = vkft_graph_value_name(g, v);
            if (name && !strcmp(name, "loss")) loss = v;
        }
        int n_before = vkft_graph_node_count(g);
        CHECK(vkft_graph_begin_phase(g) == 2);
        CHECK(vkft_graph_copy_forward(g, &loss, 1, &copy) == VKFT_OK);
        CHECK(copy != VKFT_NONE && copy != loss);
        /* the forward only: x0, h, +b1, gelu, logits, CE, h*h, sum, scale, add = 10 nodes */
        CHECK(vkft_graph_node_count(g) - n_before == 10);
        CHECK(vkft_graph_keep(g, copy, "eval_loss") == VKFT_OK);
        vkft_plan *p = compile(devs[dv], g, &d, B);
        vkft_graph_destroy(g);
        if (!p) continue;
        feed(p, &d, 0, B, 1);
        float eval = NAN, grad[HID * FROZEN], zero[HID * FROZEN] = {0};
        CHECK(vkft_plan_run(p, 2) == VKFT_OK);
        CHECK(!vkft_plan_download(p, "eval_loss", &eval, sizeof eval));
        CHECK(!vkft_plan_download(p, "grad:w1", grad, sizeof grad));
        CHECK(!memcmp(grad, zero, sizeof grad));
        float train = run_loss(p);
        CHECK(eval == train);
        CHECK(vkft_plan_run(p, 1) == VKFT_OK);  /* an update */
        CHECK(vkft_plan_run(p, 2) == VKFT_OK);
        CHECK(!vkft_plan_download(p, "eval_loss", &eval, sizeof eval));
        float after = run_loss(p);
        CHECK(eval == after && after != train);
        vkft_plan_destroy(p);
    }
    vkft_graph *g;
    CHECK(vkft_graph_create(&g) == VKFT_OK);
    vkft_value s = vkft_graph_leaf(g, "s", VKFT_ROLE_STATE, VKFT_F32, 1, (int64_t[]){4});
    vkft_value x = vkft_graph_leaf(g, "x", VKFT_ROLE_INPUT, VKFT_F32, 1, (int64_t[]){4});
    vkft_value v = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){s, x}, 2), c;
    CHECK(vkft_graph_assign(g, s, v) == VKFT_OK);
    CHECK(vkft_graph_copy_forward(g, &v, 1, &c) == VKFT_ERR_INVALID_ARG);
    CHECK(strstr(vkft_graph_error(g), "writes into the leaf s and cannot run twice"));
    vkft_graph_destroy(g);
}

static bool all_but_b1(const char *name, void *user) {
    (void)user;
    return strcmp(name, "b1") != 0;
}

/* One optimizer step with weight decay on every trainable, on all but b1, and off: the
 * exempted b1 moves exactly as without decay, the others exactly as with it. */
static void test_no_decay(test_env *env) {
    enum { B = 8 };
    vkft_device *devs[2] = {env->cpu, env->vk};
    for (int dv = 0; dv < 2 && devs[dv]; dv++) {
        float w1[3][HID * FROZEN], b1[3][HID];
        for (int run = 0; run < 3; run++) {
            build_decays = run == 1 ? all_but_b1 : NULL;
            build_wd = run == 2 ? 0.0f : 0.5f;
            data d;
            make_data(&d, B);
            vkft_graph *g = build(B, 1, 0.0f);
            vkft_plan *p = compile(devs[dv], g, &d, B);
            vkft_graph_destroy(g);
            if (!p) continue;
            feed(p, &d, 0, B, 1);
            run_loss(p);
            CHECK(vkft_plan_run(p, 1) == VKFT_OK);
            CHECK(!vkft_plan_download(p, "w1", w1[run], sizeof w1[run]));
            CHECK(!vkft_plan_download(p, "b1", b1[run], sizeof b1[run]));
            vkft_plan_destroy(p);
        }
        CHECK(!memcmp(w1[1], w1[0], sizeof w1[0]) && memcmp(w1[1], w1[2], sizeof w1[0]));
        CHECK(!memcmp(b1[1], b1[2], sizeof b1[0]) && memcmp(b1[1], b1[0], sizeof b1[0]));
    }
    build_decays = NULL;
    build_wd = 0.01f;
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_bad_graphs();
    test_gradients(env.cpu);
    if (env.vk) test_gradients(env.vk);
    test_training(&env);
    test_budget(&env);
    test_reshape_alias(&env);
    test_forward_copy(&env);
    test_no_decay(&env);
    return test_finish(&env);
}
