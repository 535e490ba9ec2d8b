/* CPU kernels of the matmul ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(matmul) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "matmul: no CPU kernel yet");
}

