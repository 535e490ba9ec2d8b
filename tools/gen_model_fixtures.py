#!/usr/bin/python3
"""Reference fixtures for tests/frontend/model: small random Llama-family and GPT-2 models
(config.json + model.safetensors) with the logits and loss that the Hugging Face definitions
give for fixed tokens.

transformers is not a Debian package, so the forward passes below are written in plain torch
from the transformers definitions (LlamaRMSNorm, rotate_half RoPE with default / linear /
llama3 inv_freq, repeat_kv GQA, SwiGLU MLP; GPT-2 with Conv1D weights [in, out], gelu_new,
LayerNorm). They run in float64 on the weights as stored (bf16/f16 files are rounded first), so
the only error left in a comparison is vkft's f32 arithmetic.

Also written per model: logits with per-layer attention prefixes (prefix tuning: prefix keys
and values used as given, real positions start at P, as with past_key_values) and with
prepended input embeddings (prompt tuning: logits of the real positions).

Run: /usr/bin/python3 tools/gen_model_fixtures.py  (Debian python3-torch 1.13); writes
tests/fixtures/model/<case>/{config.json, model.safetensors, expected.bin}.

expected.bin (little-endian): magic b"VKFTMFX1", u32 version (2), i32 B, T, V, L, P_attn,
P_in, kv_heads, head_dim, hidden; i32 tokens[B*T], labels[B*T]; f32 weights[B*T],
logits[B*T*V], loss_sum, count; f32 prefix_k[L][P_attn*kv*D], prefix_v[L][...],
logits_attn_prefix[B*T*V]; f32 input_prefix[P_in*hidden], logits_input_prefix[B*T*V].
"""
import json
import math
import os
import struct
import sys

import torch

VERSION = 2
MAGIC = b"VKFTMFX1"
B, T, P_ATTN, P_IN = 2, 7, 3, 2
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                    "model")

ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.uint8: "U8"}


def write_safetensors(path, tensors):
    """tensors: list of (name, tensor); a minimal writer (names sorted, 8-byte aligned)."""
    header, blobs, offset = {}, [], 0
    for name, t in sorted(tensors, key=lambda kv: kv[0]):
        t = t.contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype in (torch.bfloat16,) else \
            t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---- Llama family (transformers modeling_llama / modeling_qwen2) ----

