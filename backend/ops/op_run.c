/* Eager op execution: validate a call against its row, then hand it to the device's backend. */
#include <stdio.h>
#include <string.h>

#include "ops/op_def.h"

vkft_status vkft_infer_expect_dtype(const char *op, const char *what, const vkft_desc *d,
                                    vkft_dtype want, vkft_err *err) {
    if (d->dtype == want) return VKFT_OK;
    return vkft_fail(err, VKFT_ERR_DTYPE, "%s: %s must be %s, got %s", op, what,
                     vkft_dtype_name(want), vkft_dtype_name(d->dtype));
}

vkft_status vkft_infer_expect_same(const char *op, const char *what_a, const vkft_desc *a,
                                   const char *what_b, const vkft_desc *b, vkft_err *err) {
    if (vkft_desc_equal(a, b)) return VKFT_OK;
    char sa[96], sb[96];
    return vkft_fail(err, a->dtype != b->dtype ? VKFT_ERR_DTYPE : VKFT_ERR_SHAPE,
                     "%s: %s %s and %s %s must have the same shape and dtype", op, what_a,
                     vkft_desc_str(a, sa, sizeof sa), what_b, vkft_desc_str(b, sb, sizeof sb));
}

vkft_status vkft_op_infer(vkft_op op, const void *params, const vkft_desc *const *in, int n_in,
                          vkft_desc *out, int n_out, char *msg, size_t msg_len) {
    vkft_err err = {{0}};
    const vkft_op_def *def = vkft_op_def_get(op);
    vkft_status st = VKFT_OK;
    if (!def) {
        st = vkft_fail(&err, VKFT_ERR_INVALID_ARG, "unknown op %d", (int)op);
    } else if (n_in != def->n_in || n_out != def->n_out) {
        st = vkft_fail(&err, VKFT_ERR_INVALID_ARG, "%s takes %d inputs and %d outputs, not %d/%d",
                       def->name, def->n_in, def->n_out, n_in, n_out);
    } else if (def->params_size && !params) {
        st = vkft_fail(&err, VKFT_ERR_INVALID_ARG, "%s: params are required", def->name);
    } else {
        for (int i = 0; i < n_in && !st; i++) {
            if (!in[i] && !(def->optional_in >> i & 1))
                st = vkft_fail(&err, VKFT_ERR_INVALID_ARG, "%s: input %d is required", def->name,
                               i);
            else if (in[i])
                st = vkft_desc_check(in[i], &err);
        }
        if (!st) st = def->infer(params, in, out, &err);
    }
    if (st && msg && msg_len) snprintf(msg, msg_len, "%s", err.msg);
    return st;
}

vkft_status vkft_op_call_check(const vkft_op_call *call, vkft_err *err) {
    const vkft_op_def *def = vkft_op_def_get(call->op);
    if (!def) return vkft_fail(err, VKFT_ERR_INVALID_ARG, "unknown op %d", (int)call->op);
    if (call->n_in != def->n_in || call->n_out != def->n_out)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s takes %d inputs and %d outputs, not %d/%d",
                         def->name, def->n_in, def->n_out, call->n_in, call->n_out);
    if (def->params_size && !call->params)
        return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: params are required", def->name);
    const vkft_desc *in[VKFT_OP_MAX_IN];
    vkft_desc out[VKFT_OP_MAX_OUT];
    memset(out, 0, sizeof out);
    vkft_device *dev = NULL;
    for (int i = 0; i < def->n_in; i++) {
        vkft_tensor *t = call->in[i];
        if (!t && !(def->optional_in >> i & 1))
            return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: input %d is required", def->name, i);
        in[i] = t ? &t->desc : NULL;
        if (t && dev && t->dev != dev)
            return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: tensors of two devices", def->name);
        if (t) dev = t->dev;
    }
    for (int i = 0; i < def->n_out; i++) {
        vkft_tensor *t = call->out[i];
        if (!t && !(def->optional_out >> i & 1))
            return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: output %d is required", def->name,
                             i);
        if (t) out[i] = t->desc;  /* FILL reads its output desc; others overwrite it */
        if (t && dev && t->dev != dev)
            return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: tensors of two devices", def->name);
    }
    vkft_status st = def->infer(call->params, in, out, err);
    if (st) return st;
    for (int i = 0; i < def->n_out; i++) {
        vkft_tensor *t = call->out[i];
        if (!t) continue;
        if (!vkft_desc_equal(&t->desc, &out[i])) {
            char want[96], got[96];
            return vkft_fail(err, VKFT_ERR_SHAPE, "%s: output %d must be %s, got %s", def->name,
                             i, vkft_desc_str(&out[i], want, sizeof want),
                             vkft_desc_str(&t->desc, got, sizeof got));
        }
        for (int j = 0; j < def->n_in; j++)
            if (call->in[j] == t && def->out_alias[i] != j)
                return vkft_fail(err, VKFT_ERR_INVALID_ARG,
                                 "%s: output %d may not be the same tensor as input %d",
                                 def->name, i, j);
        for (int j = 0; j < i; j++)
            if (call->out[j] == t)
                return vkft_fail(err, VKFT_ERR_INVALID_ARG, "%s: outputs %d and %d are one tensor",
                                 def->name, j, i);
    }
    return VKFT_OK;
}

vkft_status vkft_op_run(vkft_device *dev, vkft_op op, const void *params,
                        vkft_tensor *const *in, int n_in, vkft_tensor *const *out, int n_out) {
    if (!dev) return VKFT_ERR_INVALID_ARG;
    const vkft_op_def *def = vkft_op_def_get(op);
    if (!def) return vkft_fail(&dev->err, VKFT_ERR_INVALID_ARG, "unknown op %d", (int)op);
    /* Trailing optional inputs/outputs may be left out by the caller. */
    vkft_tensor *in_full[VKFT_OP_MAX_IN] = {0}, *out_full[VKFT_OP_MAX_OUT] = {0};
    if (n_in < 0 || n_in > def->n_in || n_out < 0 || n_out > def->n_out || (n_in && !in) ||
        (n_out && !out))
        return vkft_fail(&dev->err, VKFT_ERR_INVALID_ARG,
                         "%s takes %d inputs and %d outputs, not %d/%d", def->name, def->n_in,
                         def->n_out, n_in, n_out);
    for (int i = 0; i < n_in; i++) in_full[i] = in[i];
    for (int i = 0; i < n_out; i++) out_full[i] = out[i];
    vkft_op_call call = {.op = op, .params = params, .in = in_full, .n_in = def->n_in,
                         .out = out_full, .n_out = def->n_out};
    vkft_status st = vkft_op_call_check(&call, &dev->err);
    if (st) return st;
    for (int i = 0; i < def->n_in; i++)
        if (in_full[i] && in_full[i]->dev != dev)
            return vkft_fail(&dev->err, VKFT_ERR_INVALID_ARG, "%s: input %d is on another device",
                             def->name, i);
    for (int i = 0; i < def->n_out; i++)
        if (out_full[i] && out_full[i]->dev != dev)
            return vkft_fail(&dev->err, VKFT_ERR_INVALID_ARG, "%s: output %d is on another device",
                             def->name, i);
    return dev->backend->run_op(dev, &call);
}
