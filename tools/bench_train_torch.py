#!/usr/bin/python3
"""PyTorch CPU baseline for `vkft bench train`: the same model, method, batch and optimizer.

A Llama-shaped decoder in plain torch (nn.Linear without bias, RMSNorm, rotate-half RoPE with
theta 10000, grouped-query causal attention, SwiGLU MLP, untied LM head, cross-entropy over the
shifted labels), trained on random token ids with AdamW (betas 0.9/0.999, eps 1e-8, no weight
decay) and global-norm clipping at 1.0, as the job `vkft bench train` builds. LoRA: every linear
layer of the decoder (q/k/v/o/gate/up/down, PEFT's "all-linear", so not the LM head) gets
x Aᵀ Bᵀ · alpha/r beside its frozen weight, A kaiming-uniform, B = 0, dropout 0; everything else
is frozen. float32 throughout. The last position of a row gets label -100 (ignored) instead of
Hugging Face's logits[:, :-1] slice, whose backward costs PyTorch a zero-filled copy of the
logits (~0.9 s a step here) that vkft does not pay either.

It runs --warmup steps, then times --steps steps (wall clock around forward, backward, clip and
the optimizer step) and prints tokens/s (batch·seq positions per second), ms/step (mean and
median), the process's peak RSS (getrusage) and the nominal flop rate with the same formula as
vkft's trainer: tokens · (4 · frozen params + 6 · trainable params).

Torch 1.13 (Debian's python3-torch) has no scaled_dot_product_attention; when the running torch
has it, --sdpa uses it, otherwise attention is softmax(q kᵀ · scale + causal mask) v.

Run:  /usr/bin/python3 tools/bench_train_torch.py [--method full|lora|both] [--steps N]
          [--warmup N] [--threads N] [--hidden H] [--layers L] [--heads N] [--kv-heads N]
          [--ffn F] [--vocab V] [--seq T] [--batch B] [--rank R] [--json]
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

# OpenMP workers that spin between parallel regions take the cores from OpenBLAS's threads
# (torch's matmuls); passive waiting made steps ~25% faster on the 2-core machine of
# docs/performance.md. Set OMP_WAIT_POLICY yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the environment it reads at load time)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LoRALinear(nn.Module):
    """y = x Wᵀ + s · x Aᵀ Bᵀ (PEFT's LoRA Linear with dropout 0)."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale


def rope_tables(seq, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        hd = a.hidden // a.heads
        self.heads, self.kv_heads, self.head_dim = a.heads, a.kv_heads, hd
        self.input_layernorm = RMSNorm(a.hidden, 1e-6)
        self.q_proj = nn.Linear(a.hidden, a.heads * hd, bias=False)
        self.k_proj = nn.Linear(a.hidden, a.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(a.hidden, a.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(a.heads * hd, a.hidden, bias=False)
        self.post_attention_layernorm = RMSNorm(a.hidden, 1e-6)
        self.gate_proj = nn.Linear(a.hidden, a.ffn, bias=False)
        self.up_proj = nn.Linear(a.hidden, a.ffn, bias=False)
        self.down_proj = nn.Linear(a.ffn, a.hidden, bias=False)
        self.sdpa = a.sdpa

    def attention(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        if self.sdpa:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim)) + mask
            o = torch.softmax(s, dim=-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(b, t, -1))

    def forward(self, x, cos, sin, mask):
        x = x + self.attention(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed_tokens = nn.Embedding(a.vocab, a.hidden)
        self.layers = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.norm = RMSNorm(a.hidden, 1e-6)
        self.lm_head = nn.Linear(a.hidden, a.vocab, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)
        cos, sin = rope_tables(a.seq, a.hidden // a.heads, 10000.0)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((a.seq, a.seq), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, tokens):
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        return self.lm_head(self.norm(x))


LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def make_model(a, method):
    m = Llama(a)
    total = sum(p.numel() for p in m.parameters())
    if method == "lora":
        for p in m.parameters():
            p.requires_grad_(False)
        for layer in m.layers:
            for name in LINEARS:
                setattr(layer, name, LoRALinear(getattr(layer, name), a.rank, a.alpha))
        total = sum(p.numel() for p in m.parameters())
    trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
    return m, total, trainable


def bench(a, method):
    torch.manual_seed(0)
    model, total, trainable = make_model(a, method)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    gen = torch.Generator().manual_seed(1)
    times = []
    for it in range(a.warmup + a.steps):
        tokens = torch.randint(0, a.vocab, (a.batch, a.seq), generator=gen)
        # position t predicts token t + 1; the last position has no label (as vkft's rows)
        labels = torch.cat([tokens[:, 1:], torch.full((a.batch, 1), -100)], dim=1)
        t0 = time.perf_counter()
        logits = model(tokens)
        loss = F.cross_entropy(logits.view(-1, a.vocab), labels.view(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if it >= a.warmup:
            times.append(dt)
    tokens_per_step = a.batch * a.seq
    mean_s = sum(times) / len(times)
    flops_per_step = tokens_per_step * (4.0 * (total - trainable) + 6.0 * trainable)
    return {
        "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "method": method, "hidden": a.hidden, "layers": a.layers, "heads": a.heads,
        "kv_heads": a.kv_heads, "ffn": a.ffn, "vocab": a.vocab, "seq": a.seq,
        "batch": a.batch, "rank": a.rank if method == "lora" else 0, "steps": a.steps,
        "params_total": total, "params_trainable": trainable,
        "tokens_per_s": tokens_per_step / mean_s, "ms_per_step": mean_s * 1e3,
        "median_ms": statistics.median(times) * 1e3, "best_ms": min(times) * 1e3,
        # ru_maxrss is KiB on Linux; the peak of the whole process so far (both methods when
        # --method both runs them one after the other: lora runs first, so full's is its own)
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "gflops": flops_per_step / mean_s / 1e9, "loss": loss.item(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", choices=("full", "lora", "both"), default="both")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=0, help="default: --heads")
    ap.add_argument("--ffn", type=int, default=1376)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--sdpa", action="store_true",
                    help="use F.scaled_dot_product_attention (torch >= 2.0)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    a.kv_heads = a.kv_heads or a.heads
    if a.steps < 1 or a.warmup < 0 or a.heads % a.kv_heads or a.hidden % a.heads:
        ap.error("need --steps >= 1, --warmup >= 0, kv-heads | heads | hidden")
    if a.sdpa and not hasattr(F, "scaled_dot_product_attention"):
        ap.error("--sdpa: torch %s has no scaled_dot_product_attention" % torch.__version__)
    torch.set_num_threads(a.threads)
    methods = ("lora", "full") if a.method == "both" else (a.method,)
    results = [bench(a, m) for m in methods]
    if a.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=1))
        return
    r0 = results[0]
    print("pytorch %s CPU, %d threads: %d layers, hidden %d (%d heads, %d kv), ffn %d, "
          "vocab %d, seq %d x batch %d" % (r0["torch"], r0["threads"], a.layers, a.hidden,
                                           a.heads, a.kv_heads, a.ffn, a.vocab, a.seq, a.batch))
    for r in results:
        print("  %-4s %9.1f tokens/s  %8.1f ms/step (median %.1f, best %.1f)  "
              "peak RSS %.0f MiB  %.1f GFLOPS  params %d (%d trainable)"
              % (r["method"], r["tokens_per_s"], r["ms_per_step"], r["median_ms"],
                 r["best_ms"], r["max_rss_bytes"] / 1048576.0, r["gflops"],
                 r["params_total"], r["params_trainable"]))


if __name__ == "__main__":
    sys.exit(main())
