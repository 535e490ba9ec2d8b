/*
 * vkft ops: the op set, each with its typed parameter struct and the exact shapes it takes.
 *
 * Notation: shapes are row-major, outermost first. "f32" means VKFT_F32. Inputs marked (opt) may
 * be NULL. Ops never broadcast implicitly unless the entry says so. An output may alias an input
 * only where the entry says "may alias". Backward ops overwrite their outputs (they never
 * accumulate into them) unless the entry says otherwise.
 */
#ifndef VKFT_OPS_H
#define VKFT_OPS_H

#include "vkft/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vkft_op {
    /* out[0] = value.  inputs: none. The output tensor's desc is given by the caller. */
    VKFT_OP_FILL = 0,
    /* out = in, same dtype and element count; the shapes may differ (a reshape). */
    VKFT_OP_COPY,
    /* out = (dtype) in; f32 <-> f16/bf16, round to nearest even. */
    VKFT_OP_CAST,
    /* out = alpha * in + beta (f32). may alias in[0]. */
    VKFT_OP_SCALE,
    /* out = a op b (f32), numpy broadcasting over the right-aligned dims. may alias a. */
    VKFT_OP_ADD,
    VKFT_OP_SUB,
    VKFT_OP_MUL,
    VKFT_OP_DIV,
    /* out[shape] = sum of in over the dims broadcast from shape (f32): the adjoint of
     * broadcasting. shape must broadcast to in's shape. */
    VKFT_OP_SUM_TO,
    /* out = permute(in, perm): out.shape[i] = in.shape[perm[i]]. any dtype. */
    VKFT_OP_TRANSPOSE,
    /* out = in[..., start:start+len, ...] along axis. any dtype. */
    VKFT_OP_SLICE,
    /* out = in padded with `before` and `after` zeros along axis (the adjoint of SLICE). */
    VKFT_OP_PAD,
    /* out = concat(a, b) along axis. same dtype. */
    VKFT_OP_CONCAT,
    /*
     * C = alpha * op(A) * op(B) [+ C0].
     *   A f32: [..., M, K], or [..., K, M] with trans_a.
     *   B f32|f16|bf16: [..., K, N], or [..., N, K] with trans_b; 2-D B is shared by every batch.
     *   C0 (opt, in[2]) f32 [..., M, N]: added; out may alias it (accumulate in place).
     *   out f32 [..., M, N]. Batch dims (up to 2) of A, B (unless 2-D) and out are equal.
     *   A 2-D B with 3-D/4-D A and !trans_a is the linear layer: leading dims of A fold into M.
     */
    VKFT_OP_MATMUL,
    /* y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) over the last dim.
     * in: x f32 [..., H], w f32 [H]. out: y f32 [..., H], rstd f32 [rows] (rows = numel/H). */
    VKFT_OP_RMSNORM,
    /* in: dy, x, w, rstd. out: dx [..., H], dw [H]. */
    VKFT_OP_RMSNORM_BACKWARD,
    /* y = (x - mean) * rstd * w + b over the last dim.
     * in: x [..., H], w [H], b [H] (opt). out: y, mean [rows], rstd [rows]. */
    VKFT_OP_LAYERNORM,
    /* in: dy, x, w, mean, rstd. out: dx, dw [H], db [H] (opt output). */
    VKFT_OP_LAYERNORM_BACKWARD,
    /* y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's gelu_new). */
    VKFT_OP_GELU,
    /* in: dy, x. out: dx. */
    VKFT_OP_GELU_BACKWARD,
    /* y = x * sigmoid(x). */
    VKFT_OP_SILU,
    /* in: dy, x. out: dx. */
    VKFT_OP_SILU_BACKWARD,
    /* y = silu(gate) * up. in: gate, up (same shape). */
    VKFT_OP_SWIGLU,
    /* in: dy, gate, up. out: dgate, dup. */
    VKFT_OP_SWIGLU_BACKWARD,
    /* y = softmax over the last dim. */
    VKFT_OP_SOFTMAX,
    /* in: dy, y. out: dx = y * (dy - sum(dy * y)). */
    VKFT_OP_SOFTMAX_BACKWARD,
    /*
     * Rotary embedding, Hugging Face rotate-half layout, on the first R = 2 * len(inv_freq) dims
     * of each head (the rest pass through):
     *   in: x f32 [B, T, nH, D], inv_freq f32 [R/2], positions (opt) i32 [B, T].
     *   angle(b,t,j) = pos(b,t) * inv_freq[j], pos = positions[b,t] or pos_offset + t.
     *   y[i] = x[i] cos - x[i+R/2] sin, y[i+R/2] = x[i+R/2] cos + x[i] sin (i < R/2),
     *   cos and sin multiplied by params.attention_scaling.
     */
    VKFT_OP_ROPE,
    /* The adjoint: in dy, inv_freq, positions (opt); out dx. */
    VKFT_OP_ROPE_BACKWARD,
    /* out[..., H] = table[ids[...]]; ids i32 [...], table f32|f16|bf16 [V, H]; out f32.
     * An id outside [0, V) gives a zero row. */
    VKFT_OP_EMBEDDING,
    /* in: dy f32 [..., H], ids i32 [...]. out: dtable f32 [vocab, H] (rows no id names are 0).
     * Deterministic: each row sums its tokens in index order. */
    VKFT_OP_EMBEDDING_BACKWARD,
    /*
     * Fused attention with grouped-query heads (nH % nKV == 0; head h reads kv head h/(nH/nKV)).
     *   in: q f32 [B, T, nH, D], k f32 [B, S, nKV, D], v f32 [B, S, nKV, D],
     *       prefix_k (opt) f32 [P, nKV, D], prefix_v (opt) f32 [P, nKV, D]  (seen by every query,
     *       shared across the batch), key_mask (opt) f32 [B, S] (1 keep, 0 masked).
     *   out: o f32 [B, T, nH, D], lse f32 [B, nH, T] (log-sum-exp of the scaled scores).
     *   causal: query t sees key s iff s <= t + q_pos_offset. A query that sees no key gets
     *   o = 0 and lse = +INFINITY.
     */
    VKFT_OP_ATTENTION,
    /* in: dO, q, k, v, prefix_k, prefix_v, key_mask, o, lse (same (opt) as forward).
     * out: dq, dk, dv, dprefix_k, dprefix_v (the last two present iff the prefix is;
     * dprefix sums over the batch). */
    VKFT_OP_ATTENTION_BACKWARD,
    /*
     * Cross-entropy over a large vocabulary, chunked (online log-sum-exp).
     *   in: logits f32 [N, V], labels i32 [N] (ignore_index skipped), weights (opt) f32 [N].
     *   out: loss_sum f32 [1] = sum_i w_i (lse_i - logits[i, label_i]),
     *        count f32 [1] = sum_i w_i over non-ignored rows, lse f32 [N].
     */
    VKFT_OP_CROSS_ENTROPY,
    /* in: logits, labels, weights (opt), lse, dloss f32 [1] (the gradient of loss_sum).
     * out: dlogits f32 [N, V] = dloss * w_i * (softmax_i - onehot(label_i)); ignored rows 0. */
    VKFT_OP_CROSS_ENTROPY_BACKWARD,
    /* out f32 [1] = sum of x^2 over all elements, in a fixed order (deterministic). */
    VKFT_OP_SUM_SQUARES,
    /*
     * One AdamW step, PyTorch semantics (decoupled weight decay, bias correction).
     *   in: p, g, m, v f32 (same shape), hyper f32 [4] = {lr, step (1-based), grad_scale, any}
 *   (hyper[3] is not read: GRAD_CLIP leaves the gradient norm there).
     *   out: p, m, v (may alias in[0], in[2], in[3]). g is multiplied by grad_scale first
     *   (global-norm clipping computes it on the device).
     */
    VKFT_OP_ADAMW,
    /*
     * NF4 quantisation, bitsandbytes semantics: 64-element blocks over the flattened tensor,
     * absmax double-quantised (256 absmax per second-level block, dynamic 8-bit map, mean
     * offset). in: w f32 (numel even).
     * out: codes u8 [numel/2] (first element in the high nibble), absmax_q u8 [nb],
     *      absmax2 f32 [nb2], offset f32 [1]; nb = ceil(numel/64), nb2 = ceil(nb/256).
     */
    VKFT_OP_NF4_QUANTIZE,
    /* in: codes, absmax_q, absmax2, offset. out: w f32 of params.shape. */
    VKFT_OP_NF4_DEQUANTIZE,
    /* y = alpha * A W^T [+ C0] (or A W with trans) with W [n, k] in NF4, dequantised on the fly.
     * in: A f32 [..., k] ([..., n] with trans), codes, absmax_q, absmax2, offset, C0 (opt).
     * out f32 [..., n] ([..., k] with trans).
     * params.compute VKFT_BF16 / VKFT_F16 (bitsandbytes' compute_dtype, emulated exactly on
     * every device): y = rnd(alpha sum_t rnd(A) rnd(W)) [+ C0] with rnd = round to the nearest
     * bf16 / f16 value, ties to even (f16: overflow to inf, subnormals kept), as torch's .to();
     * the products and the sum in f32, C0 added after the rounding. */
    VKFT_OP_MATMUL_NF4,
    /*
     * The AdamW hyper vector of a step with global-norm clipping (PyTorch's clip_grad_norm_):
     *   in: sumsq f32 [1] (sum of squares of every gradient), hyper f32 [2] = {lr, step}.
     *   out: f32 [4] = {lr, step, coef, norm}: norm = sqrt(sumsq), coef = min(1, max_norm /
     *   (norm + 1e-6)), or 1 when max_norm is 0 (clipping off).
     */
    VKFT_OP_GRAD_CLIP,
    /*
     * Inverted dropout with a counter-based mask (LoRA dropout):
     *   in: x f32 [...], seed i32 [2] = {seed, step} (an INPUT leaf, so a replayed plan draws a
     *       fresh mask every step without re-recording).
     *   out: y f32 (x's shape) = keep(i) ? x[i] * s : 0, s = 1 / (1 - p) rounded to f32 once;
     *        may alias x.
     *   keep(i) = hash(i, stream, step, seed) >= ceil(p * 2^32), i the flat element index and
     *   hash MurmurHash3_x86_32 of the words {i mod 2^32, i / 2^32, stream, step} with seed as
     *   its seed (backend/cpu/dropout.c), so the CPU and Vulkan give identical bits.
     *   p in [0, 1); p = 0 or a negative step (evaluation) is an exact copy. The gradient is
     *   the same op on dy with the same seed input and params (the same mask); `stream` tells
     *   dropout sites apart.
     */
    VKFT_OP_DROPOUT,
    /* y = max(x, 0) (f32; NaN stays NaN). */
    VKFT_OP_RELU,
    /* in: dy, y (the forward's OUTPUT). out: dx = y > 0 ? dy : 0 (0 at x = 0, as PyTorch). */
    VKFT_OP_RELU_BACKWARD,
    /* y = tanh(x) (f32; |error| <= a few ulp, exact +-1 for large |x|). */
    VKFT_OP_TANH,
    /* in: dy, y (the forward's OUTPUT). out: dx = dy (1 - y) (1 + y). */
    VKFT_OP_TANH_BACKWARD,
    /* y = x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))): the exact GELU (PyTorch's gelu, transformers'
     * "gelu"; GELU above is the tanh approximation). f32; relative error ~1e-6 for every finite
     * x, the negative tail included. */
    VKFT_OP_GELU_ERF,
    /* in: dy, x. out: dx = dy (Phi(x) + x phi(x)), phi the standard normal density. */
    VKFT_OP_GELU_ERF_BACKWARD,
    VKFT_OP_COUNT
} vkft_op;

