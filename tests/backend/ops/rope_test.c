/*
 * rope and rope_backward: position 0 is the identity, a D = 4 case by hand (with
 * attention_scaling), Vulkan vs CPU (full and partial rotary, odd D, positions given or
 * pos_offset + t, positions up to 65535 where GPU cos/sin would lose accuracy), backward =
 * inverse rotation, the gradient of x vs finite differences, the split path (tokens in chunks)
 * and bad input. With VKFT_KERNEL=cpu, shapes with R / 2 and D multiples of 4 run the texel-fed
 * rope_cpu.comp (with pass-through dims: [3 17 1 32] R=16), the others rope.comp.
 * Tolerances: the CPU takes cos/sin from libm (< 1 ulp, as PyTorch), Vulkan from its own
 * reduction + polynomials (~2 ulp); outputs are O(1) sums of two products: atol 1e-6 rtol 1e-6.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static uint64_t rng = 11;

static test_io rand_io(int ndim, const int64_t *shape) {
    test_io io = test_io_new(VKFT_F32, ndim, shape);
    test_fill_normal(&rng, io.data, test_io_numel(&io), 1.0f);
    return io;
}

/* Hugging Face's default inv_freq: 1 / base^(2j/R). */
static test_io inv_freq(int64_t half, double base) {
    test_io f = test_io_new(VKFT_F32, 1, &half);
    for (int64_t j = 0; j < half; j++)
        ((float *)f.data)[j] = (float)(1.0 / pow(base, (double)(2 * j) / (double)(2 * half)));
    return f;
}

static void test_rope(test_env *env, const int64_t *shape, int64_t half, bool with_pos,
                      int32_t max_pos, int64_t pos_offset, float scaling) {
    test_io in[3] = {rand_io(4, shape), inv_freq(half, 10000.0), {0}};
    if (with_pos) {
        in[2] = test_io_new(VKFT_I32, 2, shape);
        int32_t *p = in[2].data;
        for (size_t i = 0; i < test_io_numel(&in[2]); i++)
            p[i] = (int32_t)(test_rand_u64(&rng) % (uint64_t)(max_pos + 1));
        if (max_pos > 60000) ((float *)in[1].data)[half - 1] = 1.0f;  /* big angles too */
    }
    vkft_rope_params p = {.pos_offset = pos_offset, .attention_scaling = scaling};
    test_io out = {.dtype = VKFT_F32, .ndim = 4};
    memcpy(out.shape, shape, sizeof out.shape);
    char what[128];
    snprintf(what, sizeof what, "rope [%lld %lld %lld %lld] R=%lld pos<=%d", (long long)shape[0],
             (long long)shape[1], (long long)shape[2], (long long)shape[3],
             (long long)(2 * half), with_pos ? max_pos : (int)(pos_offset + shape[1] - 1));
    test_vk_vs_cpu(env, what, VKFT_OP_ROPE, &p, in, 3, &out, 1, 1e-6f, 1e-6f);
    test_io dy = rand_io(4, shape);
    test_io bin[3] = {dy, in[1], in[2]};
    test_vk_vs_cpu(env, what, VKFT_OP_ROPE_BACKWARD, &p, bin, 3, &out, 1, 1e-6f, 1e-6f);

    /* backward is the adjoint: checked by finite differences of L = <dy, rope(x)> */
    test_io g = out;
    g.data = NULL;
    CHECK_OK(test_run_op(env->cpu, VKFT_OP_ROPE_BACKWARD, &p, bin, 3, &g, 1, NULL), env->cpu);
    float *proj[1] = {dy.data};
    if (g.data)
        test_grad_fd(env, what, VKFT_OP_ROPE, &p, in, 3, &out, 1, proj, 0, g.data, 1e-2f, 1e-3f,
                     1e-3f, 32);
    test_io_free(&g);

    /* with scaling 1, rope_backward(rope(x)) == x (cos^2 + sin^2 = 1) on both devices */
    vkft_device *devs[2] = {env->cpu, env->vk};
    vkft_rope_params p1 = p;
    p1.attention_scaling = 1.0f;
    for (int d = 0; d < 2; d++) {
        if (!devs[d]) continue;
        test_io y = out, x2 = out;
        y.data = x2.data = NULL;
        CHECK_OK(test_run_op(devs[d], VKFT_OP_ROPE, &p1, in, 3, &y, 1, NULL), devs[d]);
        test_io rin[3] = {y, in[1], in[2]};
        CHECK_OK(test_run_op(devs[d], VKFT_OP_ROPE_BACKWARD, &p1, rin, 3, &x2, 1, NULL),
                 devs[d]);
        if (x2.data) test_compare("rope_backward(rope(x)) == x", x2.data, in[0].data,
                                  test_io_numel(&out), 1e-6f, 1e-6f);
        test_io_free(&y);
        test_io_free(&x2);
    }
    test_io_free(&dy);
    for (int i = 0; i < 3; i++) test_io_free(&in[i]);
}

