/*
 * CPU kernels of the layout ops (see ops/layout.c). They move bytes and never look at values,
 * except CAST, which converts through vkft_f32_to_f16 / vkft_f32_to_bf16 (round to nearest even;
 * the Vulkan shader reproduces them bit for bit).
 *
 * SLICE, PAD and CONCAT view tensors as [outer, L, inner] around the axis: an output row
 * (one `outer` index) is zeros, then a block of A, then a block of B, then zeros, each a
 * contiguous run of bytes.
 */
#include <string.h>

#include "cpu/kernels.h"

VKFT_CPU_KERNEL(copy) {
    (void)cpu;
    (void)err;
    memcpy(call->out[0]->host, call->in[0]->host, call->out[0]->bytes);
    return VKFT_OK;
}

typedef struct {
    const vkft_tensor *x;
    vkft_tensor *y;
} cast_job;

static void cast_range(void *ctx, int64_t b, int64_t e) {
    cast_job *j = ctx;
    switch (j->y->desc.dtype) {
    case VKFT_F16:
        for (int64_t i = b; i < e; i++)
            vkft_cpu_u16(j->y)[i] = vkft_f32_to_f16(vkft_cpu_load(j->x, i));
        break;
    case VKFT_BF16:
        for (int64_t i = b; i < e; i++)
            vkft_cpu_u16(j->y)[i] = vkft_f32_to_bf16(vkft_cpu_load(j->x, i));
        break;
    default:
        for (int64_t i = b; i < e; i++) vkft_cpu_f32(j->y)[i] = vkft_cpu_load(j->x, i);
    }
}

VKFT_CPU_KERNEL(cast) {
    (void)err;
    if (call->in[0]->desc.dtype == call->out[0]->desc.dtype) return vkft_cpu_copy(cpu, call, err);
    cast_job j = {call->in[0], call->out[0]};
    vkft_parallel_for(cpu->pool, vkft_desc_numel(&call->out[0]->desc), 1 << 14, cast_range, &j);
    return VKFT_OK;
}

typedef struct {
    const uint8_t *x;
    uint8_t *y;
    size_t es;
    int64_t shape[VKFT_MAX_DIMS];   /* output shape, left-padded to 4 dims */
    int64_t stride[VKFT_MAX_DIMS];  /* input element stride of each output dim */
} transpose_job;

static void transpose_range(void *ctx, int64_t b, int64_t e) {
    transpose_job *j = ctx;
    int64_t c[VKFT_MAX_DIMS], r = b, src = 0;
    for (int d = VKFT_MAX_DIMS - 1; d >= 0; d--) {
        c[d] = r % j->shape[d];
        r /= j->shape[d];
        src += c[d] * j->stride[d];
    }
    for (int64_t i = b; i < e; i++) {
        switch (j->es) {
        case 4: memcpy(j->y + i * 4, j->x + src * 4, 4); break;
        case 2: memcpy(j->y + i * 2, j->x + src * 2, 2); break;
        default: j->y[i] = j->x[src]; break;
        }
        for (int d = VKFT_MAX_DIMS - 1; d >= 0; d--) {  /* next output coordinate */
            src += j->stride[d];
            if (++c[d] < j->shape[d]) break;
            src -= c[d] * j->stride[d];
            c[d] = 0;
        }
    }
}

VKFT_CPU_KERNEL(transpose) {
    (void)err;
    const vkft_transpose_params *p = call->params;
    const vkft_desc *in = &call->in[0]->desc;
    transpose_job j = {.x = call->in[0]->host, .y = call->out[0]->host,
                       .es = vkft_dtype_size(in->dtype)};
    int64_t in_stride[VKFT_MAX_DIMS], s = 1;
    for (int d = in->ndim - 1; d >= 0; d--) {
        in_stride[d] = s;
        s *= in->shape[d];
    }
    int lead = VKFT_MAX_DIMS - in->ndim;
    for (int d = 0; d < VKFT_MAX_DIMS; d++) {
        j.shape[d] = d < lead ? 1 : in->shape[p->perm[d - lead]];
        j.stride[d] = d < lead ? 0 : in_stride[p->perm[d - lead]];
    }
    vkft_parallel_for(cpu->pool, vkft_desc_numel(in), 1 << 14, transpose_range, &j);
    return VKFT_OK;
}

