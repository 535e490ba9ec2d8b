/* CPU kernels of the layout ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(copy) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "copy: no CPU kernel yet");
}

VKFT_CPU_KERNEL(cast) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "cast: no CPU kernel yet");
}

VKFT_CPU_KERNEL(transpose) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "transpose: no CPU kernel yet");
}

VKFT_CPU_KERNEL(slice) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "slice: no CPU kernel yet");
}

VKFT_CPU_KERNEL(pad) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "pad: no CPU kernel yet");
}

VKFT_CPU_KERNEL(concat) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "concat: no CPU kernel yet");
}

