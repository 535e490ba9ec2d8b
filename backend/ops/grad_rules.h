/* Backward rules (the `backward` slot of each op row), defined in backend/ops/grad_rules.c. */
#ifndef VKFT_OPS_GRAD_RULES_H
#define VKFT_OPS_GRAD_RULES_H

#include "ops/op_def.h"

#define VKFT_GRAD_RULE(op)                                                                     \
    vkft_status vkft_grad_##op(vkft_graph *g, const vkft_gnode *n, const int32_t *dout,        \
                               const bool *need, int32_t *din)

VKFT_GRAD_RULE(copy); VKFT_GRAD_RULE(cast); VKFT_GRAD_RULE(scale); VKFT_GRAD_RULE(add);
VKFT_GRAD_RULE(sub); VKFT_GRAD_RULE(mul); VKFT_GRAD_RULE(div); VKFT_GRAD_RULE(sum_to);
VKFT_GRAD_RULE(transpose); VKFT_GRAD_RULE(slice); VKFT_GRAD_RULE(pad); VKFT_GRAD_RULE(concat);
VKFT_GRAD_RULE(matmul); VKFT_GRAD_RULE(rmsnorm); VKFT_GRAD_RULE(layernorm);
VKFT_GRAD_RULE(gelu); VKFT_GRAD_RULE(silu); VKFT_GRAD_RULE(swiglu); VKFT_GRAD_RULE(softmax);
VKFT_GRAD_RULE(rope); VKFT_GRAD_RULE(embedding); VKFT_GRAD_RULE(attention);
VKFT_GRAD_RULE(cross_entropy); VKFT_GRAD_RULE(sum_squares); VKFT_GRAD_RULE(matmul_nf4);
VKFT_GRAD_RULE(dropout); VKFT_GRAD_RULE(relu); VKFT_GRAD_RULE(tanh); VKFT_GRAD_RULE(gelu_erf);

#endif