/* Output row o = zeros(z0) | a[o * a_row + a_off, + na) | b[o * b_row, + nb) | zeros(z1), in
 * bytes. */
typedef struct {
    const uint8_t *a, *b;
    uint8_t *y;
    size_t z0, na, a_row, a_off, nb, b_row, z1;
} rows_job;

static void rows_range(void *ctx, int64_t begin, int64_t end) {
    const rows_job *j = ctx;
    size_t row = j->z0 + j->na + j->nb + j->z1;
    for (int64_t o = begin; o < end; o++) {
        uint8_t *y = j->y + (size_t)o * row;
        memset(y, 0, j->z0);
        memcpy(y + j->z0, j->a + (size_t)o * j->a_row + j->a_off, j->na);
        if (j->nb) memcpy(y + j->z0 + j->na, j->b + (size_t)o * j->b_row, j->nb);
        memset(y + j->z0 + j->na + j->nb, 0, j->z1);
    }
}

/* outer = product of the dims before axis; *inner = bytes of one index along axis. */
static int64_t split_axis(const vkft_desc *d, int axis, size_t *inner) {
    int64_t outer = 1;
    *inner = vkft_dtype_size(d->dtype);
    for (int i = 0; i < d->ndim; i++) {
        if (i < axis) outer *= d->shape[i];
        if (i > axis) *inner *= (size_t)d->shape[i];
    }
    return outer;
}

static void run_rows(vkft_cpu *cpu, int64_t outer, rows_job *j) {
    size_t row = j->z0 + j->na + j->nb + j->z1;
    int64_t min_rows = row >= (1 << 16) ? 1 : (int64_t)((1 << 16) / (row ? row : 1));
    vkft_parallel_for(cpu->pool, outer, min_rows, rows_range, j);
}

VKFT_CPU_KERNEL(slice) {
    (void)err;
    const vkft_slice_params *p = call->params;
    const vkft_desc *in = &call->in[0]->desc;
    size_t inner;
    int64_t outer = split_axis(in, p->axis, &inner);
    rows_job j = {.a = call->in[0]->host, .y = call->out[0]->host,
                  .na = (size_t)p->len * inner, .a_row = (size_t)in->shape[p->axis] * inner,
                  .a_off = (size_t)p->start * inner};
    run_rows(cpu, outer, &j);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(pad) {
    (void)err;
    const vkft_pad_params *p = call->params;
    const vkft_desc *in = &call->in[0]->desc;
    size_t inner;
    int64_t outer = split_axis(in, p->axis, &inner);
    size_t na = (size_t)in->shape[p->axis] * inner;
    rows_job j = {.a = call->in[0]->host, .y = call->out[0]->host, .z0 = (size_t)p->before * inner,
                  .na = na, .a_row = na, .z1 = (size_t)p->after * inner};
    run_rows(cpu, outer, &j);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(concat) {
    (void)err;
    const vkft_concat_params *p = call->params;
    const vkft_desc *a = &call->in[0]->desc, *b = &call->in[1]->desc;
    size_t inner;
    int64_t outer = split_axis(a, p->axis, &inner);
    size_t na = (size_t)a->shape[p->axis] * inner, nb = (size_t)b->shape[p->axis] * inner;
    rows_job j = {.a = call->in[0]->host, .b = call->in[1]->host, .y = call->out[0]->host,
                  .na = na, .a_row = na, .nb = nb, .b_row = nb};
    run_rows(cpu, outer, &j);
    return VKFT_OK;
}
