/* Merging a LoRA adapter into its base model (see merge.h). */
#include "train/merge.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "train/peft.h"
#include "util/file.h"

/* f32 -> bf16 / f16 with round-to-nearest-even (NaN kept quiet). */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static uint16_t to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, exp = (u >> 23) & 0xffu, man = u & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++;
    return (uint16_t)half;
}

typedef struct merged_tensor {
    void *data;                 /* owned when the tensor was merged */
} merged_tensor;

/* The base tensor a PEFT name "base_model.model.<module>.lora_A.weight" adapts. */
static const vkft_st_tensor *base_of(const vkft_st *base, const char *lora_name, char *module,
                                     size_t cap)
{
    const char *p = lora_name + strlen("base_model.model.");
    const char *end = strstr(p, ".lora_A.weight");
    size_t n = (size_t)(end - p);
    if (n + 8 >= cap) return NULL;
    memcpy(module, p, n);
    module[n] = '\0';
    char name[600];
    snprintf(name, sizeof name, "%s.weight", module);
    const vkft_st_tensor *t = vkft_st_find(base, name);
    if (!t && !strncmp(name, "transformer.", 12)) t = vkft_st_find(base, name + 12);
    return t;
}

static vkft_status merge_one(const vkft_st *ad, const vkft_st_tensor *a, const vkft_st_tensor *w,
                             double scale, bool conv1d, const char *module, float **out,
                             vkft_err *err)
{
    char bname[600];
    snprintf(bname, sizeof bname, "base_model.model.%s.lora_B.weight", module);
    const vkft_st_tensor *b = vkft_st_find(ad, bname);
    if (!b) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter: %s has no %s", a->name, bname);
    int64_t r = a->shape[0], in = a->shape[1], o = b->shape[0];
    int64_t rows = conv1d ? in : o, cols = conv1d ? o : in;
    if (a->ndim != 2 || b->ndim != 2 || b->shape[1] != r || w->ndim != 2 ||
        w->shape[0] != rows || w->shape[1] != cols)
        return vkft_err_set(err, VKFT_ERR_SHAPE,
                            "adapter %s: A [%lld, %lld] and B [%lld, %lld] do not fit %s",
                            module, (long long)a->shape[0], (long long)a->shape[1],
                            (long long)b->shape[0], (long long)b->shape[1], w->name);
    size_t nw = (size_t)(rows * cols);
    float *W = malloc(nw * sizeof *W), *A = malloc((size_t)(r * in) * sizeof *A),
          *B = malloc((size_t)(o * r) * sizeof *B);
    vkft_status rc = VKFT_OK;
    if (!W || !A || !B) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc) rc = vkft_st_read_f32(w, W, nw, err);
    if (!rc) rc = vkft_st_read_f32(a, A, (size_t)(r * in), err);
    if (!rc) rc = vkft_st_read_f32(b, B, (size_t)(o * r), err);
    for (int64_t i = 0; !rc && i < o; i++) {
        for (int64_t j = 0; j < in; j++) {
            double acc = 0;
            for (int64_t k = 0; k < r; k++) acc += (double)B[i * r + k] * A[k * in + j];
            size_t at = conv1d ? (size_t)(j * o + i) : (size_t)(i * in + j);
            W[at] = (float)((double)W[at] + scale * acc);
        }
    }
    free(A);
    free(B);
    if (rc) {
        free(W);
        return rc;
    }
    *out = W;
    return VKFT_OK;
}

vkft_status vkft_lora_merge(const char *model_dir, const char *adapter_dir, const char *out_dir,
                            int *merged, vkft_err *err)
{
    *merged = 0;
    vkft_peft_lora_info info;
    vkft_status rc = vkft_peft_lora_read_config(adapter_dir, &info, err);
    if (rc) return rc;
    double scale = info.rslora ? info.alpha / sqrt((double)info.r) : info.alpha / (double)info.r;
    vkft_st *base = NULL, *ad = NULL;
    char *ad_path = vkft_path_join(adapter_dir, "adapter_model.safetensors");
    if (!ad_path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    rc = vkft_st_open(model_dir, &base, err);
    if (!rc) rc = vkft_st_open(ad_path, &ad, err);
    free(ad_path);
    int n = base ? vkft_st_count(base) : 0;
    void **owned = calloc((size_t)n + 1, sizeof *owned);
    if (!rc && !owned) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    /* Merge every adapted layer into an f32 copy. */
    for (int i = 0; !rc && i < vkft_st_count(ad); i++) {
        const vkft_st_tensor *a = vkft_st_at(ad, i);
        if (!strstr(a->name, ".lora_A.weight")) continue;
        if (strncmp(a->name, "base_model.model.", 17)) {
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "adapter: unexpected tensor name %s",
                              a->name);
            break;
        }
        char module[512];
        const vkft_st_tensor *w = base_of(base, a->name, module, sizeof module);
        if (!w) {
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                              "adapter tensor %s: the model in %s has no %s.weight", a->name,
                              model_dir, module);
            break;
        }
        int idx = -1;
        for (int k = 0; k < n; k++) if (vkft_st_at(base, k) == w) idx = k;
        float *W = NULL;
        rc = merge_one(ad, a, w, scale, info.fan_in_fan_out, module, &W, err);
        if (rc) break;
        if (w->dtype == VKFT_ST_F32) {
            owned[idx] = W;
        } else if (w->dtype == VKFT_ST_BF16 || w->dtype == VKFT_ST_F16) {
            size_t cnt = w->bytes / 2;
            uint16_t *h = malloc(w->bytes);
            if (!h) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            for (size_t k = 0; h && k < cnt; k++)
                h[k] = w->dtype == VKFT_ST_BF16 ? to_bf16(W[k]) : to_f16(W[k]);
            free(W);
            owned[idx] = h;
        } else {
            free(W);
            rc = vkft_err_set(err, VKFT_ERR_DTYPE, "%s: cannot merge into a %s weight", w->name,
                              vkft_st_dtype_name(w->dtype));
        }
        ++*merged;
    }
    vkft_st_writer *wr = NULL;
    if (!rc) rc = vkft_st_writer_create(&wr, err);
    if (!rc) rc = vkft_st_writer_metadata(wr, "format", "pt", err);
    for (int k = 0; !rc && k < n; k++) {
        const vkft_st_tensor *t = vkft_st_at(base, k);
        rc = vkft_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape,
                                owned[k] ? owned[k] : t->data, t->bytes, err);
    }
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
    for (int k = 0; owned && k < n; k++) free(owned[k]);
    free(owned);
    vkft_st_close(ad);
    vkft_st_close(base);
    return rc;
}
