/* Opening a model folder for the model commands (see model_open.h). */
#include "model_open.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_model_open(const char *cmd, const char *dir, const char *device, cli_model *m) {
    memset(m, 0, sizeof *m);
    vkft_err err = {{0}};
    if (vkft_model_config_load(dir, &m->cfg, &err) || vkft_st_open(dir, &m->st, &err) ||
        vkft_tokenizer_load(dir, &m->tok, &err)) {
        fprintf(stderr, "vkft %s: %s\n", cmd, err.msg);
        cli_model_close(m);
        return 1;
    }
    if (!(m->ctx = cli_context_open())) {
        cli_model_close(m);
        return 1;
    }
    if (vkft_device_open(m->ctx, device ? device : "auto", &m->dev)) {
        fprintf(stderr, "vkft %s: device %s: %s\n", cmd, device ? device : "auto",
                vkft_context_error(m->ctx));
        cli_model_close(m);
        return 1;
    }
    return 0;
}

void cli_model_close(cli_model *m) {
    vkft_device_close(m->dev);
    vkft_context_destroy(m->ctx);
    vkft_tokenizer_free(m->tok);
    vkft_st_close(m->st);
    memset(m, 0, sizeof *m);
}
