/*
 * (IA)³ as PEFT defines it (peft/tuners/ia3): a learned vector l per targeted linear site,
 * initialised to 1, base weights frozen.
 *   output target        y = (x Wᵀ + b) ⊙ l      l saved [out, 1]   (linear hook: MUL on y)
 *   feed-forward target  y = (x ⊙ l) Wᵀ + b      l saved [1, in]    (linear_input hook)
 * A site is targeted when a name in method.targets is its module path or a '.'-separated
 * suffix of it (or all-linear: every decoder linear site); it is feed-forward when its path ends
 * with a name in method.feedforward (PEFT's plain endswith). GPT-2's c_attn is one module, so
 * its whole q|k|v output is scaled, as in PEFT. The leaf of a site is "base_model.model.<site>
 * .ia3_l", f32 [n] in the graph (the same data as PEFT's [out, 1] / [1, in]).
 * Saved as a PEFT IA3 folder: adapter_config.json (peft_type "IA3") + adapter_model.safetensors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/ia3_peft.h"
#include "train/method_impl.h"
#include "util/file.h"

/* Whether the site is targeted (counting target hits once per site path) and feed-forward. */
static bool ia3_wants(vkft_method *m, vkft_ia3_state *s, const vkft_model_site *site, bool count,
                      bool *ff)
{
    bool any = false;
    if (m->spec.all_linear) {
        any = site->layer >= 0;
    } else {
        for (int i = 0; i < m->spec.targets.n; i++) {
            if (!vkft_method_target_matches(m->spec.targets.items[i], site->path)) continue;
            if (count) s->target_hits[i]++;
            any = true;
        }
    }
    *ff = false;
    for (int i = 0; any && i < m->spec.feedforward.n; i++) {
        const char *f = m->spec.feedforward.items[i];
        size_t fl = strlen(f), pl = strlen(site->path);
        if (pl >= fl && !strcmp(site->path + pl - fl, f)) *ff = true;
    }
    return any;
}

/* The site's entry (made on first sight; a rebuild keeps it) and its leaf in g. */
static vkft_status ia3_leaf(vkft_method *m, vkft_graph *g, const vkft_model_site *site, bool ff,
                            vkft_value *l, vkft_err *err)
{
    vkft_ia3_state *s = m->impl;
    int at = vkft_ia3_find(s, site->path);
    if (at < 0) {
        if (s->n_sites == VKFT_IA3_MAX_SITES)
            return vkft_err_set(err, VKFT_ERR_LIMIT, "ia3: more than %d target sites",
                                VKFT_IA3_MAX_SITES);
        at = s->n_sites++;
        vkft_ia3_site *e = &s->sites[at];
        snprintf(e->site, sizeof e->site, "%s", site->path);
        snprintf(e->name, sizeof e->name, "base_model.model.%s.ia3_l", site->path);
        e->n = ff ? site->in : site->out;
        e->feedforward = ff;
    }
    *l = vkft_method_leaf(g, s->sites[at].name, 1, &s->sites[at].n, err);
    return *l == VKFT_NONE ? VKFT_ERR_INVALID_ARG : VKFT_OK;
}

static vkft_status ia3_input(void *user, vkft_graph *g, const vkft_model_site *site,
                             vkft_value *x, vkft_err *err)
{
    vkft_method *m = user;
    bool ff;
    if (!ia3_wants(m, m->impl, site, false, &ff) || !ff) return VKFT_OK;
    vkft_value l;
    vkft_status rc = ia3_leaf(m, g, site, true, &l, err);
    if (rc) return rc;
    vkft_value xs = vkft_graph_op1(g, VKFT_OP_MUL, NULL, (vkft_value[]){*x, l}, 2);
    if (xs == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "ia3 at %s: %s", site->path,
                            vkft_graph_error(g));
    *x = xs;
    return VKFT_OK;
}

static vkft_status ia3_output(void *user, vkft_graph *g, const vkft_model_site *site,
                              vkft_value x, vkft_value *y, vkft_err *err)
{
    (void)x;
    vkft_method *m = user;
    bool ff;
    if (!ia3_wants(m, m->impl, site, true, &ff) || ff) return VKFT_OK;
    vkft_value l;
    vkft_status rc = ia3_leaf(m, g, site, false, &l, err);
    if (rc) return rc;
    vkft_value ys = vkft_graph_op1(g, VKFT_OP_MUL, NULL, (vkft_value[]){*y, l}, 2);
    if (ys == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "ia3 at %s: %s", site->path,
                            vkft_graph_error(g));
    *y = ys;
    return VKFT_OK;
}