/* Position 0 is the identity; D = 4, inv_freq = [1, 0.01] at position 1 by hand. */
static void test_known(test_env *env) {
    vkft_device *devs[2] = {env->cpu, env->vk};
    float xs[8] = {1, 2, 3, 4, 1, 2, 3, 4}, fs[2] = {1.0f, 0.01f};
    for (int d = 0; d < 2; d++) {
        if (!devs[d]) continue;
        test_io in[3] = {{VKFT_F32, 4, {1, 2, 1, 4}, xs}, {VKFT_F32, 1, {2}, fs}, {0}};
        test_io y = {.dtype = VKFT_F32, .ndim = 4, .shape = {1, 2, 1, 4}};
        vkft_rope_params p = {.pos_offset = 0, .attention_scaling = 0.5f};
        CHECK_OK(test_run_op(devs[d], VKFT_OP_ROPE, &p, in, 3, &y, 1, NULL), devs[d]);
        if (!y.data) continue;
        const float *o = y.data;
        /* token 0 (position 0): x * scaling exactly */
        for (int i = 0; i < 4; i++) CHECK(o[i] == 0.5f * xs[i]);
        double c0 = 0.5 * cos(1.0), s0 = 0.5 * sin(1.0), c1 = 0.5 * cos(0.01),
               s1 = 0.5 * sin(0.01);
        float want[4] = {(float)(1 * c0 - 3 * s0), (float)(2 * c1 - 4 * s1),
                         (float)(3 * c0 + 1 * s0), (float)(4 * c1 + 2 * s1)};
        test_compare("rope D=4 by hand", o + 4, want, 4, 1e-6f, 1e-6f);
        test_io_free(&y);
    }
}

static void test_bad_input(test_env *env) {
    vkft_device *dev = env->vk ? env->vk : env->cpu;
    vkft_tensor *x, *f, *y, *pos;
    int64_t sx[4] = {1, 2, 3, 4}, sf[1] = {3}, sp[2] = {2, 1};
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 4, sx, &x), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 1, sf, &f), dev);  /* R = 6 > D = 4 */
    CHECK_OK(vkft_tensor_create(dev, VKFT_F32, 4, sx, &y), dev);
    CHECK_OK(vkft_tensor_create(dev, VKFT_I32, 2, sp, &pos), dev);
    vkft_rope_params p = {.attention_scaling = 1.0f};
    vkft_tensor *in[3] = {x, f, NULL};
    CHECK(vkft_op_run(dev, VKFT_OP_ROPE, &p, in, 3, &y, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "rope") && strstr(vkft_device_error(dev), "inv_freq"));
    in[1] = x;
    CHECK(vkft_op_run(dev, VKFT_OP_ROPE_BACKWARD, &p, in, 3, &y, 1) == VKFT_ERR_SHAPE);
    CHECK(strstr(vkft_device_error(dev), "rope_backward") != NULL);
    in[1] = f;
    in[2] = x;
    CHECK(vkft_op_run(dev, VKFT_OP_ROPE, &p, in, 3, &y, 1) == VKFT_ERR_DTYPE);
    CHECK(strstr(vkft_device_error(dev), "rope") && strstr(vkft_device_error(dev), "positions"));
    vkft_tensor_destroy(x);
    vkft_tensor_destroy(f);
    vkft_tensor_destroy(y);
    vkft_tensor_destroy(pos);
}

int main(void) {
    test_env env;
    test_env_open(&env);
    test_known(&env);
    test_rope(&env, (int64_t[]){2, 5, 3, 8}, 4, false, 0, 0, 1.0f);
    test_rope(&env, (int64_t[]){2, 7, 2, 10}, 3, false, 0, 5, 0.75f);     /* partial rotary */
    test_rope(&env, (int64_t[]){1, 3, 2, 7}, 2, true, 100, 0, 1.0f);       /* odd D */
    test_rope(&env, (int64_t[]){1, 33, 4, 64}, 32, true, 9000, 0, 1.0f);
    test_rope(&env, (int64_t[]){2, 40, 2, 16}, 8, true, 65535, 0, 1.0f);  /* big angles */
    test_rope(&env, (int64_t[]){3, 17, 1, 32}, 8, false, 0, 8190, 1.0f);
    test_rope(&env, (int64_t[]){2, 9, 3, 12}, 2, false, 0, 0, 0.5f);     /* R/2 % 4 != 0 */
    test_rope(&env, (int64_t[]){4, 256, 8, 64}, 32, false, 0, 0, 1.0f);  /* the bench's shape */
    test_bad_input(&env);
    return test_finish(&env);
}
