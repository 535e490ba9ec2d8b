/* NF4 weights for QLoRA (see nf4_load.h): host quantisation on a private CPU device, and
 * pre-quantised bitsandbytes checkpoints. */
#include "train/nf4_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

struct vkft_nf4_loader {
    vkft_context *ctx;
    vkft_device *dev;           /* the CPU backend */
    bool have_maps;
    float code[16], dyn[256];   /* the kernels' NF4 code and dynamic map (read back once) */
};

/* One weight's packed form on the host. */
typedef struct packed {
    uint8_t *codes, *absmax_q;
    float *absmax2;
    float offset;
    int64_t n;
} packed;

static vkft_status dev_fail(vkft_nf4_loader *ld, const char *what, vkft_err *err)
{
    return vkft_err_set(err, VKFT_ERR_DEVICE, "qlora: %s: %s", what,
                        vkft_device_error(ld->dev));
}

vkft_status vkft_nf4_loader_create(vkft_nf4_loader **out, vkft_err *err)
{
    *out = NULL;
    vkft_nf4_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "qlora: out of memory");
    vkft_context_options o;
    vkft_context_options_default(&o);
    char msg[256] = "";
    vkft_status rc = vkft_context_options_from_env(&o, msg, sizeof msg);
    if (rc) {
        free(ld);
        return vkft_err_set(err, rc, "qlora: %s", msg);
    }
    o.no_vulkan = true;
    o.validation = false;
    o.no_pipeline_cache = true;
    if (vkft_context_create(&o, &ld->ctx)) {
        rc = vkft_err_set(err, VKFT_ERR_DEVICE, "qlora: the host quantiser: %s",
                          ld->ctx ? vkft_context_error(ld->ctx) : "no context");
    } else if (vkft_device_open(ld->ctx, "cpu", &ld->dev)) {
        rc = vkft_err_set(err, VKFT_ERR_DEVICE, "qlora: the host quantiser: %s",
                          vkft_context_error(ld->ctx));
    }
    if (rc) {
        vkft_nf4_loader_free(ld);
        return rc;
    }
    *out = ld;
    return VKFT_OK;
}

void vkft_nf4_loader_free(vkft_nf4_loader *ld)
{
    if (!ld) return;
    vkft_device_close(ld->dev);
    vkft_context_destroy(ld->ctx);
    free(ld);
}

static void packed_free(packed *p)
{
    free(p->codes);
    free(p->absmax_q);
    free(p->absmax2);
    memset(p, 0, sizeof *p);
}

static vkft_status packed_alloc(packed *p, int64_t n, vkft_err *err)
{
    p->n = n;
    p->codes = malloc((size_t)(n / 2));
    p->absmax_q = malloc((size_t)vkft_nf4_blocks(n));
    p->absmax2 = malloc((size_t)vkft_nf4_nested_blocks(n) * sizeof(float));
    if (!p->codes || !p->absmax_q || !p->absmax2) {
        packed_free(p);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "qlora: out of memory");
    }
    return VKFT_OK;
}

/* NF4_QUANTIZE of w (n floats) on the CPU device into p. */
static vkft_status quantize(vkft_nf4_loader *ld, const float *w, int64_t n, packed *p,
                            const char *name, vkft_err *err)
{
    vkft_status rc = packed_alloc(p, n, err);
    if (rc) return rc;
    int64_t shapes[4] = {n / 2, vkft_nf4_blocks(n), vkft_nf4_nested_blocks(n), 1};
    vkft_dtype dts[4] = {VKFT_U8, VKFT_U8, VKFT_F32, VKFT_F32};
    vkft_tensor *in = NULL, *out[4] = {NULL, NULL, NULL, NULL};
    if (vkft_tensor_create(ld->dev, VKFT_F32, 1, &n, &in)) rc = dev_fail(ld, name, err);
    for (int i = 0; i < 4 && !rc; i++)
        if (vkft_tensor_create(ld->dev, dts[i], 1, &shapes[i], &out[i]))
            rc = dev_fail(ld, name, err);
    if (!rc && (vkft_tensor_upload(in, w, (size_t)n * sizeof(float)) ||
                vkft_op_run(ld->dev, VKFT_OP_NF4_QUANTIZE, NULL, &in, 1, out, 4) ||
                vkft_tensor_download(out[0], p->codes, (size_t)shapes[0]) ||
                vkft_tensor_download(out[1], p->absmax_q, (size_t)shapes[1]) ||
                vkft_tensor_download(out[2], p->absmax2, (size_t)shapes[2] * sizeof(float)) ||
                vkft_tensor_download(out[3], &p->offset, sizeof(float))))
        rc = dev_fail(ld, name, err);
    vkft_tensor_destroy(in);
    for (int i = 0; i < 4; i++) vkft_tensor_destroy(out[i]);
    if (rc) packed_free(p);
    return rc;
}

