/* PEFT adapter folders (see peft.h). */
#include "train/peft.h"

#include <stdlib.h>
#include <string.h>

#include "train/method_common.h"
#include "util/file.h"
#include "util/json.h"

vkft_status vkft_peft_lora_write(const char *dir, const vkft_peft_lora_config *cfg,
                                 vkft_st_writer *w, vkft_err *err)
{
    vkft_json_writer j;
    vkft_json_writer_init(&j, 2);
    vkft_json_obj_begin(&j);
    vkft_json_key(&j, "alpha_pattern"); vkft_json_obj_begin(&j); vkft_json_obj_end(&j);
    vkft_json_key(&j, "base_model_name_or_path"); vkft_json_str(&j, cfg->base_model);
    vkft_json_key(&j, "bias"); vkft_json_str(&j, "none");
    vkft_json_key(&j, "fan_in_fan_out"); vkft_json_bool(&j, cfg->fan_in_fan_out);
    vkft_json_key(&j, "inference_mode"); vkft_json_bool(&j, true);
    vkft_json_key(&j, "init_lora_weights"); vkft_json_bool(&j, true);
    vkft_json_key(&j, "layers_pattern"); vkft_json_null(&j);
    vkft_json_key(&j, "layers_to_transform"); vkft_json_null(&j);
    vkft_json_key(&j, "lora_alpha"); vkft_json_f64(&j, cfg->alpha);
    vkft_json_key(&j, "lora_dropout"); vkft_json_f64(&j, cfg->dropout);
    vkft_json_key(&j, "modules_to_save"); vkft_json_null(&j);
    vkft_json_key(&j, "peft_type"); vkft_json_str(&j, "LORA");
    vkft_json_key(&j, "r"); vkft_json_int(&j, cfg->r);
    vkft_json_key(&j, "rank_pattern"); vkft_json_obj_begin(&j); vkft_json_obj_end(&j);
    vkft_json_key(&j, "revision"); vkft_json_null(&j);
    vkft_json_key(&j, "target_modules");
    if (cfg->n_targets == 1 && !strcmp(cfg->targets[0], "all-linear")) {
        vkft_json_str(&j, "all-linear");
    } else {
        vkft_json_arr_begin(&j);
        for (int i = 0; i < cfg->n_targets; i++) vkft_json_str(&j, cfg->targets[i]);
        vkft_json_arr_end(&j);
    }
    vkft_json_key(&j, "task_type"); vkft_json_str(&j, "CAUSAL_LM");
    vkft_json_key(&j, "use_dora"); vkft_json_bool(&j, false);
    vkft_json_key(&j, "use_rslora"); vkft_json_bool(&j, cfg->rslora);
    vkft_json_obj_end(&j);
    return vkft_method_folder_write(dir, &j, w, err);
}

vkft_status vkft_peft_lora_read_config(const char *dir, vkft_peft_lora_info *info,
                                       vkft_err *err)
{
    char *path = vkft_path_join(dir, "adapter_config.json");
    if (!path) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_json_doc *doc = NULL;
    vkft_status rc = vkft_json_parse_file(path, &doc, err);
    if (rc) {
        free(path);
        return rc;
    }
    const vkft_json *root = vkft_json_root(doc);
    const char *type = vkft_json_get_str(vkft_json_get(root, "peft_type"));
    memset(info, 0, sizeof *info);
    double alpha = 8;
    if (!type || strcmp(type, "LORA")) {
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: peft_type is %s%s%s, not \"LORA\"",
                          path, type ? "\"" : "", type ? type : "missing", type ? "\"" : "");
    } else if (!vkft_json_get_int(vkft_json_get(root, "r"), &info->r) || info->r < 1) {
        rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: r must be an integer >= 1", path);
    } else {
        const vkft_json *a = vkft_json_get(root, "lora_alpha");
        if (a && !vkft_json_get_double(a, &alpha))
            rc = vkft_err_set(err, VKFT_ERR_INVALID_ARG, "%s: lora_alpha must be a number", path);
        info->alpha = alpha;
        vkft_json_get_bool(vkft_json_get(root, "use_rslora"), &info->rslora);
        vkft_json_get_bool(vkft_json_get(root, "fan_in_fan_out"), &info->fan_in_fan_out);
        bool dora = false;
        if (vkft_json_get_bool(vkft_json_get(root, "use_dora"), &dora) && dora)
            rc = vkft_err_set(err, VKFT_ERR_UNSUPPORTED, "%s: DoRA adapters are not supported",
                              path);
    }
    vkft_json_free(doc);
    free(path);
    return rc;
}
