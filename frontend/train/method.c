/*
 * Full fine-tuning and LoRA as model hooks (see method.h). The LoRA branch of a site is
 *     t  = dropout(x) Aᵀ            [.., r]     (MATMUL, trans_b)
 *     y' = s · t Bᵀ + y             [.., out]   (MATMUL, trans_b, alpha = s, C0 = y)
 * so the scale costs nothing and the base output is accumulated in place.
 */
#include "train/method.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/peft.h"
#include "util/file.h"
#include "util/rng.h"

#define MAX_LORA_SITES 4096

struct vkft_method {
    vkft_job_method spec;           /* borrowed strings from the job */
    vkft_model_config cfg;
    vkft_model_hooks hooks;
    double scale;
    vkft_value dropout_seed;
    uint32_t dropout_streams;
    vkft_lora_site *sites;
    int n_sites;
    int *target_hits;               /* per target: sites it matched */
};

/* A target matches a module path equal to it or ending in "." + target (PEFT's suffix rule);
 * all-linear matches every linear site except the output layer. */
static bool target_matches(const char *target, const char *path)
{
    size_t tl = strlen(target), pl = strlen(path);
    if (tl == pl) return !strcmp(target, path);
    return pl > tl && path[pl - tl - 1] == '.' && !strcmp(path + pl - tl, target);
}

static vkft_role full_role(void *user, const char *name, vkft_model_param_kind kind)
{
    (void)user; (void)name;
    return kind == VKFT_PARAM_BUFFER ? VKFT_ROLE_WEIGHT : VKFT_ROLE_TRAINABLE;
}

static vkft_role frozen_role(void *user, const char *name, vkft_model_param_kind kind)
{
    (void)user; (void)name; (void)kind;
    return VKFT_ROLE_WEIGHT;
}

static bool lora_wants(vkft_method *m, const vkft_model_site *site)
{
    bool any = false;
    if (m->spec.all_linear) return site->layer >= 0;
    for (int i = 0; i < m->spec.targets.n; i++) {
        if (target_matches(m->spec.targets.items[i], site->path)) {
            m->target_hits[i]++;
            any = true;
        }
    }
    return any;
}

static vkft_status lora_linear(void *user, vkft_graph *g, const vkft_model_site *site,
                               vkft_value x, vkft_value *y, vkft_err *err)
{
    vkft_method *m = user;
    if (!lora_wants(m, site)) return VKFT_OK;
    if (m->n_sites == MAX_LORA_SITES)
        return vkft_err_set(err, VKFT_ERR_LIMIT, "lora: more than %d target sites",
                            MAX_LORA_SITES);
    vkft_lora_site *s = &m->sites[m->n_sites];
    memset(s, 0, sizeof *s);
    snprintf(s->site, sizeof s->site, "%s", site->path);
    s->in = site->in;
    s->out = site->out;
    s->conv1d = site->conv1d;
    snprintf(s->a_name, sizeof s->a_name, "base_model.model.%s.lora_A.weight", site->path);
    snprintf(s->b_name, sizeof s->b_name, "base_model.model.%s.lora_B.weight", site->path);
    int64_t r = m->spec.r;
    s->a = vkft_graph_leaf(g, s->a_name, VKFT_ROLE_TRAINABLE, VKFT_F32, 2,
                           (int64_t[]){r, site->in});
    s->b = vkft_graph_leaf(g, s->b_name, VKFT_ROLE_TRAINABLE, VKFT_F32, 2,
                           (int64_t[]){site->out, r});
    if (s->a == VKFT_NONE || s->b == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "lora at %s: %s", site->path,
                            vkft_graph_error(g));
    vkft_value xin = x;
    if (m->spec.dropout > 0) {
        if (m->dropout_seed == VKFT_NONE) {
            m->dropout_seed = vkft_graph_leaf(g, "dropout_seed", VKFT_ROLE_INPUT, VKFT_I32, 1,
                                              (int64_t[]){2});
            if (m->dropout_seed == VKFT_NONE)
                return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "lora: %s", vkft_graph_error(g));
        }
        vkft_dropout_params dp = {.p = (float)m->spec.dropout, .stream = m->dropout_streams++};
        xin = vkft_graph_op1(g, VKFT_OP_DROPOUT, &dp, (vkft_value[]){x, m->dropout_seed}, 2);
    }
    vkft_matmul_params down = {.trans_b = true, .alpha = 1.0f};
    vkft_value t = xin == VKFT_NONE ? VKFT_NONE
                 : vkft_graph_op1(g, VKFT_OP_MATMUL, &down, (vkft_value[]){xin, s->a, VKFT_NONE},
                                  3);
    vkft_matmul_params up = {.trans_b = true, .alpha = (float)m->scale};
    vkft_value out = t == VKFT_NONE ? VKFT_NONE
                   : vkft_graph_op1(g, VKFT_OP_MATMUL, &up, (vkft_value[]){t, s->b, *y}, 3);
    if (out == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "lora at %s: %s", site->path,
                            vkft_graph_error(g));
    *y = out;
    m->n_sites++;
    return VKFT_OK;
}