typedef struct vkft_fill_params { float value; } vkft_fill_params;
typedef struct vkft_cast_params { vkft_dtype dtype; } vkft_cast_params;
typedef struct vkft_scale_params { float alpha, beta; } vkft_scale_params;
/* COPY (target shape) and SUM_TO (reduced shape) and NF4_DEQUANTIZE (weight shape). */
typedef struct vkft_shape_params { int ndim; int64_t shape[VKFT_MAX_DIMS]; } vkft_shape_params;
typedef struct vkft_transpose_params { int perm[VKFT_MAX_DIMS]; } vkft_transpose_params;
typedef struct vkft_slice_params { int axis; int64_t start, len; } vkft_slice_params;
typedef struct vkft_pad_params { int axis; int64_t before, after; } vkft_pad_params;
typedef struct vkft_concat_params { int axis; } vkft_concat_params;
typedef struct vkft_matmul_params { bool trans_a, trans_b; float alpha; } vkft_matmul_params;
typedef struct vkft_norm_params { float eps; } vkft_norm_params;
typedef struct vkft_rope_params { int64_t pos_offset; float attention_scaling; } vkft_rope_params;
typedef struct vkft_embedding_backward_params { int64_t vocab; } vkft_embedding_backward_params;
typedef struct vkft_attention_params {
    bool causal;
    float scale;            /* usually 1/sqrt(D) */
    int64_t q_pos_offset;   /* causal offset of query 0 (S - T with a KV cache) */
} vkft_attention_params;
typedef struct vkft_cross_entropy_params { int32_t ignore_index; } vkft_cross_entropy_params;
typedef struct vkft_adamw_params { float beta1, beta2, eps, weight_decay; } vkft_adamw_params;
typedef struct vkft_grad_clip_params { float max_norm; } vkft_grad_clip_params;
typedef struct vkft_dropout_params {
    float p;                /* drop probability, [0, 1) */
    uint32_t stream;        /* distinguishes dropout sites sharing one seed input */
} vkft_dropout_params;
typedef struct vkft_matmul_nf4_params {
    int64_t n, k;           /* W is [n, k] */
    bool trans;             /* false: y = A W^T; true: y = A W */
    float alpha;
    vkft_dtype compute;     /* VKFT_F32 (0: zero-init), VKFT_BF16 or VKFT_F16 */
} vkft_matmul_nf4_params;

/* The op's name ("matmul", "rmsnorm_backward", ...). */
const char *vkft_op_name(vkft_op op);

/*
 * Output descriptors of op for the given inputs and params (NULL entries for absent optional
 * inputs). For FILL the caller sets out[0]. On failure the status names the op and the shapes,
 * with the message in msg.
 */
vkft_status vkft_op_infer(vkft_op op, const void *params, const vkft_desc *const *in, int n_in,
                          vkft_desc *out, int n_out, char *msg, size_t msg_len);

/*
 * Runs op now on dev and waits for it (eager mode, for tests, tools and small programs; training
 * steps run as compiled graphs). Checks every shape and dtype first: on failure nothing is written.
 * params points to the op's params struct (vkft_<op>_params above); NULL for ops that take none.
 */
vkft_status vkft_op_run(vkft_device *dev, vkft_op op, const void *params,
                        vkft_tensor *const *in, int n_in, vkft_tensor *const *out, int n_out);

#ifdef __cplusplus
}
#endif

#endif
