/* The vkft command-line tool: one function per subcommand, each returning the exit code. */
#ifndef VKFT_CLI_H
#define VKFT_CLI_H

#include "vkft/backend.h"

/* Creates a context from defaults + environment; prints the error and returns NULL on failure. */
vkft_context *cli_context_open(void);

int cmd_devices(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
