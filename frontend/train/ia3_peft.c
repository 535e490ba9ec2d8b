/* (IA)³ sites and PEFT IA3 adapter folders (see ia3_peft.h). */
#include "train/ia3_peft.h"

#include <stdlib.h>
#include <string.h>

#include "train/method_common.h"
#include "util/file.h"
#include "util/json.h"

int vkft_ia3_find(const vkft_ia3_state *s, const char *site)
{
    for (int i = 0; i < s->n_sites; i++)
        if (!strcmp(s->sites[i].site, site)) return i;
    return -1;
}

static void shape_of(const vkft_ia3_site *e, int64_t shape[2])
{
    shape[0] = e->feedforward ? 1 : e->n;
    shape[1] = e->feedforward ? e->n : 1;
}

static void str_list(vkft_json_writer *j, const char *const *items, int n)
{
    vkft_json_arr_begin(j);
    for (int i = 0; i < n; i++) vkft_json_str(j, items[i]);
    vkft_json_arr_end(j);
}

/* adapter_config.json as PEFT writes an IA3Config (keys sorted). */
static void config_json(const vkft_ia3_config *c, vkft_json_writer *j)
{
    vkft_json_obj_begin(j);
    vkft_json_key(j, "auto_mapping"); vkft_json_null(j);
    vkft_json_key(j, "base_model_name_or_path"); vkft_json_str(j, c->base_model);
    vkft_json_key(j, "exclude_modules"); vkft_json_null(j);
    vkft_json_key(j, "fan_in_fan_out"); vkft_json_bool(j, c->fan_in_fan_out);
    vkft_json_key(j, "feedforward_modules"); str_list(j, c->feedforward, c->n_feedforward);
    vkft_json_key(j, "inference_mode"); vkft_json_bool(j, true);
    vkft_json_key(j, "init_ia3_weights"); vkft_json_bool(j, true);
    vkft_json_key(j, "modules_to_save"); vkft_json_null(j);
    vkft_json_key(j, "peft_type"); vkft_json_str(j, "IA3");
    vkft_json_key(j, "revision"); vkft_json_null(j);
    vkft_json_key(j, "target_modules");
    if (c->all_linear) vkft_json_str(j, "all-linear");
    else str_list(j, c->targets, c->n_targets);
    vkft_json_key(j, "task_type"); vkft_json_str(j, "CAUSAL_LM");
    vkft_json_obj_end(j);
}

vkft_status vkft_ia3_save(const vkft_ia3_state *s, const vkft_ia3_config *c, vkft_plan *plan,
                          const char *dir, vkft_err *err)
{
    vkft_status rc = vkft_mkdirs(dir, err);
    vkft_st_writer *w = NULL;
    if (!rc) rc = vkft_st_writer_create(&w, err);
    float **bufs = calloc((size_t)s->n_sites + 1, sizeof *bufs);
    if (!rc && !bufs) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < s->n_sites && !rc; i++) {
        const vkft_ia3_site *e = &s->sites[i];
        int64_t shape[2];
        shape_of(e, shape);
        rc = vkft_method_download(plan, e->name, (size_t)e->n, &bufs[i], err);
        if (!rc) rc = vkft_st_writer_add(w, e->name, VKFT_ST_F32, 2, shape, bufs[i],
                                         (size_t)e->n * sizeof(float), err);
    }
    if (!rc) {
        vkft_json_writer j;
        vkft_json_writer_init(&j, 2);
        config_json(c, &j);
        rc = vkft_method_folder_write(dir, &j, w, err);
    }
    vkft_st_writer_free(w);
    for (int i = 0; bufs && i < s->n_sites; i++) free(bufs[i]);
    free(bufs);
    return rc;
}

vkft_status vkft_ia3_load(const vkft_ia3_state *s, const char *dir, vkft_plan *plan,
                          vkft_err *err)
{
    char *path = vkft_path_join(dir, "adapter_model.safetensors");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_st *st = NULL;
    vkft_status rc = vkft_st_open(path, &st, err);
    float *buf = NULL;
    for (int i = 0; i < s->n_sites && !rc; i++) {
        const vkft_ia3_site *e = &s->sites[i];
        const vkft_st_tensor *t = vkft_st_find(st, e->name);
        int64_t shape[2];
        shape_of(e, shape);
        float *nb;
        if (!t) {
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: no tensor %s", path, e->name);
        } else if (t->ndim != 2 || t->shape[0] != shape[0] || t->shape[1] != shape[1]) {
            rc = vkft_err_set(err, VKFT_ERR_SHAPE, "%s: %s should be [%lld, %lld]", path,
                              e->name, (long long)shape[0], (long long)shape[1]);
        } else if (!(nb = realloc(buf, (size_t)e->n * sizeof *buf))) {
            rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        } else {
            buf = nb;
            rc = vkft_st_read_f32(t, buf, (size_t)e->n, err);
            if (!rc) rc = vkft_method_upload(plan, e->name, buf, (size_t)e->n, err);
        }
    }
    free(buf);
    vkft_st_close(st);
    free(path);
    return rc;
}

/* A list of strings (or, with allow_all, the string "all-linear") into owned copies. */
static vkft_status read_names(const vkft_json *v, const char *key, const char *dir,
                              char ***out, int *n_out, vkft_err *err)
{
    const char *one = vkft_json_get_str(v);
    if (one && strcmp(one, "all-linear"))
        return vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s/adapter_config.json: %s is the "
                            "regular expression \"%s\"; only lists of module names (or "
                            "all-linear) are supported", dir, key, one);
    size_t n = one ? 1 : v && v->type == VKFT_JSON_ARRAY ? v->len : 0;
    if (!one && !(v && v->type == VKFT_JSON_ARRAY))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: %s must be a "
                            "list of module names", dir, key);
    *out = calloc(n + 1, sizeof **out);
    if (!*out) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = one ? one : vkft_json_get_str(vkft_json_at(v, i));
        if (!s)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: %s[%zu] "
                                "is not a string", dir, key, i);
        if (!((*out)[i] = strdup(s))) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
        *n_out = (int)i + 1;
    }
    return VKFT_OK;
}

vkft_status vkft_ia3_read_config(vkft_method *m, vkft_ia3_state *s, const vkft_json *cfg,
                                 const char *dir, vkft_err *err)
{
    const vkft_json *t = vkft_json_get(cfg, "target_modules");
    const vkft_json *f = vkft_json_get(cfg, "feedforward_modules");
    if (!t || !f)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: needs "
                            "target_modules and feedforward_modules", dir);
    vkft_status rc = read_names(t, "target_modules", dir, &m->owned_targets,
                                &m->spec.targets.n, err);
    m->spec.targets.items = m->owned_targets;
    if (!rc && vkft_json_get_str(t)) m->spec.all_linear = true;
    if (!rc && vkft_json_get_str(f))
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s/adapter_config.json: "
                          "feedforward_modules must be a list of module names", dir);
    if (!rc) rc = read_names(f, "feedforward_modules", dir, &s->owned_ff, &s->n_owned_ff, err);
    m->spec.feedforward.items = s->owned_ff;
    m->spec.feedforward.n = s->n_owned_ff;
    return rc;
}
