/*
 * Methods: the table of fine-tuning methods by kind and what they share (see method.h and
 * method_impl.h). Each method lives in its own file.
 */
#include "train/method_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/json.h"

static const vkft_method_ops *const methods[VKFT_METHOD_COUNT] = {
    [VKFT_METHOD_FULL] = &vkft_method_full_ops,
    [VKFT_METHOD_LORA] = &vkft_method_lora_ops,
    [VKFT_METHOD_ADAPTER] = &vkft_method_adapter_ops,
    [VKFT_METHOD_PREFIX] = &vkft_method_prefix_ops,
    [VKFT_METHOD_PROMPT] = &vkft_method_prompt_ops,
    [VKFT_METHOD_QLORA] = &vkft_method_qlora_ops,
    [VKFT_METHOD_IA3] = &vkft_method_ia3_ops,
    [VKFT_METHOD_BITFIT] = &vkft_method_bitfit_ops,
};

static vkft_status method_new(vkft_method_kind kind, const vkft_model_config *cfg,
                              vkft_method **out, vkft_err *err)
{
    *out = NULL;
    if ((int)kind < 0 || kind >= VKFT_METHOD_COUNT || !methods[kind])
        return vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "method.kind %s: not available yet",
                            vkft_method_kind_name(kind));
    vkft_method *m = calloc(1, sizeof *m);
    if (!m) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->ops = methods[kind];
    m->spec.kind = kind;
    m->cfg = *cfg;
    m->dropout_seed = VKFT_NONE;
    m->hooks.user = m;
    *out = m;
    return VKFT_OK;
}

vkft_status vkft_method_create(const vkft_job_method *spec, const vkft_model_config *cfg,
                               vkft_method **out, vkft_err *err)
{
    vkft_method *m;
    vkft_status rc = method_new(spec->kind, cfg, &m, err);
    if (rc) return rc;
    m->spec = *spec;
    if ((rc = m->ops->create(m, err))) {
        vkft_method_free(m);
        return rc;
    }
    *out = m;
    return VKFT_OK;
}

vkft_status vkft_method_from_adapter(const char *dir, const vkft_model_config *cfg,
                                     vkft_method **out, vkft_err *err)
{
    *out = NULL;
    char *path = vkft_path_join(dir, "adapter_config.json");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_json_doc *doc = NULL;
    vkft_status rc = vkft_json_parse_file(path, &doc, err);
    const char *type = rc ? NULL : vkft_json_get_str(vkft_json_get(vkft_json_root(doc),
                                                                   "peft_type"));
    int kind = -1;
    for (int k = 0; !rc && type && k < VKFT_METHOD_COUNT; k++)
        if (methods[k] && methods[k]->peft_type && !strcmp(methods[k]->peft_type, type) &&
            methods[k]->from_adapter)
            kind = k;
    if (!rc && kind < 0)
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s: peft_type %s is not supported", path,
                          type ? type : "(missing)");
    vkft_method *m = NULL;
    if (!rc) rc = method_new((vkft_method_kind)kind, cfg, &m, err);
    if (!rc) {
        m->eval_mode = true;
        if (!(m->owned_init = strdup(dir))) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
        m->spec.init = m->owned_init;
    }
    if (!rc) rc = m->ops->from_adapter(m, vkft_json_root(doc), dir, err);
    if (!rc) rc = m->ops->create(m, err);
    vkft_json_free(doc);
    free(path);
    if (rc) {
        vkft_method_free(m);
        return rc;
    }
    *out = m;
    return VKFT_OK;
}

void vkft_method_free(vkft_method *m)
{
    if (!m) return;
    if (m->ops && m->ops->destroy) m->ops->destroy(m);
    free(m->owned_init);
    for (int i = 0; m->owned_targets && i < m->spec.targets.n; i++) free(m->owned_targets[i]);
    free(m->owned_targets);
    free(m);
}

void vkft_method_set_eval(vkft_method *m, bool eval) { m->eval_mode = eval; }

void vkft_method_set_base(vkft_method *m, const char *model_path,
                          const struct vkft_tokenizer *tok)
{
    m->base_path = model_path;
    m->tokenizer = tok;
}

