/* Vulkan recording of the attention ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(attention) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "attention: no Vulkan kernel yet");
}

VKFT_VK_OP(attention_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "attention_backward: no Vulkan kernel yet");
}

