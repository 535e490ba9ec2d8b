/* CPU kernels of the nf4 ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(nf4_quantize) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "nf4_quantize: no CPU kernel yet");
}

VKFT_CPU_KERNEL(nf4_dequantize) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "nf4_dequantize: no CPU kernel yet");
}

VKFT_CPU_KERNEL(matmul_nf4) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "matmul_nf4: no CPU kernel yet");
}

