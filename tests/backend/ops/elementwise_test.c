/*
 * fill, scale, add/sub/mul/div with broadcasting, sum_to: Vulkan vs CPU, gradients vs finite
 * differences, the split path under a tiny buffer range, and bad shapes.
 * Tolerances: these ops do one rounding per element (sum_to: one sum in a fixed order, the same
 * order on both devices), so Vulkan must match the CPU to a few ulps: atol 1e-6, rtol 1e-6.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 42;

static test_io rand_io(int ndim, const int64_t *shape) {
    test_io io = test_io_new(VKFT_F32, ndim, shape);
    test_fill_normal(&rng, io.data, test_io_numel(&io), 1.0f);
    return io;
}

static void test_binary(test_env *env, vkft_op op, int nda, const int64_t *sa, int ndb,
                        const int64_t *sb, int ndo, const int64_t *so) {
    test_io in[2] = {rand_io(nda, sa), rand_io(ndb, sb)};
    if (op == VKFT_OP_DIV) /* keep divisors away from 0 */
        for (size_t i = 0; i < test_io_numel(&in[1]); i++) {
            float *b = in[1].data;
            b[i] = b[i] >= 0 ? b[i] + 0.5f : b[i] - 0.5f;
        }
    test_io out = {.dtype = VKFT_F32, .ndim = ndo};
    memcpy(out.shape, so, sizeof(int64_t) * (size_t)ndo);
    char what[64];
    snprintf(what, sizeof what, "%s %dd x %dd", vkft_op_name(op), nda, ndb);
    test_vk_vs_cpu(env, what, op, NULL, in, 2, &out, 1, 1e-6f, 1e-6f);

    /* Gradients: dL/da = sum_to(g * d op/da), checked by finite differences on the CPU. */
    test_io o = out;
    o.data = NULL;
    CHECK_OK(test_run_op(env->cpu, op, NULL, in, 2, &o, 1, NULL), env->cpu);
    size_t no = test_io_numel(&out);
    float *g = malloc(no * sizeof(float));
    test_fill_normal(&rng, g, no, 1.0f);
    for (int w = 0; w < 2; w++) {
        const float *a = in[0].data, *b = in[1].data;
        test_io full = test_io_new(VKFT_F32, ndo, so);
        float *f = full.data;
        /* the local derivative times g, at output resolution */
        test_io ia = in[0], ib = in[1];
        test_io bcast[2] = {{.dtype = VKFT_F32, .ndim = ndo}, {.dtype = VKFT_F32, .ndim = ndo}};
        memcpy(bcast[0].shape, so, sizeof(int64_t) * (size_t)ndo);
        memcpy(bcast[1].shape, so, sizeof(int64_t) * (size_t)ndo);
        /* broadcast a and b to the output shape with add(x, 0) */
        test_io zero = test_io_new(VKFT_F32, ndo, so);
        test_io pa[2] = {ia, zero}, pb[2] = {ib, zero};
        CHECK_OK(test_run_op(env->cpu, VKFT_OP_ADD, NULL, pa, 2, &bcast[0], 1, NULL), env->cpu);
        CHECK_OK(test_run_op(env->cpu, VKFT_OP_ADD, NULL, pb, 2, &bcast[1], 1, NULL), env->cpu);
        const float *A = bcast[0].data, *B = bcast[1].data;
        for (size_t i = 0; i < no; i++) {
            float d;
            switch (op) {
            case VKFT_OP_ADD: d = 1.0f; break;
            case VKFT_OP_SUB: d = w ? -1.0f : 1.0f; break;
            case VKFT_OP_MUL: d = w ? A[i] : B[i]; break;
            default: d = w ? -A[i] / (B[i] * B[i]) : 1.0f / B[i]; break;
            }
            f[i] = g[i] * d;
        }
        (void)a;
        (void)b;
        vkft_shape_params sp = {.ndim = in[w].ndim};
        memcpy(sp.shape, in[w].shape, sizeof sp.shape);
        test_io red = {.dtype = VKFT_F32, .ndim = in[w].ndim};
        memcpy(red.shape, in[w].shape, sizeof red.shape);
        CHECK_OK(test_run_op(env->cpu, VKFT_OP_SUM_TO, &sp, &full, 1, &red, 1, NULL), env->cpu);
        float *proj[1] = {g};
        snprintf(what, sizeof what, "%s grad wrt %s", vkft_op_name(op), w ? "b" : "a");
        test_grad_fd(env, what, op, NULL, in, 2, &out, 1, proj, w, red.data, 1e-2f, 2e-3f, 2e-3f,
                     64);
        test_io_free(&red);
        test_io_free(&full);
        test_io_free(&zero);
        test_io_free(&bcast[0]);
        test_io_free(&bcast[1]);
    }
    free(g);
    test_io_free(&o);
    test_io_free(&in[0]);
    test_io_free(&in[1]);
}

