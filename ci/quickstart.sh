#!/usr/bin/env bash
# The quickstart, from a fresh clone: install packages, build, make a small random Llama-shaped
# model with `vkft init-model` (its tokenizer trained on the quickstart data), then train LoRA on
# it with `vkft run jobs/quickstart.yaml` on the best device (lavapipe on a machine without a
# GPU). Any extra arguments go to `vkft run` (e.g. --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
source ci/env.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
model=jobs/models/quickstart-llama
if [ ! -f "$model/model.safetensors" ]; then
  ./build/frontend/vkft init-model --arch llama --hidden 128 --layers 4 --heads 4 --kv-heads 2 \
    --ffn 344 --vocab 512 --seq 64 --seed 0 --corpus jobs/data/arith_corpus.txt --out "$model"
fi
rm -rf build/quickstart-out
./build/frontend/vkft run jobs/quickstart.yaml "$@"
echo "the adapter is in build/quickstart-out/adapter; metrics in build/quickstart-out/metrics.jsonl"
