#!/usr/bin/env bash
# Installs every Debian 12 package vkft needs to build, test and run (idempotent).
set -euo pipefail
packages=(
  build-essential meson ninja-build pkg-config
  glslc spirv-tools                      # GLSL -> SPIR-V at build time
  libvulkan-dev libvulkan-volk-dev       # Vulkan headers; volk loads the loader at run time
  libvulkan1 mesa-vulkan-drivers         # the loader and lavapipe (Vulkan on the CPU)
  vulkan-validationlayers vulkan-tools   # Khronos validation (tests), vulkaninfo
  libopenblas-dev                        # cblas_sgemm for the CPU backend
  libyaml-dev libpcre2-dev               # job files; tokenizer pre-tokenizer regexes
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
