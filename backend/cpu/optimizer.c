/* CPU kernels of the optimizer ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(sum_squares) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "sum_squares: no CPU kernel yet");
}

VKFT_CPU_KERNEL(adamw) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "adamw: no CPU kernel yet");
}

