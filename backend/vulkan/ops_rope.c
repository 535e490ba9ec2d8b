/* Vulkan recording of the rope ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(rope) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rope: no Vulkan kernel yet");
}

VKFT_VK_OP(rope_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rope_backward: no Vulkan kernel yet");
}

