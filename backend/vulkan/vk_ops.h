/* Vulkan recording functions, one per op (the `vk` slot of each row);
 * defined in backend/vulkan/ops_<family>.c. */
#ifndef VKFT_VK_OPS_H
#define VKFT_VK_OPS_H

#include "vulkan/vk_dispatch.h"
#include "ops/op_def.h"

#define VKFT_VK_OP(op) vkft_status vkft_vk_##op(vkft_vk_rec *rec, const vkft_op_call *call, \
                                                      vkft_err *err)
/* elementwise */
VKFT_VK_OP(fill_op); VKFT_VK_OP(scale); VKFT_VK_OP(add); VKFT_VK_OP(sub);
VKFT_VK_OP(mul); VKFT_VK_OP(div); VKFT_VK_OP(sum_to);
/* layout */
VKFT_VK_OP(copy); VKFT_VK_OP(cast); VKFT_VK_OP(transpose); VKFT_VK_OP(slice);
VKFT_VK_OP(pad); VKFT_VK_OP(concat);
/* matmul */
VKFT_VK_OP(matmul);
/* norm */
VKFT_VK_OP(rmsnorm); VKFT_VK_OP(rmsnorm_backward); VKFT_VK_OP(layernorm);
VKFT_VK_OP(layernorm_backward);
/* activation */
VKFT_VK_OP(gelu); VKFT_VK_OP(gelu_backward); VKFT_VK_OP(silu);
VKFT_VK_OP(silu_backward); VKFT_VK_OP(swiglu); VKFT_VK_OP(swiglu_backward);
VKFT_VK_OP(softmax); VKFT_VK_OP(softmax_backward); VKFT_VK_OP(relu);
VKFT_VK_OP(relu_backward); VKFT_VK_OP(tanh); VKFT_VK_OP(tanh_backward);
VKFT_VK_OP(gelu_erf); VKFT_VK_OP(gelu_erf_backward);
/* rope */
VKFT_VK_OP(rope); VKFT_VK_OP(rope_backward);
/* embedding */
VKFT_VK_OP(embedding); VKFT_VK_OP(embedding_backward);
/* attention */
VKFT_VK_OP(attention); VKFT_VK_OP(attention_backward);
/* cross_entropy */
VKFT_VK_OP(cross_entropy); VKFT_VK_OP(cross_entropy_backward);
/* optimizer */
VKFT_VK_OP(sum_squares); VKFT_VK_OP(adamw);
/* nf4 */
VKFT_VK_OP(nf4_quantize); VKFT_VK_OP(nf4_dequantize); VKFT_VK_OP(matmul_nf4);
/* clip */
VKFT_VK_OP(grad_clip);
/* dropout */
VKFT_VK_OP(dropout);

#endif
