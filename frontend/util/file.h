/*
 * Files: whole-file reads, atomic writes (temp file in the same folder, fsync, rename, fsync
 * of the folder) so a crash or Ctrl-C never leaves a half-written output, read-only mmaps,
 * and folder helpers. Every failure names the path and the errno text.
 */
#ifndef VKFT_FILE_H
#define VKFT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Reads the whole file into a malloc'd, NUL-terminated buffer (caller frees; len may be NULL).
 * Errors are VKFT_ERR_IO ("path: cannot open: No such file or directory") or NO_MEMORY. */
vkft_status vkft_file_read(const char *path, char **out, size_t *len, vkft_err *err);
/* Writes data to path atomically: path either keeps its old content or has all of data. */
vkft_status vkft_file_write_atomic(const char *path, const void *data, size_t len, vkft_err *err);

/* Atomic writes in pieces: open "path.tmp.<pid>", write, then commit (fsync + rename + fsync
 * of the folder) or abort (unlink). After a failed open the writer needs no abort; after a
 * failed write call abort. A failed commit has already aborted: path is unchanged. abort is
 * safe to call twice and after commit. */
typedef struct vkft_file_writer {
    int fd;
    char *path, *tmp_path;
} vkft_file_writer;
vkft_status vkft_file_writer_open(vkft_file_writer *w, const char *path, vkft_err *err);
vkft_status vkft_file_writer_write(vkft_file_writer *w, const void *data, size_t len,
                                   vkft_err *err);
vkft_status vkft_file_writer_commit(vkft_file_writer *w, vkft_err *err);
void vkft_file_writer_abort(vkft_file_writer *w);

/* A read-only mapping of a whole file (len 0 files map to data == NULL). */
typedef struct vkft_file_map {
    const uint8_t *data;
    size_t len;
} vkft_file_map;
vkft_status vkft_file_map_open(const char *path, vkft_file_map *m, vkft_err *err);
void vkft_file_map_close(vkft_file_map *m);

/* mkdir -p (mode 0755). */
vkft_status vkft_mkdirs(const char *path, vkft_err *err);
/* Is path an existing directory / regular file? */
int vkft_is_dir(const char *path);
int vkft_is_file(const char *path);
/* Joins a folder and a name into a malloc'd path ("dir/name"); NULL on allocation failure. */
char *vkft_path_join(const char *dir, const char *name);
/* Copies a file atomically. */
vkft_status vkft_file_copy(const char *src, const char *dst, vkft_err *err);

#endif
