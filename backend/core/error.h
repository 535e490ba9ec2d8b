/*
 * Error messages: a status code travels with a message buffer that names what failed and why.
 * Library code never prints; it fills one of these and returns the status.
 */
#ifndef VKFT_CORE_ERROR_H
#define VKFT_CORE_ERROR_H

#include <stddef.h>

#include "vkft/backend.h"

#define VKFT_ERR_MSG_LEN 1024

typedef struct vkft_err {
    char msg[VKFT_ERR_MSG_LEN];
} vkft_err;

/* Formats the message into err (if not NULL) and returns status, for `return vkft_fail(...)`. */
vkft_status vkft_fail(vkft_err *err, vkft_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "[a, b, c]" for a desc's shape into buf (for messages). Returns buf. */
const char *vkft_desc_str(const vkft_desc *d, char *buf, size_t len);

#endif
