/*
 * (IA)³ state and its PEFT adapter folder (method_ia3.c computes; this file keeps the sites
 * and reads / writes adapter_config.json (peft_type "IA3") + adapter_model.safetensors with
 * tensors "base_model.model.<site>.ia3_l" F32 [out, 1] (output targets) / [1, in]
 * (feed-forward targets), as peft/tuners/ia3 saves them).
 */
#ifndef VKFT_IA3_PEFT_H
#define VKFT_IA3_PEFT_H

#include "train/method_impl.h"

#define VKFT_IA3_MAX_SITES 4096

typedef struct vkft_ia3_site {
    char site[160];             /* module path */
    char name[200];             /* leaf / tensor name */
    int64_t n;                  /* out (output target) or in (feed-forward target) */
    bool feedforward;
} vkft_ia3_site;

typedef struct vkft_ia3_state {
    vkft_ia3_site *sites;
    int n_sites;
    int *target_hits;           /* per target: sites it matched */
    char **owned_ff;            /* spec.feedforward's strings when read from an adapter */
    int n_owned_ff;
} vkft_ia3_state;

/* Index of the site with module path `site`, or -1. */
int vkft_ia3_find(const vkft_ia3_state *s, const char *site);

typedef struct vkft_ia3_config {
    const char *const *targets;
    int n_targets;
    const char *const *feedforward;
    int n_feedforward;
    bool all_linear;            /* targets is the single "all-linear" */
    bool fan_in_fan_out;        /* GPT-2 Conv1D */
    const char *base_model;
} vkft_ia3_config;

/* Downloads every site's vector and writes dir/adapter_config.json and
 * dir/adapter_model.safetensors (each atomically; dir is created). */
vkft_status vkft_ia3_save(const vkft_ia3_state *s, const vkft_ia3_config *c, vkft_plan *plan,
                          const char *dir, vkft_err *err);
/* Uploads every site's vector from dir/adapter_model.safetensors (a missing tensor or another
 * shape fails naming it). */
vkft_status vkft_ia3_load(const vkft_ia3_state *s, const char *dir, vkft_plan *plan,
                          vkft_err *err);
/* From a parsed adapter_config.json: m->spec's targets (all-linear or a list; a regex string is
 * refused) and feedforward (owned by s). */
vkft_status vkft_ia3_read_config(vkft_method *m, vkft_ia3_state *s, const vkft_json *cfg,
                                 const char *dir, vkft_err *err);

#endif
