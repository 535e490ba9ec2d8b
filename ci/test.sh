#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install packages, build, run every test on lavapipe
# with the Khronos validation layer (any validation message fails), then run it again under
# ASan+UBSan. Ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }
source ci/env.sh

passed=0
failed=0
count_results() {  # $1: build dir; adds its meson test results to the totals
  local log="$1/meson-logs/testlog.json" p f
  if [ -f "$log" ]; then
    p=$(grep -c '"result": "OK"' "$log" || true)
    f=$(grep -c '"result": "\(FAIL\|TIMEOUT\|ERROR\|UNEXPECTEDPASS\)"' "$log" || true)
  else
    p=0; f=1
  fi
  passed=$((passed + p)); failed=$((failed + f))
}

run_suite() {  # $1: build dir, rest: meson setup options
  local dir="$1"; shift
  if ! { meson setup "$dir" --wipe "$@" >/dev/null 2>&1 || meson setup "$dir" "$@"; }; then
    echo "meson setup $dir failed"; failed=$((failed + 1)); return
  fi
  if ! ninja -C "$dir"; then
    echo "build in $dir failed"; failed=$((failed + 1)); return
  fi
  meson test -C "$dir" --num-processes 2 --print-errorlogs
  count_results "$dir"
}

run_suite build-ci --buildtype=debugoptimized
run_suite build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
