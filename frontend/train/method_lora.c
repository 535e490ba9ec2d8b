/*
 * LoRA: y = x Wᵀ + s · dropout(x) Aᵀ Bᵀ at every targeted linear site, s = alpha / r (alpha / √r
 * with rsLoRA), base weights frozen. Per site, in the graph:
 *     t  = dropout(x) Aᵀ            [.., r]     (MATMUL, trans_b)
 *     y' = s · t Bᵀ + y             [.., out]   (MATMUL, B stored as Bᵀ [r, out], alpha = s,
 *                                                C0 = y)
 * so the scale costs nothing and the base output is accumulated in place. A [r, in] starts
 * kaiming-uniform (a = √5: U(±1/√in)), B at 0, or both from method.init. B is kept transposed
 * on the device (leaf "<PEFT name>.T") because its gradient is then s · tᵀ dy', a product whose
 * transposed operand is the small t [.., r], where B [out, r] would need dyᵀ t and a transposed
 * copy of the big dy (the Vulkan kernel packs transposed operands). A's leaf and every saved
 * tensor carry PEFT's names and layout: "base_model.model.<site>.lora_A.weight" [r, in],
 * ".lora_B.weight" [out, r] (transposed on load and save).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/method_common.h"
#include "train/method_impl.h"
#include "train/peft.h"

#define MAX_LORA_SITES 4096

typedef struct lora_site {
    char site[160];
    int64_t in, out;
    char a_name[200], b_name[200];  /* PEFT's names */
    char bt_name[204];              /* the leaf of Bᵀ */
} lora_site;

typedef struct lora_state {
    double scale;
    lora_site *sites;
    int n_sites;
    int *target_hits;           /* per target: sites it matched */
} lora_state;

static bool lora_wants(vkft_method *m, lora_state *s, const vkft_model_site *site)
{
    if (m->spec.all_linear) return site->layer >= 0;   /* PEFT leaves the output layer out */
    bool any = false;
    for (int i = 0; i < m->spec.targets.n; i++) {
        if (vkft_method_target_matches(m->spec.targets.items[i], site->path)) {
            s->target_hits[i]++;
            any = true;
        }
    }
    return any;
}

static vkft_status lora_linear(void *user, vkft_graph *g, const vkft_model_site *site,
                               vkft_value x, vkft_value *y, vkft_err *err)
{
    vkft_method *m = user;
    lora_state *s = m->impl;
    if (!lora_wants(m, s, site)) return VKFT_OK;
    /* A method may build several graphs (generation recompiles): a site seen before keeps
     * its entry. */
    int at = 0;
    while (at < s->n_sites && strcmp(s->sites[at].site, site->path)) at++;
    if (at == MAX_LORA_SITES)
        return vkft_err_set(err, VKFT_ERR_LIMIT, "lora: more than %d target sites",
                            MAX_LORA_SITES);
    lora_site *l = &s->sites[at];
    snprintf(l->site, sizeof l->site, "%s", site->path);
    l->in = site->in;
    l->out = site->out;
    snprintf(l->a_name, sizeof l->a_name, "base_model.model.%s.lora_A.weight", site->path);
    snprintf(l->b_name, sizeof l->b_name, "base_model.model.%s.lora_B.weight", site->path);
    snprintf(l->bt_name, sizeof l->bt_name, "%s.T", l->b_name);
    int64_t r = m->spec.r;
    vkft_value a = vkft_method_leaf(g, l->a_name, 2, (int64_t[]){r, site->in}, err);
    vkft_value b = a == VKFT_NONE ? VKFT_NONE
                 : vkft_method_leaf(g, l->bt_name, 2, (int64_t[]){r, site->out}, err);
    vkft_value xin = b == VKFT_NONE ? VKFT_NONE
                   : vkft_method_dropout(m, g, x, m->spec.dropout, err);
    if (xin == VKFT_NONE) return VKFT_ERR_INVALID_ARG;
    vkft_matmul_params down = {.trans_b = true, .alpha = 1.0f};
    vkft_value t = vkft_graph_op1(g, VKFT_OP_MATMUL, &down, (vkft_value[]){xin, a, VKFT_NONE}, 3);
    vkft_matmul_params up = {.trans_b = false, .alpha = (float)s->scale};
    vkft_value out = t == VKFT_NONE ? VKFT_NONE
                   : vkft_graph_op1(g, VKFT_OP_MATMUL, &up, (vkft_value[]){t, b, *y}, 3);
    if (out == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "lora at %s: %s", site->path,
                            vkft_graph_error(g));
    *y = out;
    if (at == s->n_sites) s->n_sites++;
    return VKFT_OK;
}

