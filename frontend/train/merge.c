/* Merging a LoRA or IA3 adapter into its base model (see merge.h). */
#include "train/merge.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/peft.h"
#include "util/file.h"
#include "util/json.h"

typedef struct merge_ctx {
    const vkft_st *base, *ad;
    const char *model_dir;
    bool lora, fan_in_fan_out;
    double scale;               /* LoRA */
    float **f32;                /* per base tensor: its merged f32 values, or NULL */
} merge_ctx;

/* The index of the base weight of module `module` (accepting GPT-2 files without the
 * "transformer." prefix), or -1. */
static int base_index(const merge_ctx *c, const char *module, const char *suffix)
{
    char name[600];
    snprintf(name, sizeof name, "%s.%s", module, suffix);
    const vkft_st_tensor *t = vkft_st_find(c->base, name);
    if (!t && !strncmp(name, "transformer.", 12)) t = vkft_st_find(c->base, name + 12);
    for (int k = 0; t && k < vkft_st_count(c->base); k++)
        if (vkft_st_at(c->base, k) == t) return k;
    return -1;
}

/* The f32 values of base tensor k (read once, then merged into in place). */
static vkft_status values_of(merge_ctx *c, int k, float **out, vkft_err *err)
{
    if (!c->f32[k]) {
        const vkft_st_tensor *t = vkft_st_at(c->base, k);
        size_t n = t->bytes / vkft_st_dtype_size(t->dtype);
        if (!(c->f32[k] = malloc((n ? n : 1) * sizeof(float))))
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        vkft_status rc = vkft_st_read_f32(t, c->f32[k], n, err);
        if (rc) return rc;
    }
    *out = c->f32[k];
    return VKFT_OK;
}

static vkft_status merge_lora(merge_ctx *c, const vkft_st_tensor *a, const char *module,
                              vkft_err *err)
{
    char bname[600];
    snprintf(bname, sizeof bname, "base_model.model.%s.lora_B.weight", module);
    const vkft_st_tensor *b = vkft_st_find(c->ad, bname);
    int k = base_index(c, module, "weight");
    if (!b) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter: %s has no %s", a->name,
                                bname);
    if (k < 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter tensor %s: the model in %s "
                            "has no %s.weight", a->name, c->model_dir, module);
    const vkft_st_tensor *w = vkft_st_at(c->base, k);
    int64_t r = a->shape[0], in = a->shape[1], o = b->shape[0];
    bool conv = c->fan_in_fan_out;
    if (a->ndim != 2 || b->ndim != 2 || b->shape[1] != r || w->ndim != 2 ||
        w->shape[0] != (conv ? in : o) || w->shape[1] != (conv ? o : in))
        return vkft_err_set(err, VKFT_ERR_SHAPE,
                            "adapter %s: A [%lld, %lld] and B [%lld, %lld] do not fit %s",
                            module, (long long)a->shape[0], (long long)a->shape[1],
                            (long long)b->shape[0], (long long)b->shape[1], w->name);
    float *W, *A = malloc((size_t)(r * in) * sizeof *A), *B = malloc((size_t)(o * r) * sizeof *B);
    vkft_status rc = !A || !B ? vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory")
                              : values_of(c, k, &W, err);
    if (!rc) rc = vkft_st_read_f32(a, A, (size_t)(r * in), err);
    if (!rc) rc = vkft_st_read_f32(b, B, (size_t)(o * r), err);
    for (int64_t i = 0; !rc && i < o; i++) {
        for (int64_t j = 0; j < in; j++) {
            double acc = 0;
            for (int64_t q = 0; q < r; q++) acc += (double)B[i * r + q] * A[q * in + j];
            size_t at = conv ? (size_t)(j * o + i) : (size_t)(i * in + j);
            W[at] = (float)((double)W[at] + c->scale * acc);
        }
    }
    free(A);
    free(B);
    return rc;
}

static vkft_status merge_ia3(merge_ctx *c, const vkft_st_tensor *l, const char *module,
                             vkft_err *err)
{
    int k = base_index(c, module, "weight");
    if (k < 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter tensor %s: the model in %s "
                            "has no %s.weight", l->name, c->model_dir, module);
    const vkft_st_tensor *w = vkft_st_at(c->base, k);
    bool ff = l->ndim == 2 && l->shape[0] == 1;         /* [1, in]: scales the input */
    int64_t n = ff ? l->shape[1] : l->shape[0];
    bool conv = c->fan_in_fan_out;
    int64_t out = conv ? w->shape[1] : w->shape[0], in = conv ? w->shape[0] : w->shape[1];
    if (l->ndim != 2 || w->ndim != 2 || (ff ? l->shape[1] != in : (l->shape[1] != 1 ||
                                                                     n != out)))
        return vkft_err_set(err, VKFT_ERR_SHAPE, "adapter %s: %s [%lld, %lld] does not fit %s",
                            module, l->name, (long long)l->shape[0], (long long)l->shape[1],
                            w->name);
    float *W, *v = malloc((size_t)n * sizeof *v);
    vkft_status rc = !v ? vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory")
                        : values_of(c, k, &W, err);
    if (!rc) rc = vkft_st_read_f32(l, v, (size_t)n, err);
    for (int64_t i = 0; !rc && i < out; i++)
        for (int64_t j = 0; j < in; j++)
            W[conv ? j * out + i : i * in + j] *= ff ? v[j] : v[i];
    int kb = ff ? -1 : base_index(c, module, "bias");     /* PEFT scales the bias too */
    float *bias;
    if (!rc && kb >= 0 && !(rc = values_of(c, kb, &bias, err)))
        for (int64_t i = 0; i < out; i++) bias[i] *= v[i];
    free(v);
    return rc;
}

