/*
 * A stack of Llama-shaped transformer layers as one training-step graph, built through the
 * public API only (vkft/graph.h). `vkft bench step` times it; the backend tests differentiate it
 * (tests/backend/graph_block_test.c) and checkpoint it (graph_checkpoint_test.c).
 *
 * Per layer l (h [B, T, H], heads of D = H / heads):
 *     a = rmsnorm(h, ln1)                        q/k/v = a Wq/Wk/Wv^T  -> [B, T, heads|kv, D]
 *     q, k = rope(q), rope(k)                    o = attention(q, k, v) (causal, GQA)
 *     h = h + o Wo^T
 *     m = rmsnorm(h, ln2)                        s = swiglu(m Wg^T, m Wu^T)
 *     h = h + dropout(s Wd^T)  (when cfg.dropout > 0; stream l)     checkpoint(h) (cfg)
 * then logits = rmsnorm(h, norm) head^T and loss = cross_entropy(logits, labels) summed ("loss",
 * kept), with h0 = embed[ids]. Leaves: INPUTs "ids" i32 [B, T], "labels" i32 [B*T],
 * "inv_freq" f32 [D/2], "seed" i32 [2] (dropout); TRAINABLE "embed", "layers.L.{ln1, wq, wk,
 * wv, wo, ln2, wg, wu, wd}", "norm", "head" (layer 0's wk is a frozen WEIGHT with freeze_k0).
 * The backward is seeded with 1 (gradients of the summed loss); with `optimizer`, phase 1 is
 * AdamW (INPUT "hyper" = {lr, step}).
 */
#ifndef VKFT_TOOLS_BENCH_STEP_GRAPH_H
#define VKFT_TOOLS_BENCH_STEP_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "vkft/graph.h"
#include "vkft/ops.h"

typedef struct step_graph_cfg {
    int batch, seq, hidden, heads, kv_heads, ffn, vocab, layers;
    float dropout;          /* p of the dropout on each MLP output; 0 = none */
    bool checkpoint;        /* vkft_graph_checkpoint on each layer's output */
    bool freeze_k0;         /* layers.0.wk is a frozen WEIGHT */
    bool optimizer;         /* add the AdamW phase */
} step_graph_cfg;

/* Builds the graph (forward, backward, optional optimizer). NULL on failure, with the reason in
 * msg. */
vkft_graph *step_graph_build(const step_graph_cfg *c, char *msg, size_t msg_len);

/* Uploads deterministic data from `seed`: weights normal(0, 1/sqrt(fan in)) (norm weights
 * 1 + normal(0, 0.1)), inv_freq (base 10000), random ids and labels, seed = {seed, 1} and
 * hyper = {1e-3, 1}. g is the graph p was compiled from. Returns 0, or -1 with a message. */
int step_graph_init(vkft_plan *p, const vkft_graph *g, const step_graph_cfg *c, uint64_t seed,
                    char *msg, size_t msg_len);

#endif
