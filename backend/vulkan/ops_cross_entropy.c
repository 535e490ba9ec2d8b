/* Vulkan recording of the cross_entropy ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(cross_entropy) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cross_entropy: no Vulkan kernel yet");
}

VKFT_VK_OP(cross_entropy_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cross_entropy_backward: no Vulkan kernel yet");
}

