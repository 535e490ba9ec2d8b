/* CPU kernels of the activation ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(gelu) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "gelu: no CPU kernel yet");
}

VKFT_CPU_KERNEL(gelu_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "gelu_backward: no CPU kernel yet");
}

VKFT_CPU_KERNEL(silu) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "silu: no CPU kernel yet");
}

VKFT_CPU_KERNEL(silu_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "silu_backward: no CPU kernel yet");
}

VKFT_CPU_KERNEL(swiglu) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "swiglu: no CPU kernel yet");
}

VKFT_CPU_KERNEL(swiglu_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "swiglu_backward: no CPU kernel yet");
}

VKFT_CPU_KERNEL(softmax) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "softmax: no CPU kernel yet");
}

VKFT_CPU_KERNEL(softmax_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "softmax_backward: no CPU kernel yet");
}

