#!/usr/bin/env bash
# vkft init-model, eval and generate, driven as a user would: bad options are refused and
# create nothing; init-model is deterministic and never overwrites a model; a fresh random
# model scores about ln(vocab) in eval; bad data names file:line; generate continues the
# prompt, the same with and without the KV cache.
# usage: model_cli_test.sh PATH/TO/vkft
set -u
vkft="$1"
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$vkft" init-model --arch bert --out "$dir/x" >/dev/null 2>"$dir/err"; rc=$?
check "unknown arch: exit 2" "[ $rc -eq 2 ] && grep -q 'llama or gpt2' '$dir/err'"
check "unknown arch: nothing created" "[ ! -e '$dir/x' ]"
"$vkft" init-model --arch llama >/dev/null 2>&1; rc=$?
check "no --out: exit 2" "[ $rc -eq 2 ]"
"$vkft" init-model --arch llama --out "$dir/x" --hidden 30 --heads 4 2>"$dir/err"; rc=$?
check "hidden not a multiple of heads: exit 2" "[ $rc -eq 2 ] && grep -q 'multiple' '$dir/err'"
"$vkft" init-model --arch llama --out "$dir/x" --vocab ten 2>"$dir/err"; rc=$?
check "bad number: exit 2" "[ $rc -eq 2 ] && grep -q -- '--vocab' '$dir/err'"
check "bad options: nothing created" "[ ! -e '$dir/x' ]"

args=(--arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --vocab 300 --seq 64 --seed 3)
"$vkft" init-model "${args[@]}" --out "$dir/m" >"$dir/out" 2>&1; rc=$?
check "init-model llama: exit 0" "[ $rc -eq 0 ]"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do
  check "init-model wrote $f" "[ -s '$dir/m/$f' ]"
done
check "config names the eos token" "grep -q '\"eos_token_id\": 299' '$dir/m/config.json'"
"$vkft" init-model "${args[@]}" --out "$dir/m2" >/dev/null 2>&1
check "same seed: same weights" "cmp -s '$dir/m/model.safetensors' '$dir/m2/model.safetensors'"
check "same seed: same tokenizer" "cmp -s '$dir/m/tokenizer.json' '$dir/m2/tokenizer.json'"
cp "$dir/m/model.safetensors" "$dir/before"
"$vkft" init-model "${args[@]}" --seed 4 --out "$dir/m" >/dev/null 2>"$dir/err"; rc=$?
check "existing model: refused" "[ $rc -eq 1 ] && grep -q 'already holds a model' '$dir/err'"
check "existing model: unchanged" "cmp -s '$dir/m/model.safetensors' '$dir/before'"

printf '{"text": "The river ran slowly past the old mill."}\n\n{"text": "Bread needs flour."}\n' \
  >"$dir/d.jsonl"
out=$("$vkft" eval --model "$dir/m" --data "$dir/d.jsonl" --device cpu --json 2>"$dir/err"); rc=$?
check "eval: exit 0" "[ $rc -eq 0 ]"
# weights of std 0.02 give near-uniform predictions: loss ~ ln(300) = 5.704
loss=$(sed -n 's/.*"loss": \([0-9.]*\).*/\1/p' <<<"$out")
check "eval: loss near ln(vocab) ($out)" "awk 'BEGIN{exit !($loss > 5.6 && $loss < 5.8)}'"
printf '{"text": "fine"}\n{"txt": 1}\n' >"$dir/bad.jsonl"
"$vkft" eval --model "$dir/m" --data "$dir/bad.jsonl" --device cpu 2>"$dir/err"; rc=$?
check "eval bad line: exit 1 naming file:line" "[ $rc -eq 1 ] && grep -q 'bad.jsonl:2' '$dir/err'"
"$vkft" eval --model "$dir/nope" --data "$dir/d.jsonl" 2>"$dir/err"; rc=$?
check "eval missing model: exit 1 naming it" "[ $rc -eq 1 ] && grep -q 'nope' '$dir/err'"

g1=$("$vkft" generate --model "$dir/m" --prompt "The river" --max-tokens 6 --device cpu 2>&1)
rc=$?
check "generate: exit 0" "[ $rc -eq 0 ]"
check "generate: continues the prompt" "[[ \"\$g1\" == 'The river'* ]]"
g2=$("$vkft" generate --model "$dir/m" --prompt "The river" --max-tokens 6 --device cpu \
     --no-cache 2>&1)
check "generate: cache == no cache" "[ \"\$g1\" = \"\$g2\" ]"
"$vkft" generate --model "$dir/m" --prompt "x" --top-p 2 >/dev/null 2>"$dir/err"; rc=$?
check "generate: bad top-p refused" "[ $rc -eq 2 ] && grep -q -- '--top-p' '$dir/err'"

"$vkft" init-model --arch gpt2 --hidden 32 --layers 1 --heads 2 --vocab 280 --seq 32 \
  --out "$dir/g" >/dev/null 2>&1; rc=$?
check "init-model gpt2: exit 0" "[ $rc -eq 0 ]"
check "gpt2 ties the head" "grep -q '\"tie_word_embeddings\": true' '$dir/g/config.json'"
out=$("$vkft" generate --model "$dir/g" --prompt "Numbers" --max-tokens 40 2>"$dir/err"); rc=$?
check "generate past n_positions: refused" "[ $rc -eq 1 ] && grep -q 'n_positions' '$dir/err'"
out=$("$vkft" generate --model "$dir/g" --prompt "Numbers" --max-tokens 8 --temperature 0.8 \
      --seed 2 2>&1); rc=$?
check "gpt2 sampling: exit 0" "[ $rc -eq 0 ]"

[ $fail -eq 0 ] && echo "model cli: all checks passed"
exit $fail
