/*
 * Files (see file.h): whole-file reads, atomic writes, read-only maps, folders.
 *
 * Atomic write protocol: write "<path>.tmp.<pid>" in the destination's folder (so the rename
 * stays within one file system), fsync it, close it, rename it over path, then fsync the folder
 * so the rename itself is durable. Until the rename, path keeps its old content (or stays
 * absent); any failure before it unlinks the temp file. A crash can leave a stale
 * "*.tmp.<pid>" beside path, never a torn path.
 *
 * Every system call is checked and retried on EINTR; every message names the path and the
 * errno text.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static vkft_status io_fail(vkft_err *err, const char *path, const char *what, int e) {
    return vkft_err_set(err, VKFT_ERR_IO, "%s: %s: %s", path, what, strerror(e));
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int close_fd(int fd) {
    /* On Linux the descriptor is released even when close reports EINTR, so it is never retried. */
    return close(fd);
}

vkft_status vkft_file_read(const char *path, char **out, size_t *len, vkft_err *err) {
    *out = NULL;
    if (len) *len = 0;
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return io_fail(err, path, "cannot open", errno);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close_fd(fd);
        return io_fail(err, path, "cannot stat", e);
    }
    if (S_ISDIR(sb.st_mode)) {
        close_fd(fd);
        return io_fail(err, path, "cannot read", EISDIR);
    }
    /* The size is a hint only (pipes and /proc files report 0): read until end of file. */
    size_t cap = sb.st_size > 0 && (uint64_t)sb.st_size < SIZE_MAX - 1 ? (size_t)sb.st_size + 1
                                                                        : 4096;
    size_t n = 0;
    char *buf = malloc(cap);
    vkft_status st = VKFT_OK;
    if (!buf) st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory (%zu bytes)", path,
                                cap);
    while (!st) {
        if (n + 1 >= cap) {
            char *b = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!b) {
                st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory reading it", path);
                break;
            }
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) st = io_fail(err, path, "read failed", errno);
        else if (r == 0) break;
        else n += (size_t)r;
    }
    close_fd(fd);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return VKFT_OK;
}

vkft_status vkft_file_writer_open(vkft_file_writer *w, const char *path, vkft_err *err) {
    w->fd = -1;
    w->path = dup_str(path);
    size_t n = strlen(path) + 32;
    w->tmp_path = malloc(n);
    if (!w->path || !w->tmp_path) {
        vkft_file_writer_abort(w);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    snprintf(w->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    do w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    while (w->fd < 0 && errno == EINTR);
    if (w->fd < 0) {
        vkft_status st = io_fail(err, w->tmp_path, "cannot create", errno);
        vkft_file_writer_abort(w);
        return st;
    }
    return VKFT_OK;
}

vkft_status vkft_file_writer_write(vkft_file_writer *w, const void *data, size_t len,
                                   vkft_err *err) {
    if (w->fd < 0) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "file writer is not open");
    const char *p = data;
    while (len) {
        /* Linux writes at most 0x7ffff000 bytes per call: ask for no more. */
        size_t chunk = len < ((size_t)1 << 30) ? len : (size_t)1 << 30;
        ssize_t r = write(w->fd, p, chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return io_fail(err, w->tmp_path, "write failed", errno);
        if (r == 0) return io_fail(err, w->tmp_path, "write failed", EIO);
        p += r;
        len -= (size_t)r;
    }
    return VKFT_OK;
}

/* fsync of the folder that holds path, so a rename into it is durable. File systems that
 * cannot sync a folder (EINVAL) are accepted. */
static vkft_status sync_parent(const char *path, vkft_err *err) {
    char *dir = dup_str(path);
    if (!dir) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    vkft_status st = VKFT_OK;
    int fd;
    do fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        st = io_fail(err, dir, "cannot open folder to sync it", errno);
    } else {
        if (fsync(fd) != 0 && errno != EINVAL) st = io_fail(err, dir, "fsync failed", errno);
        close_fd(fd);
    }
    free(dir);
    return st;
}

vkft_status vkft_file_writer_commit(vkft_file_writer *w, vkft_err *err) {
    if (w->fd < 0) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "file writer is not open");
    vkft_status st = VKFT_OK;
    int r;
    do r = fsync(w->fd);
    while (r != 0 && errno == EINTR);
    if (r != 0) st = io_fail(err, w->tmp_path, "fsync failed", errno);
    if (close_fd(w->fd) != 0 && !st && errno != EINTR)
        st = io_fail(err, w->tmp_path, "close failed", errno);
    w->fd = -1;
    if (!st && rename(w->tmp_path, w->path) != 0)
        st = vkft_err_set(err, VKFT_ERR_IO, "%s: cannot rename %s over it: %s", w->path,
                          w->tmp_path, strerror(errno));
    if (st) {
        vkft_file_writer_abort(w);
        return st;
    }
    /* The content is in place; a failed folder sync only weakens durability, but say so. */
    st = sync_parent(w->path, err);
    free(w->path);
    free(w->tmp_path);
    w->path = w->tmp_path = NULL;
    return st;
}

