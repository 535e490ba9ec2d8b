/*
 * Weights: uploading a built model's parameter leaves from safetensors (with dtype conversion,
 * GPT-2 names with or without "transformer.", computed buffers) and saving them back as a
 * Hugging Face folder (config.json + model.safetensors, each written atomically).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/file.h"

/* ---- f32 <-> f16 / bf16 (round to nearest even, NaN kept quiet) ---- */

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u, abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (abs >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);   /* rounds to inf */
    if (abs < 0x38800000u) {                                     /* subnormal or zero */
        float a;
        memcpy(&a, &abs, 4);
        /* adding 0.5 aligns the f16 subnormal step (2^-24) to the f32 ulp of 0.5 (2^-24) */
        float s = a + 0.5f;
        uint32_t su;
        memcpy(&su, &s, 4);
        return (uint16_t)(sign | (su - 0x3f000000u));
    }
    uint32_t mant_odd = (abs >> 13) & 1;
    abs += 0xc8000fffu + mant_odd;   /* rebias exponent (-112 << 23) and round */
    return (uint16_t)(sign | (abs >> 13));
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    float f;
    if (e == 0) {
        f = (float)m * (1.0f / 16777216.0f);   /* m * 2^-24 */
        if (sign) f = -f;
        return f;
    }
    uint32_t u = sign | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112) << 23) | (m << 13));
    memcpy(&f, &u, 4);
    return f;
}

static void from_f32(const float *src, void *dst, size_t n, vkft_dtype dt) {
    uint16_t *h = dst;
    if (dt == VKFT_F32) memcpy(dst, src, n * 4);
    else if (dt == VKFT_F16) for (size_t i = 0; i < n; i++) h[i] = f32_to_f16(src[i]);
    else for (size_t i = 0; i < n; i++) h[i] = f32_to_bf16(src[i]);
}

static void to_f32(const void *src, float *dst, size_t n, vkft_dtype dt) {
    const uint16_t *h = src;
    if (dt == VKFT_F32) memcpy(dst, src, n * 4);
    else if (dt == VKFT_F16) for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(h[i]);
    else for (size_t i = 0; i < n; i++) dst[i] = bf16_to_f32(h[i]);
}

static size_t param_numel(const vkft_model_param *p) {
    size_t n = 1;
    for (int d = 0; d < p->ndim; d++) n *= (size_t)p->shape[d];
    return n;
}

/* ---- loading ---- */

static const vkft_st_tensor *find_tensor(const vkft_model_built *m, const vkft_st *st,
                                         const char *name) {
    const vkft_st_tensor *t = vkft_st_find(st, name);
    static const char prefix[] = "transformer.";
    if (!t && m->cfg.arch == VKFT_ARCH_GPT2 && !strncmp(name, prefix, sizeof prefix - 1))
        t = vkft_st_find(st, name + sizeof prefix - 1);   /* openai-community/gpt2 layout */
    return t;
}

static vkft_status upload(vkft_plan *plan, const vkft_model_param *p, const void *data,
                          size_t bytes, vkft_err *err) {
    if (vkft_plan_upload(plan, p->name, data, bytes))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "upload %s: %s", p->name,
                            vkft_plan_error(plan));
    return VKFT_OK;
}

static vkft_status load_buffer(const vkft_model_built *m, const vkft_model_param *p,
                               vkft_plan *plan, vkft_err *err) {
    size_t n = param_numel(p);
    void *buf = malloc(n * 4);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", p->name);
    if (!strcmp(p->name, "vkft.rope_inv_freq")) {
        vkft_model_rope_inv_freq(&m->cfg, buf, NULL);
    } else {   /* vkft.position_ids: the real tokens start after the attention prefix */
        int32_t *ids = buf;
        for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(m->attention_prefix + (int64_t)i);
    }
    vkft_status st = upload(plan, p, buf, n * 4, err);
    free(buf);
    return st;
}

static vkft_status load_param(const vkft_model_built *m, const vkft_model_param *p,
                              const vkft_st *st, vkft_plan *plan, vkft_err *err) {
    const vkft_st_tensor *t = find_tensor(m, st, p->name);
    if (!t)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "weights: tensor %s is missing from the "
                            "checkpoint", p->name);
    bool same = t->ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
    if (!same) {
        char want[64], got[96];
        snprintf(want, sizeof want, "[%lld%s%lld]", (long long)p->shape[0],
                 p->ndim > 1 ? ", " : "", p->ndim > 1 ? (long long)p->shape[1] : 0LL);
        if (p->ndim == 1) snprintf(want, sizeof want, "[%lld]", (long long)p->shape[0]);
        int o = snprintf(got, sizeof got, "[");
        for (int d = 0; d < t->ndim && o < 80; d++)
            o += snprintf(got + o, sizeof got - (size_t)o, "%s%lld", d ? ", " : "",
                          (long long)t->shape[d]);
        snprintf(got + o, sizeof got - (size_t)o, "]");
        return vkft_err_set(err, VKFT_ERR_SHAPE, "weights: %s in %s has shape %s, the model "
                            "needs %s", t->name, t->file, got, want);
    }
    size_t n = param_numel(p);
    size_t esz = vkft_dtype_size(p->dtype);
    /* same 16-bit dtype in the file and the leaf: upload the mapped bytes as they are */
    if ((p->dtype == VKFT_F16 && t->dtype == VKFT_ST_F16) ||
        (p->dtype == VKFT_BF16 && t->dtype == VKFT_ST_BF16))
        return upload(plan, p, t->data, n * esz, err);
    if (p->dtype == VKFT_F32 && t->dtype == VKFT_ST_F32)
        return upload(plan, p, t->data, n * esz, err);
    float *f = malloc(n * sizeof *f);
    void *out = p->dtype == VKFT_F32 ? (void *)f : malloc(n * esz);
    vkft_status s = VKFT_OK;
    if (!f || !out) s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "%s: out of memory", p->name);
    if (!s && (s = vkft_st_read_f32(t, f, n, err))) vkft_err_prefix(err, s, "weights");
    if (!s) {
        if (out != f) from_f32(f, out, n, p->dtype);
        s = upload(plan, p, out, n * esz, err);
    }
    if (out != f) free(out);
    free(f);
    return s;
}

