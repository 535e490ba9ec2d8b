/* Vulkan recording of the matmul ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(matmul) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "matmul: no Vulkan kernel yet");
}