static vkft_status lora_create(vkft_method *m, vkft_err *err)
{
    lora_state *s = calloc(1, sizeof *s);
    if (!s) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->impl = s;
    s->sites = calloc(MAX_LORA_SITES, sizeof *s->sites);
    s->target_hits = calloc((size_t)(m->spec.targets.n > 0 ? m->spec.targets.n : 1),
                            sizeof(int));
    if (!s->sites || !s->target_hits) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
    s->scale = m->spec.rslora ? m->spec.alpha / sqrt((double)m->spec.r)
                              : m->spec.alpha / (double)m->spec.r;
    m->hooks.param_role = vkft_method_frozen_role;
    m->hooks.linear = lora_linear;
    return VKFT_OK;
}

static void lora_destroy(vkft_method *m)
{
    lora_state *s = m->impl;
    if (!s) return;
    free(s->sites);
    free(s->target_hits);
    free(s);
}

static vkft_status lora_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err)
{
    (void)b;
    lora_state *s = m->impl;
    for (int i = 0; i < m->spec.targets.n && !m->spec.all_linear; i++)
        if (!s->target_hits[i])
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                                "method.targets: '%s' matches no linear layer of this %s model "
                                "(its layers: %s)", m->spec.targets.items[i], m->cfg.model_type,
                                m->cfg.arch == VKFT_ARCH_GPT2 ? "c_attn, c_proj, c_fc, lm_head"
                                : "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                                  "down_proj, lm_head");
    if (s->n_sites == 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.targets: no layer selected");
    return VKFT_OK;
}

/* *buf [rows, cols] becomes its transpose [cols, rows] (a new buffer; the old one is freed). */
static vkft_status transpose_buffer(float **buf, int64_t rows, int64_t cols, vkft_err *err)
{
    float *t = malloc((size_t)(rows * cols) * sizeof *t);
    if (!t) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) t[j * rows + i] = (*buf)[i * cols + j];
    free(*buf);
    *buf = t;
    return VKFT_OK;
}

/* A and B from an existing PEFT adapter folder (method.init). */
static vkft_status lora_load(vkft_method *m, vkft_plan *plan, vkft_err *err)
{
    lora_state *s = m->impl;
    vkft_peft_lora_info info;
    vkft_status rc = vkft_peft_lora_read_config(m->spec.init, &info, err);
    if (rc) return rc;
    if (info.r != m->spec.r)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "method.init %s: the adapter has r = %lld, the job r = %lld",
                            m->spec.init, (long long)info.r, (long long)m->spec.r);
    vkft_st *st = NULL;
    rc = vkft_method_folder_open(m->spec.init, &st, err);
    for (int i = 0; i < s->n_sites && !rc; i++) {
        const lora_site *l = &s->sites[i];
        const char *names[2] = {l->a_name, l->b_name};
        int64_t shapes[2][2] = {{m->spec.r, l->in}, {l->out, m->spec.r}};
        for (int k = 0; k < 2 && !rc; k++) {
            float *buf = NULL;
            size_t n = (size_t)(shapes[k][0] * shapes[k][1]);
            rc = vkft_method_folder_read(st, m->spec.init, names[k], 2, shapes[k], &buf, err);
            if (!rc && k == 1) rc = transpose_buffer(&buf, l->out, m->spec.r, err);
            if (!rc) rc = vkft_method_upload(plan, k ? l->bt_name : l->a_name, buf, n, err);
            free(buf);
        }
    }
    vkft_st_close(st);
    return rc;
}

static vkft_status lora_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                    vkft_err *err)
{
    lora_state *s = m->impl;
    if (m->spec.init) return lora_load(m, plan, err);
    size_t most = 1;
    for (int i = 0; i < s->n_sites; i++) {
        size_t a = (size_t)(m->spec.r * s->sites[i].in), b = (size_t)(m->spec.r * s->sites[i].out);
        if (a > most) most = a;
        if (b > most) most = b;
    }
    float *buf = malloc(most * sizeof *buf);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = VKFT_OK;
    /* Each site draws from its own stream so adding a target does not shift the others. */
    for (int i = 0; i < s->n_sites && !rc; i++) {
        const lora_site *l = &s->sites[i];
        size_t na = (size_t)(m->spec.r * l->in), nb = (size_t)(m->spec.r * l->out);
        vkft_method_fill_uniform(buf, na, seed, (uint64_t)i, 1.0 / sqrt((double)l->in));
        rc = vkft_method_upload(plan, l->a_name, buf, na, err);
        memset(buf, 0, nb * sizeof *buf);
        if (!rc) rc = vkft_method_upload(plan, l->bt_name, buf, nb, err);
    }
    free(buf);
    return rc;
}

