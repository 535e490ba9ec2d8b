# Environment for running vkft from CI and the README commands (sourced, not executed).
# lavapipe and the loader want a runtime dir; CI machines may not have one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/vkft-runtime-$(id -u)"
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
