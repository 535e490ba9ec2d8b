/* Vulkan recording of the nf4 ops. (stub: to be written) */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(nf4_quantize) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "nf4_quantize: no Vulkan kernel yet");
}

VKFT_VK_OP(nf4_dequantize) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "nf4_dequantize: no Vulkan kernel yet");
}

VKFT_VK_OP(matmul_nf4) {
    (void)rec; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "matmul_nf4: no Vulkan kernel yet");
}