def rope_inv_freq(cfg):
    """transformers' _compute_default / linear / llama3 rope parameters, in float32."""
    d = cfg["head_dim"]
    rp = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    theta = rp.get("rope_theta", cfg.get("rope_theta", 10000.0))
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    kind = rp.get("rope_type", rp.get("type", "default"))
    if kind == "linear":
        inv = inv / rp["factor"]
    elif kind == "llama3":
        factor, lo, hi = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
        old = rp["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / inv
        inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv = torch.where(medium, smoothed, inv_l)
    return inv


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def attention(q, k, v, prefix_k=None, prefix_v=None):
    """q [B, nH, T, D], k/v [B, nKV, T, D]; prefix [P, nKV, D] seen by every query."""
    nh, nkv, t = q.shape[1], k.shape[1], q.shape[2]
    p = 0
    if prefix_k is not None:
        p = prefix_k.shape[0]
        pk = prefix_k.permute(1, 0, 2).unsqueeze(0).expand(k.shape[0], -1, -1, -1)
        pv = prefix_v.permute(1, 0, 2).unsqueeze(0).expand(v.shape[0], -1, -1, -1)
        k, v = torch.cat([pk, k], 2), torch.cat([pv, v], 2)
    k = k.repeat_interleave(nh // nkv, dim=1)   # repeat_kv
    v = v.repeat_interleave(nh // nkv, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(t, p + t, dtype=torch.bool)
    mask[:, p:] = torch.tril(torch.ones(t, t, dtype=torch.bool))
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, -1) @ v


def llama_forward(cfg, w, tokens, prefix=None, input_prefix=None):
    H, nh, nkv, d = cfg["hidden_size"], cfg["num_attention_heads"], \
        cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][tokens]
    if input_prefix is not None:
        x = torch.cat([input_prefix.unsqueeze(0).expand(x.shape[0], -1, -1), x], 1)
    bsz, t = x.shape[0], x.shape[1]
    p = prefix[0][0].shape[0] if prefix else 0
    pos = torch.arange(p, p + t, dtype=torch.float64)
    freqs = pos[:, None] * rope_inv_freq(cfg).double()[None, :]
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos(), emb.sin()

    def lin(name, a):
        y = a @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}"
        n = rmsnorm(x, w[pre + ".input_layernorm.weight"], eps)
        q = lin(pre + ".self_attn.q_proj", n).view(bsz, t, nh, d).transpose(1, 2)
        k = lin(pre + ".self_attn.k_proj", n).view(bsz, t, nkv, d).transpose(1, 2)
        v = lin(pre + ".self_attn.v_proj", n).view(bsz, t, nkv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        pk, pv = (prefix[l] if prefix else (None, None))
        o = attention(q, k, v, pk, pv).transpose(1, 2).reshape(bsz, t, nh * d)
        x = x + lin(pre + ".self_attn.o_proj", o)
        n = rmsnorm(x, w[pre + ".post_attention_layernorm.weight"], eps)
        g = lin(pre + ".mlp.gate_proj", n)
        x = x + lin(pre + ".mlp.down_proj", torch.nn.functional.silu(g) *
                    lin(pre + ".mlp.up_proj", n))
    x = rmsnorm(x, w["model.norm.weight"], eps)
    if input_prefix is not None:
        x = x[:, input_prefix.shape[0]:]
    tied = cfg.get("tie_word_embeddings", True)
    head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    return x @ head.T


def llama_weights(cfg, gen):
    H, nh, nkv, d, f = cfg["hidden_size"], cfg["num_attention_heads"], \
        cfg["num_key_value_heads"], cfg["head_dim"], cfg["intermediate_size"]
    V = cfg["vocab_size"]
    bias = cfg["model_type"] == "qwen2"
    w = {}

    def rnd(*shape, std=0.3):
        return torch.randn(*shape, generator=gen) * std

    w["model.embed_tokens.weight"] = rnd(V, H, std=1.0)
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}"
        w[pre + ".input_layernorm.weight"] = 1 + rnd(H, std=0.1)
        w[pre + ".post_attention_layernorm.weight"] = 1 + rnd(H, std=0.1)
        for name, o, i in (("q_proj", nh * d, H), ("k_proj", nkv * d, H), ("v_proj", nkv * d, H),
                           ("o_proj", H, nh * d)):
            w[f"{pre}.self_attn.{name}.weight"] = rnd(o, i, std=1 / math.sqrt(i))
            if bias and name != "o_proj":
                w[f"{pre}.self_attn.{name}.bias"] = rnd(o, std=0.1)
        for name, o, i in (("gate_proj", f, H), ("up_proj", f, H), ("down_proj", H, f)):
            w[f"{pre}.mlp.{name}.weight"] = rnd(o, i, std=1 / math.sqrt(i))
    w["model.norm.weight"] = 1 + rnd(H, std=0.1)
    if not cfg.get("tie_word_embeddings", True):
        w["lm_head.weight"] = rnd(V, H, std=1 / math.sqrt(H))
    return w


