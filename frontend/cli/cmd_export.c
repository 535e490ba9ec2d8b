/* `vkft export --model DIR --adapter DIR --out DIR`: merges a LoRA adapter into its base model
 * and writes a Hugging Face folder. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "train/merge.h"

int cmd_export(int argc, char **argv)
{
    const char *model = NULL, *adapter = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--model") ? &model
                          : !strcmp(argv[i], "--adapter") ? &adapter
                          : !strcmp(argv[i], "--out") ? &out : NULL;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "usage: vkft export --model DIR --adapter DIR --out DIR\n");
            return 2;
        }
        *slot = argv[++i];
    }
    if (!model || !adapter || !out) {
        fprintf(stderr, "usage: vkft export --model DIR --adapter DIR --out DIR\n");
        return 2;
    }
    vkft_err err = {{0}};
    int merged = 0;
    if (vkft_lora_merge(model, adapter, out, &merged, &err)) {
        fprintf(stderr, "vkft: export: %s\n", err.msg);
        return 1;
    }
    printf("merged %d LoRA layers of %s into %s\n", merged, adapter, out);
    return 0;
}