/* The code maps the kernels use, read back through NF4_DEQUANTIZE: 256 blocks whose absmax_q
 * is the block index (absmax2 1, offset 0) give dyn[i] where every code is 15 (value 1.0), and
 * a block of absmax 1.0 (dyn[255]) holding codes 0..15 gives the NF4 code. */
static vkft_status read_maps(vkft_nf4_loader *ld, vkft_err *err)
{
    if (ld->have_maps) return VKFT_OK;
    const int64_t n = 257 * 64;
    packed p = {0};
    vkft_status rc = packed_alloc(&p, n, err);
    float *w = malloc((size_t)n * sizeof *w);
    if (!rc && !w) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "qlora: out of memory");
    vkft_tensor *in[4] = {NULL, NULL, NULL, NULL}, *out = NULL;
    if (!rc) {
        memset(p.codes, 0xff, (size_t)(n / 2));
        for (int i = 0; i < 8; i++) p.codes[256 * 32 + i] = (uint8_t)((2 * i) << 4 | (2 * i + 1));
        for (int i = 0; i < 256; i++) p.absmax_q[i] = (uint8_t)i;
        p.absmax_q[256] = 255;
        p.absmax2[0] = p.absmax2[1] = 1.0f;
        p.offset = 0.0f;
        int64_t shapes[4] = {n / 2, 257, 2, 1};
        vkft_dtype dts[4] = {VKFT_U8, VKFT_U8, VKFT_F32, VKFT_F32};
        const void *src[4] = {p.codes, p.absmax_q, p.absmax2, &p.offset};
        size_t bytes[4] = {(size_t)(n / 2), 257, 8, 4};
        for (int i = 0; i < 4 && !rc; i++)
            if (vkft_tensor_create(ld->dev, dts[i], 1, &shapes[i], &in[i]) ||
                vkft_tensor_upload(in[i], src[i], bytes[i]))
                rc = dev_fail(ld, "code maps", err);
        vkft_shape_params sp = {.ndim = 1, .shape = {n}};
        if (!rc && (vkft_tensor_create(ld->dev, VKFT_F32, 1, &n, &out) ||
                    vkft_op_run(ld->dev, VKFT_OP_NF4_DEQUANTIZE, &sp, in, 4, &out, 1) ||
                    vkft_tensor_download(out, w, (size_t)n * sizeof *w)))
            rc = dev_fail(ld, "code maps", err);
    }
    if (!rc) {
        for (int i = 0; i < 256; i++) ld->dyn[i] = w[64 * i];
        for (int i = 0; i < 16; i++) ld->code[i] = w[256 * 64 + i];
        ld->have_maps = true;
    }
    for (int i = 0; i < 4; i++) vkft_tensor_destroy(in[i]);
    vkft_tensor_destroy(out);
    free(w);
    packed_free(&p);
    return rc;
}

static const vkft_st_tensor *find(const vkft_st *st, bool gpt2, const char *name)
{
    const vkft_st_tensor *t = vkft_st_find(st, name);
    static const char prefix[] = "transformer.";
    if (!t && gpt2 && !strncmp(name, prefix, sizeof prefix - 1))
        t = vkft_st_find(st, name + sizeof prefix - 1);   /* openai-community/gpt2 layout */
    return t;
}

static int64_t numel(const vkft_st_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* A companion tensor "<weight>.<suffix>" of dtype dt and count elements, or an error. */
static vkft_status part(const vkft_st *st, bool gpt2, const char *wname, const char *suffix,
                        vkft_st_dtype dt, int64_t count, const vkft_st_tensor **out,
                        vkft_err *err)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s", wname, suffix);
    *out = find(st, gpt2, name);
    if (!*out)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "qlora: %s is pre-quantised but %s is "
                            "missing", wname, name);
    if ((*out)->dtype != dt || (count >= 0 && numel(*out) != count))
        return vkft_err_set(err, VKFT_ERR_SHAPE, "qlora: %s in %s must be %s with %lld "
                            "elements", name, (*out)->file, vkft_st_dtype_name(dt),
                            (long long)count);
    return VKFT_OK;
}

