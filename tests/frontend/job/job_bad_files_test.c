/*
 * Every bad job file in tests/fixtures/job/bad/ gives exactly the message in the .txt beside
 * it. NAME.set (optional) lists --set overrides, one a line. The load runs from that folder
 * with the bare file name, so messages read "NAME.yaml:line:col: ..."; when the load passes,
 * vkft_job_check_paths must give the message instead. A failed load leaves *out NULL.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job/job.h"
#include "test_util.h"
#include "util/file.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads NAME.ext into a malloc'd string with trailing newlines removed, or NULL. */
static char *read_trimmed(const char *name, const char *ext)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", name, ext);
    if (!vkft_is_file(path)) return NULL;
    char *text;
    size_t len;
    vkft_err err;
    if (vkft_file_read(path, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        return NULL;
    }
    while (len && text[len - 1] == '\n') text[--len] = '\0';
    return text;
}

static void run_case(const char *name)
{
    char *want = read_trimmed(name, ".txt");
    char *sets_text = read_trimmed(name, ".set");
    if (!want) {
        fprintf(stderr, "%s: no %s.txt with the expected message\n", name, name);
        test_failures++;
        free(sets_text);
        return;
    }
    const char *sets[16];
    int n_sets = 0;
    for (char *save = NULL, *line = sets_text ? strtok_r(sets_text, "\n", &save) : NULL;
         line && n_sets < 16; line = strtok_r(NULL, "\n", &save))
        sets[n_sets++] = line;

    char file[512];
    snprintf(file, sizeof file, "%s.yaml", name);
    vkft_job *job = (vkft_job *)(uintptr_t)1;   /* must come back NULL on failure */
    vkft_err err = {{0}};
    vkft_status st = vkft_job_load(file, sets, n_sets, &job, &err);
    if (st == VKFT_OK) {
        st = vkft_job_check_paths(job, &err);
        if (st == VKFT_OK) snprintf(err.msg, sizeof err.msg, "(no error)");
        vkft_job_free(job);
    } else if (job != NULL) {
        fprintf(stderr, "%s: a failed load left *out set\n", name);
        test_failures++;
    }
    if (strcmp(err.msg, want) != 0) {
        fprintf(stderr, "%s:\n  want: %s\n  got:  %s\n", name, want, err.msg);
        test_failures++;
    }
    free(want);
    free(sets_text);
}

int main(void)
{
    const char *fixtures = getenv("VKFT_FIXTURES");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/job/bad", fixtures ? fixtures : "tests/fixtures");
    if (chdir(dir) != 0) {
        perror(dir);
        return 1;
    }
    DIR *d = opendir(".");
    if (!d) {
        perror(dir);
        return 1;
    }
    char *names[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) {
            names[n] = malloc(len - 4);
            if (!names[n]) return 1;
            memcpy(names[n], e->d_name, len - 5);
            names[n][len - 5] = '\0';
            n++;
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    /* The brief asks for at least 25 distinct bad files; fewer means fixtures went missing. */
    CHECK(n >= 25);
    for (int i = 0; i < n; i++) {
        run_case(names[i]);
        free(names[i]);
    }
    printf("%d bad job files, %d failures\n", n, test_failures);
    return test_failures ? 1 : 0;
}
