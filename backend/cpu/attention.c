/* CPU kernels of the attention ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(attention) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "attention: no CPU kernel yet");
}

VKFT_CPU_KERNEL(attention_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "attention_backward: no CPU kernel yet");
}

