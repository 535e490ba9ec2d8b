/* Vulkan recording of the norm ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(rmsnorm) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rmsnorm: no Vulkan kernel yet");
}

VKFT_VK_OP(rmsnorm_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rmsnorm_backward: no Vulkan kernel yet");
}

VKFT_VK_OP(layernorm) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "layernorm: no Vulkan kernel yet");
}

VKFT_VK_OP(layernorm_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "layernorm_backward: no Vulkan kernel yet");
}

