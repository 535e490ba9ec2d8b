/* Vulkan recording of GRAD_CLIP: one invocation (four floats). */
#include "vulkan/vk_ops.h"

VKFT_VK_OP(grad_clip) {
    const vkft_grad_clip_params *p = call->params;
    struct { float max_norm; } pc = {p->max_norm};
    vkft_vk_arg args[3] = {{.t = call->in[0]}, {.t = call->in[1]}, {.t = call->out[0]}};
    return vkft_vk_dispatch(rec, "grad_clip", NULL, 0, args, 3, &pc, sizeof pc, 1, 1, 1, err);
}
