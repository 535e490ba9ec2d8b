/* Vulkan recording of the layout ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(copy) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "copy: no Vulkan kernel yet");
}

VKFT_VK_OP(cast) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cast: no Vulkan kernel yet");
}

VKFT_VK_OP(transpose) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "transpose: no Vulkan kernel yet");
}

VKFT_VK_OP(slice) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "slice: no Vulkan kernel yet");
}

VKFT_VK_OP(pad) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "pad: no Vulkan kernel yet");
}

VKFT_VK_OP(concat) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "concat: no Vulkan kernel yet");
}

