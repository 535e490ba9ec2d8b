/* `vkft export --model DIR --adapter DIR --out DIR [--dtype keep|f32|f16|bf16]`: merges a LoRA
 * (or QLoRA) or IA3 adapter into its base model and writes a Hugging Face folder. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "train/merge.h"

static int usage(void)
{
    fprintf(stderr, "usage: vkft export --model DIR --adapter DIR --out DIR "
            "[--dtype keep|f32|f16|bf16]\n");
    return 2;
}

int cmd_export(int argc, char **argv)
{
    const char *model = NULL, *adapter = NULL, *out = NULL, *dtype = "keep";
    for (int i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--model") ? &model
                          : !strcmp(argv[i], "--adapter") ? &adapter
                          : !strcmp(argv[i], "--out") ? &out
                          : !strcmp(argv[i], "--dtype") ? &dtype : NULL;
        if (!slot || i + 1 >= argc) return usage();
        *slot = argv[++i];
    }
    int dt = !strcmp(dtype, "keep") ? VKFT_MERGE_KEEP_DTYPE
           : !strcmp(dtype, "f32") ? (int)VKFT_ST_F32
           : !strcmp(dtype, "f16") ? (int)VKFT_ST_F16
           : !strcmp(dtype, "bf16") ? (int)VKFT_ST_BF16 : -2;
    if (!model || !adapter || !out || dt == -2) return usage();
    vkft_err err = {{0}};
    int merged = 0;
    if (vkft_adapter_merge(model, adapter, out, dt, &merged, &err)) {
        fprintf(stderr, "vkft export: %s\n", err.msg);
        return 1;
    }
    printf("merged %d adapted layers of %s into %s\n", merged, adapter, out);
    return 0;
}
