/* Vulkan recording of the optimizer ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(sum_squares) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "sum_squares: no Vulkan kernel yet");
}

VKFT_VK_OP(adamw) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "adamw: no Vulkan kernel yet");
}

