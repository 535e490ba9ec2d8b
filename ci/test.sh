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

run_suite() {  # $1: build dir, $2: timeout multiplier, rest: meson setup options
  local dir="$1" mult="$2"; shift 2
  if ! { meson setup "$dir" --wipe "$@" >/dev/null 2>&1 || meson setup "$dir" "$@"; }; then
    echo "meson setup $dir failed"; failed=$((failed + 1)); return
  fi
  if ! ninja -C "$dir"; then
    echo "build in $dir failed"; failed=$((failed + 1)); return
  fi
  meson test -C "$dir" --num-processes 2 --print-errorlogs --timeout-multiplier "$mult"
  count_results "$dir"
}

# The examples against the installed library, as a user's program builds them: install build-ci
# into a staging directory, compile examples/mlp_train.c with the installed vkft.pc (pkg-config
# with the staging directory as sysroot) and run it on the CPU and on Vulkan; each run is a test.
run_examples() {
  local stage="$PWD/build-ci/stage" bin="$PWD/build-ci/mlp_train" pcdir flags dev
  rm -rf "$stage"
  if ! meson install -C build-ci --no-rebuild --destdir "$stage" >/dev/null; then
    echo "examples: meson install failed"; failed=$((failed + 1)); return
  fi
  pcdir=$(dirname "$(find "$stage" -name vkft.pc | head -n 1)")
  if ! flags=$(PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$stage" \
               pkg-config --cflags --libs vkft) ||
     ! cc -std=c11 -Wall -Wextra -Werror examples/mlp_train.c -o "$bin" $flags -lm; then
    echo "examples: building mlp_train against the installed vkft failed"
    failed=$((failed + 1)); return
  fi
  for dev in cpu vulkan; do
    if LD_LIBRARY_PATH="$(dirname "$pcdir")" "$bin" "$dev"; then
      echo "example mlp_train ($dev): OK"; passed=$((passed + 1))
    else
      echo "example mlp_train ($dev): FAIL"; failed=$((failed + 1))
    fi
  done
}

run_suite build-ci 1 --buildtype=release   # what ci/quickstart.sh builds
[ -f build-ci/build.ninja ] && run_examples
# ASan+UBSan makes the slowest tests (whole training runs on lavapipe) 4-5x slower
run_suite build-asan 4 --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
