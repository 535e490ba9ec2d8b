#!/bin/bash
# A/B timing of two vkft builds on a small, shared, noisy machine: both run AT THE SAME TIME, one
# pinned to each of cores 0 and 1 with one lavapipe thread each, then with the cores swapped, so a
# machine-wide slowdown hits both. Compare A and B within a round only.
#
# usage: tools/bench_ab_pinned.sh DIR_A DIR_B [OP_REGEX] [-- vkft bench args]
#   DIR_x: a copy of a build's frontend/vkft and backend/libvkft.so.0
#   default bench: vkft bench train --device vulkan --method lora --steps 2 --warmup 1 --profile,
#   printing the per-op lines that match OP_REGEX (default: all); with "-- ARGS" runs
#   `vkft bench ARGS` instead and prints its last line (e.g. -- matmul --device vulkan --m 1024
#   --n 1376 --k 512 --trans b --iters 4).
set -u
A=$1; B=$2; shift 2
RE=.
if [ $# -gt 0 ] && [ "$1" != "--" ]; then RE=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
ARGS=("$@")
[ ${#ARGS[@]} -eq 0 ] && ARGS=(train --device vulkan --method lora --steps 2 --warmup 1 --profile)
export LP_NUM_THREADS=1
run() {   # dir core
    if [ "${ARGS[0]}" = train ] && [[ " ${ARGS[*]} " == *" --profile "* ]]; then
        LD_LIBRARY_PATH=$1 taskset -c "$2" "$1/vkft" bench "${ARGS[@]}" 2>&1 | grep -E "^  " |
            grep -E "$RE"
    else
        LD_LIBRARY_PATH=$1 taskset -c "$2" "$1/vkft" bench "${ARGS[@]}" 2>&1 | tail -1
    fi
}
out_a=$(mktemp) out_b=$(mktemp)
trap 'rm -f "$out_a" "$out_b"' EXIT
for round in 1 2; do
    ca=$((round - 1)); cb=$((2 - round))
    run "$A" $ca > "$out_a" & run "$B" $cb > "$out_b"; wait
    echo "== round $round: A ($A) on cpu$ca"; cat "$out_a"
    echo "== round $round: B ($B) on cpu$cb"; cat "$out_b"
done
