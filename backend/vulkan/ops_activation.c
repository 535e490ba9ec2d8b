/* Vulkan recording of the activation ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(gelu) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "gelu: no Vulkan kernel yet");
}

VKFT_VK_OP(gelu_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "gelu_backward: no Vulkan kernel yet");
}

VKFT_VK_OP(silu) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "silu: no Vulkan kernel yet");
}

VKFT_VK_OP(silu_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "silu_backward: no Vulkan kernel yet");
}

VKFT_VK_OP(swiglu) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "swiglu: no Vulkan kernel yet");
}

VKFT_VK_OP(swiglu_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "swiglu_backward: no Vulkan kernel yet");
}

VKFT_VK_OP(softmax) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "softmax: no Vulkan kernel yet");
}

VKFT_VK_OP(softmax_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "softmax_backward: no Vulkan kernel yet");
}