static vkft_status ia3_create(vkft_method *m, vkft_err *err)
{
    vkft_ia3_state *s = m->impl;   /* from_adapter may have made it */
    if (!s && !(s = m->impl = calloc(1, sizeof *s)))
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    s->sites = calloc(VKFT_IA3_MAX_SITES, sizeof *s->sites);
    s->target_hits = calloc((size_t)(m->spec.targets.n > 0 ? m->spec.targets.n : 1),
                            sizeof(int));
    if (!s->sites || !s->target_hits) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
    m->hooks.param_role = vkft_method_frozen_role;
    m->hooks.linear_input = ia3_input;
    m->hooks.linear = ia3_output;
    return VKFT_OK;
}

static void ia3_destroy(vkft_method *m)
{
    vkft_ia3_state *s = m->impl;
    if (!s) return;
    for (int i = 0; i < s->n_owned_ff; i++) free(s->owned_ff[i]);
    free(s->owned_ff);
    free(s->sites);
    free(s->target_hits);
    free(s);
}

static vkft_status ia3_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err)
{
    vkft_ia3_state *s = m->impl;
    for (int i = 0; i < m->spec.targets.n && !m->spec.all_linear; i++)
        if (!s->target_hits[i])
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                                "method.targets: '%s' matches no linear layer of this %s model "
                                "(its layers: %s)", m->spec.targets.items[i], m->cfg.model_type,
                                m->cfg.arch == VKFT_ARCH_GPT2 ? "c_attn, c_proj, c_fc, lm_head"
                                : "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
                                  "down_proj, lm_head");
    for (int i = 0; i < m->spec.feedforward.n; i++) {
        bool hit = false;
        for (int k = 0; k < s->n_sites && !hit; k++) {
            size_t fl = strlen(m->spec.feedforward.items[i]), pl = strlen(s->sites[k].site);
            hit = s->sites[k].feedforward && pl >= fl &&
                  !strcmp(s->sites[k].site + pl - fl, m->spec.feedforward.items[i]);
        }
        if (!hit)
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.feedforward: '%s' matches "
                                "no targeted layer", m->spec.feedforward.items[i]);
    }
    if (s->n_sites == 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "method.targets: no layer selected");
    (void)b;
    return VKFT_OK;
}

static vkft_status ia3_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                   vkft_err *err)
{
    (void)seed;   /* deterministic: every vector starts at 1 */
    vkft_ia3_state *s = m->impl;
    if (m->spec.init) return vkft_ia3_load(s, m->spec.init, plan, err);
    int64_t most = 1;
    for (int i = 0; i < s->n_sites; i++)
        if (s->sites[i].n > most) most = s->sites[i].n;
    float *ones = malloc((size_t)most * sizeof *ones);
    if (!ones) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < most; i++) ones[i] = 1.0f;
    vkft_status rc = VKFT_OK;
    for (int i = 0; i < s->n_sites && !rc; i++)
        rc = vkft_method_upload(plan, s->sites[i].name, ones, (size_t)s->sites[i].n, err);
    free(ones);
    return rc;
}

static vkft_status ia3_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                            const char *dir, const char *base_model, vkft_err *err)
{
    (void)b;
    vkft_ia3_config c = {
        .targets = (const char *const *)m->spec.targets.items, .n_targets = m->spec.targets.n,
        .feedforward = (const char *const *)m->spec.feedforward.items,
        .n_feedforward = m->spec.feedforward.n, .all_linear = m->spec.all_linear,
        .fan_in_fan_out = m->cfg.arch == VKFT_ARCH_GPT2, .base_model = base_model,
    };
    return vkft_ia3_save(m->impl, &c, plan, dir, err);
}

static vkft_status ia3_from_adapter(vkft_method *m, const vkft_json *cfg, const char *dir,
                                    vkft_err *err)
{
    vkft_ia3_state *s = calloc(1, sizeof *s);
    if (!s) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    m->impl = s;
    return vkft_ia3_read_config(m, s, cfg, dir, err);
}

const vkft_method_ops vkft_method_ia3_ops = {
    .output = "adapter",
    .peft_type = "IA3",
    .from_adapter = ia3_from_adapter,
    .create = ia3_create,
    .destroy = ia3_destroy,
    .after_build = ia3_after_build,
    .init_params = ia3_init_params,
    .save = ia3_save,
};
