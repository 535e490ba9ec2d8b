#!/usr/bin/env bash
# `vkft run` / check / eval / export / generate driven as a user would, on a model made by
# `vkft init-model`: a LoRA job trains and writes metrics, a PEFT adapter and checkpoints; the
# adapter reloads in `vkft eval` to the trainer's eval loss; the merged model from `vkft
# export` gives the same loss; bad jobs fail before writing anything; an existing run is not
# overwritten; Ctrl-C writes a checkpoint and --resume finishes the run; a diverging run stops
# at the NaN with the message and keeps its last checkpoint. $1: the vkft binary; $2: device.
set -u
vkft="$1"
dev="${2:-cpu}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }

"$vkft" init-model --arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --ffn 48 \
  --vocab 300 --seq 32 --seed 1 --out "$dir/m" >/dev/null || { echo "init-model failed"; exit 1; }
for i in $(seq 1 24); do
  echo "{\"prompt\": \"Q: what is $i plus $i?\nA:\", \"completion\": \" $((i + i)).\"}"
done >"$dir/train.jsonl"
head -8 "$dir/train.jsonl" >"$dir/eval.jsonl"
cat >"$dir/job.yaml" <<YAML
model: {path: m}
device: $dev
method: {kind: lora, r: 4, alpha: 8, dropout: 0.1, targets: all-linear}
data:
  train: [{path: train.jsonl, format: completion}]
  eval: {path: eval.jsonl, format: completion}
  seq_len: 24
  shuffle: true
train:
  steps: 6
  batch: 4
  grad_accum: 2
  lr: 1.0e-2
  schedule: {kind: cosine, warmup: 2}
  eval_every: 3
  save_every: 2
output: {dir: out}
YAML

# check: validated job + plan, without training
"$vkft" check "$dir/job.yaml" >"$dir/check.txt" 2>&1; rc=$?
check "check: exit 0" "[ $rc -eq 0 ]"
check "check: prints the plan" "grep -q 'trainable' '$dir/check.txt' && grep -q 'fits' '$dir/check.txt'"
check "check: writes nothing" "[ ! -e '$dir/out' ]"

# run
"$vkft" run "$dir/job.yaml" >"$dir/run.txt" 2>&1; rc=$?
check "run: exit 0 ($(tail -2 "$dir/run.txt"))" "[ $rc -eq 0 ]"
check "run: 6 metrics rows" "[ \$(wc -l <'$dir/out/metrics.jsonl') -eq 6 ]"
check "run: metrics keys" "head -1 '$dir/out/metrics.jsonl' | grep -q '\"step\":1,\"loss\":.*\"lr\":.*\"grad_norm\":.*\"tokens\":.*\"tokens_per_s\":.*\"elapsed_s\"'"
check "run: eval rows" "[ \$(grep -c eval_loss '$dir/out/metrics.jsonl') -eq 2 ]"
check "run: adapter files" "[ -f '$dir/out/adapter/adapter_config.json' ] && [ -f '$dir/out/adapter/adapter_model.safetensors' ]"
check "run: PEFT tensor names" "grep -aq 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' '$dir/out/adapter/adapter_model.safetensors'"
check "run: PEFT config" "grep -q '\"peft_type\": \"LORA\"' '$dir/out/adapter/adapter_config.json' && grep -q '\"lora_alpha\": 8' '$dir/out/adapter/adapter_config.json'"
check "run: checkpoints" "[ -f '$dir/out/checkpoints/step-2/state.safetensors' ] && [ -f '$dir/out/checkpoints/step-6/trainer_state.json' ]"

