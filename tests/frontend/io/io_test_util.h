/*
 * Helpers for the io tests: one temporary folder per test run (under $TMPDIR or /tmp), paths
 * inside it, a count of atomic-write leftovers ("*.tmp.*"), and its removal.
 */
#ifndef VKFT_IO_TEST_UTIL_H
#define VKFT_IO_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char io_test_root[512];

/* Creates the folder; returns non-zero (after printing why) on failure. */
static inline int tmp_dir_open(const char *prefix) {
    const char *tmp = getenv("TMPDIR");
    snprintf(io_test_root, sizeof io_test_root, "%s/%s_XXXXXX", tmp && *tmp ? tmp : "/tmp",
             prefix);
    if (!mkdtemp(io_test_root)) {
        perror("mkdtemp");
        return 1;
    }
    return 0;
}

/* root/name in one of 8 rotating buffers (so a few may be used in one expression). */
static inline char *tmp_path(const char *name) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", io_test_root, name);
    return buf[k];
}

static inline int count_temp_in(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) n += count_temp_in(p);
        else if (strstr(e->d_name, ".tmp.")) n++;
    }
    closedir(d);
    return n;
}

/* Temp files left by atomic writes anywhere in the folder. */
static inline int count_temp_files(void) { return count_temp_in(io_test_root); }

static inline void remove_tree_at(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree_at(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static inline void tmp_dir_remove(void) { remove_tree_at(io_test_root); }

#endif
