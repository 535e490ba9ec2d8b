/* Error message formatting shared by the whole library. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

vkft_status vkft_fail(vkft_err *err, vkft_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

const char *vkft_desc_str(const vkft_desc *d, char *buf, size_t len) {
    if (!d) {
        snprintf(buf, len, "(none)");
        return buf;
    }
    size_t used = (size_t)snprintf(buf, len, "%s[", vkft_dtype_name(d->dtype));
    for (int i = 0; i < d->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld",
                                 (long long)d->shape[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}