vkft_status vkft_method_create(const vkft_job_method *spec, const vkft_model_config *cfg,
                               vkft_method **out, vkft_err *err)
{
    *out = NULL;
    if (spec->kind != VKFT_METHOD_FULL && spec->kind != VKFT_METHOD_LORA)
        return vkft_err_set(err, VKFT_ERR_UNSUPPORTED,
                            "method.kind %s: not available yet (full and lora are)",
                            vkft_method_kind_name(spec->kind));
    vkft_method *m = calloc(1, sizeof *m);
    if (!m) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->spec = *spec;
    m->cfg = *cfg;
    m->dropout_seed = VKFT_NONE;
    m->hooks.user = m;
    if (spec->kind == VKFT_METHOD_FULL) {
        m->hooks.param_role = full_role;
    } else {
        m->hooks.param_role = frozen_role;
        m->hooks.linear = lora_linear;
        m->scale = spec->rslora ? spec->alpha / sqrt((double)spec->r)
                                : spec->alpha / (double)spec->r;
        m->sites = calloc(MAX_LORA_SITES, sizeof *m->sites);
        m->target_hits = calloc((size_t)(spec->targets.n > 0 ? spec->targets.n : 1), sizeof(int));
        if (!m->sites || !m->target_hits) {
            vkft_method_free(m);
            return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        }
    }
    *out = m;
    return VKFT_OK;
}

void vkft_method_free(vkft_method *m)
{
    if (!m) return;
    free(m->sites);
    free(m->target_hits);
    free(m);
}

const vkft_model_hooks *vkft_method_hooks(vkft_method *m) { return &m->hooks; }

const char *vkft_method_dropout_input(const vkft_method *m)
{
    return m->dropout_seed == VKFT_NONE ? NULL : "dropout_seed";
}

vkft_status vkft_method_check_targets(const vkft_method *m, vkft_err *err)
{
    if (m->spec.kind != VKFT_METHOD_LORA) return VKFT_OK;
    for (int i = 0; i < m->spec.targets.n && !m->spec.all_linear; i++)
        if (!m->target_hits[i])
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                                "method.targets: '%s' matches no linear layer of this %s model "
                                "(its layers end in e.g. %s)", m->spec.targets.items[i],
                                m->cfg.model_type,
                                m->cfg.arch == VKFT_ARCH_GPT2 ? "c_attn, c_proj, c_fc"
                                : "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                                  "down_proj");
    if (m->n_sites == 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.targets: no site selected");
    return VKFT_OK;
}

int vkft_method_lora_sites(const vkft_method *m, const vkft_lora_site **sites)
{
    *sites = m->sites;
    return m->n_sites;
}

double vkft_method_lora_scale(const vkft_method *m) { return m->scale; }

/* A and B from an existing PEFT adapter folder. */
static vkft_status lora_init_from(vkft_method *m, vkft_plan *plan, vkft_err *err)
{
    vkft_peft_lora_info info;
    vkft_status rc = vkft_peft_lora_read_config(m->spec.init, &info, err);
    if (rc) return rc;
    if (info.r != m->spec.r)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "method.init %s: the adapter has r = %lld, the job r = %lld",
                            m->spec.init, (long long)info.r, (long long)m->spec.r);
    char *path = vkft_path_join(m->spec.init, "adapter_model.safetensors");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_st *st = NULL;
    rc = vkft_st_open(path, &st, err);
    free(path);
    if (rc) return rc;
    float *buf = NULL;
    for (int i = 0; i < m->n_sites && !rc; i++) {
        const vkft_lora_site *s = &m->sites[i];
        const char *names[2] = {s->a_name, s->b_name};
        int64_t rows[2] = {m->spec.r, s->out}, cols[2] = {s->in, m->spec.r};
        for (int k = 0; k < 2 && !rc; k++) {
            const vkft_st_tensor *t = vkft_st_find(st, names[k]);
            size_t n = (size_t)(rows[k] * cols[k]);
            if (!t) {
                rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.init %s: no tensor %s",
                                  m->spec.init, names[k]);
            } else if (t->ndim != 2 || t->shape[0] != rows[k] || t->shape[1] != cols[k]) {
                rc = vkft_err_set(err, VKFT_ERR_SHAPE,
                                  "method.init %s: %s should be [%lld, %lld]", m->spec.init,
                                  names[k], (long long)rows[k], (long long)cols[k]);
            } else if (!(buf = realloc(buf, n * sizeof *buf))) {
                rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            } else if (!(rc = vkft_st_read_f32(t, buf, n, err)) &&
                       vkft_plan_upload(plan, names[k], buf, n * sizeof *buf)) {
                rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
            }
        }
    }
    free(buf);
    vkft_st_close(st);
    return rc;
}