static bool same_map(const vkft_st_tensor *t, const float *want, int n)
{
    for (int i = 0; i < n; i++) {
        float v;
        memcpy(&v, (const char *)t->data + 4 * (size_t)i, 4);
        if (!(fabsf(v - want[i]) <= 1e-6f * fabsf(want[i]))) return false;
    }
    return true;
}

/* The quant state JSON of a pre-quantised weight: nf4, blocks of 64, double quantisation in
 * blocks of 256, the shape [out, in]; *offset = nested_offset. */
static vkft_status check_state(const vkft_st_tensor *qs, const vkft_model_site *s,
                               double *offset, vkft_err *err)
{
    vkft_json_doc *doc = NULL;
    char where[300];
    snprintf(where, sizeof where, "%s (%s)", qs->name, qs->file);
    vkft_status rc = vkft_json_parse(qs->data, qs->bytes, where, &doc, err);
    if (rc) return rc;
    const vkft_json *r = vkft_json_root(doc);
    const char *type = vkft_json_get_str(vkft_json_get(r, "quant_type"));
    const vkft_json *shape = vkft_json_get(r, "shape");
    int64_t bs = 0, nbs = 0, d0 = 0, d1 = 0;
    bool nested = vkft_json_get(r, "nested_blocksize") != NULL;
    if (!type || strcmp(type, "nf4"))
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "qlora: %s: quant_type %s; only nf4 "
                          "weights are supported", where, type ? type : "(missing)");
    else if (!vkft_json_get_int(vkft_json_get(r, "blocksize"), &bs) || bs != 64)
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "qlora: %s: blocksize must be 64", where);
    else if (!nested)
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "qlora: %s: quantised without double "
                          "quantisation (bnb_4bit_use_double_quant: false) is not supported; "
                          "give the full-precision model instead", where);
    else if (!vkft_json_get_int(vkft_json_get(r, "nested_blocksize"), &nbs) || nbs != 256)
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "qlora: %s: nested_blocksize must be 256",
                          where);
    else if (!vkft_json_get_double(vkft_json_get(r, "nested_offset"), offset))
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "qlora: %s: nested_offset must be a "
                          "number", where);
    else if (!shape || shape->len != 2 || !vkft_json_get_int(vkft_json_at(shape, 0), &d0) ||
             !vkft_json_get_int(vkft_json_at(shape, 1), &d1) || d0 != s->out || d1 != s->in)
        rc = vkft_err_set(err, VKFT_ERR_SHAPE, "qlora: %s: shape must be [%lld, %lld]", where,
                          (long long)s->out, (long long)s->in);
    vkft_json_free(doc);
    return rc;
}

/* A bitsandbytes Linear4bit weight as transformers saves it (QuantState.as_dict(packed=True)):
 * checked, then copied into p. */
