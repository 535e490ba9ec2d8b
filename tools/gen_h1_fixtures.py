#!/usr/bin/python3
"""Reference fixtures for tests/frontend/train/h1_test.c: QLoRA, IA3 and BitFit jobs, trained
by PyTorch in float64 the way vkft trains them (the job semantics of tools/gen_train_fixtures.py:
file order with wrap, shifted labels, sum(w CE) / sum(w) per micro-batch, the mean over
grad_accum micro-batches, clip_grad_norm_, torch.optim.AdamW, Hugging Face's schedules).

For each case this writes tests/fixtures/methods/<case>/:
  model/         a small random model (config.json + model.safetensors, f32)
  init_adapter/  (QLoRA) a PEFT LoRA adapter with random A and non-zero B, the job's method.init
  data.jsonl     pre-tokenised examples (also the job's eval set)
  job.yaml       the job (paths relative to it; output.dir is set by the test)
  expected.json  {"format": "vkft-h1-fixture", "version": 1, "steps": [{step, loss, lr,
                 grad_norm}], "params_trainable": N (PEFT's count for this config),
                 "adapter": {"files", "config", "tensors": {name: shape}}, + per method extras}

The methods, as PEFT defines them (peft/tuners/lora, peft/tuners/ia3) and as vkft documents
them (docs/methods.md):
  QLoRA   every linear weight of the decoder layers quantised to NF4 as bitsandbytes'
          quantize_4bit does with double quantisation (tools/gen_nf4_fixture.py: the same
          blocks, code maps and rounding the backend matches bit for bit; GPT-2's Conv1D
          weights are quantised transposed, [out, in], as transformers stores them in
          Linear4bit) and dequantised; LoRA on top (W_nf4 + s B A). Also written: the LoRA
          trajectory on the unquantised weights ("lora_steps"), for the QLoRA-vs-LoRA check.
          With compute_dtype bf16 / f16 (case llama_qlora_bf16) every quantised linear is
          bitsandbytes' Linear4bit in that dtype: base = rnd(rnd(x) rnd(W_nf4)^T), its input
          gradient rnd(rnd(dy) rnd(W_nf4)) (MatMul4Bit's backward), rnd = to the dtype and
          back (products and sums in float64 here, f32 in vkft), then + s (x A^T) B^T in
          float64 (PEFT: the base result back in the input's dtype, then the LoRA branch).
  IA3     ia3_l vectors, init 1: a target's output is scaled (y = (x W^T + b) * l, l [out, 1]);
          a feed-forward target's input (y = (x * l) W^T + b, l [1, in]). Applied here as the
          equivalent weights (the same forward and gradients).
  BitFit  only the biases (linear and norm biases) train, and the norm weights with
          include_norms.

Run: /usr/bin/python3 tools/gen_h1_fixtures.py   (Debian python3-torch)
"""
import contextlib
import io
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_model_fixtures as ref    # noqa: E402  (Llama / GPT-2 forwards, safetensors writer)
import gen_nf4_fixture as nf4       # noqa: E402  (bitsandbytes NF4 quantisation)
import gen_train_fixtures as tr     # noqa: E402  (data, batches, schedules, LoRA sites)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                    "methods")
FORMAT, VERSION = "vkft-h1-fixture", 1


def matches(target, path):
    """PEFT's list rule for target_modules: the whole name or a '.'-separated suffix."""
    return path == target or path.endswith("." + target)


def nf4_roundtrip(w):
    """W [out, in] f32 -> the f32 values bitsandbytes' dequantize_4bit gives back."""
    with contextlib.redirect_stderr(io.StringIO()):
        codes, q2, absmax2, offset = nf4.quantize_nf4(w.reshape(-1).contiguous())
    return nf4.dequantize_nf4(codes, q2, absmax2, offset, w.numel()).reshape(w.shape)


def quantised_weights(cfg, w32):
    out = dict(w32)
    for path, _, _, conv in tr.lora_sites(cfg, "all-linear"):
        w = w32[path + ".weight"]
        out[path + ".weight"] = nf4_roundtrip(w.t().contiguous()).t() if conv else \
            nf4_roundtrip(w)
    return out


