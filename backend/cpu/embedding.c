/* CPU kernels of the embedding ops. (stub: to be written) */
#include "cpu/kernels.h"

VKFT_CPU_KERNEL(embedding) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "embedding: no CPU kernel yet");
}

VKFT_CPU_KERNEL(embedding_backward) {
    (void)cpu; (void)call;
    return vkft_fail(err, VKFT_ERR_UNSUPPORTED, "embedding_backward: no CPU kernel yet");
}

