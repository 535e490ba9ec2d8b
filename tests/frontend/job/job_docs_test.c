/*
 * docs/jobs.md is exactly what the schema table generates (argv[1] is the committed file), so
 * the job reference never drifts from the code. On a mismatch it names the first differing
 * line; regenerate with `build/tools/gen_job_docs -o docs/jobs.md`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job/job.h"
#include "util/file.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: job_docs_test docs/jobs.md\n");
        return 2;
    }
    vkft_err err;
    char *want, *have;
    size_t want_len, have_len;
    if (vkft_job_schema_markdown(&want, &want_len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (vkft_file_read(argv[1], &have, &have_len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        free(want);
        return 1;
    }
    int rc = 0;
    if (want_len != have_len || memcmp(want, have, want_len)) {
        int line = 1;
        size_t i = 0;
        while (i < want_len && i < have_len && want[i] == have[i]) line += want[i++] == '\n';
        fprintf(stderr, "%s differs from the schema's output at line %d; regenerate it with "
                "gen_job_docs -o %s\n", argv[1], line, argv[1]);
        rc = 1;
    }
    free(want);
    free(have);
    return rc;
}
