/* Training checkpoints (see checkpoint.h). */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "util/file.h"
#include "util/json.h"

static vkft_status remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? VKFT_OK : VKFT_ERR_IO;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = vkft_path_join(path, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    closedir(d);
    return rmdir(path) ? VKFT_ERR_IO : VKFT_OK;
}

static vkft_status write_state_json(const char *dir, const vkft_ckpt_counters *c,
                                    const vkft_dataset *data, vkft_err *err)
{
    vkft_json_writer w;
    vkft_json_writer_init(&w, 1);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "format"); vkft_json_str(&w, "vkft-checkpoint");
    vkft_json_key(&w, "version"); vkft_json_int(&w, 1);
    vkft_json_key(&w, "step"); vkft_json_int(&w, c->step);
    vkft_json_key(&w, "tokens"); vkft_json_int(&w, c->tokens);
    vkft_json_key(&w, "elapsed_s"); vkft_json_f64(&w, c->elapsed_s);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    vkft_json_key(&w, "seed"); vkft_json_str(&w, seed);
    vkft_json_key(&w, "data"); vkft_dataset_cursor_write(data, &w);
    vkft_json_obj_end(&w);
    char *text = NULL;
    size_t len = 0;
    vkft_status rc = vkft_json_writer_finish(&w, &text, &len, err);
    if (rc) return rc;
    char *path = vkft_path_join(dir, "trainer_state.json");
    rc = path ? vkft_file_write_atomic(path, text, len, err)
              : vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    free(path);
    free(text);
    return rc;
}

vkft_status vkft_ckpt_save(const char *out_dir, vkft_plan *plan, const vkft_ckpt_tensor *tensors,
                           int n, const vkft_ckpt_counters *c, const vkft_dataset *data,
                           vkft_err *err)
{
    char final[4096], tmp[4200];
    snprintf(final, sizeof final, "%s/checkpoints/step-%lld", out_dir, (long long)c->step);
    snprintf(tmp, sizeof tmp, "%s.tmp", final);
    remove_tree(tmp);
    vkft_status rc = vkft_mkdirs(tmp, err);
    if (rc) return rc;
    vkft_st_writer *w = NULL;
    void **bufs = calloc((size_t)n + 1, sizeof *bufs);
    if (!bufs) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    rc = vkft_st_writer_create(&w, err);
    for (int i = 0; i < n && !rc; i++) {
        if (!(bufs[i] = malloc(tensors[i].bytes ? tensors[i].bytes : 1)))
            rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        else if (vkft_plan_download(plan, tensors[i].name, bufs[i], tensors[i].bytes))
            rc = vkft_err_set(err, VKFT_ERR_DEVICE, "checkpoint: %s", vkft_plan_error(plan));
        else
            rc = vkft_st_writer_add(w, tensors[i].name, VKFT_ST_F32, tensors[i].ndim,
                                    tensors[i].shape, bufs[i], tensors[i].bytes, err);
    }
    char *path = NULL;
    if (!rc && !(path = vkft_path_join(tmp, "state.safetensors")))
        rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_st_writer_finish(w, path, err);
    free(path);
    vkft_st_writer_free(w);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    if (!rc) rc = write_state_json(tmp, c, data, err);
    if (!rc) {
        remove_tree(final);
        if (rename(tmp, final))
            rc = vkft_err_set(err, VKFT_ERR_IO, "%s: cannot rename into place: %s", final,
                              strerror(errno));
    }
    if (!rc) {
        /* Make the rename durable: fsync the checkpoints folder. */
        char parent[4200];
        snprintf(parent, sizeof parent, "%s/checkpoints", out_dir);
        int fd = open(parent, O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
    } else {
        remove_tree(tmp);
    }
    return rc;
}

char *vkft_ckpt_find_latest(const char *out_dir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/checkpoints", out_dir);
    DIR *d = opendir(dir);
    if (!d) return NULL;
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long n;
        char tail;
        if (sscanf(e->d_name, "step-%lld%c", &n, &tail) == 1 && n > best) best = n;
    }
    closedir(d);
    if (best < 0) return NULL;
    char *out = malloc(strlen(dir) + 32);
    if (out) sprintf(out, "%s/step-%lld", dir, best);
    return out;
}

vkft_status vkft_ckpt_load(const char *dir, vkft_plan *plan, const vkft_ckpt_tensor *tensors,
                           int n, vkft_ckpt_counters *c, vkft_dataset *data, vkft_err *err)
{
    char *path = vkft_path_join(dir, "trainer_state.json");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_json_doc *doc = NULL;
    vkft_status rc = vkft_json_parse_file(path, &doc, err);
    if (rc) {
        free(path);
        return rc;
    }
    const vkft_json *root = vkft_json_root(doc);
    const char *fmt = vkft_json_get_str(vkft_json_get(root, "format"));
    int64_t version = 0;
    const char *seed = vkft_json_get_str(vkft_json_get(root, "seed"));
    if (!fmt || strcmp(fmt, "vkft-checkpoint") ||
        !vkft_json_get_int(vkft_json_get(root, "version"), &version) || version != 1 ||
        !vkft_json_get_int(vkft_json_get(root, "step"), &c->step) ||
        !vkft_json_get_int(vkft_json_get(root, "tokens"), &c->tokens) ||
        !vkft_json_get_double(vkft_json_get(root, "elapsed_s"), &c->elapsed_s) || !seed) {
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                          "%s: not a vkft checkpoint state (version 1)", path);
    } else {
        unsigned long long s = strtoull(seed, NULL, 10);
        if (s != c->seed)
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                              "%s: the checkpoint was made with seed %s, the job has %llu", path,
                              seed, (unsigned long long)c->seed);
        else
            rc = vkft_dataset_cursor_read(data, vkft_json_get(root, "data"), err);
        if (rc) vkft_err_prefix(err, rc, "%s", path);
    }
    vkft_json_free(doc);
    free(path);
    if (rc) return rc;

    if (!(path = vkft_path_join(dir, "state.safetensors")))
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_st *st = NULL;
    rc = vkft_st_open(path, &st, err);
    for (int i = 0; i < n && !rc; i++) {
        const vkft_st_tensor *t = vkft_st_find(st, tensors[i].name);
        if (!t || t->dtype != VKFT_ST_F32 || t->bytes != tensors[i].bytes) {
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                              "%s: %s is missing or has another shape than the job's", path,
                              tensors[i].name);
        } else if (vkft_plan_upload(plan, tensors[i].name, t->data, t->bytes)) {
            rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
        }
    }
    vkft_st_close(st);
    free(path);
    return rc;
}
