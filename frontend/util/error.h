/*
 * Errors in the frontend: every call that can fail returns a vkft_status (the backend's enum)
 * and, when it fails, writes one human-readable message into the caller's vkft_err. Messages
 * carry their context (file, file:line:col for job and data files, tensor or key names); only
 * the CLI prints them and exits.
 */
#ifndef VKFT_FRONTEND_ERROR_H
#define VKFT_FRONTEND_ERROR_H

#include "vkft/backend.h"

typedef struct vkft_err {
    char msg[1024];
} vkft_err;

/* Formats the message into *err (err may be NULL) and returns status, so a failure reads
 *     return vkft_err_set(err, VKFT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));  */
vkft_status vkft_err_set(vkft_err *err, vkft_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (adding context on the way up). */
vkft_status vkft_err_prefix(vkft_err *err, vkft_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
