/*
 * The geometry of one MATMUL call (see VKFT_OP_MATMUL in vkft/ops.h), shared by the CPU kernel
 * and the Vulkan recording: every call is `batch` independent products C[M,N] = op(A) op(B)
 * over the stored row-major operands, with element strides between batches (0 for a shared B).
 */
#ifndef VKFT_OPS_MATMUL_H
#define VKFT_OPS_MATMUL_H

#include <stdbool.h>
#include <stdint.h>

#include "vkft/ops.h"

typedef struct vkft_matmul_dims {
    int64_t batch, m, n, k;
    bool trans_a, trans_b;
    int64_t a_bstride, b_bstride, c_bstride; /* elements between batches; b_bstride 0: shared */
    int64_t lda, ldb;       /* row lengths of the stored A ([M,K]: K; [K,M]: M) and B */
} vkft_matmul_dims;

/* The geometry of a call whose shapes infer already accepted. A 3-D/4-D A with a 2-D B and
 * !trans_a (the linear layer) is folded into one product with M = rows of A. */
void vkft_matmul_dims_get(const vkft_desc *a, const vkft_desc *b, const vkft_matmul_params *p,
                          vkft_matmul_dims *d);

#endif
