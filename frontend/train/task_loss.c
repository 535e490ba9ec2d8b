/* Per-task losses (see task_loss.h). */
#include "train/task_loss.h"

#include <stdio.h>

vkft_status vkft_task_loss_build(vkft_graph *g, const vkft_model_built *m, int n_tasks,
                                 vkft_value *values, vkft_err *err)
{
    if (n_tasks > VKFT_MAX_TASKS)
        return vkft_err_set(err, VKFT_ERR_LIMIT, "data: per-task losses for at most %d "
                            "datasets (this job has %d)", VKFT_MAX_TASKS, n_tasks);
    const vkft_desc *ld = vkft_graph_value_desc(g, m->labels);
    for (int k = 0; k < n_tasks; k++) {
        char name[64];
        snprintf(name, sizeof name, "task_weights:%d", k);
        vkft_value w = vkft_graph_leaf(g, name, VKFT_ROLE_INPUT, VKFT_F32, 1, ld->shape);
        vkft_cross_entropy_params cp = {.ignore_index = VKFT_IGNORE_INDEX};
        vkft_value out[3] = {0, 0, VKFT_NONE};
        if (w == VKFT_NONE ||
            vkft_graph_op(g, VKFT_OP_CROSS_ENTROPY, &cp, (vkft_value[]){m->logits, m->labels, w},
                          3, out, 3))
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "per-task loss: %s",
                                vkft_graph_error(g));
        char ls[64], ct[64];
        snprintf(ls, sizeof ls, "task_loss_sum:%d", k);
        snprintf(ct, sizeof ct, "task_count:%d", k);
        if (vkft_graph_keep(g, out[0], ls) || vkft_graph_keep(g, out[1], ct))
            return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "per-task loss: %s",
                                vkft_graph_error(g));
        if (values) {
            values[2 * k] = out[0];
            values[2 * k + 1] = out[1];
        }
    }
    return VKFT_OK;
}

vkft_status vkft_task_loss_upload(vkft_plan *plan, const vkft_batch *b, int64_t n, int n_tasks,
                                  float *tw, vkft_err *err)
{
    for (int k = 0; k < n_tasks; k++) {
        float *w = tw + (size_t)k * (size_t)n;
        for (int64_t i = 0; i < n; i++) w[i] = b->token_task[i] == k ? b->weights[i] : 0.0f;
        char name[64];
        snprintf(name, sizeof name, "task_weights:%d", k);
        if (vkft_plan_upload(plan, name, w, (size_t)n * sizeof *w))
            return vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
    }
    return VKFT_OK;
}

vkft_status vkft_task_loss_read(vkft_plan *plan, const char *prefix, int n_tasks, double *sums,
                                double *counts, vkft_err *err)
{
    for (int k = 0; k < n_tasks; k++) {
        char ls[80], ct[80];
        float s, c;
        snprintf(ls, sizeof ls, "%stask_loss_sum:%d", prefix, k);
        snprintf(ct, sizeof ct, "%stask_count:%d", prefix, k);
        if (vkft_plan_download(plan, ls, &s, sizeof s) ||
            vkft_plan_download(plan, ct, &c, sizeof c))
            return vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(plan));
        sums[k] += s;
        counts[k] += c;
    }
    return VKFT_OK;
}
