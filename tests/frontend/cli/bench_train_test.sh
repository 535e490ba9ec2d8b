#!/usr/bin/env bash
# vkft bench train at tiny shapes: both methods train through the trainer and report sane
# figures (the parameter counts are exact: a model of hidden 32, 1 layer, 2 heads, ffn 64,
# vocab 300 has 29536 parameters; LoRA r 16 on the 7 decoder linears adds 8704), the
# temporary folder is removed, --model keeps and reuses a model and refuses shape flags for an
# existing one, --profile lists per-op times, bad options exit 2; on lavapipe too when present.
# Times are never checked.
# usage: bench_train_test.sh PATH/TO/vkft
set -u
vkft="$1"
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp/t"
mkdir -p "$TMPDIR"
tiny=(--hidden 32 --layers 1 --heads 2 --ffn 64 --vocab 300 --seq 16 --batch 2 --steps 2
      --warmup 1)

# the value of "key" in the object of method m (one object per line of --json output)
field() { grep "\"method\": \"$1\"" <<<"$2" | sed -n "s/.*\"$3\": \([^,}]*\).*/\1/p"; }
positive() { awk -v x="$1" 'BEGIN { exit !(x + 0 > 0) }'; }

out=$("$vkft" bench train --device cpu "${tiny[@]}" --json 2>"$tmp/err"); rc=$?
check "cpu --json exits 0 ($(head -c 300 "$tmp/err"))" "[ $rc -eq 0 ]"
check "json is an array" "[ \"\$(head -n1 <<<\"\$out\")\" = '[' ] && [ \"\$(tail -n1 <<<\"\$out\")\" = ']' ]"
check "full params_total 29536" "[ \"\$(field full \"\$out\" params_total)\" = 29536 ]"
check "full all trainable" "[ \"\$(field full \"\$out\" params_trainable)\" = 29536 ]"
check "lora params_trainable 8704" "[ \"\$(field lora \"\$out\" params_trainable)\" = 8704 ]"
check "lora params_total 38240" "[ \"\$(field lora \"\$out\" params_total)\" = 38240 ]"
for m in lora full; do
  for k in tokens_per_s ms_per_step memory_total_bytes max_rss_bytes gflops; do
    v=$(field $m "$out" $k)
    check "$m $k > 0 (got '$v')" "positive '$v'"
  done
  check "$m loss is finite" "[ -n \"\$(field $m \"\$out\" loss | grep -E '^[0-9]+\.[0-9]+$')\" ]"
done
check "the temporary folder is removed" "[ -z \"\$(ls -A \"\$TMPDIR\")\" ]"

text=$("$vkft" bench train --device cpu "${tiny[@]}" --method lora 2>&1); rc=$?
check "text exits 0" "[ $rc -eq 0 ]"
check "text names the device" "grep -q '^device cpu' <<<\"\$text\""
check "text has lora tokens/s" "grep -qE '^  lora +[0-9.]+ tokens/s' <<<\"\$text\""
check "text has no full line" "! grep -q '^  full' <<<\"\$text\""

all=$("$vkft" bench train --device cpu "${tiny[@]}" --method all 2>&1); rc=$?
check "--method all exits 0 ($(tail -1 <<<"$all"))" "[ $rc -eq 0 ]"
for m in lora full qlora ia3 adapter prefix prompt bitfit; do
  check "--method all has a $m row" "grep -qE '^  $m +[0-9.]+ tokens/s' <<<\"\$all\""
done

# --model: made and kept, then reused; shape flags refused for an existing model
"$vkft" bench train --device cpu "${tiny[@]}" --method full --model "$tmp/m" >/dev/null 2>&1
check "--model made a model" "[ -f \"$tmp/m/config.json\" ] && [ -f \"$tmp/m/model.safetensors\" ]"
again=$("$vkft" bench train --device cpu --seq 16 --batch 2 --steps 1 --warmup 0 --method full \
        --model "$tmp/m" --json 2>&1); rc=$?
check "--model reused exits 0 ($again)" "[ $rc -eq 0 ]"
check "--model reused: same model" "[ \"\$(field full \"\$again\" params_total)\" = 29536 ]"
refuse=$("$vkft" bench train --device cpu --hidden 64 --model "$tmp/m" 2>&1); rc=$?
check "--model with --hidden fails" "[ $rc -eq 1 ]"
check "--model with --hidden says why" "grep -q 'already holds a model' <<<\"\$refuse\""

prof=$("$vkft" bench train --device cpu "${tiny[@]}" --method lora --profile 2>&1); rc=$?
check "--profile exits 0" "[ $rc -eq 0 ]"
check "--profile lists matmul and adamw" \
      "grep -qE '^  matmul +phase 0' <<<\"\$prof\" && grep -qE '^  adamw +phase 1' <<<\"\$prof\""

bad=$("$vkft" bench train --bogus 2>&1); rc=$?
check "unknown option exits 2" "[ $rc -eq 2 ] && grep -q -- '--bogus' <<<\"\$bad\""
bad=$("$vkft" bench train --method sgd 2>&1); rc=$?
check "bad --method exits 2" "[ $rc -eq 2 ] && grep -q -- '--method' <<<\"\$bad\""
bad=$("$vkft" bench train --hidden 30 --heads 4 2>&1); rc=$?
check "heads not dividing hidden exits 2" "[ $rc -eq 2 ] && grep -q -- '--heads' <<<\"\$bad\""
bad=$("$vkft" bench train --steps 0 2>&1); rc=$?
check "--steps 0 exits 2" "[ $rc -eq 2 ]"

if [ "${VKFT_TEST_REQUIRE_VULKAN:-0}" = 1 ] || ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  vk=$("$vkft" bench train --device vulkan "${tiny[@]}" --method lora --json 2>&1); rc=$?
  check "vulkan exits 0 ($vk)" "[ $rc -eq 0 ]"
  check "vulkan lora params_trainable 8704" "[ \"\$(field lora \"\$vk\" params_trainable)\" = 8704 ]"
fi
check "no temporary folder left" "[ -z \"\$(ls -A \"\$TMPDIR\")\" ]"

[ $fail -eq 0 ] && echo "cli bench train: ok"
exit $fail
