#!/usr/bin/python3
"""Reference trajectories for tests/frontend/train/h2_test.c: bottleneck adapters, prefix
tuning and prompt tuning trained by PyTorch on the same jobs vkft runs.

For each case this writes tests/fixtures/methods/<case>/:
  model/         a small random model (config.json + model.safetensors, f32)
  data.jsonl     pre-tokenised examples (gen_train_fixtures.make_data)
  job.yaml       the job (train on data.jsonl, evaluate on it at the end; output.dir set by
                 the test)
  expected.json  {"format": "vkft-train-fixture", "version": 1, "steps": [{step, loss, lr,
                 grad_norm}], "final_eval_loss", "params_trainable", "adapter": {"config":
                 {key: value ("<any>": present, any value)}, "tensors": {name: shape}}}

The methods' own parameters start from vkft's seeded init, redone here bit for bit: Rng mirrors
frontend/util/rng.c (splitmix64 output mix over a Weyl sequence) and the stream rule of
frontend/train/method_common.c, so no init adapter is needed (method.init is a LoRA key).

What each method computes (docs/methods.md):
  adapter  AdapterHub's `adapters` on a pre-norm model (no layer norm handed to the adapter
           layer), for a sublayer output h and the residual stream x it read:
           houlsby (DoubleSeqBnConfig) after attention and MLP: x + h + up(act(down(h)));
           pfeiffer (SeqBnConfig: original_ln_before, residual_before_ln) after the MLP only:
           x + h + up(act(down(x + h))); down/up Linear with bias; activations as transformers'
           ACT2FN ("gelu" exact erf, "gelu_new" tanh); down.weight U(±1/√H) from stream
           <site index>, the rest 0.
  prefix   PEFT PREFIX_TUNING: KV [P, L·2·d] (d = kv_heads·head_dim), slot 2l = layer l's key,
           2l+1 its value, each [P, kv_heads, head_dim]; with projection E,
           KV = tanh(Emb W0ᵀ + b0) W2ᵀ + b2. Used as past keys/values (no RoPE, real positions
           start at P): gen_model_fixtures' forwards with prefix=.
  prompt   PEFT PROMPT_TUNING: E [P, H] prepended (real positions P..); PEFT's loss: labels
           [-100]*P + the row's own (unshifted) labels, then the causal-LM shift over all P + T
           positions, so the last virtual token predicts the row's first token (T terms per
           row); mean over the non-ignored terms.
params_trainable is what PEFT's print_trainable_parameters reports for the same config
(prompt encoder parameters: PrefixEncoder / PromptEmbedding), or for adapters AdapterHub's
Adapter module (two nn.Linear with bias per site).

The reference runs in float64 (the init values are the f32 ones vkft draws).
Run: /usr/bin/python3 tools/gen_h2_fixtures.py   (Debian python3-torch)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model_fixtures as ref  # noqa: E402  (plain-torch Llama / GPT-2 forwards)
import gen_train_fixtures as tf   # noqa: E402  (data, batches, schedules)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                    "methods")
SEQ = tf.SEQ
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


# ---- vkft's RNG (frontend/util/rng.c) and method init streams (method_common.c) ----

def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Rng:
    def __init__(self, seed):
        self.key, self.n = mix(seed & M64), 0

    def u64(self):
        self.n += 1
        return mix((self.key + self.n * GOLDEN) & M64)

    def uniform(self):
        return (self.u64() >> 11) * 2.0 ** -53

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


def stream(seed, k):
    return Rng((seed * GOLDEN + k + 1) & M64)


def fill_uniform(shape, seed, k, bound):
    r = stream(seed, k)
    n = math.prod(shape)
    vals = [(2.0 * r.uniform() - 1.0) * bound for _ in range(n)]
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)   # rounded as C's (float)


def fill_normal(shape, seed, k):
    r = stream(seed, k)
    vals = [r.normal() for _ in range(math.prod(shape))]
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)


# ---- model shapes ----

def dims(cfg):
    """hidden, layers, kv heads, head dim."""
    if cfg["model_type"] == "gpt2":
        return cfg["n_embd"], cfg["n_layer"], cfg["n_head"], cfg["n_embd"] // cfg["n_head"]
    return cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_key_value_heads"], \
        cfg["head_dim"]


ACTS = {"gelu": torch.nn.functional.gelu, "gelu_new": ref.gelu_new,
        "silu": torch.nn.functional.silu, "tanh": torch.tanh, "relu": torch.relu}


def no_hook(l, blk, h, x):
    return h


def prepended(x, prepend):
    """Token embeddings x [B, T, H] with prepend [P, H] (or None) in front of every row."""
    if prepend is None:
        return x
    return torch.cat([prepend.unsqueeze(0).expand(x.shape[0], -1, -1), x], 1)


def llama_forward_hooked(cfg, w, tokens, hook=no_hook, prepend=None):
    """gen_model_fixtures.llama_forward with hook(layer, "attn"|"mlp", h, x) on each sublayer's
    output h before the residual add (x: the residual stream the sublayer read), and optional
    embeddings prepended to every row (positions 0.., logits of every position)."""
    H, nh, nkv, d = cfg["hidden_size"], cfg["num_attention_heads"], \
        cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    x = prepended(w["model.embed_tokens.weight"][tokens], prepend)
    bsz, t = x.shape[0], x.shape[1]
    freqs = torch.arange(t, dtype=torch.float64)[:, None] * ref.rope_inv_freq(cfg).double()
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos(), emb.sin()

    def lin(name, a):
        return a @ w[name + ".weight"].T

    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}"
        n = ref.rmsnorm(x, w[pre + ".input_layernorm.weight"], eps)
        q = lin(pre + ".self_attn.q_proj", n).view(bsz, t, nh, d).transpose(1, 2)
        k = lin(pre + ".self_attn.k_proj", n).view(bsz, t, nkv, d).transpose(1, 2)
        v = lin(pre + ".self_attn.v_proj", n).view(bsz, t, nkv, d).transpose(1, 2)
        q = q * cos + ref.rotate_half(q) * sin
        k = k * cos + ref.rotate_half(k) * sin
        o = ref.attention(q, k, v).transpose(1, 2).reshape(bsz, t, nh * d)
        x = x + hook(l, "attn", lin(pre + ".self_attn.o_proj", o), x)
        n = ref.rmsnorm(x, w[pre + ".post_attention_layernorm.weight"], eps)
        g = lin(pre + ".mlp.gate_proj", n)
        m = lin(pre + ".mlp.down_proj", torch.nn.functional.silu(g) * lin(pre + ".mlp.up_proj",
                                                                          n))
        x = x + hook(l, "mlp", m, x)
    x = ref.rmsnorm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", True) \
        else w["lm_head.weight"]
    return x @ head.T


def gpt2_forward_hooked(cfg, w, tokens, hook=no_hook, prepend=None):
    """gen_model_fixtures.gpt2_forward with the same sublayer hook and prepended rows."""
    H, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    d = H // nh
    ln = torch.nn.functional.layer_norm
    x = prepended(w["transformer.wte.weight"][tokens], prepend)
    bsz, t = x.shape[0], x.shape[1]
    x = x + w["transformer.wpe.weight"][torch.arange(t)]
    for l in range(cfg["n_layer"]):
        pre = f"transformer.h.{l}"

        def conv(name, a):
            return a @ w[f"{pre}.{name}.weight"] + w[f"{pre}.{name}.bias"]

        a = ln(x, (H,), w[pre + ".ln_1.weight"], w[pre + ".ln_1.bias"], eps)
        q, k, v = conv("attn.c_attn", a).split(H, dim=2)
        q, k, v = (z.view(bsz, t, nh, d).transpose(1, 2) for z in (q, k, v))
        o = ref.attention(q, k, v).transpose(1, 2).reshape(bsz, t, H)
        x = x + hook(l, "attn", conv("attn.c_proj", o), x)
        m = ln(x, (H,), w[pre + ".ln_2.weight"], w[pre + ".ln_2.bias"], eps)
        x = x + hook(l, "mlp", conv("mlp.c_proj", ref.gelu_new(conv("mlp.c_fc", m))), x)
    x = ln(x, (H,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    return x @ w["transformer.wte.weight"].T


# ---- the methods: init (f32 values vkft draws), forward, PEFT/AdapterHub counts, layout ----

class Adapter:
    def __init__(self, cfg, m, seed):
        H, L, _, _ = dims(cfg)
        self.gpt2 = cfg["model_type"] == "gpt2"
        self.S = m.get("size") or H // m.get("reduction_factor", 16)
        self.act = ACTS[m["activation"]]
        self.houlsby = m["placement"] == "houlsby"
        self.sites = []                                     # build order, as vkft numbers them
        for l in range(L):
            for blk in (("attn", "mlp") if self.houlsby else ("mlp",)):
                sub = ("attn" if self.gpt2 else "self_attn") if blk == "attn" else "mlp"
                path = f"{'transformer.h' if self.gpt2 else 'model.layers'}.{l}.{sub}"
                self.sites.append(((l, blk), path))
        self.params, self.index = [], {}
        for i, (key, path) in enumerate(self.sites):
            t = [fill_uniform((self.S, H), seed, i, 1.0 / math.sqrt(H)),
                 torch.zeros(self.S), torch.zeros(H, self.S), torch.zeros(H)]
            self.index[key] = len(self.params)
            self.params += [x.double().requires_grad_() for x in t]
        self.H, self.L = H, L

    def logits(self, cfg, w, toks):
        def hook(l, blk, h, x):
            if (l, blk) not in self.index:
                return h
            dw, db, uw, ub = self.params[self.index[(l, blk)]:self.index[(l, blk)] + 4]
            a = h if self.houlsby else x + h       # Pfeiffer: original_ln_before, no LN
            return h + self.act(a @ dw.T + db) @ uw.T + ub
        fwd = gpt2_forward_hooked if self.gpt2 else llama_forward_hooked
        return fwd(cfg, w, toks, hook)

    def count(self):          # AdapterHub Adapter: nn.Linear(H, S) + nn.Linear(S, H)
        return len(self.sites) * (self.H * self.S + self.S + self.S * self.H + self.H)

    def layout(self, m):
        names = {"adapter_down.weight": [self.S, self.H], "adapter_down.bias": [self.S],
                 "adapter_up.weight": [self.H, self.S], "adapter_up.bias": [self.H]}
        tensors = {f"{p}.{n}": s for _, p in self.sites for n, s in names.items()}
        config = {"peft_type": "BOTTLENECK_ADAPTER", "task_type": "CAUSAL_LM",
                  "base_model_name_or_path": "<any>", "inference_mode": True,
                  "placement": m["placement"], "size": self.S, "activation": m["activation"],
                  "hidden_size": self.H, "num_layers": self.L,
                  "reduction_factor": None if m.get("size") else m["reduction_factor"]}
        return config, tensors


class Prefix:
    def __init__(self, cfg, m, seed):
        H, L, kv, D = dims(cfg)
        self.gpt2 = cfg["model_type"] == "gpt2"
        self.P, self.L, self.kv, self.D, self.d = m["num_virtual_tokens"], L, kv, D, kv * D
        self.E = m.get("projection", 0)
        width = 2 * L * self.d
        if self.E:
            E, d = self.E, self.d
            t = [fill_normal((self.P, d), seed, 0),
                 fill_uniform((E, d), seed, 1, 1 / math.sqrt(d)),
                 fill_uniform((E,), seed, 2, 1 / math.sqrt(d)),
                 fill_uniform((width, E), seed, 3, 1 / math.sqrt(E)),
                 fill_uniform((width,), seed, 4, 1 / math.sqrt(E))]
        else:
            t = [fill_normal((self.P, width), seed, 0)]
        self.params = [x.double().requires_grad_() for x in t]

    def kv_matrix(self):
        if not self.E:
            return self.params[0]
        emb, w0, b0, w2, b2 = self.params
        return torch.tanh(emb @ w0.T + b0) @ w2.T + b2          # PEFT's PrefixEncoder

    def logits(self, cfg, w, toks):
        kv = self.kv_matrix()
        d = self.d
        slots = [kv[:, s * d:(s + 1) * d].reshape(self.P, self.kv, self.D)
                 for s in range(2 * self.L)]
        prefix = [(slots[2 * l], slots[2 * l + 1]) for l in range(self.L)]
        fwd = ref.gpt2_forward if self.gpt2 else ref.llama_forward
        return fwd(cfg, w, toks, prefix=prefix)

    def count(self):          # PEFT PrefixEncoder parameters
        width = 2 * self.L * self.d
        if not self.E:
            return self.P * width
        return self.P * self.d + (self.d * self.E + self.E) + (self.E * width + width)

    def layout(self, m):
        config = {"peft_type": "PREFIX_TUNING", "task_type": "CAUSAL_LM",
                  "base_model_name_or_path": "<any>", "inference_mode": True, "revision": None,
                  "auto_mapping": None, "modules_to_save": None,
                  "num_virtual_tokens": self.P, "token_dim": self.d,
                  "num_transformer_submodules": 1, "num_attention_heads": self.kv,
                  "num_layers": self.L, "encoder_hidden_size": self.E or self.d,
                  "prefix_projection": bool(self.E)}
        return config, {"prompt_embeddings": [self.P, 2 * self.L * self.d]}


class Prompt:
    def __init__(self, cfg, m, seed):
        H, L, _, _ = dims(cfg)
        self.gpt2 = cfg["model_type"] == "gpt2"
        self.P, self.H, self.L = m["num_virtual_tokens"], H, L
        self.heads = cfg["n_head"] if self.gpt2 else cfg["num_attention_heads"]
        self.params = [fill_normal((self.P, H), seed, 0).double().requires_grad_()]

    def loss(self, cfg, w, toks, labs, wts):
        """PEFT's PeftModelForCausalLM.forward for PROMPT_TUNING: labels [-100]*P + the row's
        own labels, the model's shift over all P + T positions, mean over the kept terms.
        labs/wts here are the rows' unshifted labels and weights (batch_unshifted)."""
        fwd = gpt2_forward_hooked if self.gpt2 else llama_forward_hooked
        logits = fwd(cfg, w, toks, prepend=self.params[0])           # [B, P + T, V]
        B, V = toks.shape[0], cfg["vocab_size"]
        full = torch.cat([torch.full((B, self.P), -100, dtype=torch.long), labs.view(B, -1)], 1)
        fw = torch.cat([torch.zeros(B, self.P, dtype=wts.dtype), wts.view(B, -1)], 1)
        shift_logits = logits[:, :-1].reshape(-1, V)
        shift_labels, shift_w = full[:, 1:].reshape(-1), fw[:, 1:].reshape(-1)
        ce = torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100,
                                               reduction="none")
        return (ce * shift_w).sum() / shift_w.sum()

    def batch(self, rows, start, batch):
        return batch_unshifted(rows, start, batch)

    def count(self):          # PEFT PromptEmbedding: nn.Embedding(P, token_dim = hidden)
        return self.P * self.H

    def layout(self, m):
        config = {"peft_type": "PROMPT_TUNING", "task_type": "CAUSAL_LM",
                  "base_model_name_or_path": "<any>", "inference_mode": True, "revision": None,
                  "auto_mapping": None, "modules_to_save": None,
                  "num_virtual_tokens": self.P, "token_dim": self.H,
                  "num_transformer_submodules": 1, "num_attention_heads": self.heads,
                  "num_layers": self.L, "prompt_tuning_init": "RANDOM",
                  "prompt_tuning_init_text": None, "tokenizer_name_or_path": None,
                  "tokenizer_kwargs": None}
        return config, {"prompt_embeddings": [self.P, self.H]}