const vkft_model_hooks *vkft_method_hooks(vkft_method *m) { return &m->hooks; }
const char *vkft_method_output_name(const vkft_method *m) { return m->ops->output; }
bool vkft_method_needs_full_sequence(const vkft_method *m) { return m->hooks.input_prefix; }

const char *vkft_method_dropout_input(const vkft_method *m)
{
    return m->dropout_seed == VKFT_NONE ? NULL : "dropout_seed";
}

vkft_status vkft_method_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err)
{
    return m->ops->after_build ? m->ops->after_build(m, b, err) : VKFT_OK;
}

vkft_status vkft_method_load_weights(vkft_method *m, const vkft_model_built *b,
                                     const vkft_st *st, vkft_plan *plan, vkft_err *err)
{
    return m->ops->load_weights ? m->ops->load_weights(m, b, st, plan, err) : VKFT_OK;
}

vkft_status vkft_method_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                    vkft_err *err)
{
    return m->ops->init_params ? m->ops->init_params(m, plan, seed, err) : VKFT_OK;
}

vkft_status vkft_method_save(const vkft_method *m, const vkft_model_built *built,
                             vkft_plan *plan, const char *dir, const char *base_model,
                             vkft_err *err)
{
    return m->ops->save(m, built, plan, dir, base_model, err);
}

/* ---- shared helpers ---- */

vkft_role vkft_method_frozen_role(void *user, const char *name, vkft_model_param_kind kind)
{
    (void)user;
    (void)name;
    (void)kind;
    return VKFT_ROLE_WEIGHT;
}

bool vkft_method_target_matches(const char *target, const char *path)
{
    size_t tl = strlen(target), pl = strlen(path);
    if (tl == pl) return !strcmp(target, path);
    return pl > tl && path[pl - tl - 1] == '.' && !strcmp(path + pl - tl, target);
}

vkft_value vkft_method_dropout(vkft_method *m, vkft_graph *g, vkft_value x, double p,
                               vkft_err *err)
{
    if (p <= 0 || m->eval_mode) return x;
    if (m->dropout_seed == VKFT_NONE) {
        m->dropout_seed = vkft_graph_leaf(g, "dropout_seed", VKFT_ROLE_INPUT, VKFT_I32, 1,
                                          (int64_t[]){2});
        if (m->dropout_seed == VKFT_NONE) {
            vkft_err_set(err, VKFT_ERR_INVALID_ARG, "dropout: %s", vkft_graph_error(g));
            return VKFT_NONE;
        }
    }
    vkft_dropout_params dp = {.p = (float)p, .stream = m->dropout_streams++};
    vkft_value y = vkft_graph_op1(g, VKFT_OP_DROPOUT, &dp, (vkft_value[]){x, m->dropout_seed},
                                  2);
    if (y == VKFT_NONE) vkft_err_set(err, VKFT_ERR_INVALID_ARG, "dropout: %s",
                                     vkft_graph_error(g));
    return y;
}

vkft_value vkft_method_leaf(vkft_graph *g, const char *name, int ndim, const int64_t *shape,
                            vkft_err *err)
{
    vkft_value v = vkft_graph_leaf(g, name, VKFT_ROLE_TRAINABLE, VKFT_F32, ndim, shape);
    if (v == VKFT_NONE) vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: %s", name,
                                     vkft_graph_error(g));
    return v;
}

vkft_status vkft_method_download(vkft_plan *plan, const char *name, size_t n, float **out,
                                 vkft_err *err)
{
    *out = malloc((n ? n : 1) * sizeof(float));
    if (!*out) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (vkft_plan_download(plan, name, *out, n * sizeof(float))) {
        free(*out);
        *out = NULL;
        return vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
    }
    return VKFT_OK;
}

vkft_status vkft_method_upload(vkft_plan *plan, const char *name, const float *data, size_t n,
                               vkft_err *err)
{
    if (vkft_plan_upload(plan, name, data, n * sizeof(float)))
        return vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
    return VKFT_OK;
}