static void test_sum_to(test_env *env, int ndi, const int64_t *si, int ndo, const int64_t *so) {
    test_io in = rand_io(ndi, si);
    vkft_shape_params sp = {.ndim = ndo};
    memcpy(sp.shape, so, sizeof(int64_t) * (size_t)ndo);
    test_io out = {.dtype = VKFT_F32, .ndim = ndo};
    memcpy(out.shape, so, sizeof(int64_t) * (size_t)ndo);
    test_vk_vs_cpu(env, "sum_to", VKFT_OP_SUM_TO, &sp, &in, 1, &out, 1, 1e-5f, 1e-5f);
    /* reference: the plain sum in double of the reduced elements for element 0 */
    test_io o = out;
    o.data = NULL;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_SUM_TO, &sp, &in, 1, &o, 1, NULL), env->cpu);
    if (ndo == 1 && so[0] == 1 && o.data) {
        double s = 0;
        for (size_t i = 0; i < test_io_numel(&in); i++) s += ((float *)in.data)[i];
        CHECK(fabs(((float *)o.data)[0] - s) < 1e-4 * (1 + fabs(s)));
    }
    test_io_free(&o);
    test_io_free(&in);
}

static void test_scale_fill(test_env *env) {
    int64_t shape[2] = {37, 129};
    test_io x = rand_io(2, shape);
    vkft_scale_params sp = {.alpha = -1.5f, .beta = 0.25f};
    test_io out = {.dtype = VKFT_F32, .ndim = 2, .shape = {37, 129}};
    test_vk_vs_cpu(env, "scale", VKFT_OP_SCALE, &sp, &x, 1, &out, 1, 0, 0);
    /* in place: out aliases x */
    int alias[1] = {0};
    test_io o = out;
    o.data = NULL;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_SCALE, &sp, &x, 1, &o, 1, alias), env->cpu);
    if (o.data) CHECK(((float *)o.data)[5] == -1.5f * ((float *)x.data)[5] + 0.25f);
    test_io_free(&o);
    vkft_fill_params fp = {.value = 3.5f};
    test_io f = {.dtype = VKFT_F32, .ndim = 1, .shape = {1001}};
    test_vk_vs_cpu(env, "fill f32", VKFT_OP_FILL, &fp, NULL, 0, &f, 1, 0, 0);
    f.dtype = VKFT_I32;
    test_vk_vs_cpu(env, "fill i32", VKFT_OP_FILL, &fp, NULL, 0, &f, 1, 0, 0);
    test_io_free(&x);
}

static void test_bad_input(test_env *env) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *a, *b, *c;
    int64_t sa[2] = {3, 4}, sb[2] = {5, 4};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sa, &a), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sb, &b), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 2, sa, &c), dev);
    vkft_tensor *in[2] = {a, b};
    CHECK(vkft_op_run(dev, VKFT_OP_ADD, NULL, in, 2, &c, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "add") && strstr(vkft_device_error(dev), "[3, 4]") &&
          strstr(vkft_device_error(dev), "[5, 4]"));
    vkft_tensor *in2[2] = {a, a};
    vkft_tensor *wrong;
    int64_t sw[1] = {4};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 1, sw, &wrong), dev);
    CHECK(vkft_op_run(dev, VKFT_OP_ADD, NULL, in2, 2, &wrong, 1) == VKFT_ERR_SHAPE);
    CHECK(vkft_op_run(dev, VKFT_OP_ADD, NULL, in2, 1, &c, 1) == VKFT_ERR_INVALID_ARG);
    CHECK(vkft_op_run(dev, VKFT_OP_SCALE, NULL, in2, 1, &c, 1) == VKFT_ERR_INVALID_ARG);
    vkft_tensor_destroy(wrong);
    vkft_tensor_destroy(a);
    vkft_tensor_destroy(b);
    vkft_tensor_destroy(c);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    static const vkft_op ops[4] = {VKFT_OP_ADD, VKFT_OP_SUB, VKFT_OP_MUL, VKFT_OP_DIV};
    for (int i = 0; i < 4; i++) {
        test_binary(&env, ops[i], 2, (int64_t[]){7, 33}, 2, (int64_t[]){7, 33}, 2,
                    (int64_t[]){7, 33});
        /* same shapes: whole texels only; and several chunks of the split path + 1 left */
        test_binary(&env, ops[i], 2, (int64_t[]){8, 64}, 2, (int64_t[]){8, 64}, 2,
                    (int64_t[]){8, 64});
        test_binary(&env, ops[i], 2, (int64_t[]){37, 129}, 2, (int64_t[]){37, 129}, 2,
                    (int64_t[]){37, 129});
        test_binary(&env, ops[i], 3, (int64_t[]){2, 5, 9}, 1, (int64_t[]){9}, 3,
                    (int64_t[]){2, 5, 9});
        test_binary(&env, ops[i], 4, (int64_t[]){2, 1, 3, 1}, 3, (int64_t[]){4, 1, 5}, 4,
                    (int64_t[]){2, 4, 3, 5});
        test_binary(&env, ops[i], 1, (int64_t[]){1}, 2, (int64_t[]){3, 1}, 2, (int64_t[]){3, 1});
    }
    test_sum_to(&env, 3, (int64_t[]){4, 5, 6}, 1, (int64_t[]){6});
    test_sum_to(&env, 3, (int64_t[]){4, 5, 6}, 3, (int64_t[]){4, 1, 6});
    test_sum_to(&env, 2, (int64_t[]){1000, 17}, 1, (int64_t[]){1});
    test_sum_to(&env, 4, (int64_t[]){2, 3, 4, 5}, 4, (int64_t[]){1, 3, 1, 5});
    test_scale_fill(&env);
    test_bad_input(&env);
    return test_finish(&env);
}