# ---- GPT-2 (transformers modeling_gpt2) ----

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gpt2_forward(cfg, w, tokens, prefix=None, input_prefix=None):
    H, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    d = H // nh
    ln = torch.nn.functional.layer_norm
    x = w["transformer.wte.weight"][tokens]
    if input_prefix is not None:
        x = torch.cat([input_prefix.unsqueeze(0).expand(x.shape[0], -1, -1), x], 1)
    bsz, t = x.shape[0], x.shape[1]
    p = prefix[0][0].shape[0] if prefix else 0
    x = x + w["transformer.wpe.weight"][torch.arange(p, p + t)]
    for l in range(cfg["n_layer"]):
        pre = f"transformer.h.{l}"

        def conv(name, a):
            return a @ w[f"{pre}.{name}.weight"] + w[f"{pre}.{name}.bias"]

        a = ln(x, (H,), w[pre + ".ln_1.weight"], w[pre + ".ln_1.bias"], eps)
        q, k, v = conv("attn.c_attn", a).split(H, dim=2)
        q, k, v = (z.view(bsz, t, nh, d).transpose(1, 2) for z in (q, k, v))
        pk, pv = (prefix[l] if prefix else (None, None))
        o = attention(q, k, v, pk, pv).transpose(1, 2).reshape(bsz, t, H)
        x = x + conv("attn.c_proj", o)
        m = ln(x, (H,), w[pre + ".ln_2.weight"], w[pre + ".ln_2.bias"], eps)
        x = x + conv("mlp.c_proj", gelu_new(conv("mlp.c_fc", m)))
    x = ln(x, (H,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    if input_prefix is not None:
        x = x[:, input_prefix.shape[0]:]
    tied = cfg.get("tie_word_embeddings", True)
    head = w["transformer.wte.weight"] if tied else w["lm_head.weight"]
    return x @ head.T


def gpt2_weights(cfg, gen):
    H, V, F = cfg["n_embd"], cfg["vocab_size"], cfg["n_inner"] or 4 * cfg["n_embd"]
    w = {}

    def rnd(*shape, std=0.3):
        return torch.randn(*shape, generator=gen) * std

    w["transformer.wte.weight"] = rnd(V, H, std=1.0)
    w["transformer.wpe.weight"] = rnd(cfg["n_positions"], H, std=0.5)
    for l in range(cfg["n_layer"]):
        pre = f"transformer.h.{l}"
        for ln_ in ("ln_1", "ln_2"):
            w[f"{pre}.{ln_}.weight"] = 1 + rnd(H, std=0.1)
            w[f"{pre}.{ln_}.bias"] = rnd(H, std=0.1)
        for name, i, o in (("attn.c_attn", H, 3 * H), ("attn.c_proj", H, H),
                           ("mlp.c_fc", H, F), ("mlp.c_proj", F, H)):
            w[f"{pre}.{name}.weight"] = rnd(i, o, std=1 / math.sqrt(i))   # Conv1D: [in, out]
            w[f"{pre}.{name}.bias"] = rnd(o, std=0.1)
    w["transformer.ln_f.weight"] = 1 + rnd(H, std=0.1)
    w["transformer.ln_f.bias"] = rnd(H, std=0.1)
    if not cfg.get("tie_word_embeddings", True):
        w["lm_head.weight"] = rnd(V, H, std=1 / math.sqrt(H))
    return w


# ---- cases ----

def llama_cfg(**kw):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 96,
         "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
         "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
         "rope_scaling": None, "tie_word_embeddings": False, "hidden_act": "silu",
         "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    c.update(kw)
    return c


CASES = {
    # GQA (4 heads on 2 kv heads), untied head, default RoPE, f32 file
    "llama_gqa": (llama_cfg(), torch.float32, None),
    # MHA, tied head, Llama 3.1 RoPE scaling (one band smoothed, the rest divided), bf16 file,
    # eos list, head_dim from hidden/heads
    "llama3_tied": (llama_cfg(num_key_value_heads=4, tie_word_embeddings=True,
                              rope_theta=500000.0, eos_token_id=[2, 3],
                              rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                            "original_max_position_embeddings": 16},
                              torch_dtype="bfloat16"), torch.bfloat16, None),
    # Qwen2: q/k/v bias, 4 heads on 1 kv head, linear scaling in the newer rope_parameters
    # form, f16 file
    "qwen2_bias": (dict(llama_cfg(num_key_value_heads=1, torch_dtype="float16",
                                  rope_parameters={"rope_type": "linear", "factor": 2.0,
                                                   "rope_theta": 1000000.0}),
                        architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                        use_sliding_window=False), torch.float16, None),
    # GPT-2 as openai-community/gpt2 stores it: no "transformer." prefix, attn.bias buffers,
    # tied head
    "gpt2": ({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 96,
              "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None, "n_positions": 16,
              "n_ctx": 16, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
              "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float32"},
             torch.float32, "strip"),
    # GPT-2 saved by save_pretrained (with "transformer."), untied head, n_inner set
    "gpt2_untied": ({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
                     "vocab_size": 80, "n_embd": 24, "n_layer": 1, "n_head": 2, "n_inner": 40,
                     "n_positions": 12, "layer_norm_epsilon": 1e-5,
                     "activation_function": "gelu_new", "tie_word_embeddings": False,
                     "torch_dtype": "float32"}, torch.float32, None),
}


def loss_of(logits, labels, weights):
    lse = torch.logsumexp(logits, -1)
    keep = labels != -100
    picked = logits.gather(1, labels.clamp(min=0)[:, None])[:, 0]
    loss = ((lse - picked) * weights)[keep].sum()
    return loss, weights[keep].sum()


def make_case(name, cfg, dtype, layout, seed):
    gen = torch.Generator().manual_seed(seed)
    gpt2 = cfg["model_type"] == "gpt2"
    w = gpt2_weights(cfg, gen) if gpt2 else llama_weights(cfg, gen)
    w = {k: v.to(dtype) for k, v in w.items()}           # as stored in the file
    ref = {k: v.double() for k, v in w.items()}
    V = cfg["vocab_size"]
    H = cfg["n_embd"] if gpt2 else cfg["hidden_size"]
    L = cfg["n_layer"] if gpt2 else cfg["num_hidden_layers"]
    nkv = cfg["n_head"] if gpt2 else cfg["num_key_value_heads"]
    d = H // cfg["n_head"] if gpt2 else cfg["head_dim"]
    tokens = torch.randint(0, V, (B, T), generator=gen)
    labels = torch.cat([tokens[:, 1:], torch.full((B, 1), -100)], 1).reshape(-1).clone()
    labels[3] = -100                                     # a masked prompt token
    weights = torch.ones(B * T, dtype=torch.float64)
    weights[T:] = 0.5                                    # second row weighted down
    fwd = gpt2_forward if gpt2 else llama_forward
    logits = fwd(cfg, ref, tokens).reshape(B * T, V)
    loss, count = loss_of(logits, labels, weights.double())
    prefix = [((torch.randn(P_ATTN, nkv, d, generator=gen)).double(),
               (torch.randn(P_ATTN, nkv, d, generator=gen)).double()) for _ in range(L)]
    logits_p = fwd(cfg, ref, tokens, prefix=prefix).reshape(B * T, V)
    inp = torch.randn(P_IN, H, generator=gen).double()
    logits_i = fwd(cfg, ref, tokens, input_prefix=inp).reshape(B * T, V)

    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    tensors = list(w.items())
    if layout == "strip":
        tensors = [(k[len("transformer."):] if k.startswith("transformer.") else k, v)
                   for k, v in tensors]
        n = cfg["n_positions"]
        mask = torch.tril(torch.ones(n, n, dtype=torch.uint8)).view(1, 1, n, n)
        tensors += [(f"h.{l}.attn.bias", mask) for l in range(L)]
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    f32 = lambda t: t.float().contiguous().numpy().tobytes()   # noqa: E731
    i32 = lambda t: t.int().contiguous().numpy().tobytes()     # noqa: E731
    with open(os.path.join(out, "expected.bin"), "wb") as f:
        f.write(MAGIC + struct.pack("<I", VERSION))
        f.write(struct.pack("<9i", B, T, V, L, P_ATTN, P_IN, nkv, d, H))
        f.write(i32(tokens) + i32(labels) + f32(weights) + f32(logits))
        f.write(struct.pack("<2f", float(loss), float(count)))
        for pk, _ in prefix:
            f.write(f32(pk))
        for _, pv in prefix:
            f.write(f32(pv))
        f.write(f32(logits_p) + f32(inp) + f32(logits_i))
    print(f"{name}: loss/count {float(loss) / float(count):.6f}")


def main():
    torch.manual_seed(0)
    for i, (name, (cfg, dtype, layout)) in enumerate(sorted(CASES.items())):
        make_case(name, cfg, dtype, layout, 1000 + i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
