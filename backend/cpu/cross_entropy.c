/* CPU kernels of the cross_entropy ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(cross_entropy) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cross_entropy: no CPU kernel yet");
}

VKFT_CPU_KERNEL(cross_entropy_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cross_entropy_backward: no CPU kernel yet");
}