static vkft_status load_prequantised(vkft_nf4_loader *ld, const vkft_st *st, bool gpt2,
                                     const vkft_model_site *s, const vkft_st_tensor *w,
                                     packed *p, vkft_err *err)
{
    int64_t n = s->in * s->out;
    char name[256];
    snprintf(name, sizeof name, "%s.quant_state.bitsandbytes__fp4", w->name);
    if (find(st, gpt2, name))
        return vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "qlora: %s in %s is FP4-quantised; only "
                            "NF4 is supported", w->name, w->file);
    snprintf(name, sizeof name, "%s.quant_state.bitsandbytes__nf4", w->name);
    const vkft_st_tensor *qs = find(st, gpt2, name), *absmax, *map, *absmax2, *map2;
    if (!qs || qs->dtype != VKFT_ST_U8)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "qlora: %s in %s is U8 but %s is "
                            "missing: not a bitsandbytes 4-bit weight", w->name, w->file, name);
    if (numel(w) != n / 2)
        return vkft_err_set(err, VKFT_ERR_SHAPE, "qlora: %s in %s holds %lld bytes; a 4-bit "
                            "[%lld, %lld] weight needs %lld", w->name, w->file,
                            (long long)numel(w), (long long)s->out, (long long)s->in,
                            (long long)(n / 2));
    double offset = 0;
    vkft_status rc = check_state(qs, s, &offset, err);
    if (!rc) rc = part(st, gpt2, w->name, "absmax", VKFT_ST_U8, vkft_nf4_blocks(n), &absmax, err);
    if (!rc) rc = part(st, gpt2, w->name, "quant_map", VKFT_ST_F32, 16, &map, err);
    if (!rc) rc = part(st, gpt2, w->name, "nested_absmax", VKFT_ST_F32,
                       vkft_nf4_nested_blocks(n), &absmax2, err);
    if (!rc) rc = part(st, gpt2, w->name, "nested_quant_map", VKFT_ST_F32, 256, &map2, err);
    if (!rc) rc = read_maps(ld, err);
    if (!rc && (!same_map(map, ld->code, 16) || !same_map(map2, ld->dyn, 256)))
        rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "qlora: %s in %s: quant_map or "
                          "nested_quant_map is not bitsandbytes' NF4 code / signed dynamic map",
                          w->name, w->file);
    if (!rc) rc = packed_alloc(p, n, err);
    if (!rc) {
        memcpy(p->codes, w->data, (size_t)(n / 2));
        memcpy(p->absmax_q, absmax->data, (size_t)vkft_nf4_blocks(n));
        memcpy(p->absmax2, absmax2->data, (size_t)vkft_nf4_nested_blocks(n) * sizeof(float));
        p->offset = (float)offset;
    }
    return rc;
}

vkft_status vkft_nf4_load_site(vkft_nf4_loader *ld, bool gpt2, const vkft_model_site *s,
                               const vkft_st *st, vkft_plan *plan, vkft_err *err)
{
    char wname[200];
    snprintf(wname, sizeof wname, "%s.weight", s->path);
    const vkft_st_tensor *t = find(st, gpt2, wname);
    if (!t)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "qlora: tensor %s is missing from the "
                            "checkpoint", wname);
    int64_t n = s->in * s->out;
    packed p = {0};
    vkft_status rc = VKFT_OK;
    if (t->dtype == VKFT_ST_U8) {
        rc = load_prequantised(ld, st, gpt2, s, t, &p, err);
    } else {
        int64_t r = s->conv1d ? s->in : s->out, c = s->conv1d ? s->out : s->in;
        if (t->ndim != 2 || t->shape[0] != r || t->shape[1] != c)
            return vkft_err_set(err, VKFT_ERR_SHAPE, "qlora: %s in %s must be [%lld, %lld]",
                                t->name, t->file, (long long)r, (long long)c);
        float *f = malloc((size_t)n * sizeof *f);
        float *tr = s->conv1d && f ? malloc((size_t)n * sizeof *tr) : NULL;
        if (!f || (s->conv1d && !tr)) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "qlora: oom");
        if (!rc && (rc = vkft_st_read_f32(t, f, (size_t)n, err)))
            vkft_err_prefix(err, rc, "qlora");
        if (!rc && s->conv1d) {   /* [in, out] -> [out, in] */
            for (int64_t i = 0; i < r; i++)
                for (int64_t j = 0; j < c; j++) tr[j * r + i] = f[i * c + j];
        }
        if (!rc) rc = quantize(ld, s->conv1d ? tr : f, n, &p, wname, err);
        free(f);
        free(tr);
    }
    char name[224];
    const char *suffix[4] = {"", ".absmax", ".nested_absmax", ".nested_offset"};
    const void *src[4] = {p.codes, p.absmax_q, p.absmax2, &p.offset};
    size_t bytes[4] = {(size_t)(n / 2), (size_t)vkft_nf4_blocks(n),
                       (size_t)vkft_nf4_nested_blocks(n) * sizeof(float), sizeof(float)};
    for (int i = 0; i < 4 && !rc; i++) {
        snprintf(name, sizeof name, "%s%s", wname, suffix[i]);
        if (vkft_plan_upload(plan, name, src[i], bytes[i]))
            rc = vkft_err_set(err, VKFT_ERR_DEVICE, "qlora: upload %s: %s", name,
                              vkft_plan_error(plan));
    }
    packed_free(&p);
    return rc;
}
