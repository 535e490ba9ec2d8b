/*
 * QLoRA: LoRA (method_lora.c: the same branch, init, names and PEFT "LORA" adapter folder) over
 * frozen weights stored in NF4. Every linear site of the decoder layers (targeted or not; the
 * LM head and the embeddings stay as they are, as bitsandbytes' load_in_4bit leaves them)
 * becomes, through the linear_replace hook,
 *     y = MATMUL_NF4(x, codes, absmax_q, absmax2, offset)      W [out, in] dequantised on the fly
 * with four WEIGHT leaves named as bitsandbytes names them in a checkpoint:
 *     <site>.weight                u8 [out*in/2]     two 4-bit codes per byte, first one high
 *     <site>.weight.absmax         u8 [ceil(n/64)]   double-quantised block absmax
 *     <site>.weight.nested_absmax  f32 [ceil(nb/256)]
 *     <site>.weight.nested_offset  f32 [1]
 * GPT-2's Conv1D weights ([in, out] in the file) are quantised transposed, as bitsandbytes
 * stores them (Linear4bit is [out, in]).
 *
 * Loading (load_weights, after the model's own weights): a float weight (F32/F16/BF16) is read
 * to the host, quantised there by the backend's NF4_QUANTIZE kernel on a private CPU device
 * (bit for bit bitsandbytes' quantize_4bit with double quantisation), and only the packed
 * tensors go to the device: no full-precision copy of a quantised weight ever exists on it.
 * A pre-quantised bitsandbytes checkpoint (weight U8 + weight.absmax / quant_map /
 * nested_absmax / nested_quant_map / quant_state.bitsandbytes__nf4) is uploaded as it is after
 * its quant state is checked (nf4, blocksize 64, nested blocksize 256, the standard code maps).
 *
 * compute_dtype (bitsandbytes' bnb_4bit_compute_dtype) is the MATMUL_NF4's compute dtype: with
 * bf16 / f16 the input and the dequantised weight are rounded to it, the products summed in f32
 * and the result rounded once (vkft/ops.h), forward and backward (dx), as a bitsandbytes
 * Linear4bit computes; an exact emulation on every device, not a faster path. The LoRA branch
 * stays f32 and is added after that rounding (PEFT: base result back to the input's dtype,
 * then lora).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/method_impl.h"
#include "train/nf4_load.h"

static vkft_status qlora_leaf(vkft_graph *g, const char *path, const char *suffix,
                              vkft_dtype dt, int64_t n, vkft_value *out, vkft_err *err)
{
    char name[224];
    snprintf(name, sizeof name, "%s.weight%s", path, suffix);
    *out = vkft_graph_leaf(g, name, VKFT_ROLE_WEIGHT, dt, 1, &n);
    if (*out == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "qlora: %s: %s", name,
                            vkft_graph_error(g));
    return VKFT_OK;
}

/* linear_replace: the decoder's linear sites run on NF4 leaves. */
static vkft_status qlora_replace(void *user, vkft_graph *g, const vkft_model_site *site,
                                 vkft_value x, vkft_value *y, vkft_err *err)
{
    const vkft_method *m = user;
    if (site->layer < 0) return VKFT_OK;
    int64_t n = site->in * site->out;
    if (n % 2)
        return vkft_err_set(err, VKFT_ERR_SHAPE, "qlora: %s.weight has an odd element count "
                            "(%lld); NF4 packs two codes per byte", site->path, (long long)n);
    vkft_value v[4];
    vkft_status rc = qlora_leaf(g, site->path, "", VKFT_U8, n / 2, &v[0], err);
    if (!rc) rc = qlora_leaf(g, site->path, ".absmax", VKFT_U8, vkft_nf4_blocks(n), &v[1], err);
    if (!rc) rc = qlora_leaf(g, site->path, ".nested_absmax", VKFT_F32,
                             vkft_nf4_nested_blocks(n), &v[2], err);
    if (!rc) rc = qlora_leaf(g, site->path, ".nested_offset", VKFT_F32, 1, &v[3], err);
    if (rc) return rc;
    vkft_job_dtype cd = m->spec.compute_dtype;
    vkft_matmul_nf4_params p = {.n = site->out, .k = site->in, .trans = false, .alpha = 1.0f,
                                .compute = cd == VKFT_JOB_DTYPE_BF16  ? VKFT_BF16
                                           : cd == VKFT_JOB_DTYPE_F16 ? VKFT_F16
                                                                      : VKFT_F32};
    *y = vkft_graph_op1(g, VKFT_OP_MATMUL_NF4, &p,
                        (vkft_value[]){x, v[0], v[1], v[2], v[3], VKFT_NONE}, 6);
    if (*y == VKFT_NONE)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "qlora at %s: %s", site->path,
                            vkft_graph_error(g));
    return VKFT_OK;
}

static vkft_status qlora_create(vkft_method *m, vkft_err *err)
{
    vkft_status rc = vkft_method_lora_ops.create(m, err);
    if (rc) return rc;
    m->hooks.linear_replace = qlora_replace;
    return VKFT_OK;
}

static vkft_status qlora_load_weights(vkft_method *m, const vkft_model_built *b,
                                      const vkft_st *st, vkft_plan *plan, vkft_err *err)
{
    (void)m;
    vkft_nf4_loader *ld = NULL;
    vkft_status rc = vkft_nf4_loader_create(&ld, err);
    for (int i = 0; i < b->n_sites && !rc; i++) {
        const vkft_model_site *s = &b->sites[i];
        if (s->layer < 0 || s->weight != VKFT_NONE) continue;
        rc = vkft_nf4_load_site(ld, b->cfg.arch == VKFT_ARCH_GPT2, s, st, plan, err);
    }
    vkft_nf4_loader_free(ld);
    return rc;
}

static void qlora_destroy(vkft_method *m) { vkft_method_lora_ops.destroy(m); }

static vkft_status qlora_after_build(vkft_method *m, const vkft_model_built *b, vkft_err *err)
{
    return vkft_method_lora_ops.after_build(m, b, err);
}

static vkft_status qlora_init_params(vkft_method *m, vkft_plan *plan, uint64_t seed,
                                     vkft_err *err)
{
    return vkft_method_lora_ops.init_params(m, plan, seed, err);
}

static vkft_status qlora_save(const vkft_method *m, const vkft_model_built *b, vkft_plan *plan,
                              const char *dir, const char *base_model, vkft_err *err)
{
    return vkft_method_lora_ops.save(m, b, plan, dir, base_model, err);
}

/* No from_adapter: a saved QLoRA adapter is a plain PEFT LoRA folder and reloads as LoRA (over
 * the full-precision base); to continue on NF4 weights, start a qlora job with method.init. */
const vkft_method_ops vkft_method_qlora_ops = {
    .output = "adapter",
    .peft_type = "LORA",
    .create = qlora_create,
    .destroy = qlora_destroy,
    .after_build = qlora_after_build,
    .load_weights = qlora_load_weights,
    .init_params = qlora_init_params,
    .save = qlora_save,
};