vkft_status vkft_method_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                    vkft_err *err)
{
    if (m->spec.kind != VKFT_METHOD_LORA) return VKFT_OK;
    if (m->spec.init) return lora_init_from(m, plan, err);
    /* PEFT: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0. Each site
     * draws from its own stream so adding a target does not shift the others' values. */
    size_t most = 0;
    for (int i = 0; i < m->n_sites; i++) {
        size_t a = (size_t)(m->spec.r * m->sites[i].in), b = (size_t)(m->spec.r * m->sites[i].out);
        if (a > most) most = a;
        if (b > most) most = b;
    }
    float *buf = malloc((most ? most : 1) * sizeof *buf);
    if (!buf) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = VKFT_OK;
    for (int i = 0; i < m->n_sites && !rc; i++) {
        const vkft_lora_site *s = &m->sites[i];
        vkft_rng rng;
        vkft_rng_init(&rng, seed * 0x9E3779B97F4A7C15ull + (uint64_t)i + 1);
        size_t na = (size_t)(m->spec.r * s->in), nb = (size_t)(m->spec.r * s->out);
        double bound = 1.0 / sqrt((double)s->in);
        for (size_t k = 0; k < na; k++)
            buf[k] = (float)((2.0 * vkft_rng_uniform(&rng) - 1.0) * bound);
        if (vkft_plan_upload(plan, s->a_name, buf, na * sizeof *buf)) {
            rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
            break;
        }
        memset(buf, 0, nb * sizeof *buf);
        if (vkft_plan_upload(plan, s->b_name, buf, nb * sizeof *buf))
            rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
    }
    free(buf);
    return rc;
}

static vkft_status lora_save(const vkft_method *m, vkft_plan *plan, const char *dir,
                             const char *base_model, vkft_err *err)
{
    vkft_st_writer *w = NULL;
    vkft_status rc = vkft_st_writer_create(&w, err);
    if (rc) return rc;
    float **bufs = calloc((size_t)(2 * m->n_sites + 1), sizeof *bufs);
    if (!bufs) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < m->n_sites && !rc; i++) {
        const vkft_lora_site *s = &m->sites[i];
        int64_t shapes[2][2] = {{m->spec.r, s->in}, {s->out, m->spec.r}};
        const char *names[2] = {s->a_name, s->b_name};
        for (int k = 0; k < 2 && !rc; k++) {
            size_t bytes = (size_t)(shapes[k][0] * shapes[k][1]) * sizeof(float);
            float *b = bufs[2 * i + k] = malloc(bytes);
            if (!b) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
            else if (vkft_plan_download(plan, names[k], b, bytes))
                rc = vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
            else rc = vkft_st_writer_add(w, names[k], VKFT_ST_F32, 2, shapes[k], b, bytes, err);
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
    for (int i = 0; bufs && i < 2 * m->n_sites; i++) free(bufs[i]);
    free(bufs);
    return rc;
}

vkft_status vkft_method_save(const vkft_method *m, const vkft_model_built *built,
                             vkft_plan *plan, const char *dir, const char *base_model,
                             vkft_err *err)
{
    if (m->spec.kind == VKFT_METHOD_LORA) return lora_save(m, plan, dir, base_model, err);
    return vkft_model_save(built, plan, dir, NULL, err);
}
