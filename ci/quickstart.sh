#!/usr/bin/env bash
# The quickstart: install packages, build, list devices and run a matmul benchmark on the best
# device. (The training quickstart, `vkft run jobs/quickstart.yaml`, replaces the benchmark once
# the trainer lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
source ci/env.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
./build/frontend/vkft devices
./build/frontend/vkft bench matmul --device auto --m 1024 --n 1024 --k 1024
