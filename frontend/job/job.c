/*
 * The job API (job.h): load a job from a file or a string (YAML -> tree -> overrides ->
 * validated struct), check that its paths exist, and free it.
 */
#include "job/job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "job/job_load.h"
#include "util/file.h"

static const char *const method_names[VKFT_METHOD_COUNT] = {
    [VKFT_METHOD_FULL] = "full",       [VKFT_METHOD_LORA] = "lora",
    [VKFT_METHOD_QLORA] = "qlora",     [VKFT_METHOD_ADAPTER] = "adapter",
    [VKFT_METHOD_PREFIX] = "prefix",   [VKFT_METHOD_PROMPT] = "prompt",
    [VKFT_METHOD_IA3] = "ia3",         [VKFT_METHOD_BITFIT] = "bitfit",
};

const char *vkft_method_kind_name(vkft_method_kind k)
{
    return (unsigned)k < VKFT_METHOD_COUNT ? method_names[k] : "?";
}

static void strings_free(vkft_job_strings *s)
{
    for (int i = 0; i < s->n; i++) free(s->items[i]);
    free(s->items);
}

static void datasets_free(vkft_job_datasets *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->items[i].path);
        free(d->items[i].task);
    }
    free(d->items);
}

void vkft_job_free(vkft_job *job)
{
    if (!job) return;
    free(job->file);
    free(job->model_path);
    free(job->device);
    free(job->method.init);
    free(job->method.init_text);
    strings_free(&job->method.targets);
    strings_free(&job->method.feedforward);
    strings_free(&job->train.no_decay);
    datasets_free(&job->data.train);
    datasets_free(&job->data.eval);
    free(job->output_dir);
    if (job->locs) {
        for (int i = 0; i < job->locs->n; i++) {
            free(job->locs->v[i].key);
            free(job->locs->v[i].where);
        }
        free(job->locs->v);
        free(job->locs);
    }
    free(job);
}

vkft_status vkft_job_load_string(const char *text, size_t len, const char *name,
                                 const char *base_dir, const char *const *sets, int n_sets,
                                 vkft_job **out, vkft_err *err)
{
    *out = NULL;
    if (!name) name = "<job>";
    jtree t;
    vkft_status st = jtree_parse(&t, text, len, name, err);
    if (st) return st;
    for (int i = 0; i < n_sets && !st; i++) st = jtree_apply_set(&t, sets[i], err);
    vkft_job *job = NULL;
    if (!st) {
        job = calloc(1, sizeof *job);
        if (job) job->locs = calloc(1, sizeof *job->locs);
        if (job) job->file = malloc(strlen(name) + 1);
        if (!job || !job->locs || !job->file)
            st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", name);
        else
            memcpy(job->file, name, strlen(name) + 1);
    }
    if (!st) st = job_from_tree(&t, base_dir, job, err);
    jtree_free(&t);
    if (st) {
        vkft_job_free(job);
        return st;
    }
    *out = job;
    return VKFT_OK;
}

vkft_status vkft_job_load(const char *path, const char *const *sets, int n_sets,
                          vkft_job **out, vkft_err *err)
{
    *out = NULL;
    char *text;
    size_t len;
    vkft_status st = vkft_file_read(path, &text, &len, err);
    if (st) return st;
    /* Relative paths in the file are relative to its folder. */
    char *dir = NULL;
    const char *slash = strrchr(path, '/');
    if (slash) {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (!dir) {
            free(text);
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", path);
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    st = vkft_job_load_string(text, len, path, dir, sets, n_sets, out, err);
    free(dir);
    free(text);
    return st;
}

/* Where key was written (the last record wins: a --set after the file's value). */
static const char *loc_where(const vkft_job *job, const char *key)
{
    const vkft_job_loc *l = job->locs;
    for (int i = l ? l->n - 1 : -1; i >= 0; i--)
        if (!strcmp(l->v[i].key, key)) return l->v[i].where;
    return job->file;
}

static vkft_status check_one(const vkft_job *job, const char *key, const char *path, bool dir,
                             vkft_err *err)
{
    struct stat s;
    if (stat(path, &s) != 0)
        return vkft_err_set(err, VKFT_ERR_IO, "%s: %s: %s '%s': %s", loc_where(job, key), key,
                            dir ? "folder" : "file", path, strerror(errno));
    bool ok = dir ? S_ISDIR(s.st_mode) : S_ISREG(s.st_mode);
    if (!ok)
        return vkft_err_set(err, VKFT_ERR_IO, "%s: %s: '%s' is not a %s", loc_where(job, key),
                            key, path, dir ? "folder" : "regular file");
    return VKFT_OK;
}

static vkft_status check_datasets(const vkft_job *job, const char *name,
                                  const vkft_job_datasets *d, vkft_err *err)
{
    for (int i = 0; i < d->n; i++) {
        char key[64];
        /* One mapping (no list) was recorded without an index. */
        snprintf(key, sizeof key, "data.%s[%d].path", name, i);
        if (d->n == 1 && loc_where(job, key) == job->file)
            snprintf(key, sizeof key, "data.%s.path", name);
        vkft_status st = check_one(job, key, d->items[i].path, false, err);
        if (st) return st;
    }
    return VKFT_OK;
}

vkft_status vkft_job_check_paths(const vkft_job *job, vkft_err *err)
{
    vkft_status st = check_one(job, "model.path", job->model_path, true, err);
    if (!st && job->method.init) st = check_one(job, "method.init", job->method.init, true, err);
    if (!st) st = check_datasets(job, "train", &job->data.train, err);
    if (!st) st = check_datasets(job, "eval", &job->data.eval, err);
    struct stat s;
    if (!st && stat(job->output_dir, &s) == 0 && !S_ISDIR(s.st_mode))
        st = vkft_err_set(err, VKFT_ERR_IO, "%s: output.dir: '%s' exists and is not a folder",
                          loc_where(job, "output.dir"), job->output_dir);
    return st;
}