METHODS = {"adapter": Adapter, "prefix": Prefix, "prompt": Prompt}


def batch_unshifted(rows, start, batch):
    """Rows start..start+batch as the model sees them with prompt tuning: tokens [B, T] and
    each token's own label / weight (no shift), [B*T]."""
    return tf.batch_of(rows, start, batch, shift=False)


def batch_of(method, rows, start, batch):
    if hasattr(method, "batch"):
        return method.batch(rows, start, batch)
    return tf.batch_of(rows, start, batch)


def mean_loss(method, cfg, w, toks, labs, wts):
    if hasattr(method, "loss"):
        return method.loss(cfg, w, toks, labs, wts)
    V = cfg["vocab_size"]
    logits = method.logits(cfg, w, toks).reshape(-1, V)
    ce = torch.nn.functional.cross_entropy(logits, labs, ignore_index=-100, reduction="none")
    return (ce * wts).sum() / wts.sum()


def run_case(name, cfg, job, seed):
    gen, gpt2, w32, out, rows = tf.setup_case(ROOT, name, cfg, seed)

    w = {k: v.double() for k, v in w32.items()}
    m, tr = job["method"], job["train"]
    method = METHODS[m["kind"]](cfg, m, 0)          # train.seed 0
    params = method.params
    opt = torch.optim.AdamW(params, lr=tr["lr"], betas=tuple(tr["betas"]), eps=tr["eps"],
                            weight_decay=tr["weight_decay"])
    steps, cursor = [], 0
    for step in range(tr["steps"]):
        lr = tf.schedule(tr["schedule"], tr["lr"], tr["warmup"], tr["steps"], step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        losses = []
        for _ in range(tr["grad_accum"]):
            toks, labs, wts = batch_of(method, rows, cursor, tr["batch"])
            cursor += tr["batch"]
            loss = mean_loss(method, cfg, w, toks, labs, wts)
            (loss / tr["grad_accum"]).backward()
            losses.append(loss.item())
        if tr["clip"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, tr["clip"]).item()
        else:
            norm = torch.norm(torch.stack([p.grad.norm() for p in params])).item()
        opt.step()
        steps.append({"step": step + 1, "loss": sum(losses) / len(losses), "lr": lr,
                      "grad_norm": norm})
    with torch.no_grad():                   # the job's eval: every row once, after training
        toks, labs, wts = batch_of(method, rows, 0, len(rows))
        final = mean_loss(method, cfg, w, toks, labs, wts).item()
    config, tensors = method.layout(m)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"format": "vkft-train-fixture", "version": 1, "steps": steps,
                   "final_eval_loss": final, "params_trainable": method.count(),
                   "adapter": {"config": config, "tensors": tensors}}, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "job.yaml"), "w") as f:
        f.write(job_yaml(job))
    print(name, [round(x["loss"], 5) for x in steps], "eval", round(final, 5),
          "trainable", method.count())


