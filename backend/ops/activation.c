/*
 * Rows of the activation ops: GELU (tanh approximation), GELU_ERF (exact), SILU, SWIGLU,
 * SOFTMAX over the last dim, RELU and TANH, each with its backward. All take and give f32
 * tensors of one shape; backward ops take the upstream gradient first (dy), then the forward's
 * inputs (or, for softmax, relu and tanh, its output, so the input need not stay alive).
 */
#include "cpu/kernels.h"
#include "ops/grad_rules.h"
#include "ops/op_def.h"
#include "vulkan/vk_ops.h"

/* Every input f32 and of one shape; out[0..n_out) take that desc. */
static vkft_status same_f32(const char *op, const char *const *names, int n_in,
                            const vkft_desc *const *in, vkft_desc *out, int n_out,
                            vkft_err *err) {
    vkft_status st = VKFT_OK;
    for (int i = 0; i < n_in && !st; i++)
        st = vkft_infer_expect_dtype(op, names[i], in[i], VKFT_F32, err);
    for (int i = 1; i < n_in && !st; i++)
        st = vkft_infer_expect_same(op, names[0], in[0], names[i], in[i], err);
    for (int i = 0; i < n_out && !st; i++) out[i] = *in[0];
    return st;
}

#define ACT_ROW(op, nin, nout, grad, ...)                                                      \
    static vkft_status op##_infer(const void *params, const vkft_desc *const *in,             \
                                  vkft_desc *out, vkft_err *err) {                            \
        (void)params;                                                                          \
        static const char *const names[] = {__VA_ARGS__};                                      \
        return same_f32(#op, names, nin, in, out, nout, err);                                  \
    }                                                                                          \
    const vkft_op_def vkft_op_##op##_def = {                                                   \
        .name = #op, .n_in = nin, .n_out = nout, .out_alias = VKFT_NO_ALIAS,                   \
        .infer = op##_infer, .cpu = vkft_cpu_##op, .vk = vkft_vk_##op, .backward = grad,      \
    };

ACT_ROW(gelu, 1, 1, vkft_grad_gelu, "x")
ACT_ROW(gelu_backward, 2, 1, NULL, "dy", "x")
ACT_ROW(silu, 1, 1, vkft_grad_silu, "x")
ACT_ROW(silu_backward, 2, 1, NULL, "dy", "x")
ACT_ROW(swiglu, 2, 1, vkft_grad_swiglu, "gate", "up")
ACT_ROW(swiglu_backward, 3, 2, NULL, "dy", "gate", "up")
ACT_ROW(softmax, 1, 1, vkft_grad_softmax, "x")
ACT_ROW(softmax_backward, 2, 1, NULL, "dy", "y")
ACT_ROW(relu, 1, 1, vkft_grad_relu, "x")
ACT_ROW(relu_backward, 2, 1, NULL, "dy", "y")
ACT_ROW(tanh, 1, 1, vkft_grad_tanh, "x")
ACT_ROW(tanh_backward, 2, 1, NULL, "dy", "y")
ACT_ROW(gelu_erf, 1, 1, vkft_grad_gelu_erf, "x")
ACT_ROW(gelu_erf_backward, 2, 1, NULL, "dy", "x")
