/* CPU kernels of the norm ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(rmsnorm) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rmsnorm: no CPU kernel yet");
}

VKFT_CPU_KERNEL(rmsnorm_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "rmsnorm_backward: no CPU kernel yet");
}

VKFT_CPU_KERNEL(layernorm) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "layernorm: no CPU kernel yet");
}

VKFT_CPU_KERNEL(layernorm_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "layernorm_backward: no CPU kernel yet");
}