def write_bnb_model(out, cfg, w32):
    """model_bnb/: the model as transformers saves it loaded with load_in_4bit (nf4, double
    quantisation): each decoder linear weight as bitsandbytes' packed U8 `weight` [n/2, 1] with
    weight.absmax (u8), .quant_map, .nested_absmax, .nested_quant_map and the JSON quant state
    (QuantState.as_dict(packed=True)); everything else as it was."""
    tensors = dict(w32)
    for path, i, o, conv in tr.lora_sites(cfg, "all-linear"):
        w = w32[path + ".weight"]
        w = (w.t() if conv else w).contiguous().reshape(-1)
        with contextlib.redirect_stderr(io.StringIO()):
            codes, q2, absmax2, offset = nf4.quantize_nf4(w)
        state = {"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [o, i],
                 "nested_blocksize": 256, "nested_dtype": "float32",
                 "nested_offset": offset.item()}
        name = path + ".weight"
        tensors[name] = codes.reshape(-1, 1)
        tensors[name + ".absmax"] = q2
        tensors[name + ".quant_map"] = nf4.NF4.clone()
        tensors[name + ".nested_absmax"] = absmax2
        tensors[name + ".nested_quant_map"] = nf4.dynamic_map()
        tensors[name + ".quant_state.bitsandbytes__nf4"] = torch.tensor(
            list(json.dumps(state).encode()), dtype=torch.uint8)
    os.makedirs(os.path.join(out, "model_bnb"), exist_ok=True)
    bnb_cfg = dict(cfg, quantization_config={
        "quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True, "bnb_4bit_compute_dtype": "float32"})
    with open(os.path.join(out, "model_bnb", "config.json"), "w") as f:
        json.dump(bnb_cfg, f, indent=2)
        f.write("\n")
    ref.write_safetensors(os.path.join(out, "model_bnb", "model.safetensors"),
                          list(tensors.items()))


def train(cfg, w_base, rows, job, params, effective):
    """AdamW over params for job["train"]; effective(w_base, params) -> the weights used."""
    t = job["train"]
    opt = torch.optim.AdamW(params, lr=t["lr"], betas=tuple(t["betas"]), eps=t["eps"],
                            weight_decay=t["weight_decay"])
    fwd = ref.gpt2_forward if cfg["model_type"] == "gpt2" else ref.llama_forward
    V = cfg["vocab_size"]
    steps, cursor = [], 0
    for step in range(t["steps"]):
        lr = tr.schedule(t["schedule"], t["lr"], t["warmup"], t["steps"], step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        losses = []
        for _ in range(t["grad_accum"]):
            toks, labs, wts = tr.batch_of(rows, cursor, t["batch"])
            cursor += t["batch"]
            logits = fwd(cfg, effective(w_base, params), toks).reshape(-1, V)
            ce = torch.nn.functional.cross_entropy(logits, labs, ignore_index=-100,
                                                   reduction="none")
            loss = (ce * wts).sum() / wts.sum()
            (loss / t["grad_accum"]).backward()
            losses.append(loss.item())
        if t["clip"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, t["clip"]).item()
        else:
            norm = torch.norm(torch.stack([p.grad.norm() for p in params])).item()
        opt.step()
        steps.append({"step": step + 1, "loss": sum(losses) / len(losses), "lr": lr,
                      "grad_norm": norm})
    return steps


# ---- methods: (params, effective weights, PEFT count, saved tensors, adapter config) ----

def rnd(t, cd):
    """t rounded to the compute dtype (round to nearest even), back in float64. Through float32
    first: vkft's activations are f32, and torch converts a double to bfloat16 through float."""
    return t.to(torch.float32).to(cd).to(torch.float64)


class NF4MatMul(torch.autograd.Function):
    """bitsandbytes' MatMul4Bit with compute dtype cd: the output and the input gradient
    rounded once, operands rounded; no gradient to the frozen weight."""

    @staticmethod
    def forward(ctx, x, w, cd):
        ctx.save_for_backward(w)
        ctx.cd = cd
        return rnd(rnd(x, cd) @ rnd(w, cd).T, cd)

    @staticmethod
    def backward(ctx, dy):
        (w,) = ctx.saved_tensors
        return rnd(rnd(dy, ctx.cd) @ rnd(w, ctx.cd), ctx.cd), None, None


class Linear4bit:
    """A quantised Linear's weight in the forwards' dict: `a @ W.T` (gen_model_fixtures' lin)
    runs NF4MatMul, then the LoRA branch when the site has one."""

    def __init__(self, w, lora, s, cd):
        self.w, self.lora, self.s, self.cd = w, lora, s, cd

    @property
    def T(self):
        return self

    def __rmatmul__(self, a):
        y = NF4MatMul.apply(a, self.w, self.cd)
        if self.lora is not None:
            y = y + self.s * (a @ self.lora[0].T) @ self.lora[1].T
        return y


CD = {"bf16": torch.bfloat16, "f16": torch.float16}


def lora_setup(cfg, m, gen, out):
    gpt2 = cfg["model_type"] == "gpt2"
    sites = tr.lora_sites(cfg, m["targets"])
    r, s = m["r"], m["alpha"] / m["r"]
    ab, tensors, shapes = [], [], {}
    for path, i, o, conv in sites:
        a = torch.randn(r, i, generator=gen) * 0.2
        b = torch.randn(o, r, generator=gen) * 0.2
        ab.append((path, conv))
        for kind, t in (("lora_A", a), ("lora_B", b)):
            name = f"base_model.model.{path}.{kind}.weight"
            tensors.append((name, t))
            shapes[name] = list(t.shape)
    os.makedirs(os.path.join(out, "init_adapter"), exist_ok=True)
    ref.write_safetensors(os.path.join(out, "init_adapter", "adapter_model.safetensors"),
                          tensors)
    with open(os.path.join(out, "init_adapter", "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r,
                   "lora_alpha": m["alpha"], "lora_dropout": 0.0, "target_modules": m["targets"],
                   "fan_in_fan_out": gpt2, "bias": "none", "use_rslora": False,
                   "use_dora": False}, f, indent=2)
    init = [t for _, t in tensors]

    def make():
        return [t.double().clone().requires_grad_() for t in init]

    cd = CD.get(m.get("compute_dtype", "f32"))

    def effective(w, params):
        weff = dict(w)
        if cd is not None:      # every quantised site: Linear4bit (Llama: no Conv1D, no bias)
            lora = {path: (params[2 * k], params[2 * k + 1]) for k, (path, _) in enumerate(ab)}
            for path, _, _, conv in tr.lora_sites(cfg, "all-linear"):
                assert not conv
                weff[path + ".weight"] = Linear4bit(w[path + ".weight"], lora.get(path), s, cd)
            return weff
        for k, (path, conv) in enumerate(ab):
            delta = s * params[2 * k + 1] @ params[2 * k]         # [out, in]
            weff[path + ".weight"] = w[path + ".weight"] + (delta.T if conv else delta)
        return weff

    count = sum(r * (i + o) for _, i, o, _ in sites)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": m["alpha"],
              "fan_in_fan_out": gpt2, "target_modules": m["targets"], "bias": "none",
              "use_dora": False, "use_rslora": False}
    return make, effective, count, shapes, config


def ia3_setup(cfg, m):
    gpt2 = cfg["model_type"] == "gpt2"
    sites = [s for s in tr.lora_sites(cfg, "all-linear")
             if any(matches(t, s[0]) for t in m["targets"])]
    ff = [any(s[0].endswith(f) for f in m["feedforward"]) for s in sites]   # PEFT: endswith
    sizes = [(i if f else o) for (_, i, o, _), f in zip(sites, ff)]

    def make():
        return [torch.ones(n, dtype=torch.float64, requires_grad=True) for n in sizes]

    def effective(w, params):
        weff = dict(w)
        for (path, _, _, conv), f, l in zip(sites, ff, params):
            W = w[path + ".weight"]             # Linear [out, in]; Conv1D [in, out]
            if f:                               # scale the input features
                weff[path + ".weight"] = l[:, None] * W if conv else W * l[None, :]
            else:                               # scale the output features (and the bias)
                weff[path + ".weight"] = W * l[None, :] if conv else l[:, None] * W
                if path + ".bias" in w:
                    weff[path + ".bias"] = w[path + ".bias"] * l
        return weff

    shapes = {f"base_model.model.{path}.ia3_l": ([1, n] if f else [n, 1])
              for (path, _, _, _), f, n in zip(sites, ff, sizes)}
    config = {"peft_type": "IA3", "task_type": "CAUSAL_LM", "target_modules": m["targets"],
              "feedforward_modules": m["feedforward"], "fan_in_fan_out": gpt2,
              "init_ia3_weights": True, "modules_to_save": None}
    return make, effective, sum(sizes), shapes, config


def bitfit_setup(cfg, m, w32):
    def trainable(name):
        if name.endswith(".bias"):
            return True
        norm = "layernorm" in name or name.endswith("norm.weight") or ".ln_" in name
        return m["include_norms"] and norm and name.endswith(".weight")

    names = [k for k in w32 if trainable(k)]

    def make():
        return [w32[k].double().clone().requires_grad_() for k in names]

    def effective(w, params):
        weff = dict(w)
        weff.update(zip(names, params))
        return weff

    shapes = {k: list(w32[k].shape) for k in names}
    config = {"peft_type": "BITFIT", "task_type": "CAUSAL_LM",
              "include_norms": m["include_norms"]}
    return make, effective, sum(w32[k].numel() for k in names), shapes, config


# ---- cases ----

def run_case(name, cfg, job, seed):
    gen, gpt2, w32, out, rows = tr.setup_case(ROOT, name, cfg, seed)

    m = job["method"]
    extra = {}
    w64 = {k: v.double() for k, v in w32.items()}
    if m["kind"] == "qlora":
        make, effective, count, shapes, config = lora_setup(cfg, m, gen, out)
        wq = {k: v.double() for k, v in quantised_weights(cfg, w32).items()}
        steps = train(cfg, wq, rows, job, make(), effective)
        if m.get("compute_dtype", "f32") == "f32":     # the extras (not the bf16 case's)
            extra["lora_steps"] = train(cfg, w64, rows, job, make(), effective)
            gap = max(abs(a["loss"] - b["loss"]) / b["loss"]
                      for a, b in zip(steps, extra["lora_steps"]))
            extra["qlora_lora_gap"] = gap
            extra["nf4_bytes"] = sum(i * o // 2 + (i * o + 63) // 64 +
                                     4 * (((i * o + 63) // 64 + 255) // 256) + 4
                                     for _, i, o, _ in tr.lora_sites(cfg, "all-linear"))
            if cfg["model_type"] != "gpt2":
                write_bnb_model(out, cfg, w32)
            extra["dense_bytes"] = sum(4 * i * o
                                       for _, i, o, _ in tr.lora_sites(cfg, "all-linear"))
    elif m["kind"] == "ia3":
        make, effective, count, shapes, config = ia3_setup(cfg, m)
        steps = train(cfg, w64, rows, job, make(), effective)
    else:
        make, effective, count, shapes, config = bitfit_setup(cfg, m, w32)
        steps = train(cfg, w64, rows, job, make(), effective)

    expected = {"format": FORMAT, "version": VERSION, "steps": steps,
                "params_trainable": count,
                "adapter": {"files": ["adapter_config.json", "adapter_model.safetensors"],
                            "config": config, "tensors": shapes}}
    expected.update(extra)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "job.yaml"), "w") as f:
        f.write(job_yaml(job))
    print(name, [round(x["loss"], 5) for x in steps], extra.get("qlora_lora_gap", ""))


def flow(items):
    return "[" + ", ".join(items) + "]"


def job_yaml(job):
    m, t = job["method"], job["train"]
    lines = ["# Generated by tools/gen_h1_fixtures.py: the PyTorch reference ran this job.",
             "model: {path: model}", "method:", f"  kind: {m['kind']}"]
    if m["kind"] == "qlora":
        lines += [f"  r: {m['r']}", f"  alpha: {m['alpha']}", "  dropout: 0.0",
                  "  targets: " + (m["targets"] if isinstance(m["targets"], str)
                                   else flow(m["targets"])),
                  "  compute_dtype: " + m.get("compute_dtype", "f32"), "  init: init_adapter"]
    elif m["kind"] == "ia3":
        lines += ["  targets: " + flow(m["targets"]),
                  "  feedforward: " + flow(m["feedforward"])]
    else:
        lines += [f"  include_norms: {'true' if m['include_norms'] else 'false'}"]
    lines += ["data:", "  train:", "    - {path: data.jsonl, format: tokens}",
              "  eval:", "    - {path: data.jsonl, format: tokens}",
              f"  seq_len: {tr.SEQ}", "  shuffle: false", "train:",
              f"  steps: {t['steps']}", f"  batch: {t['batch']}",
              f"  grad_accum: {t['grad_accum']}", f"  lr: {t['lr']}",
              "  optimizer: {kind: adamw, betas: [%s, %s], eps: %s, weight_decay: %s}"
              % (t["betas"][0], t["betas"][1], t["eps"], t["weight_decay"]),
              "  schedule: {kind: %s, warmup: %d}" % (t["schedule"], t["warmup"]),
              f"  clip: {t['clip']}", "  seed: 0", "output: {dir: out}", ""]
    return "\n".join(lines)


def main():
    torch.set_default_dtype(torch.float32)
    llama = ref.llama_cfg(vocab_size=64, max_position_embeddings=32)
    qwen2 = dict(ref.llama_cfg(vocab_size=64, max_position_embeddings=32, num_key_value_heads=1),
                 architectures=["Qwen2ForCausalLM"], model_type="qwen2",
                 use_sliding_window=False)
    gpt2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 64,
            "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None, "n_positions": 16,
            "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
            "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float32"}
    run_case("llama_qlora", llama,
             {"method": {"kind": "qlora", "r": 4, "alpha": 8,
                         "targets": ["q_proj", "v_proj", "down_proj"]},
              "train": tr.train(grad_accum=2, schedule="cosine", warmup=1, clip=1.0,
                                weight_decay=0.01, steps=5)}, seed=21)
    run_case("llama_qlora_bf16", llama,
             {"method": {"kind": "qlora", "r": 4, "alpha": 8, "compute_dtype": "bf16",
                         "targets": ["q_proj", "v_proj", "down_proj"]},
              "train": tr.train(grad_accum=2, schedule="cosine", warmup=1, clip=1.0,
                                weight_decay=0.01, steps=5)}, seed=27)
    run_case("gpt2_qlora", gpt2,
             {"method": {"kind": "qlora", "r": 2, "alpha": 4, "targets": "all-linear"},
              "train": tr.train(grad_accum=2, batch=1, steps=4)}, seed=22)
    run_case("llama_ia3", llama,
             {"method": {"kind": "ia3", "targets": ["k_proj", "v_proj", "down_proj"],
                         "feedforward": ["down_proj"]},
              "train": tr.train(lr=5e-2, grad_accum=2, schedule="linear", warmup=1,
                                clip=1.0, steps=5)}, seed=23)
    run_case("gpt2_ia3", gpt2,
             {"method": {"kind": "ia3", "targets": ["c_attn", "mlp.c_proj"],
                         "feedforward": ["mlp.c_proj"]},
              "train": tr.train(lr=5e-2, batch=1, grad_accum=2, weight_decay=0.01, steps=4)},
             seed=24)
    run_case("qwen2_bitfit", qwen2,
             {"method": {"kind": "bitfit", "include_norms": False},
              "train": tr.train(lr=2e-2, grad_accum=2, clip=0.5, schedule="cosine", steps=5)},
             seed=25)
    run_case("gpt2_bitfit", gpt2,
             {"method": {"kind": "bitfit", "include_norms": True},
              "train": tr.train(lr=1e-2, weight_decay=0.1, steps=4)}, seed=26)


if __name__ == "__main__":
    main()