static vkft_status read_config(const char *adapter_dir, merge_ctx *c, vkft_err *err)
{
    char *path = vkft_path_join(adapter_dir, "adapter_config.json");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_json_doc *doc = NULL;
    vkft_status rc = vkft_json_parse_file(path, &doc, err);
    if (!rc) {
        const vkft_json *root = vkft_json_root(doc);
        const char *type = vkft_json_get_str(vkft_json_get(root, "peft_type"));
        vkft_json_get_bool(vkft_json_get(root, "fan_in_fan_out"), &c->fan_in_fan_out);
        if (type && !strcmp(type, "LORA")) {
            vkft_peft_lora_info info;
            c->lora = true;
            rc = vkft_peft_lora_read_config(adapter_dir, &info, err);
            if (!rc) c->scale = info.rslora ? info.alpha / sqrt((double)info.r)
                                            : info.alpha / (double)info.r;
        } else if (!type || strcmp(type, "IA3")) {
            rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s: peft_type %s cannot be merged "
                              "into the model (LORA and IA3 can)", path, type ? type : "missing");
        }
    }
    vkft_json_free(doc);
    free(path);
    return rc;
}

static vkft_status add_tensor(vkft_st_writer *wr, const vkft_st_tensor *t, const float *f32,
                              int out_dtype, void **owned, vkft_err *err)
{
    bool is_float = t->dtype == VKFT_ST_F32 || t->dtype == VKFT_ST_F16 ||
                    t->dtype == VKFT_ST_BF16;
    vkft_st_dtype dt = is_float && out_dtype != VKFT_MERGE_KEEP_DTYPE ? (vkft_st_dtype)out_dtype
                                                                       : t->dtype;
    if (dt == t->dtype && !f32)
        return vkft_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data, t->bytes,
                                  err);
    size_t n = t->bytes / vkft_st_dtype_size(t->dtype);
    float *src = (float *)f32;
    if (!src) {
        if (!(src = *owned = malloc((n ? n : 1) * sizeof(float))))
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        vkft_status rc = vkft_st_read_f32(t, src, n, err);
        if (rc) return rc;
    }
    if (dt == VKFT_ST_F32)
        return vkft_st_writer_add(wr, t->name, dt, t->ndim, t->shape, src, n * 4, err);
    uint16_t *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        h[i] = dt == VKFT_ST_BF16 ? vkft_st_f32_to_bf16(src[i]) : vkft_st_f32_to_f16(src[i]);
    free(*owned);
    *owned = h;
    return vkft_st_writer_add(wr, t->name, dt, t->ndim, t->shape, h, n * 2, err);
}

vkft_status vkft_adapter_merge(const char *model_dir, const char *adapter_dir,
                               const char *out_dir, int out_dtype, int *merged, vkft_err *err)
{
    *merged = 0;
    merge_ctx c = {.model_dir = model_dir};
    vkft_st *base = NULL, *ad = NULL;
    vkft_status rc = read_config(adapter_dir, &c, err);
    char *ad_path = vkft_path_join(adapter_dir, "adapter_model.safetensors");
    if (!rc && !ad_path) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_st_open(model_dir, &base, err);
    if (!rc) rc = vkft_st_open(ad_path, &ad, err);
    free(ad_path);
    c.base = base;
    c.ad = ad;
    int n = base ? vkft_st_count(base) : 0;
    c.f32 = calloc((size_t)n + 1, sizeof *c.f32);
    void **owned = calloc((size_t)n + 1, sizeof *owned);
    if (!rc && (!c.f32 || !owned)) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    const char *tail = c.lora ? ".lora_A.weight" : ".ia3_l";
    for (int i = 0; !rc && i < vkft_st_count(ad); i++) {
        const vkft_st_tensor *t = vkft_st_at(ad, i);
        size_t nl = strlen(t->name), tl = strlen(tail);
        if (nl <= tl || strcmp(t->name + nl - tl, tail)) continue;
        if (strncmp(t->name, "base_model.model.", 17) || nl - tl - 17 >= 512) {
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter: unexpected tensor name %s",
                              t->name);
            break;
        }
        char module[512];
        memcpy(module, t->name + 17, nl - tl - 17);
        module[nl - tl - 17] = '\0';
        rc = c.lora ? merge_lora(&c, t, module, err) : merge_ia3(&c, t, module, err);
        if (!rc) ++*merged;
    }
    vkft_st_writer *wr = NULL;
    if (!rc) rc = vkft_st_writer_create(&wr, err);
    if (!rc) rc = vkft_st_writer_metadata(wr, "format", "pt", err);
    for (int k = 0; !rc && k < n; k++)
        rc = add_tensor(wr, vkft_st_at(base, k), c.f32[k], out_dtype, &owned[k], err);
    if (!rc) rc = vkft_mkdirs(out_dir, err);
    char *p = NULL;
    if (!rc && !(p = vkft_path_join(out_dir, "model.safetensors")))
        rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_st_writer_finish(wr, p, err);
    free(p);
    static const char *const copied[] = {"config.json", "generation_config.json",
                                         "tokenizer.json", "tokenizer_config.json",
                                         "special_tokens_map.json"};
    for (size_t k = 0; !rc && k < sizeof copied / sizeof *copied; k++) {
        char *src = vkft_path_join(model_dir, copied[k]), *dst = vkft_path_join(out_dir, copied[k]);
        if (!src || !dst) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        else if (vkft_is_file(src)) rc = vkft_file_copy(src, dst, err);
        free(src);
        free(dst);
    }
    vkft_st_writer_free(wr);
    for (int k = 0; k < n; k++) {
        if (c.f32) free(c.f32[k]);
        if (owned) free(owned[k]);
    }
    free(c.f32);
    free(owned);
    vkft_st_close(ad);
    vkft_st_close(base);
    return rc;
}