void vkft_file_writer_abort(vkft_file_writer *w) {
    if (w->fd >= 0) close_fd(w->fd);
    if (w->tmp_path && w->path) unlink(w->tmp_path);  /* it may not exist: that is fine */
    free(w->path);
    free(w->tmp_path);
    w->fd = -1;
    w->path = w->tmp_path = NULL;
}

vkft_status vkft_file_write_atomic(const char *path, const void *data, size_t len,
                                   vkft_err *err) {
    vkft_file_writer w;
    vkft_status st = vkft_file_writer_open(&w, path, err);
    if (st) return st;
    st = vkft_file_writer_write(&w, data, len, err);
    if (st) {
        vkft_file_writer_abort(&w);
        return st;
    }
    return vkft_file_writer_commit(&w, err);
}

vkft_status vkft_file_map_open(const char *path, vkft_file_map *m, vkft_err *err) {
    m->data = NULL;
    m->len = 0;
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return io_fail(err, path, "cannot open", errno);
    struct stat sb;
    vkft_status st = VKFT_OK;
    if (fstat(fd, &sb) != 0) st = io_fail(err, path, "cannot stat", errno);
    else if (!S_ISREG(sb.st_mode))
        st = vkft_err_set(err, VKFT_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)sb.st_size > SIZE_MAX)
        st = vkft_err_set(err, VKFT_ERR_IO, "%s: too big to map", path);
    if (!st && sb.st_size > 0) {
        void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) st = io_fail(err, path, "mmap failed", errno);
        else {
            m->data = p;
            m->len = (size_t)sb.st_size;
        }
    }
    close_fd(fd);  /* the mapping stays valid without the descriptor */
    return st;
}

void vkft_file_map_close(vkft_file_map *m) {
    if (m->data) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

vkft_status vkft_mkdirs(const char *path, vkft_err *err) {
    if (!path || !*path) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "mkdirs: empty path");
    char *p = dup_str(path);
    if (!p) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
    vkft_status st = VKFT_OK;
    /* Create each prefix that ends before a '/', then the whole path. */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0) {
            int e = errno;
            struct stat sb;
            if (e != EEXIST) st = io_fail(err, p, "cannot create folder", e);
            else if (stat(p, &sb) != 0) st = io_fail(err, p, "cannot stat", errno);
            else if (!S_ISDIR(sb.st_mode))
                st = vkft_err_set(err, VKFT_ERR_IO, "%s: exists and is not a folder", p);
        }
        *s = saved;
        if (st || saved == '\0') break;
        while (s[1] == '/') s++;  /* "a//b" and a trailing '/' */
        if (s[1] == '\0') break;
    }
    free(p);
    return st;
}

int vkft_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int vkft_is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

char *vkft_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] != '/';
    if (a == 0) slash = false;
    char *p = malloc(a + slash + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

vkft_status vkft_file_copy(const char *src, const char *dst, vkft_err *err) {
    int fd;
    do fd = open(src, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return io_fail(err, src, "cannot open", errno);
    vkft_file_writer w;
    vkft_status st = vkft_file_writer_open(&w, dst, err);
    enum { CHUNK = 1 << 20 };
    char *buf = st ? NULL : malloc(CHUNK);
    if (!st && !buf) st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", dst);
    while (!st) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) st = io_fail(err, src, "read failed", errno);
        else if (r == 0) break;
        else st = vkft_file_writer_write(&w, buf, (size_t)r, err);
    }
    free(buf);
    close_fd(fd);
    if (st) {
        vkft_file_writer_abort(&w);
        return st;
    }
    return vkft_file_writer_commit(&w, err);
}
