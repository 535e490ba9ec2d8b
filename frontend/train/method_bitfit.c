/*
 * BitFit (Ben Zaken et al., 2021): only the bias terms train - every linear bias and every norm
 * bias (GPT-2's LayerNorm β) - and, with method.include_norms, the norm weights too (RMSNorm /
 * LayerNorm γ). Everything else is frozen. The trainable tensors are the model's own
 * parameters (f32 master copies), so the model loader gives their initial values.
 *
 * A Llama-family model has no biases unless Qwen2 (q/k/v) or attention_bias / mlp_bias is set:
 * without include_norms there would be nothing to train, and that is refused.
 *
 * PEFT has no BitFit type. Saved, in output.dir/adapter: adapter_model.safetensors with the
 * trained tensors under their model names ("model.layers.0.self_attn.q_proj.bias",
 * "transformer.h.0.ln_1.weight", F32, the model's shapes) and adapter_config.json
 * {"peft_type": "BITFIT" (vkft's own), "task_type": "CAUSAL_LM", "base_model_name_or_path",
 *  "include_norms", "inference_mode": true}. Reloading puts them over the base model's values.
 */
#include <stdlib.h>
#include <string.h>

#include "train/method_common.h"
#include "train/method_impl.h"
#include "util/file.h"
#include "util/json.h"

#define MAX_BITFIT 16384

typedef struct bitfit_state {
    char (*names)[160];         /* trainable parameters seen by param_role, in build order */
    int n;
} bitfit_state;

static vkft_role bitfit_role(void *user, const char *name, vkft_model_param_kind kind)
{
    vkft_method *m = user;
    bitfit_state *s = m->impl;
    bool train = kind == VKFT_PARAM_LINEAR_BIAS || kind == VKFT_PARAM_NORM_BIAS ||
                 (kind == VKFT_PARAM_NORM_WEIGHT && m->spec.include_norms);
    if (!train) return VKFT_ROLE_WEIGHT;
    int at = 0;
    while (at < s->n && strcmp(s->names[at], name)) at++;
    if (at == s->n && s->n < MAX_BITFIT) snprintf(s->names[s->n++], 160, "%s", name);
    return VKFT_ROLE_TRAINABLE;
}

static vkft_status bitfit_create(vkft_method *m, vkft_err *err)
{
    bitfit_state *s = calloc(1, sizeof *s);
    if (!s || !(s->names = calloc(MAX_BITFIT, sizeof *s->names))) {
        free(s);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    }
    m->impl = s;
    m->hooks.param_role = bitfit_role;
    return VKFT_OK;
}

static void bitfit_destroy(vkft_method *m)
{
    bitfit_state *s = m->impl;
    if (!s) return;
    free(s->names);
    free(s);
}

static vkft_status bitfit_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err)
{
    bitfit_state *s = m->impl;
    if (s->n == MAX_BITFIT)
        return vkft_err_set(err, VKFT_ERR_LIMIT, "bitfit: more than %d trainable tensors",
                            MAX_BITFIT - 1);
    if (s->n == 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "method.kind bitfit: this %s model has no bias parameters (Llama-"
                            "family models have none unless Qwen2's q/k/v biases or "
                            "attention_bias / mlp_bias are set), so BitFit would train nothing; "
                            "set method.include_norms: true to train the norm weights too, or "
                            "choose another method", b->cfg.model_type);
    return VKFT_OK;
}

/* Reloading: the saved tensors replace the base model's values. */
static vkft_status bitfit_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                      vkft_err *err)
{
    (void)seed;   /* nothing random: the model's own values are the start */
    const bitfit_state *s = m->impl;
    if (!m->spec.init) return VKFT_OK;
    char *path = vkft_path_join(m->spec.init, "adapter_model.safetensors");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_st *st = NULL;
    vkft_status rc = vkft_st_open(path, &st, err);
    float *buf = NULL;
    for (int i = 0; i < s->n && !rc; i++) {
        const vkft_st_tensor *t = vkft_st_find(st, s->names[i]);
        size_t n = 1;
        for (int d = 0; t && d < t->ndim; d++) n *= (size_t)t->shape[d];
        float *nb;
        if (!t) {
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: no tensor %s", path, s->names[i]);
        } else if (!(nb = realloc(buf, n * sizeof *buf))) {
            rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        } else {
            buf = nb;
            rc = vkft_st_read_f32(t, buf, n, err);
            if (!rc && vkft_plan_upload(plan, s->names[i], buf, n * sizeof *buf))
                rc = vkft_err_set(err, VKFT_ERR_SHAPE, "%s: %s: %s", path, s->names[i],
                                  vkft_plan_error(plan));
        }
    }
    free(buf);
    vkft_st_close(st);
    free(path);
    return rc;
}

static void config_json(const vkft_method *m, const char *base_model, vkft_json_writer *j)
{
    vkft_json_obj_begin(j);
    vkft_json_key(j, "base_model_name_or_path"); vkft_json_str(j, base_model);
    vkft_json_key(j, "include_norms"); vkft_json_bool(j, m->spec.include_norms);
    vkft_json_key(j, "inference_mode"); vkft_json_bool(j, true);
    vkft_json_key(j, "peft_type"); vkft_json_str(j, "BITFIT");
    vkft_json_key(j, "task_type"); vkft_json_str(j, "CAUSAL_LM");
    vkft_json_obj_end(j);
}

static vkft_status bitfit_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                               const char *dir, const char *base_model, vkft_err *err)
{
    vkft_status rc = vkft_mkdirs(dir, err);
    vkft_st_writer *w = NULL;
    if (!rc) rc = vkft_st_writer_create(&w, err);
    float **bufs = calloc((size_t)b->n_params + 1, sizeof *bufs);
    if (!rc && !bufs) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < b->n_params && !rc; i++) {
        const vkft_model_param *p = &b->params[i];
        if (p->role != VKFT_ROLE_TRAINABLE) continue;
        size_t n = 1;
        for (int d = 0; d < p->ndim; d++) n *= (size_t)p->shape[d];
        rc = vkft_method_download(plan, p->name, n, &bufs[i], err);
        if (!rc) rc = vkft_st_writer_add(w, p->name, VKFT_ST_F32, p->ndim, p->shape, bufs[i],
                                         n * sizeof(float), err);
    }
    if (!rc) {
        vkft_json_writer j;
        vkft_json_writer_init(&j, 2);
        config_json(m, base_model, &j);
        rc = vkft_method_folder_write(dir, &j, w, err);
    }
    vkft_st_writer_free(w);
    for (int i = 0; bufs && i < b->n_params; i++) free(bufs[i]);
    free(bufs);
    return rc;
}

static vkft_status bitfit_from_adapter(vkft_method *m, const vkft_json *cfg, const char *dir,
                                       vkft_err *err)
{
    const vkft_json *v = vkft_json_get(cfg, "include_norms");
    if (v && !vkft_json_get_bool(v, &m->spec.include_norms))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: include_norms "
                            "must be true or false", dir);
    return VKFT_OK;
}

const vkft_method_ops vkft_method_bitfit_ops = {
    .output = "adapter",
    .peft_type = "BITFIT",
    .from_adapter = bitfit_from_adapter,
    .create = bitfit_create,
    .destroy = bitfit_destroy,
    .after_build = bitfit_after_build,
    .init_params = bitfit_init_params,
    .save = bitfit_save,
};
