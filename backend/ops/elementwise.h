/* Broadcasting helpers shared by the elementwise ops' kernels. */
#ifndef VKFT_OPS_ELEMENTWISE_H
#define VKFT_OPS_ELEMENTWISE_H

#include "vkft/backend.h"

/* d's shape left-padded with 1s to ndim dims. */
void vkft_bcast_pad(const vkft_desc *d, int ndim, int64_t *shape);
/* Element strides of d broadcast to out (0 along broadcast dims), out->ndim entries. */
void vkft_bcast_strides(const vkft_desc *d, const vkft_desc *out, int64_t *strides);

#endif
