#!/usr/bin/env bash
# vkft devices: lists lavapipe and the CPU backend with their limits and features (text and
# JSON); with no Vulkan driver it still works, says why, and lists the CPU backend.
# usage: cli_devices_test.sh PATH/TO/vkft
set -u
vkft="$1"
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }

out=$("$vkft" devices --json 2>/dev/null); rc=$?
check "devices --json exits 0" "[ $rc -eq 0 ]"
for key in '"spec": "cpu"' '"max_storage_buffer_range"' '"max_memory_allocation_size"' \
           '"subgroup_size"' '"fp16_arithmetic"' '"cooperative_matrix"' '"heaps"' \
           '"driver"' '"api_version"' '"max_shared_memory"' '"buffer_device_address"'; do
  check "json has $key" "grep -qF -- '$key' <<<\"\$out\""
done
if [ "${VKFT_TEST_REQUIRE_VULKAN:-0}" = 1 ] || ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  check "lavapipe is listed as vulkan:0" "grep -q '\"spec\": \"vulkan:0\"' <<<\"\$out\""
fi

text=$("$vkft" devices 2>&1); rc=$?
check "devices exits 0" "[ $rc -eq 0 ]"
check "text lists the CPU backend" "grep -q 'CPU backend' <<<\"\$text\""

# No Vulkan driver: the loader finds no ICD; vkft falls back to the CPU with a notice.
noicd=$(VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json VKFT_VALIDATION=0 \
        "$vkft" devices 2>&1); rc=$?
check "no driver: exits 0" "[ $rc -eq 0 ]"
check "no driver: a notice" "grep -qi 'vulkan' <<<\"\$noicd\""
check "no driver: cpu listed" "grep -q 'CPU backend' <<<\"\$noicd\""
check "no driver: no vulkan:0" "! grep -q 'vulkan:0' <<<\"\$noicd\""

bad=$("$vkft" devices --bogus 2>&1); rc=$?
check "bad option exits 2" "[ $rc -eq 2 ]"
check "bad option named" "grep -q -- '--bogus' <<<\"\$bad\""

[ $fail -eq 0 ] && echo "cli devices: ok"
exit $fail
