/* CPU kernels of the rope ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(rope) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rope: no CPU kernel yet");
}

VKFT_CPU_KERNEL(rope_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rope_backward: no CPU kernel yet");
}

