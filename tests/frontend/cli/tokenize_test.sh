#!/usr/bin/env bash
# vkft tokenize / detokenize, driven as a user would: raw and JSON-string lines, with and
# without special tokens, a round trip, a model folder, and bad input (exit status + message).
# Expected ids are HF's (tests/fixtures/tokenizer/llama2-mini.expected.json).
# usage: tokenize_test.sh PATH/TO/vkft   (VKFT_FIXTURES: the fixtures folder)
set -u
vkft="$1"
fix="${VKFT_FIXTURES:-tests/fixtures}/tokenizer"
tok="$fix/llama2-mini.json"
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }

out=$(printf 'Hello world\n"<s>Hello</s>"\n\n' | "$vkft" tokenize --model "$tok"); rc=$?
check "tokenize exits 0" "[ $rc -eq 0 ]"
want=$'[1,377,473,2435,1516]\n[1,1,377,473,2435,2]\n[1]'
check "tokenize ids (BOS added, <s> split out, empty line)" "[ \"\$out\" = \"\$want\" ]"

out=$(printf 'Hello world\n' | "$vkft" tokenize --model "$tok" --no-special)
check "--no-special: no BOS" "[ \"\$out\" = '[377,473,2435,1516]' ]"

in=$'"a\\nb \\u00e9t\\u00e9 \\ud83d\\ude00"\n"tabs\\tand  spaces"'
out=$(printf '%s\n' "$in" | "$vkft" tokenize --model "$tok" --no-special |
      "$vkft" detokenize --model "$tok"); rc=$?
check "round trip exits 0" "[ $rc -eq 0 ]"
check "round trip gives the texts back" \
      "[ \"\$out\" = \$'\"a\\\\nb été 😀\"\\n\"tabs\\\\tand  spaces\"' ]"

out=$(printf '[1,377,473,2435,2]\n' | "$vkft" detokenize --model "$tok" --skip-special)
check "--skip-special drops <s> and </s>" "[ \"\$out\" = '\"Hello\"' ]"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$tok" "$dir/tokenizer.json"
printf '{"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", ' > \
    "$dir/tokenizer_config.json"
printf '"add_eos_token": true}\n' >> "$dir/tokenizer_config.json"
out=$(printf 'Hello world\n' | "$vkft" tokenize --model "$dir")
check "model folder: add_eos_token appends </s>" "[ \"\$out\" = '[1,377,473,2435,1516,2]' ]"

err=$(printf 'x\n' | "$vkft" tokenize 2>&1 >/dev/null); rc=$?
check "no --model: exit 2" "[ $rc -eq 2 ]"
check "no --model: says so" "grep -q -- '--model' <<<\"\$err\""
err=$(printf 'x\n' | "$vkft" tokenize --model "$dir/missing.json" 2>&1 >/dev/null); rc=$?
check "missing model: exit 1" "[ $rc -eq 1 ]"
check "missing model: names the path" "grep -q 'missing.json' <<<\"\$err\""
err=$(printf 'ok\n"unterminated\n' | "$vkft" tokenize --model "$tok" 2>&1 >/dev/null); rc=$?
check "bad JSON line: exit 1" "[ $rc -eq 1 ]"
check "bad JSON line: names line 2" "grep -q 'stdin line 2' <<<\"\$err\""
err=$(printf '[1,2]\n[1,99999]\n' | "$vkft" detokenize --model "$tok" 2>&1 >/dev/null); rc=$?
check "id out of range: exit 1" "[ $rc -eq 1 ]"
check "id out of range: named" "grep -q 'stdin line 2.*99999' <<<\"\$err\""
err=$(printf '[1,"a"]\n' | "$vkft" detokenize --model "$tok" 2>&1 >/dev/null); rc=$?
check "not ids: exit 1 with message" "[ $rc -eq 1 ] && grep -q 'array of integer' <<<\"\$err\""
err=$("$vkft" tokenize --model "$tok" --bogus </dev/null 2>&1); rc=$?
check "bad option: exit 2, named" "[ $rc -eq 2 ] && grep -q -- '--bogus' <<<\"\$err\""

[ $fail -eq 0 ] && echo "cli tokenize: ok"
exit $fail
