/* Test hook of the Vulkan matmul (ops_matmul.c): forcing the fallback kernel variant. */
#ifndef VKFT_VULKAN_OPS_MATMUL_H
#define VKFT_VULKAN_OPS_MATMUL_H

#include <stdbool.h>

/* Makes every later CPU-shaped matmul use the variant without subgroup operations (for tests;
 * process-wide, not thread-safe: set it only while no op runs). */
void vkft_vk_matmul_force_plain(bool on);

#endif
