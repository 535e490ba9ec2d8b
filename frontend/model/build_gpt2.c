/*
 * The GPT-2 decoder, as transformers' GPT2Model: learned positions, LayerNorm before attention
 * and MLP, one Conv1D producing q, k and v (weights stored [in, out]), tanh-GELU (gelu_new),
 * a final LayerNorm. Parameter names use GPT2LMHeadModel's "transformer." path.
 *
 *   x = wte(tokens) + wpe(positions)                         [B, T, H]
 *   per layer:  q, k, v = split(c_attn(ln_1(x)));  x += attn.c_proj(attn(q, k, v))
 *               x += mlp.c_proj(gelu(c_fc(ln_2(x))))
 *   return ln_f(x)
 */
#include <stdio.h>

#include "model/build_internal.h"

static vkft_value layernorm(mbuild *b, vkft_value x, int layer, const char *name) {
    const int64_t H = b->cfg->hidden;
    vkft_value w = mb_param(b, VKFT_PARAM_NORM_WEIGHT, layer, 1, &H, "%s.weight", name);
    vkft_value bias = mb_param(b, VKFT_PARAM_NORM_BIAS, layer, 1, &H, "%s.bias", name);
    return mb_layernorm(b, x, w, bias);
}

vkft_value mb_gpt2(mbuild *b, vkft_value tokens, vkft_value positions) {
    const vkft_model_config *c = b->cfg;
    const int64_t H = c->hidden, V = c->vocab, nH = c->heads, D = c->head_dim, F = c->ffn;
    const int64_t B = b->B, T = b->T;
    b->embed_table = mb_param(b, VKFT_PARAM_EMBEDDING, -1, 2, (int64_t[]){V, H},
                              "transformer.wte.weight");
    vkft_value wpe = mb_param(b, VKFT_PARAM_POSITION_EMBEDDING, -1, 2,
                              (int64_t[]){c->max_positions, H}, "transformer.wpe.weight");
    vkft_value x = mb_embed_tokens(b, tokens, b->embed_table);
    if (positions == VKFT_NONE)  /* attention_prefix + 0..T-1, filled by the loader */
        positions = mb_buffer(b, "vkft.position_ids", VKFT_I32, 1, &T);
    x = mb_add(b, x, mb_embedding(b, positions, wpe));
    for (int l = 0; l < c->layers && !b->st; l++) {
        char p[96], name[160];
        snprintf(p, sizeof p, "transformer.h.%d", l);
        snprintf(name, sizeof name, "%s.ln_1", p);
        vkft_value n = layernorm(b, x, l, name);
        snprintf(name, sizeof name, "%s.attn.c_attn", p);
        vkft_value qkv = mb_linear(b, n, name, "c_attn", l, H, 3 * H, true, true, VKFT_NONE);
        vkft_value q = mb_reshape(b, mb_slice(b, qkv, 2, 0, H), 4, (int64_t[]){B, T, nH, D});
        vkft_value k = mb_reshape(b, mb_slice(b, qkv, 2, H, H), 4, (int64_t[]){B, T, nH, D});
        vkft_value v = mb_reshape(b, mb_slice(b, qkv, 2, 2 * H, H), 4,
                                  (int64_t[]){B, T, nH, D});
        vkft_value o = mb_attention(b, l, q, k, v);
        snprintf(name, sizeof name, "%s.attn.c_proj", p);
        vkft_value a = mb_linear(b, o, name, "c_proj", l, H, H, true, true, VKFT_NONE);
        x = mb_block_residual(b, l, VKFT_BLOCK_ATTENTION, x, a);
        snprintf(name, sizeof name, "%s.ln_2", p);
        n = layernorm(b, x, l, name);
        snprintf(name, sizeof name, "%s.mlp.c_fc", p);
        vkft_value f = mb_linear(b, n, name, "c_fc", l, H, F, true, true, VKFT_NONE);
        f = mb_op(b, VKFT_OP_GELU, NULL, &f, 1);
        snprintf(name, sizeof name, "%s.mlp.c_proj", p);
        vkft_value m = mb_linear(b, f, name, "c_proj", l, F, H, true, true, VKFT_NONE);
        x = mb_block_residual(b, l, VKFT_BLOCK_MLP, x, m);
        mb_layer_done(b, l, x);
    }
    return layernorm(b, x, -1, "transformer.ln_f");
}
