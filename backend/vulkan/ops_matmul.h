/* Test hook of the Vulkan matmul (ops_matmul.c): forcing the fallback kernel variant. */
#ifndef VKFT_VULKAN_OPS_MATMUL_H
#define VKFT_VULKAN_OPS_MATMUL_H

#include <stdbool.h>

#include "vkft/backend.h"

/* Makes every later CPU-shaped matmul and NF4 matmul recorded on dev (a Vulkan device) use the
 * variant without subgroup operations (for tests). The flag lives in the device, like all
 * state: no process-wide variable. */
void vkft_vk_matmul_force_plain(vkft_device *dev, bool on);

#endif
