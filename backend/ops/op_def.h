/*
 * One row per op: everything the library knows about an op lives in its row (name, arity,
 * which inputs are optional, which outputs may alias inputs, shape/dtype inference, the CPU
 * kernel and the Vulkan recording function). Rows are defined next to their inference code in
 * backend/ops/<family>.c and collected by backend/ops/table.c, indexed by vkft_op.
 */
#ifndef VKFT_OPS_OP_DEF_H
#define VKFT_OPS_OP_DEF_H

#include <stdint.h>

#include "core/internal.h"
#include "vkft/graph.h"
#include "vkft/ops.h"

#define VKFT_OP_MAX_IN 10
#define VKFT_OP_MAX_OUT 5

typedef struct vkft_vk_rec vkft_vk_rec;  /* vulkan/vk_dispatch.h */
typedef struct vkft_gnode vkft_gnode;    /* graph/graph.h */

/* One application of an op to tensors of one device (inputs/outputs as in vkft/ops.h). */
struct vkft_op_call {
    vkft_op op;
    const void *params;
    vkft_tensor *const *in;
    int n_in;                       /* == the row's n_in; absent optional inputs are NULL */
    vkft_tensor *const *out;
    int n_out;                      /* == the row's n_out; absent optional outputs are NULL */
};

/* Computes out descs from in descs (NULL where absent) and params; fills err on failure.
 * For outputs that are optional, the caller tells which are wanted by out[i].ndim != 0. */
typedef vkft_status (*vkft_op_infer_fn)(const void *params, const vkft_desc *const *in,
                                        vkft_desc *out, vkft_err *err);
/* Runs the op on the CPU backend (inputs and outputs are host tensors). */
typedef vkft_status (*vkft_cpu_kernel_fn)(vkft_cpu *cpu, const vkft_op_call *call, vkft_err *err);
/* Records the op's dispatches on Vulkan (chooses the shader variant; splits big tensors). */
typedef vkft_status (*vkft_vk_record_fn)(vkft_vk_rec *rec, const vkft_op_call *call,
                                         vkft_err *err);

/* Autograd: appends to g the nodes that compute the gradients of node n's inputs. dout[i] is
 * the gradient of n->out[i] (VKFT_NONE where none flows); need[j] says whether in[j]'s gradient
 * is wanted; the rule sets din[j] (VKFT_NONE where it produces none). Rules live in
 * backend/ops/grad_rules.c. */
typedef vkft_status (*vkft_op_backward_fn)(vkft_graph *g, const vkft_gnode *n,
                                           const int32_t *dout, const bool *need, int32_t *din);

typedef struct vkft_op_def {
    const char *name;
    int n_in;                       /* inputs, optional ones included */
    int n_out;                      /* outputs, optional ones included */
    uint32_t optional_in;           /* bit i: in[i] may be NULL */
    uint32_t optional_out;          /* bit i: out[i] may be NULL */
    size_t params_size;             /* 0: the op takes no params */
    int8_t out_alias[VKFT_OP_MAX_OUT]; /* out[i] may be the same tensor as in[out_alias[i]]; -1 */
    vkft_op_infer_fn infer;
    vkft_cpu_kernel_fn cpu;
    vkft_vk_record_fn vk;
    vkft_op_backward_fn backward;   /* NULL: no gradient flows through this op */
} vkft_op_def;

#define VKFT_NO_ALIAS {-1, -1, -1, -1, -1}

const vkft_op_def *vkft_op_def_get(vkft_op op);

/* Checks a call (arity, optional NULLs, device, params, shapes against infer, aliasing). */
vkft_status vkft_op_call_check(const vkft_op_call *call, vkft_err *err);

/* Helpers for infer functions. */
vkft_status vkft_infer_expect_dtype(const char *op, const char *what, const vkft_desc *d,
                                    vkft_dtype want, vkft_err *err);
vkft_status vkft_infer_expect_same(const char *op, const char *what_a, const vkft_desc *a,
                                   const char *what_b, const vkft_desc *b, vkft_err *err);

/* Rows, one per op, defined in backend/ops/<family>.c. */
extern const vkft_op_def vkft_op_fill_def, vkft_op_copy_def, vkft_op_cast_def,
    vkft_op_scale_def, vkft_op_add_def, vkft_op_sub_def, vkft_op_mul_def, vkft_op_div_def,
    vkft_op_sum_to_def, vkft_op_transpose_def, vkft_op_slice_def, vkft_op_pad_def,
    vkft_op_concat_def, vkft_op_matmul_def, vkft_op_rmsnorm_def, vkft_op_rmsnorm_backward_def,
    vkft_op_layernorm_def, vkft_op_layernorm_backward_def, vkft_op_gelu_def,
    vkft_op_gelu_backward_def, vkft_op_silu_def, vkft_op_silu_backward_def, vkft_op_swiglu_def,
    vkft_op_swiglu_backward_def, vkft_op_softmax_def, vkft_op_softmax_backward_def,
    vkft_op_rope_def, vkft_op_rope_backward_def, vkft_op_embedding_def,
    vkft_op_embedding_backward_def, vkft_op_attention_def, vkft_op_attention_backward_def,
    vkft_op_cross_entropy_def, vkft_op_cross_entropy_backward_def, vkft_op_sum_squares_def,
    vkft_op_adamw_def, vkft_op_nf4_quantize_def, vkft_op_nf4_dequantize_def,
    vkft_op_matmul_nf4_def, vkft_op_grad_clip_def, vkft_op_dropout_def, vkft_op_relu_def,
    vkft_op_relu_backward_def, vkft_op_tanh_def, vkft_op_tanh_backward_def, vkft_op_gelu_erf_def,
    vkft_op_gelu_erf_backward_def;

#endif
