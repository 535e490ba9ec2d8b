/* vkft: the command-line front end. Dispatches to a subcommand; only this layer exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"devices", cmd_devices, "list devices (--json)"},
    {"bench", cmd_bench, "benchmarks: bench matmul|ops --device D ..."},
    {"init-model", cmd_init_model, "a random model to train from scratch: init-model --arch "
                                   "llama|gpt2 --out DIR [--hidden H ...]"},
    {"generate", cmd_generate, "continue a prompt: generate --model DIR --prompt TEXT "
                               "[--max-tokens N --temperature T --top-p P ...]"},
    {"eval", cmd_eval, "loss and perplexity: eval --model DIR --data FILE.jsonl"},
    {"run", cmd_run, "train a job: run job.yaml [--resume] [--set key=value]... [--device D]"},
    {"export", cmd_export, "merge a LoRA adapter: export --model DIR --adapter DIR --out DIR"},
    {"check", cmd_check, "validate a job and show its plan: check job.yaml [--json]"},
    {"tokenize", cmd_tokenize, "text lines on stdin -> id arrays: tokenize --model PATH "
                               "[--no-special]"},
    {"detokenize", cmd_detokenize, "id arrays on stdin -> text: detokenize --model PATH "
                                   "[--skip-special]"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: vkft <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nvkft %d.%d.%d\n", VKFT_VERSION_MAJOR, VKFT_VERSION_MINOR, VKFT_VERSION_PATCH);
}

vkft_context *cli_context_open(void) {
    vkft_context_options opts;
    vkft_context_options_default(&opts);
    char msg[256];
    if (vkft_context_options_from_env(&opts, msg, sizeof msg) != VKFT_OK) {
        fprintf(stderr, "vkft: %s\n", msg);
        return NULL;
    }
    vkft_context *ctx;
    if (vkft_context_create(&opts, &ctx) != VKFT_OK) {
        fprintf(stderr, "vkft: %s\n", vkft_context_error(ctx));
        vkft_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("vkft %d.%d.%d\n", VKFT_VERSION_MAJOR, VKFT_VERSION_MINOR, VKFT_VERSION_PATCH);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vkft: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
