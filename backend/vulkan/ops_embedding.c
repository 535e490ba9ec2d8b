/* Vulkan recording of the embedding ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(embedding) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "embedding: no Vulkan kernel yet");
}

VKFT_VK_OP(embedding_backward) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "embedding_backward: no Vulkan kernel yet");
}