def job_yaml(job):
    m, tr = job["method"], job["train"]
    lines = ["# Generated by tools/gen_h2_fixtures.py: the PyTorch reference ran this job.",
             "model: {path: model}", "method:"]
    lines += [f"  {k}: {v}" for k, v in m.items()]
    lines += ["data:", "  train:", "    - {path: data.jsonl, format: tokens}",
              "  eval:", "    - {path: data.jsonl, format: tokens}",
              f"  seq_len: {SEQ}", "  shuffle: false", "train:",
              f"  steps: {tr['steps']}", f"  batch: {tr['batch']}",
              f"  grad_accum: {tr['grad_accum']}", f"  lr: {tr['lr']}",
              "  optimizer: {kind: adamw, betas: [%s, %s], eps: %s, weight_decay: %s}"
              % (tr["betas"][0], tr["betas"][1], tr["eps"], tr["weight_decay"]),
              "  schedule: {kind: %s, warmup: %d}" % (tr["schedule"], tr["warmup"]),
              f"  clip: {tr['clip']}", "  seed: 0", "output: {dir: out}", ""]
    return "\n".join(lines)


def main():
    torch.set_default_dtype(torch.float32)
    llama = ref.llama_cfg(vocab_size=64, max_position_embeddings=32)
    gpt2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 64,
            "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None, "n_positions": 16,
            "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
            "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float32"}
    run_case("llama_adapter_houlsby", llama,
             {"method": {"kind": "adapter", "placement": "houlsby", "size": 8,
                         "activation": "gelu"},
              "train": tf.train(grad_accum=2, schedule="cosine", warmup=1, clip=1.0,
                                weight_decay=0.01, steps=5)}, seed=21)
    run_case("gpt2_adapter_pfeiffer", gpt2,
             {"method": {"kind": "adapter", "placement": "pfeiffer", "reduction_factor": 4,
                         "activation": "tanh"},
              "train": tf.train(lr=2e-2, steps=4)}, seed=22)
    run_case("llama_prefix", llama,
             {"method": {"kind": "prefix", "num_virtual_tokens": 3},
              "train": tf.train(grad_accum=2, clip=1.0, schedule="linear", steps=5)}, seed=23)
    run_case("gpt2_prefix_projection", gpt2,
             {"method": {"kind": "prefix", "num_virtual_tokens": 4, "projection": 16},
              "train": tf.train(lr=5e-3, weight_decay=0.01, steps=4)}, seed=24)
    run_case("llama_prompt", llama,
             {"method": {"kind": "prompt", "num_virtual_tokens": 3},
              "train": tf.train(grad_accum=2, lr=2e-2, steps=4)}, seed=25)
    run_case("gpt2_prompt", gpt2,
             {"method": {"kind": "prompt", "num_virtual_tokens": 4},
              "train": tf.train(lr=2e-2, batch=1, steps=3)}, seed=26)
    run_case("llama_adapter_relu", llama,
             {"method": {"kind": "adapter", "placement": "pfeiffer", "size": 8,
                         "activation": "relu"},
              "train": tf.train(lr=2e-2, steps=4)}, seed=27)


if __name__ == "__main__":
    main()
