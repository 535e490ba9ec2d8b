/* The vkft command-line tool: one function per subcommand, each returning the exit code. */
#ifndef VKFT_CLI_H
#define VKFT_CLI_H

#include "vkft/backend.h"

/* Creates a context from defaults + environment; prints the error and returns NULL on failure. */
vkft_context *cli_context_open(void);

int cmd_devices(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_init_model(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
/* `vkft bench tokenize ...` (argv[0] == "tokenize"): tokenizer speed in MB/s. */
int cmd_bench_tokenize(int argc, char **argv);
/* `vkft bench train ...` (argv[0] == "train"): training tokens/s and memory. */
int cmd_bench_train(int argc, char **argv);

#endif
