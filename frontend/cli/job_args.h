/* Arguments shared by the commands that take a job file: JOB [--set key=value]... [--device D]
 * plus the command's own flags. */
#ifndef VKFT_CLI_JOB_ARGS_H
#define VKFT_CLI_JOB_ARGS_H

#include <stdbool.h>

#include "job/job.h"

typedef struct cli_job_args {
    const char *job_path;
    const char *sets[64];
    int n_sets;
    const char *device;
    bool resume, json;
} cli_job_args;

/* Parses argv (argv[0] is the command name); flags lists the extra flags the command accepts
 * ("--resume", "--json"). Prints the problem and returns false on bad arguments. */
bool cli_job_args_parse(int argc, char **argv, const char *const *flags, int n_flags,
                        cli_job_args *a);
/* Loads and validates the job (paths included); prints the error and returns NULL. */
vkft_job *cli_job_load(const cli_job_args *a);

#endif