static vkft_status lora_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                             const char *dir, const char *base_model, vkft_err *err)
{
    (void)b;
    const lora_state *s = m->impl;
    vkft_st_writer *w = NULL;
    vkft_status rc = vkft_st_writer_create(&w, err);
    if (rc) return rc;
    float **bufs = calloc((size_t)(2 * s->n_sites + 1), sizeof *bufs);
    if (!bufs) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < s->n_sites && !rc; i++) {
        const lora_site *l = &s->sites[i];
        int64_t shapes[2][2] = {{m->spec.r, l->in}, {l->out, m->spec.r}};
        const char *names[2] = {l->a_name, l->b_name};
        for (int k = 0; k < 2 && !rc; k++) {
            size_t n = (size_t)(shapes[k][0] * shapes[k][1]);
            rc = vkft_method_download(plan, k ? l->bt_name : l->a_name, n, &bufs[2 * i + k],
                                      err);
            if (!rc && k == 1) rc = transpose_buffer(&bufs[2 * i + k], m->spec.r, l->out, err);
            if (!rc) rc = vkft_st_writer_add(w, names[k], VKFT_ST_F32, 2, shapes[k],
                                             bufs[2 * i + k], n * sizeof(float), err);
        }
    }
    if (!rc) {
        const char *all = "all-linear";
        vkft_peft_lora_config pc = {
            .r = m->spec.r, .alpha = m->spec.alpha, .dropout = m->spec.dropout,
            .rslora = m->spec.rslora, .fan_in_fan_out = m->cfg.arch == VKFT_ARCH_GPT2,
            .targets = m->spec.all_linear ? &all : (const char *const *)m->spec.targets.items,
            .n_targets = m->spec.all_linear ? 1 : m->spec.targets.n,
            .base_model = base_model,
        };
        rc = vkft_peft_lora_write(dir, &pc, w, err);
    }
    vkft_st_writer_free(w);
    for (int i = 0; bufs && i < 2 * s->n_sites; i++) free(bufs[i]);
    free(bufs);
    return rc;
}

/* r, alpha, rsLoRA and the targets of a saved adapter (PEFT's adapter_config.json). */
static vkft_status lora_from_adapter(vkft_method *m, const vkft_json *cfg, const char *dir,
                                     vkft_err *err)
{
    vkft_peft_lora_info info;
    vkft_status rc = vkft_peft_lora_read_config(dir, &info, err);
    if (rc) return rc;
    m->spec.r = info.r;
    m->spec.alpha = info.alpha;
    m->spec.rslora = info.rslora;
    const vkft_json *t = vkft_json_get(cfg, "target_modules");
    const char *one = vkft_json_get_str(t);
    size_t n = one ? 1 : (t && t->type == VKFT_JSON_ARRAY ? t->len : 0);
    if (!n)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "%s/adapter_config.json: target_modules must be a string or a list",
                            dir);
    if (one && !strcmp(one, "all-linear")) m->spec.all_linear = true;
    m->owned_targets = calloc(n, sizeof *m->owned_targets);
    if (!m->owned_targets) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->spec.targets.items = m->owned_targets;
    for (size_t i = 0; i < n; i++) {
        const char *name = one ? one : vkft_json_get_str(vkft_json_at(t, i));
        if (!name)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                                "%s/adapter_config.json: target_modules[%zu] is not a string",
                                dir, i);
        if (!(m->owned_targets[i] = strdup(name)))
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        m->spec.targets.n = (int)i + 1;
    }
    return VKFT_OK;
}

const vkft_method_ops vkft_method_lora_ops = {
    .output = "adapter",
    .peft_type = "LORA",
    .from_adapter = lora_from_adapter,
    .create = lora_create,
    .destroy = lora_destroy,
    .after_build = lora_after_build,
    .init_params = lora_init_params,
    .save = lora_save,
};
