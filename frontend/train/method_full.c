/* Full fine-tuning: every model parameter is trainable (an f32 master copy with AdamW state);
 * the result is a Hugging Face model folder. */
#include "train/method_impl.h"

static vkft_role full_role(void *user, const char *name, vkft_model_param_kind kind)
{
    (void)user;
    (void)name;
    return kind == VKFT_PARAM_BUFFER ? VKFT_ROLE_WEIGHT : VKFT_ROLE_TRAINABLE;
}

static vkft_status full_create(vkft_method *m, vkft_err *err)
{
    (void)err;
    m->hooks.param_role = full_role;
    return VKFT_OK;
}

static vkft_status full_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                             const char *dir, const char *base_model, vkft_err *err)
{
    (void)m;
    (void)base_model;
    return vkft_model_save(b, plan, dir, NULL, err);
}

const vkft_method_ops vkft_method_full_ops = {
    .output = "model",
    .create = full_create,
    .save = full_save,
};
