/* Opening a model folder for the model commands (generate, eval): config.json, the
 * safetensors weights, the tokenizer and a device, with one message on failure. */
#ifndef VKFT_CLI_MODEL_OPEN_H
#define VKFT_CLI_MODEL_OPEN_H

#include "io/safetensors.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

typedef struct cli_model {
    vkft_model_config cfg;
    vkft_st *st;
    vkft_tokenizer *tok;
    vkft_context *ctx;
    vkft_device *dev;
} cli_model;

/* Opens dir on device spec ("auto" when NULL); prints "vkft <cmd>: ..." and returns 1 on
 * failure (what was opened is closed). */
int cli_model_open(const char *cmd, const char *dir, const char *device, cli_model *m);
void cli_model_close(cli_model *m);

#endif
