#!/usr/bin/python3
"""Reference loss trajectories for tests/frontend/train: what PyTorch gives for the same jobs.

For each case this writes tests/fixtures/train/<case>/:
  model/            a small random model (config.json + model.safetensors, f32)
  init_adapter/     (LoRA cases) a PEFT adapter with random A and *non-zero* B, which the job
                    starts from (method.init), so vkft and PyTorch start from the same weights
  data.jsonl        pre-tokenised examples ({"input_ids", "labels"}, -100 = ignored)
  job.yaml          the job (model/data/init paths relative to it; output.dir set by the test)
  expected.json     {"format": "vkft-train-fixture", "version": 1, "steps": [{"step", "loss",
                    "lr", "grad_norm"}, ...]}

The reference follows the job semantics of issue 6 / docs/jobs.md: file order with wrap
(shuffle: false), labels shifted (position t predicts token t+1), rows truncated / right-padded
to seq_len, the loss of a micro-batch = sum(w CE) / sum(w) over non-ignored positions, a step's
loss = the mean of its K micro-batch losses, gradients of (loss_k / K) summed, global-norm
clipping as torch.nn.utils.clip_grad_norm_, torch.optim.AdamW, and Hugging Face's
constant/linear/cosine-with-warm-up schedules. LoRA is applied as W + s·B·A (mathematically the
same forward and the same gradients for A and B as x Wᵀ + s x Aᵀ Bᵀ with dropout 0). It runs in
float64: the comparison measures vkft's f32 arithmetic only.

Run: /usr/bin/python3 tools/gen_train_fixtures.py   (Debian python3-torch)
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model_fixtures as ref  # noqa: E402  (the plain-torch Llama / GPT-2 forwards)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                    "train")
SEQ = 8


def make_data(gen, vocab, n=7):
    rows = []
    for i in range(n):
        length = [5, 8, 11, 3, 8, 6, 10][i % 7]
        ids = torch.randint(0, vocab, (length,), generator=gen).tolist()
        labels = list(ids)
        if i % 3 == 0:
            for j in range(min(2, length)):
                labels[j] = -100            # a masked "prompt"
        rows.append({"input_ids": ids, "labels": labels})
    return rows


def batch_of(rows, start, batch, shift=True):
    """Rows start..start+batch (wrapping) → tokens [B,T], labels [B*T], weights [B*T]: with
    shift, position t's label is token t+1's (the model predicts the next token); without, each
    token's own label (prompt tuning's rows: the model shifts them itself). -100 / 0 on padding."""
    toks = torch.zeros(batch, SEQ, dtype=torch.long)
    labs = torch.full((batch, SEQ), -100, dtype=torch.long)
    for b in range(batch):
        ex = rows[(start + b) % len(rows)]
        ids, lab = ex["input_ids"][:SEQ], ex["labels"][:SEQ]
        toks[b, :len(ids)] = torch.tensor(ids)
        if not shift:
            labs[b, :len(lab)] = torch.tensor(lab)
            continue
        for t in range(len(ids) - 1):
            labs[b, t] = lab[t + 1]
    labs = labs.reshape(-1)
    weights = (labs != -100).double()
    return toks, labs, weights


def schedule(kind, lr, warmup, total, step):
    if step < warmup:
        return lr * step / max(1, warmup)
    span, done = total - warmup, step - warmup
    if kind == "constant":
        return lr
    if kind == "linear":
        return lr * max(0.0, (span - done) / max(1, span))
    return lr * max(0.0, 0.5 * (1.0 + math.cos(math.pi * done / span)))


def lora_sites(cfg, targets):
    """(module path, in, out, conv1d) of every targeted linear layer, in build order."""
    sites = []
    if cfg["model_type"] == "gpt2":
        H = cfg["n_embd"]
        F = cfg["n_inner"] or 4 * H
        for l in range(cfg["n_layer"]):
            for name, i, o in (("attn.c_attn", H, 3 * H), ("attn.c_proj", H, H),
                               ("mlp.c_fc", H, F), ("mlp.c_proj", F, H)):
                sites.append((f"transformer.h.{l}.{name}", i, o, True))
    else:
        H, nh, nkv, d, F = cfg["hidden_size"], cfg["num_attention_heads"], \
            cfg["num_key_value_heads"], cfg["head_dim"], cfg["intermediate_size"]
        for l in range(cfg["num_hidden_layers"]):
            for name, i, o in (("self_attn.q_proj", H, nh * d), ("self_attn.k_proj", H, nkv * d),
                               ("self_attn.v_proj", H, nkv * d), ("self_attn.o_proj", nh * d, H),
                               ("mlp.gate_proj", H, F), ("mlp.up_proj", H, F),
                               ("mlp.down_proj", F, H)):
                sites.append((f"model.layers.{l}.{name}", i, o, False))
    if targets == "all-linear":
        return sites
    return [s for s in sites if any(s[0] == t or s[0].endswith("." + t) for t in targets)]


def setup_case(root, name, cfg, seed):
    """A case folder under root: a random model (model/config.json + model.safetensors) and
    data.jsonl, drawn from one generator seeded with seed (also returned, for what follows)."""
    gen = torch.Generator().manual_seed(seed)
    gpt2 = cfg["model_type"] == "gpt2"
    w32 = ref.gpt2_weights(cfg, gen) if gpt2 else ref.llama_weights(cfg, gen)
    out = os.path.join(root, name)
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    with open(os.path.join(out, "model", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    ref.write_safetensors(os.path.join(out, "model", "model.safetensors"), list(w32.items()))
    rows = make_data(gen, cfg["vocab_size"])
    with open(os.path.join(out, "data.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return gen, gpt2, w32, out, rows


def run_case(name, cfg, job, seed):
    gen, gpt2, w32, out, rows = setup_case(ROOT, name, cfg, seed)

    w = {k: v.double() for k, v in w32.items()}
    m = job["method"]
    lora = m["kind"] == "lora"
    if lora:
        sites = lora_sites(cfg, m["targets"])
        r, s = m["r"], m["alpha"] / m["r"]
        ab = []
        for path, i, o, conv in sites:
            a32 = torch.randn(r, i, generator=gen) * 0.2
            b32 = torch.randn(o, r, generator=gen) * 0.2
            ab.append((path, a32, b32, conv))
        os.makedirs(os.path.join(out, "init_adapter"), exist_ok=True)
        tensors = []
        for path, a32, b32, _ in ab:
            tensors.append((f"base_model.model.{path}.lora_A.weight", a32))
            tensors.append((f"base_model.model.{path}.lora_B.weight", b32))
        ref.write_safetensors(os.path.join(out, "init_adapter", "adapter_model.safetensors"),
                              tensors)
        with open(os.path.join(out, "init_adapter", "adapter_config.json"), "w") as f:
            json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r,
                       "lora_alpha": m["alpha"], "lora_dropout": 0.0,
                       "target_modules": m["targets"], "fan_in_fan_out": gpt2,
                       "bias": "none", "use_rslora": False, "use_dora": False}, f, indent=2)
        params = []
        for _, a32, b32, _ in ab:
            params += [a32.double().requires_grad_(), b32.double().requires_grad_()]
    else:
        params = [v.requires_grad_() for v in w.values()]

    tr = job["train"]
    opt = torch.optim.AdamW(params, lr=tr["lr"], betas=tuple(tr["betas"]), eps=tr["eps"],
                            weight_decay=tr["weight_decay"])
    fwd = ref.gpt2_forward if gpt2 else ref.llama_forward
    V = cfg["vocab_size"]
    steps, cursor = [], 0
    for step in range(tr["steps"]):
        lr = schedule(tr["schedule"], tr["lr"], tr["warmup"], tr["steps"], step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        weff = dict(w)
        if lora:
            for k, (path, _, _, conv) in enumerate(ab):
                delta = s * params[2 * k + 1] @ params[2 * k]         # [out, in]
                weff[path + ".weight"] = w[path + ".weight"] + (delta.T if conv else delta)
        losses = []
        for _ in range(tr["grad_accum"]):
            toks, labs, wts = batch_of(rows, cursor, tr["batch"])
            cursor += tr["batch"]
            logits = fwd(cfg, weff, toks).reshape(-1, V)
            ce = torch.nn.functional.cross_entropy(logits, labs, ignore_index=-100,
                                                   reduction="none")
            loss = (ce * wts).sum() / wts.sum()
            (loss / tr["grad_accum"]).backward(retain_graph=True)
            losses.append(loss.item())
        if tr["clip"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, tr["clip"]).item()
        else:
            norm = torch.norm(torch.stack([p.grad.norm() for p in params])).item()
        opt.step()
        steps.append({"step": step + 1, "loss": sum(losses) / len(losses), "lr": lr,
                      "grad_norm": norm})

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"format": "vkft-train-fixture", "version": 1, "steps": steps}, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "job.yaml"), "w") as f:
        f.write(job_yaml(job))
    print(name, [round(x["loss"], 5) for x in steps])


def job_yaml(job):
    m, tr = job["method"], job["train"]
    lines = ["# Generated by tools/gen_train_fixtures.py: the PyTorch reference ran this job.",
             "model: {path: model}", "method:", f"  kind: {m['kind']}"]
    if m["kind"] == "lora":
        t = m["targets"]
        lines += [f"  r: {m['r']}", f"  alpha: {m['alpha']}", "  dropout: 0.0",
                  "  targets: " + (t if isinstance(t, str) else "[" + ", ".join(t) + "]"),
                  "  init: init_adapter"]
    lines += ["data:", "  train:", "    - {path: data.jsonl, format: tokens}",
              f"  seq_len: {SEQ}", "  shuffle: false", "train:",
              f"  steps: {tr['steps']}", f"  batch: {tr['batch']}",
              f"  grad_accum: {tr['grad_accum']}", f"  lr: {tr['lr']}",
              "  optimizer: {kind: adamw, betas: [%s, %s], eps: %s, weight_decay: %s}"
              % (tr["betas"][0], tr["betas"][1], tr["eps"], tr["weight_decay"]),
              "  schedule: {kind: %s, warmup: %d}" % (tr["schedule"], tr["warmup"]),
              f"  clip: {tr['clip']}", "  seed: 0", "output: {dir: out}", ""]
    return "\n".join(lines)


def train(**kw):
    t = {"steps": 4, "batch": 2, "grad_accum": 1, "lr": 1e-2, "betas": [0.9, 0.999],
         "eps": 1e-8, "weight_decay": 0.0, "schedule": "constant", "warmup": 0, "clip": 0.0}
    t.update(kw)
    return t


def main():
    torch.set_default_dtype(torch.float32)
    llama = ref.llama_cfg(vocab_size=64, max_position_embeddings=32)
    gpt2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 64,
            "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None, "n_positions": 16,
            "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
            "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float32"}
    run_case("llama_lora", llama,
             {"method": {"kind": "lora", "r": 4, "alpha": 8, "targets": ["q_proj", "v_proj",
                                                                          "down_proj"]},
              "train": train(grad_accum=2, schedule="cosine", warmup=1, clip=1.0,
                             weight_decay=0.01, steps=5)}, seed=11)
    run_case("llama_full", llama,
             {"method": {"kind": "full"},
              "train": train(lr=2e-3, schedule="linear", clip=0.5, weight_decay=0.1)}, seed=12)
    run_case("gpt2_lora", gpt2,
             {"method": {"kind": "lora", "r": 2, "alpha": 4, "targets": "all-linear"},
              "train": train(grad_accum=2, batch=1, steps=5)}, seed=13)
    run_case("gpt2_full", gpt2,
             {"method": {"kind": "full"},
              "train": train(lr=1e-3, grad_accum=2, clip=1.0, schedule="cosine", warmup=2)},
             seed=14)


if __name__ == "__main__":
    main()
