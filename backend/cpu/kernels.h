/* CPU kernels, one per op (the `cpu` slot of each row); defined in backend/cpu/<family>.c. */
#ifndef VKFT_CPU_KERNELS_H
#define VKFT_CPU_KERNELS_H

#include "cpu/cpu_device.h"
#include "ops/op_def.h"

#define VKFT_CPU_KERNEL(op) vkft_status vkft_cpu_##op(vkft_cpu *cpu, const vkft_op_call *call, \
                                                      vkft_err *err)
/* elementwise.c */
VKFT_CPU_KERNEL(fill); VKFT_CPU_KERNEL(scale); VKFT_CPU_KERNEL(add); VKFT_CPU_KERNEL(sub);
VKFT_CPU_KERNEL(mul); VKFT_CPU_KERNEL(div); VKFT_CPU_KERNEL(sum_to);
/* layout.c */
VKFT_CPU_KERNEL(copy); VKFT_CPU_KERNEL(cast); VKFT_CPU_KERNEL(transpose); VKFT_CPU_KERNEL(slice);
VKFT_CPU_KERNEL(pad); VKFT_CPU_KERNEL(concat);
/* matmul.c */
VKFT_CPU_KERNEL(matmul);
/* norm.c */
VKFT_CPU_KERNEL(rmsnorm); VKFT_CPU_KERNEL(rmsnorm_backward); VKFT_CPU_KERNEL(layernorm);
VKFT_CPU_KERNEL(layernorm_backward);
/* activation.c */
VKFT_CPU_KERNEL(gelu); VKFT_CPU_KERNEL(gelu_backward); VKFT_CPU_KERNEL(silu);
VKFT_CPU_KERNEL(silu_backward); VKFT_CPU_KERNEL(swiglu); VKFT_CPU_KERNEL(swiglu_backward);
VKFT_CPU_KERNEL(softmax); VKFT_CPU_KERNEL(softmax_backward); VKFT_CPU_KERNEL(relu);
VKFT_CPU_KERNEL(relu_backward); VKFT_CPU_KERNEL(tanh); VKFT_CPU_KERNEL(tanh_backward);
VKFT_CPU_KERNEL(gelu_erf); VKFT_CPU_KERNEL(gelu_erf_backward);
/* rope.c */
VKFT_CPU_KERNEL(rope); VKFT_CPU_KERNEL(rope_backward);
/* embedding.c */
VKFT_CPU_KERNEL(embedding); VKFT_CPU_KERNEL(embedding_backward);
/* attention.c */
VKFT_CPU_KERNEL(attention); VKFT_CPU_KERNEL(attention_backward);
/* cross_entropy.c */
VKFT_CPU_KERNEL(cross_entropy); VKFT_CPU_KERNEL(cross_entropy_backward);
/* optimizer.c */
VKFT_CPU_KERNEL(sum_squares); VKFT_CPU_KERNEL(adamw);
/* nf4.c */
VKFT_CPU_KERNEL(nf4_quantize); VKFT_CPU_KERNEL(nf4_dequantize); VKFT_CPU_KERNEL(matmul_nf4);
/* clip.c */
VKFT_CPU_KERNEL(grad_clip);
/* dropout.c */
VKFT_CPU_KERNEL(dropout);

#endif
