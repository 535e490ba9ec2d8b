/* Job-file arguments of `vkft run` / `vkft check` (see job_args.h). */
#include "job_args.h"

#include <stdio.h>
#include <string.h>

bool cli_job_args_parse(int argc, char **argv, const char *const *flags, int n_flags,
                        cli_job_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool known = false;
        for (int f = 0; f < n_flags; f++) {
            if (strcmp(s, flags[f])) continue;
            if (!strcmp(s, "--resume")) a->resume = true;
            if (!strcmp(s, "--json")) a->json = true;
            known = true;
        }
        if (known) continue;
        if (!strcmp(s, "--set") || !strcmp(s, "--device")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vkft %s: %s needs a value\n", argv[0], s);
                return false;
            }
            if (!strcmp(s, "--device")) {
                a->device = argv[++i];
            } else if (a->n_sets == (int)(sizeof a->sets / sizeof a->sets[0])) {
                fprintf(stderr, "vkft %s: too many --set options\n", argv[0]);
                return false;
            } else {
                a->sets[a->n_sets++] = argv[++i];
            }
        } else if (!strncmp(s, "--set=", 6)) {
            if (a->n_sets < (int)(sizeof a->sets / sizeof a->sets[0]))
                a->sets[a->n_sets++] = s + 6;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "vkft %s: unknown option %s\n", argv[0], s);
            return false;
        } else if (a->job_path) {
            fprintf(stderr, "vkft %s: one job file only (got %s and %s)\n", argv[0],
                    a->job_path, s);
            return false;
        } else {
            a->job_path = s;
        }
    }
    if (!a->job_path) {
        fprintf(stderr, "usage: vkft %s job.yaml [--set key=value]... [--device D]", argv[0]);
        for (int f = 0; f < n_flags; f++) fprintf(stderr, " [%s]", flags[f]);
        fprintf(stderr, "\n");
        return false;
    }
    return true;
}

vkft_job *cli_job_load(const cli_job_args *a)
{
    vkft_job *job = NULL;
    vkft_err err = {{0}};
    if (vkft_job_load(a->job_path, a->sets, a->n_sets, &job, &err) ||
        vkft_job_check_paths(job, &err)) {
        fprintf(stderr, "vkft: %s\n", err.msg);
        vkft_job_free(job);
        return NULL;
    }
    return job;
}
