/* Shared pieces of the adapter, prefix and prompt methods (see method_common.h). */
#include "train/method_common.h"

#include <stdlib.h>
#include <string.h>

#include "util/file.h"
#include "util/rng.h"

/* The same stream rule as LoRA's init: streams of one seed start far apart. */
static void stream_init(vkft_rng *r, uint64_t seed, uint64_t stream)
{
    vkft_rng_init(r, seed * 0x9E3779B97F4A7C15ull + stream + 1);
}

void vkft_method_fill_uniform(float *buf, size_t n, uint64_t seed, uint64_t stream,
                              double bound)
{
    vkft_rng r;
    stream_init(&r, seed, stream);
    for (size_t i = 0; i < n; i++) buf[i] = (float)((2.0 * vkft_rng_uniform(&r) - 1.0) * bound);
}

void vkft_method_fill_normal(float *buf, size_t n, uint64_t seed, uint64_t stream)
{
    vkft_rng r;
    stream_init(&r, seed, stream);
    for (size_t i = 0; i < n; i++) buf[i] = vkft_rng_normal(&r);
}

/* ---- graph pieces ---- */

static vkft_value graph_fail(vkft_graph *g, const char *what, vkft_err *err)
{
    vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: %s", what, vkft_graph_error(g));
    return VKFT_NONE;
}

static vkft_value op1(vkft_graph *g, vkft_op op, const void *p, const vkft_value *in, int n,
                      vkft_err *err)
{
    vkft_value v = vkft_graph_op1(g, op, p, in, n);
    return v == VKFT_NONE ? graph_fail(g, vkft_op_name(op), err) : v;
}

vkft_value vkft_method_affine(vkft_graph *g, vkft_value x, vkft_value w, vkft_value b,
                              vkft_err *err)
{
    vkft_matmul_params mp = {.trans_b = true, .alpha = 1.0f};
    vkft_value y = op1(g, VKFT_OP_MATMUL, &mp, (vkft_value[]){x, w, VKFT_NONE}, 3, err);
    if (y == VKFT_NONE || b == VKFT_NONE) return y;
    return op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){y, b}, 2, err);
}

vkft_value vkft_method_tanh(vkft_graph *g, vkft_value x, vkft_err *err)
{
    return op1(g, VKFT_OP_TANH, NULL, &x, 1, err);
}

static const char *const activation_names[VKFT_ADAPTER_ACTIVATION_COUNT] = {
    [VKFT_ADAPTER_RELU] = "relu", [VKFT_ADAPTER_GELU] = "gelu",
    [VKFT_ADAPTER_SILU] = "silu", [VKFT_ADAPTER_TANH] = "tanh",
    [VKFT_ADAPTER_GELU_NEW] = "gelu_new",
};

const char *vkft_method_activation_name(vkft_adapter_activation act)
{
    return (int)act >= 0 && act < VKFT_ADAPTER_ACTIVATION_COUNT ? activation_names[act] : "?";
}

bool vkft_method_activation_parse(const char *s, vkft_adapter_activation *out)
{
    for (int i = 0; s && i < VKFT_ADAPTER_ACTIVATION_COUNT; i++)
        if (!strcmp(s, activation_names[i])) {
            *out = (vkft_adapter_activation)i;
            return true;
        }
    return false;
}

vkft_status vkft_method_activation_check(vkft_adapter_activation act, vkft_err *err)
{
    if ((int)act < 0 || act >= VKFT_ADAPTER_ACTIVATION_COUNT)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.activation: unknown value %d",
                            (int)act);
    return VKFT_OK;
}

vkft_value vkft_method_activation(vkft_graph *g, vkft_adapter_activation act, vkft_value x,
                                  vkft_err *err)
{
    static const vkft_op ops[VKFT_ADAPTER_ACTIVATION_COUNT] = {
        /* AdapterHub's "gelu" is transformers' exact GELU; "gelu_new" its tanh form */
        [VKFT_ADAPTER_RELU] = VKFT_OP_RELU, [VKFT_ADAPTER_GELU] = VKFT_OP_GELU_ERF,
        [VKFT_ADAPTER_SILU] = VKFT_OP_SILU, [VKFT_ADAPTER_TANH] = VKFT_OP_TANH,
        [VKFT_ADAPTER_GELU_NEW] = VKFT_OP_GELU,
    };
    if (vkft_method_activation_check(act, err)) return VKFT_NONE;
    return op1(g, ops[act], NULL, &x, 1, err);
}

/* ---- adapter folders ---- */

vkft_status vkft_method_folder_write(const char *dir, vkft_json_writer *config,
                                     vkft_st_writer *w, vkft_err *err)
{
    char *text = NULL, *path = NULL;
    size_t len = 0;
    vkft_status rc = vkft_json_writer_finish(config, &text, &len, err);
    if (!rc) rc = vkft_mkdirs(dir, err);
    if (!rc && !(path = vkft_path_join(dir, "adapter_config.json")))
        rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_file_write_atomic(path, text, len, err);
    free(path);
    free(text);
    path = NULL;
    if (!rc) rc = vkft_st_writer_metadata(w, "format", "pt", err);
    if (!rc && !(path = vkft_path_join(dir, "adapter_model.safetensors")))
        rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_st_writer_finish(w, path, err);
    free(path);
    return rc;
}

vkft_status vkft_method_folder_open(const char *dir, vkft_st **st, vkft_err *err)
{
    *st = NULL;
    char *path = vkft_path_join(dir, "adapter_model.safetensors");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = vkft_st_open(path, st, err);
    free(path);
    return rc;
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

vkft_status vkft_method_folder_read(const vkft_st *st, const char *dir, const char *name,
                                    int ndim, const int64_t *shape, float **out, vkft_err *err)
{
    *out = NULL;
    const vkft_st_tensor *t = vkft_st_find(st, name);
    if (!t)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "%s/adapter_model.safetensors: no tensor %s", dir, name);
    bool same = t->ndim == ndim;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        same = same && t->shape[i] == shape[i];
        n *= (size_t)shape[i];
    }
    if (!same) {
        char want[96], got[96];
        shape_text(want, sizeof want, ndim, shape);
        shape_text(got, sizeof got, t->ndim, t->shape);
        return vkft_err_set(err, VKFT_ERR_SHAPE,
                            "%s/adapter_model.safetensors: %s is %s, this model needs %s", dir,
                            name, got, want);
    }
    float *buf = malloc((n ? n : 1) * sizeof *buf);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = vkft_st_read_f32(t, buf, n, err);
    if (rc) {
        free(buf);
        return vkft_err_prefix(err, rc, "%s/adapter_model.safetensors: %s", dir, name);
    }
    *out = buf;
    return VKFT_OK;
}

vkft_status vkft_method_config_int(const vkft_json *cfg, const char *dir, const char *key,
                                   bool required, int64_t lo, int64_t hi, int64_t *out,
                                   vkft_err *err)
{
    const vkft_json *v = vkft_json_get(cfg, key);
    if (!v || (v->type == VKFT_JSON_NULL && !required)) {
        if (!required) return VKFT_OK;
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s/adapter_config.json: no key %s", dir,
                            key);
    }
    int64_t x;
    if (!vkft_json_get_int(v, &x) || x < lo || x > hi)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "%s/adapter_config.json:%d:%d: %s must be an integer in [%lld, "
                            "%lld]", dir, v->line, v->col, key, (long long)lo, (long long)hi);
    *out = x;
    return VKFT_OK;
}
