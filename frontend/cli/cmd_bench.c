/* vkft bench: op benchmarks (figures, never asserted). (to be written: matmul, ops) */
#include <stdio.h>

#include "cli.h"

int cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "vkft bench: not built yet\n");
    return 2;
}
