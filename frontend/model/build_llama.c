/*
 * The Llama family decoder (Llama 2/3, Mistral, Qwen2, TinyLlama, SmolLM), as transformers'
 * LlamaModel: RMSNorm before attention and MLP, rotary embeddings (rotate-half) on q and k,
 * grouped-query attention, SwiGLU MLP, a final RMSNorm. Qwen2 differs only by q/k/v biases.
 *
 *   x = embed(tokens)                                        [B, T, H]
 *   per layer:  x += o_proj(attn(rope(q(n)), rope(k(n)), v(n)))   n = rmsnorm(x)
 *               x += down(silu(gate(n)) * up(n))                   n = rmsnorm(x)
 *   return rmsnorm(x)
 */
#include <stdio.h>

#include "model/build_internal.h"

static vkft_value rope(mbuild *b, vkft_value x, vkft_value inv_freq, vkft_value positions,
                       float scaling) {
    /* without a positions input the real tokens start at the attention prefix length */
    vkft_rope_params rp = {.pos_offset = positions == VKFT_NONE ? b->out->attention_prefix : 0,
                           .attention_scaling = scaling};
    return mb_op(b, VKFT_OP_ROPE, &rp, (vkft_value[]){x, inv_freq, positions}, 3);
}

vkft_value mb_llama(mbuild *b, vkft_value tokens, vkft_value positions) {
    const vkft_model_config *c = b->cfg;
    const int64_t H = c->hidden, V = c->vocab, nH = c->heads, nKV = c->kv_heads;
    const int64_t D = c->head_dim, F = c->ffn, B = b->B, T = b->T;
    b->embed_table = mb_param(b, VKFT_PARAM_EMBEDDING, -1, 2, (int64_t[]){V, H},
                              "model.embed_tokens.weight");
    vkft_value x = mb_embed_tokens(b, tokens, b->embed_table);
    vkft_value inv_freq = mb_buffer(b, "vkft.rope_inv_freq", VKFT_F32, 1, (int64_t[]){D / 2});
    float scaling = 1.0f;
    vkft_model_rope_inv_freq(c, NULL, &scaling);
    for (int l = 0; l < c->layers && !b->st; l++) {
        char p[96], site[160];
        snprintf(p, sizeof p, "model.layers.%d", l);
        vkft_value w = mb_param(b, VKFT_PARAM_NORM_WEIGHT, l, 1, &H,
                                "%s.input_layernorm.weight", p);
        vkft_value n = mb_rmsnorm(b, x, w);
        snprintf(site, sizeof site, "%s.self_attn.q_proj", p);
        vkft_value q = mb_linear(b, n, site, "q_proj", l, H, nH * D, c->qkv_bias, false,
                                 VKFT_NONE);
        snprintf(site, sizeof site, "%s.self_attn.k_proj", p);
        vkft_value k = mb_linear(b, n, site, "k_proj", l, H, nKV * D, c->qkv_bias, false,
                                 VKFT_NONE);
        snprintf(site, sizeof site, "%s.self_attn.v_proj", p);
        vkft_value v = mb_linear(b, n, site, "v_proj", l, H, nKV * D, c->qkv_bias, false,
                                 VKFT_NONE);
        q = rope(b, mb_reshape(b, q, 4, (int64_t[]){B, T, nH, D}), inv_freq, positions, scaling);
        k = rope(b, mb_reshape(b, k, 4, (int64_t[]){B, T, nKV, D}), inv_freq, positions,
                 scaling);
        v = mb_reshape(b, v, 4, (int64_t[]){B, T, nKV, D});
        vkft_value o = mb_attention(b, l, q, k, v);
        snprintf(site, sizeof site, "%s.self_attn.o_proj", p);
        vkft_value a = mb_linear(b, o, site, "o_proj", l, nH * D, H, c->o_bias, false,
                                 VKFT_NONE);
        x = mb_block_residual(b, l, VKFT_BLOCK_ATTENTION, x, a);
        w = mb_param(b, VKFT_PARAM_NORM_WEIGHT, l, 1, &H, "%s.post_attention_layernorm.weight",
                     p);
        n = mb_rmsnorm(b, x, w);
        snprintf(site, sizeof site, "%s.mlp.gate_proj", p);
        vkft_value gate = mb_linear(b, n, site, "gate_proj", l, H, F, c->mlp_bias, false,
                                    VKFT_NONE);
        snprintf(site, sizeof site, "%s.mlp.up_proj", p);
        vkft_value up = mb_linear(b, n, site, "up_proj", l, H, F, c->mlp_bias, false, VKFT_NONE);
        vkft_value s = mb_op(b, VKFT_OP_SWIGLU, NULL, (vkft_value[]){gate, up}, 2);
        snprintf(site, sizeof site, "%s.mlp.down_proj", p);
        vkft_value d = mb_linear(b, s, site, "down_proj", l, F, H, c->mlp_bias, false,
                                 VKFT_NONE);
        x = mb_block_residual(b, l, VKFT_BLOCK_MLP, x, d);
        mb_layer_done(b, l, x);
    }
    vkft_value wn = mb_param(b, VKFT_PARAM_NORM_WEIGHT, -1, 1, &H, "model.norm.weight");
    return mb_rmsnorm(b, x, wn);
}
