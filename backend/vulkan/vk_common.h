/* Vulkan through volk (function pointers loaded at run time) and the result-check helper. */
#ifndef VKFT_VK_COMMON_H
#define VKFT_VK_COMMON_H

#include <volk.h>

#include "core/error.h"

const char *vkft_vk_result_str(VkResult r);

/* Evaluates a Vulkan call; on failure returns VKFT_ERR_DEVICE with "<call>: <result>" in err. */
#define VKFT_VK_TRY(err, call)                                                                 \
    do {                                                                                       \
        VkResult vkft_r_ = (call);                                                             \
        if (vkft_r_ != VK_SUCCESS)                                                             \
            return vkft_fail((err), vkft_r_ == VK_ERROR_OUT_OF_DEVICE_MEMORY ||                \
                                            vkft_r_ == VK_ERROR_OUT_OF_HOST_MEMORY             \
                                        ? VKFT_ERR_NO_MEMORY                                   \
                                        : VKFT_ERR_DEVICE,                                     \
                             "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,                \
                             vkft_vk_result_str(vkft_r_));                                     \
    } while (0)

#endif
