/*
 * Inside the job module: the tree-to-struct step of vkft_job_load (job_load.c) and the record
 * of where path-valued keys were written, which vkft_job_check_paths uses for its messages.
 */
#ifndef VKFT_JOB_LOAD_H
#define VKFT_JOB_LOAD_H

#include "job/job.h"
#include "job/yaml_tree.h"

struct vkft_job_loc {
    int n, cap;
    struct {
        char *key;              /* display path: "data.train[1].path" */
        char *where;            /* "job.yaml:7:13", "--set model.path=x" or the file name */
    } *v;
};

/* Validates t and fills job (zeroed, with locs allocated) from it; base_dir resolves relative
 * paths written in the file (NULL: keep them as written). On failure job holds whatever was
 * filled so far; vkft_job_free releases it. */
vkft_status job_from_tree(const jtree *t, const char *base_dir, vkft_job *job, vkft_err *err);

#endif
