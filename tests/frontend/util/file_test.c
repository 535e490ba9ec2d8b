/*
 * Files: whole reads (binary, large, size-less /proc files), atomic writes (overwrite, abort and
 * failed commit leave the old content and no temp file), maps, mkdirs, joins, copies, and the
 * exact error messages (path + errno text) of each failure.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "util/file.h"

static char root[256];

static char *at(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, name);
    return buf[k];
}

/* Counts "*.tmp.*" files in dir (-1 when it cannot be read). */
static int count_temp(const char *dir, bool quiet) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) {
            if (!quiet) fprintf(stderr, "left behind: %s/%s\n", dir, e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

#define check_no_temp(dir) CHECK(count_temp((dir), false) == 0)

static bool content_is(const char *path, const void *want, size_t n) {
    char *got;
    size_t len;
    vkft_err err;
    if (vkft_file_read(path, &got, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return false;
    }
    bool ok = len == n && !memcmp(got, want, n) && got[len] == '\0';
    free(got);
    return ok;
}

static void expect_msg(const vkft_err *err, const char *want) {
    if (strcmp(err->msg, want)) {
        fprintf(stderr, "message\n  got:  %s\n  want: %s\n", err->msg, want);
        test_failures++;
    }
}

static void test_read_write(void) {
    vkft_err err;
    /* 3 MB of binary data with NULs: several read() calls, exact bytes back. */
    size_t n = 3u << 20;
    unsigned char *data = malloc(n);
    CHECK(data != NULL);
    if (!data) return;
    uint64_t rs = 7;
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(test_rand_u64(&rs) >> 56);
    const char *p = at("blob.bin");
    CHECK(vkft_file_write_atomic(p, data, n, &err) == VKFT_OK);
    CHECK(content_is(p, data, n));
    struct stat sb;
    mode_t mask = umask(022);
    umask(mask);
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == (0644 & ~mask));
    /* Overwrite with something shorter. */
    CHECK(vkft_file_write_atomic(p, "short", 5, &err) == VKFT_OK);
    CHECK(content_is(p, "short", 5));
    CHECK(vkft_file_write_atomic(at("empty"), "", 0, &err) == VKFT_OK);
    CHECK(content_is(at("empty"), "", 0));

    /* In pieces; abort keeps the old content and removes the temp file. */
    vkft_file_writer w;
    CHECK(vkft_file_writer_open(&w, p, &err) == VKFT_OK);
    CHECK(vkft_file_writer_write(&w, "new ", 4, &err) == VKFT_OK);
    CHECK(content_is(p, "short", 5));  /* not visible before commit */
    vkft_file_writer_abort(&w);
    vkft_file_writer_abort(&w);        /* twice is fine */
    CHECK(content_is(p, "short", 5));
    check_no_temp(root);
    CHECK(vkft_file_writer_open(&w, p, &err) == VKFT_OK);
    CHECK(vkft_file_writer_write(&w, "new ", 4, &err) == VKFT_OK);
    CHECK(vkft_file_writer_write(&w, data, 1000, &err) == VKFT_OK);
    CHECK(vkft_file_writer_commit(&w, &err) == VKFT_OK);
    vkft_file_writer_abort(&w);        /* after commit: a no-op */
    char *got;
    size_t len;
    CHECK(vkft_file_read(p, &got, &len, &err) == VKFT_OK);
    CHECK(len == 1004 && !memcmp(got, "new ", 4) && !memcmp(got + 4, data, 1000));
    free(got);
    CHECK(vkft_file_writer_write(&w, "x", 1, &err) == VKFT_ERR_INVALID_ARG);
    expect_msg(&err, "file writer is not open");
    check_no_temp(root);

    /* A failed commit (the target is a folder) leaves the folder and no temp file. */
    CHECK(vkft_mkdirs(at("adir"), &err) == VKFT_OK);
    CHECK(vkft_file_writer_open(&w, at("adir"), &err) == VKFT_OK);
    CHECK(vkft_file_writer_write(&w, "x", 1, &err) == VKFT_OK);
    CHECK(vkft_file_writer_commit(&w, &err) == VKFT_ERR_IO);
    char want[1024];
    snprintf(want, sizeof want, "%s: cannot rename %s.tmp.%ld over it: Is a directory",
             at("adir"), at("adir"), (long)getpid());
    expect_msg(&err, want);
    CHECK(vkft_is_dir(at("adir")));
    check_no_temp(root);

    /* Errors name the path and the errno text. */
    CHECK(vkft_file_write_atomic(at("no/such/x"), "x", 1, &err) == VKFT_ERR_IO);
    snprintf(want, sizeof want, "%s.tmp.%ld: cannot create: No such file or directory",
             at("no/such/x"), (long)getpid());
    expect_msg(&err, want);
    got = (char *)1;
    CHECK(vkft_file_read(at("missing"), &got, &len, &err) == VKFT_ERR_IO && got == NULL);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", at("missing"));
    expect_msg(&err, want);
    CHECK(vkft_file_read(root, &got, &len, &err) == VKFT_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", root);
    expect_msg(&err, want);

    /* Files whose size is not known in advance read to the end. */
    CHECK(vkft_file_read("/proc/self/status", &got, NULL, &err) == VKFT_OK);
    CHECK(got && strstr(got, "Name:") != NULL);
    free(got);
    free(data);
}

static void test_map(void) {
    vkft_err err;
    vkft_file_map m;
    CHECK(vkft_file_write_atomic(at("m.bin"), "mapped!", 7, &err) == VKFT_OK);
    CHECK(vkft_file_map_open(at("m.bin"), &m, &err) == VKFT_OK);
    CHECK(m.len == 7 && m.data && !memcmp(m.data, "mapped!", 7));
    vkft_file_map_close(&m);
    CHECK(m.data == NULL && m.len == 0);
    CHECK(vkft_file_map_open(at("empty"), &m, &err) == VKFT_OK && !m.data && m.len == 0);
    vkft_file_map_close(&m);
    char want[1024];
    CHECK(vkft_file_map_open(at("missing"), &m, &err) == VKFT_ERR_IO && !m.data);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", at("missing"));
    expect_msg(&err, want);
    CHECK(vkft_file_map_open(root, &m, &err) == VKFT_ERR_IO && !m.data);
    snprintf(want, sizeof want, "%s: not a regular file", root);
    expect_msg(&err, want);
}

static void test_dirs_and_paths(void) {
    vkft_err err;
    CHECK(vkft_mkdirs(at("d1/d2//d3/"), &err) == VKFT_OK);
    CHECK(vkft_is_dir(at("d1/d2/d3")) && !vkft_is_file(at("d1/d2/d3")));
    CHECK(vkft_mkdirs(at("d1/d2/d3"), &err) == VKFT_OK);  /* exists: fine */
    CHECK(vkft_file_write_atomic(at("d1/f"), "x", 1, &err) == VKFT_OK);
    CHECK(vkft_is_file(at("d1/f")) && !vkft_is_dir(at("d1/f")));
    CHECK(!vkft_is_file(at("nothing")) && !vkft_is_dir(at("nothing")));
    CHECK(vkft_mkdirs(at("d1/f/g"), &err) == VKFT_ERR_IO);
    char want[1024];
    snprintf(want, sizeof want, "%s: exists and is not a folder", at("d1/f"));
    expect_msg(&err, want);
    CHECK(vkft_mkdirs("", &err) == VKFT_ERR_INVALID_ARG);
    expect_msg(&err, "mkdirs: empty path");
    CHECK(vkft_mkdirs("/", &err) == VKFT_OK);

    static const struct { const char *dir, *name, *want; } joins[] = {
        {"a", "b", "a/b"}, {"a/", "b", "a/b"}, {"", "b", "b"}, {"/", "x.json", "/x.json"},
        {"a/b", "c/d", "a/b/c/d"},
    };
    for (size_t i = 0; i < sizeof joins / sizeof joins[0]; i++) {
        char *j = vkft_path_join(joins[i].dir, joins[i].name);
        CHECK(j && !strcmp(j, joins[i].want));
        free(j);
    }
}

static void test_copy(void) {
    vkft_err err;
    size_t n = (1u << 20) * 2 + 123;  /* more than one copy chunk */
    char *data = malloc(n);
    CHECK(data != NULL);
    if (!data) return;
    for (size_t i = 0; i < n; i++) data[i] = (char)(i * 7 + i / 4096);
    CHECK(vkft_file_write_atomic(at("src"), data, n, &err) == VKFT_OK);
    CHECK(vkft_file_copy(at("src"), at("dst"), &err) == VKFT_OK);
    CHECK(content_is(at("dst"), data, n));
    CHECK(vkft_file_copy(at("missing"), at("dst"), &err) == VKFT_ERR_IO);
    char want[1024];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", at("missing"));
    expect_msg(&err, want);
    CHECK(content_is(at("dst"), data, n));  /* unchanged */
    check_no_temp(root);
    /* The leftover check itself can fail: a stale temp file is seen. */
    CHECK(vkft_file_write_atomic(at("stale.tmp.1"), "x", 1, &err) == VKFT_OK);
    CHECK(count_temp(root, true) == 1);
    free(data);
}

/* Removes the test folder (a shallow tree made by this test). */
static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/vkft_file_test_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_read_write();
    test_map();
    test_dirs_and_paths();
    test_copy();
    remove_tree(root);
    if (test_failures) fprintf(stderr, "file: %d checks failed\n", test_failures);
    else printf("file: all checks passed\n");
    return test_failures ? 1 : 0;
}