vkft_status vkft_model_load_weights(const vkft_model_built *m, const vkft_st *st,
                                    vkft_plan *plan, vkft_err *err) {
    if (!m || !st || !plan)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "load weights: missing argument");
    for (int i = 0; i < m->n_params; i++) {
        const vkft_model_param *p = &m->params[i];
        vkft_status s = p->kind == VKFT_PARAM_BUFFER ? load_buffer(m, p, plan, err)
                                                     : load_param(m, p, st, plan, err);
        if (s) return s;
    }
    return VKFT_OK;
}

/* ---- saving ---- */

static vkft_st_dtype st_dtype_of(vkft_dtype d) {
    return d == VKFT_F16 ? VKFT_ST_F16 : d == VKFT_BF16 ? VKFT_ST_BF16 : VKFT_ST_F32;
}

vkft_status vkft_model_save(const vkft_model_built *m, vkft_plan *plan, const char *dir,
                            const vkft_model_save_options *opts, vkft_err *err) {
    if (!m || !plan || !dir)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "save model: missing argument");
    vkft_model_save_options o = {.dtype = VKFT_ST_F32};
    if (opts) o = *opts;
    vkft_dtype out_dt = o.dtype == VKFT_ST_F16 ? VKFT_F16 : o.dtype == VKFT_ST_BF16 ? VKFT_BF16
                                                                                 : VKFT_F32;
    if (st_dtype_of(out_dt) != o.dtype)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "save model: dtype %s is not F32, F16 "
                            "or BF16", vkft_st_dtype_name(o.dtype));
    vkft_status s = vkft_mkdirs(dir, err);
    if (s) return s;
    void **bufs = calloc((size_t)m->n_params + 1, sizeof *bufs);
    vkft_st_writer *w = NULL;
    char *path = vkft_path_join(dir, "model.safetensors");
    if (!bufs || !path) s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "save model: out of memory");
    if (!s) s = vkft_st_writer_create(&w, err);
    if (!s) s = vkft_st_writer_metadata(w, "format", "pt", err);
    for (int i = 0; i < m->n_params && !s; i++) {
        const vkft_model_param *p = &m->params[i];
        if (p->kind == VKFT_PARAM_BUFFER) continue;
        size_t n = param_numel(p);
        void *raw = malloc(n * vkft_dtype_size(p->dtype));
        float *f = malloc(n * sizeof *f);
        bufs[i] = malloc(n * vkft_dtype_size(out_dt));
        if (!raw || !f || !bufs[i]) {
            s = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "save model: out of memory (%s)", p->name);
        } else if (vkft_plan_download(plan, p->name, raw, n * vkft_dtype_size(p->dtype))) {
            s = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "save model: %s", vkft_plan_error(plan));
        } else {
            to_f32(raw, f, n, p->dtype);
            from_f32(f, bufs[i], n, out_dt);
            s = vkft_st_writer_add(w, p->name, o.dtype, p->ndim, p->shape, bufs[i],
                                   n * vkft_dtype_size(out_dt), err);
        }
        free(raw);
        free(f);
    }
    if (!s) s = vkft_st_writer_finish(w, path, err);
    vkft_st_writer_free(w);
    for (int i = 0; bufs && i < m->n_params; i++) free(bufs[i]);
    free(bufs);
    free(path);
    if (s) return s;
    char *cfg_path = vkft_path_join(dir, "config.json");
    if (!cfg_path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "save model: out of memory");
    if (o.config_src) {
        s = vkft_file_copy(o.config_src, cfg_path, err);
    } else {
        vkft_model_config c = m->cfg;
        snprintf(c.torch_dtype, sizeof c.torch_dtype, "%s",
                 out_dt == VKFT_F16 ? "float16" : out_dt == VKFT_BF16 ? "bfloat16" : "float32");
        s = vkft_model_config_write(&c, cfg_path, err);
    }
    free(cfg_path);
    return s;
}