# the adapter reloads to the trainer's final eval loss (same batch and seq: same arithmetic)
want=$(tail -1 "$dir/out/metrics.jsonl" | sed 's/.*"eval_loss":\([-0-9.e]*\).*/\1/')
got=$("$vkft" eval --model "$dir/m" --adapter "$dir/out/adapter" --data "$dir/eval.jsonl" \
      --format completion --seq 24 --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
check "eval --adapter $got == trainer eval_loss $want" "awk 'BEGIN{d=$got-$want; if(d<0)d=-d; exit !(d <= 1e-5*$want)}'"
base=$("$vkft" eval --model "$dir/m" --data "$dir/eval.jsonl" --format completion --seq 24 \
       --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
check "the adapter changed the loss ($base -> $got)" "awk 'BEGIN{exit !($got < $base - 0.01)}'"

# export: the merged model gives the adapter's loss (f32 rounding of W + s B A: 1e-4)
"$vkft" export --model "$dir/m" --adapter "$dir/out/adapter" --out "$dir/merged" >/dev/null; rc=$?
check "export: exit 0" "[ $rc -eq 0 ] && [ -f '$dir/merged/model.safetensors' ] && [ -f '$dir/merged/tokenizer.json' ]"
merged=$("$vkft" eval --model "$dir/merged" --data "$dir/eval.jsonl" --format completion \
         --seq 24 --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
check "merged loss $merged == adapter loss $got" "awk 'BEGIN{d=$merged-$got; if(d<0)d=-d; exit !(d <= 1e-4*$got)}'"

# export to f16: every float tensor f16, loss close to the f32 merge (f16 rounding of weights)
"$vkft" export --model "$dir/m" --adapter "$dir/out/adapter" --out "$dir/merged16" --dtype f16 \
  >/dev/null; rc=$?
check "export --dtype f16: exit 0 and F16 tensors" "[ $rc -eq 0 ] && grep -aq '\"F16\"' '$dir/merged16/model.safetensors' && ! grep -aq '\"F32\"' '$dir/merged16/model.safetensors'"
m16=$("$vkft" eval --model "$dir/merged16" --data "$dir/eval.jsonl" --format completion \
      --seq 24 --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
check "f16 merged loss $m16 ~ $merged" "awk 'BEGIN{d=$m16-$merged; if(d<0)d=-d; exit !(d <= 1e-2*$merged)}'"

# IA3 on GPT-2 (Conv1D weights, biases): the merged model gives the adapter's loss
"$vkft" init-model --arch gpt2 --hidden 32 --layers 2 --heads 4 --vocab 300 --seq 32 --seed 2 \
  --out "$dir/g" >/dev/null
"$vkft" run "$dir/job.yaml" --set output.dir="$dir/out-ia3" --set model.path="$dir/g" \
  --set "method={kind: ia3, targets: [c_attn, mlp.c_proj], feedforward: [mlp.c_proj]}" \
  --set train.lr=0.05 >"$dir/ia3.txt" 2>&1; rc=$?
check "ia3 run: exit 0 ($(tail -1 "$dir/ia3.txt"))" "[ $rc -eq 0 ]"
ia3=$("$vkft" eval --model "$dir/g" --adapter "$dir/out-ia3/adapter" --data "$dir/eval.jsonl" \
      --format completion --seq 24 --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
"$vkft" export --model "$dir/g" --adapter "$dir/out-ia3/adapter" --out "$dir/g-ia3" >/dev/null
gm=$("$vkft" eval --model "$dir/g-ia3" --data "$dir/eval.jsonl" --format completion --seq 24 \
     --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
gb=$("$vkft" eval --model "$dir/g" --data "$dir/eval.jsonl" --format completion --seq 24 \
     --batch 4 --device "$dev" --json | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
check "ia3 merged loss $gm == adapter loss $ia3 (base $gb)" "awk 'BEGIN{d=$gm-$ia3; if(d<0)d=-d; e=$gb-$ia3; if(e<0)e=-e; exit !(d <= 1e-4*$ia3 && e > 1e-3)}'"

# prompt tuning: `vkft eval --adapter` reads rows as the trainer does (unshifted: the last
# virtual token predicts each row's first token, here <s> with prompt_loss_weight 0.5), so it
# gives the trainer's eval loss
"$vkft" run "$dir/job.yaml" --set output.dir="$dir/out-prompt" --set train.lr=0.05 \
  --set "method={kind: prompt, num_virtual_tokens: 4}" --set data.prompt_loss_weight=0.5 \
  >"$dir/prompt.txt" 2>&1; rc=$?
check "prompt run: exit 0 ($(tail -1 "$dir/prompt.txt"))" "[ $rc -eq 0 ]"
pw=$(tail -1 "$dir/out-prompt/metrics.jsonl" | sed 's/.*"eval_loss":\([-0-9.e]*\).*/\1/')
pg=$("$vkft" eval --model "$dir/m" --adapter "$dir/out-prompt/adapter" --data "$dir/eval.jsonl" \
     --format completion --prompt-loss-weight 0.5 --seq 24 --batch 4 --device "$dev" --json \
     | sed 's/.*"loss": \([-0-9.e]*\),.*/\1/')
check "prompt eval --adapter $pg == trainer eval_loss $pw" \
  "awk 'BEGIN{d=$pg-$pw; if(d<0)d=-d; exit !(d <= 1e-5*$pw)}'"

# generate with the adapter
"$vkft" generate --model "$dir/m" --adapter "$dir/out/adapter" --prompt "Q: what is" \
  --max-tokens 4 --device "$dev" >"$dir/gen.txt" 2>&1; rc=$?
check "generate --adapter: exit 0" "[ $rc -eq 0 ] && grep -q 'Q: what is' '$dir/gen.txt'"

# an existing run is not overwritten; --resume of a finished run trains nothing more
"$vkft" run "$dir/job.yaml" >"$dir/again.txt" 2>&1; rc=$?
check "rerun refused" "[ $rc -eq 1 ] && grep -q 'use --resume' '$dir/again.txt'"

# bad jobs: the message names file:line:col, and nothing is written
sed 's/  lr: 1.0e-2/  lrr: 1.0e-2/' "$dir/job.yaml" | sed 's/dir: out/dir: out-bad/' >"$dir/bad.yaml"
"$vkft" run "$dir/bad.yaml" >"$dir/bad.txt" 2>&1; rc=$?
check "bad key: exit 1 with file:line:col and did-you-mean ($(cat "$dir/bad.txt"))" \
  "[ $rc -eq 1 ] && grep -q 'bad.yaml:[0-9]*:[0-9]*:.*train.lrr.*did you mean' '$dir/bad.txt'"
check "bad key: nothing written" "[ ! -e '$dir/out-bad' ]"
"$vkft" run "$dir/job.yaml" --set output.dir="$dir/out-t" --set "method.targets=[nope_proj]" \
  >"$dir/bad2.txt" 2>&1; rc=$?
check "target matching nothing: exit 1 naming it" "[ $rc -eq 1 ] && grep -q 'nope_proj' '$dir/bad2.txt'"

# Ctrl-C: a checkpoint, exit 130, and --resume finishes with the uninterrupted metrics
"$vkft" run "$dir/job.yaml" --set output.dir="$dir/out-int" --set train.steps=400 \
  --set train.save_every=0 --set train.eval_every=0 >"$dir/int.txt" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -s "$dir/out-int/metrics.jsonl" ] && break
  sleep 0.1
done
kill -INT $pid
wait $pid; rc=$?
check "Ctrl-C: exit 130 ($(tail -1 "$dir/int.txt"))" "[ $rc -eq 130 ]"
n=$(wc -l <"$dir/out-int/metrics.jsonl")
check "Ctrl-C: a checkpoint at the last step ($n)" "[ -d '$dir/out-int/checkpoints/step-$n' ]"
check "Ctrl-C: no adapter yet" "[ ! -e '$dir/out-int/adapter' ]"
"$vkft" run "$dir/job.yaml" --set output.dir="$dir/out-int" --set train.steps=$((n + 2)) \
  --set train.save_every=0 --set train.eval_every=0 --resume >/dev/null 2>&1; rc=$?
check "resume: exit 0 and two more rows" "[ $rc -eq 0 ] && [ \$(wc -l <'$dir/out-int/metrics.jsonl') -eq $((n + 2)) ]"

# a multi-task mix: per-task training and eval losses in metrics.jsonl
for i in $(seq 1 12); do echo "{\"text\": \"the word $i is $i\"}"; done >"$dir/words.jsonl"
cat >"$dir/mix.yaml" <<YAML
model: {path: m}
device: $dev
method: {kind: lora, r: 2, alpha: 4, targets: [q_proj, v_proj]}
data:
  train:
    - {path: train.jsonl, format: completion, weight: 3, task: sums}
    - {path: words.jsonl, format: text, weight: 1, task: words}
  eval:
    - {path: eval.jsonl, format: completion, task: sums}
    - {path: words.jsonl, format: text, task: words}
  seq_len: 24
train: {steps: 3, batch: 4, lr: 1.0e-2, eval_every: 3}
output: {dir: out-mix}
YAML
"$vkft" run "$dir/mix.yaml" >"$dir/mix.txt" 2>&1; rc=$?
check "mix: exit 0 ($(tail -1 "$dir/mix.txt"))" "[ $rc -eq 0 ]"
check "mix: per-task train loss" "grep -q '\"task_loss\":{\"sums\":[0-9.e-]*,\"words\":' '$dir/out-mix/metrics.jsonl'"
check "mix: per-task eval loss" "tail -1 '$dir/out-mix/metrics.jsonl' | grep -q '\"eval_task_loss\":{\"sums\":[0-9.e-]*,\"words\":[0-9.e-]*}'"

# a resumed mixed, shuffled run equals the uninterrupted one (timings aside; a constant
# schedule, since the first part's shorter train.steps would change a decaying one)
strip() { sed 's/,"tokens_per_s":[^,]*,"elapsed_s":[^,}]*//' "$1"; }
"$vkft" run "$dir/mix.yaml" --set output.dir="$dir/mix-a" --set train.steps=4 \
  --set data.shuffle=true --set train.eval_every=2 \
  --set "train.schedule={kind: constant}" >/dev/null 2>&1
"$vkft" run "$dir/mix.yaml" --set output.dir="$dir/mix-b" --set train.steps=2 \
  --set data.shuffle=true --set train.eval_every=2 \
  --set "train.schedule={kind: constant}" >/dev/null 2>&1
"$vkft" run "$dir/mix.yaml" --set output.dir="$dir/mix-b" --set train.steps=4 \
  --set data.shuffle=true --set train.eval_every=2 \
  --set "train.schedule={kind: constant}" --resume >/dev/null 2>&1; rc=$?
check "mix resume: exit 0" "[ $rc -eq 0 ]"
check "mix resume: metrics equal the uninterrupted run" \
  "[ \"\$(strip '$dir/mix-a/metrics.jsonl')\" = \"\$(strip '$dir/mix-b/metrics.jsonl')\" ] && [ \$(wc -l <'$dir/mix-b/metrics.jsonl') -eq 4 ]"

# a diverging run stops at the NaN, keeps the last good checkpoint
"$vkft" run "$dir/job.yaml" --set output.dir="$dir/out-nan" --set train.lr=1e30 \
  --set train.clip=0 --set train.save_every=1 --set train.eval_every=0 --set train.steps=6 \
  --set "train.schedule={kind: constant}" >"$dir/nan.txt" 2>&1; rc=$?
check "NaN: exit 1 with the message ($(tail -1 "$dir/nan.txt"))" "[ $rc -eq 1 ] && grep -q 'loss is \(NaN\|infinite\)' '$dir/nan.txt'"
check "NaN: last good checkpoint kept" "ls '$dir/out-nan/checkpoints' | grep -q '^step-[0-9]*\$'"
exit $fail
