/*
 * Random initialisation of a model folder (for `vkft init-model` and tests): the parameter list
 * comes from the builder itself (vkft_model_describe), so the names and shapes always match
 * what vkft_model_load_weights expects.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/file.h"
#include "util/rng.h"

static float init_std(const vkft_model_config *cfg, const vkft_model_param *p) {
    size_t n = strlen(p->name);
    static const char proj[] = "c_proj.weight";
    if (cfg->arch == VKFT_ARCH_GPT2 && n >= sizeof proj - 1 &&
        !strcmp(p->name + n - (sizeof proj - 1), proj))
        return 0.02f / sqrtf(2.0f * (float)cfg->layers);
    return 0.02f;
}

static void init_param(const vkft_model_config *cfg, const vkft_model_param *p, vkft_rng *r,
                       float *x, size_t n) {
    switch (p->kind) {
    case VKFT_PARAM_NORM_WEIGHT:
        for (size_t i = 0; i < n; i++) x[i] = 1.0f;
        break;
    case VKFT_PARAM_NORM_BIAS:
    case VKFT_PARAM_LINEAR_BIAS:
        memset(x, 0, n * sizeof *x);
        break;
    default: {
        float std = init_std(cfg, p);
        for (size_t i = 0; i < n; i++) x[i] = std * vkft_rng_normal(r);
    }
    }
}

vkft_status vkft_model_init_random(const vkft_model_config *cfg, uint64_t seed, const char *dir,
                                   vkft_err *err) {
    vkft_model_built m;
    vkft_status st = vkft_model_describe(cfg, NULL, &m, err);
    if (st) return st;
    vkft_rng r;
    vkft_rng_init(&r, seed);
    float **bufs = calloc((size_t)m.n_params + 1, sizeof *bufs);
    vkft_st_writer *w = NULL;
    char *st_path = vkft_path_join(dir, "model.safetensors");
    char *cfg_path = vkft_path_join(dir, "config.json");
    if (!bufs || !st_path || !cfg_path)
        st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "init model: out of memory");
    if (!st) st = vkft_mkdirs(dir, err);
    if (!st) st = vkft_st_writer_create(&w, err);
    if (!st) st = vkft_st_writer_metadata(w, "format", "pt", err);
    for (int i = 0; i < m.n_params && !st; i++) {
        const vkft_model_param *p = &m.params[i];
        if (p->kind == VKFT_PARAM_BUFFER) continue;
        size_t n = 1;
        for (int d = 0; d < p->ndim; d++) n *= (size_t)p->shape[d];
        if (!(bufs[i] = malloc(n * sizeof(float)))) {
            st = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "init model: out of memory (%s)",
                              p->name);
            break;
        }
        init_param(cfg, p, &r, bufs[i], n);
        st = vkft_st_writer_add(w, p->name, VKFT_ST_F32, p->ndim, p->shape, bufs[i],
                                n * sizeof(float), err);
    }
    if (!st) st = vkft_st_writer_finish(w, st_path, err);
    if (!st) {
        vkft_model_config c = *cfg;
        snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
        st = vkft_model_config_write(&c, cfg_path, err);
    }
    vkft_st_writer_free(w);
    for (int i = 0; bufs && i < m.n_params; i++) free(bufs[i]);
    free(bufs);
    free(st_path);
    free(cfg_path);
    vkft_model_built_free(&m);
    return st;
}
