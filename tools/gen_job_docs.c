/*
 * gen_job_docs: writes the job reference (docs/jobs.md) generated from the job schema table.
 *     gen_job_docs               print it to stdout
 *     gen_job_docs -o FILE       write it to FILE (atomically)
 * tests/frontend/job/job_docs_test.c checks that the committed docs/jobs.md equals this output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job/job.h"
#include "util/file.h"

int main(int argc, char **argv)
{
    const char *path = NULL;
    if (argc == 3 && !strcmp(argv[1], "-o")) {
        path = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: gen_job_docs [-o FILE]\n");
        return 2;
    }
    char *text;
    size_t len;
    vkft_err err;
    if (vkft_job_schema_markdown(&text, &len, &err) != VKFT_OK) {
        fprintf(stderr, "gen_job_docs: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (path) {
        if (vkft_file_write_atomic(path, text, len, &err) != VKFT_OK) {
            fprintf(stderr, "gen_job_docs: %s\n", err.msg);
            rc = 1;
        }
    } else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "gen_job_docs: cannot write to stdout\n");
        rc = 1;
    }
    free(text);
    return rc;
}
