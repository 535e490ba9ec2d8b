/* CPU kernels of the elementwise ops (see ops/elementwise.c for their definitions). */
#include <math.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/vmath.h"
#include "ops/elementwise.h"

VKFT_CPU_KERNEL(fill) {
    (void)cpu;
    (void)err;
    const vkft_fill_params *p = call->params;
    vkft_tensor *o = call->out[0];
    int64_t n = vkft_desc_numel(&o->desc);
    if (p->value == 0.0f && !signbit(p->value)) {   /* +0.0f and int 0 are all-zero bits */
        memset(o->host, 0, (size_t)n * 4);
    } else if (o->desc.dtype == VKFT_I32) {
        int32_t v = (int32_t)p->value, *d = vkft_cpu_i32(o);
        for (int64_t i = 0; i < n; i++) d[i] = v;
    } else {
        float *d = vkft_cpu_f32(o);
        for (int64_t i = 0; i < n; i++) d[i] = p->value;
    }
    return VKFT_OK;
}

typedef struct {
    const float *x;
    float *y;
    float alpha, beta;
} scale_job;

static void scale_range(void *ctx, int64_t b, int64_t e) {
    scale_job *j = ctx;
    vkft_f4 al = vkft_f4_splat(j->alpha), be = vkft_f4_splat(j->beta);
    int64_t i = b;
    for (; i + 4 <= e; i += 4) vkft_f4_store(j->y + i, al * vkft_f4_load(j->x + i) + be);
    for (; i < e; i++) j->y[i] = j->alpha * j->x[i] + j->beta;
}

VKFT_CPU_KERNEL(scale) {
    (void)err;
    const vkft_scale_params *p = call->params;
    scale_job j = {vkft_cpu_f32(call->in[0]), vkft_cpu_f32(call->out[0]), p->alpha, p->beta};
    vkft_parallel_for(cpu->pool, vkft_desc_numel(&call->out[0]->desc), 1 << 16, scale_range, &j);
    return VKFT_OK;
}

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } binary_kind;

typedef struct {
    const float *a, *b;
    float *o;
    binary_kind kind;
    int64_t shape[VKFT_MAX_DIMS], sa[VKFT_MAX_DIMS], sb[VKFT_MAX_DIMS];
    bool flat;  /* a, b and o all have the same shape */
} binary_job;

static inline float apply(binary_kind k, float a, float b) {
    switch (k) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    default: return a / b;
    }
}

/* The same-shape case, four floats at a time (a loop per kind: -O2 does not unswitch). */
#define FLAT_LOOP(op)                                                                         \
    do {                                                                                      \
        for (; i + 4 <= end; i += 4)                                                          \
            vkft_f4_store(j->o + i, vkft_f4_load(j->a + i) op vkft_f4_load(j->b + i));       \
        for (; i < end; i++) j->o[i] = j->a[i] op j->b[i];                                    \
    } while (0)

static void flat_range(const binary_job *j, int64_t begin, int64_t end) {
    int64_t i = begin;
    switch (j->kind) {
    case BIN_ADD: FLAT_LOOP(+); break;
    case BIN_SUB: FLAT_LOOP(-); break;
    case BIN_MUL: FLAT_LOOP(*); break;
    default: FLAT_LOOP(/); break;
    }
}

static void binary_range(void *ctx, int64_t begin, int64_t end) {
    binary_job *j = ctx;
    if (j->flat) {
        flat_range(j, begin, end);
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        int64_t r = i, ia = 0, ib = 0;
        for (int d = VKFT_MAX_DIMS - 1; d >= 0; d--) {
            int64_t c = r % j->shape[d];
            r /= j->shape[d];
            ia += c * j->sa[d];
            ib += c * j->sb[d];
        }
        j->o[i] = apply(j->kind, j->a[ia], j->b[ib]);
    }
}

static vkft_status binary(vkft_cpu *cpu, const vkft_op_call *call, binary_kind kind) {
    const vkft_desc *out = &call->out[0]->desc;
    binary_job j = {.a = vkft_cpu_f32(call->in[0]), .b = vkft_cpu_f32(call->in[1]),
                    .o = vkft_cpu_f32(call->out[0]), .kind = kind};
    j.flat = vkft_desc_equal(&call->in[0]->desc, out) && vkft_desc_equal(&call->in[1]->desc, out);
    int64_t sa[VKFT_MAX_DIMS], sb[VKFT_MAX_DIMS];
    vkft_bcast_strides(&call->in[0]->desc, out, sa);
    vkft_bcast_strides(&call->in[1]->desc, out, sb);
    int lead = VKFT_MAX_DIMS - out->ndim;  /* left-pad to 4 dims */
    for (int d = 0; d < VKFT_MAX_DIMS; d++) {
        j.shape[d] = d < lead ? 1 : out->shape[d - lead];
        j.sa[d] = d < lead ? 0 : sa[d - lead];
        j.sb[d] = d < lead ? 0 : sb[d - lead];
    }
    vkft_parallel_for(cpu->pool, vkft_desc_numel(out), 1 << 15, binary_range, &j);
    return VKFT_OK;
}

VKFT_CPU_KERNEL(add) { (void)err; return binary(cpu, call, BIN_ADD); }
VKFT_CPU_KERNEL(sub) { (void)err; return binary(cpu, call, BIN_SUB); }
VKFT_CPU_KERNEL(mul) { (void)err; return binary(cpu, call, BIN_MUL); }
VKFT_CPU_KERNEL(div) { (void)err; return binary(cpu, call, BIN_DIV); }

typedef struct {
    const float *x;
    float *o;
    int64_t in_shape[VKFT_MAX_DIMS], out_shape[VKFT_MAX_DIMS];
} sum_to_job;

/* Each output element sums its inputs in row-major order of the reduced coordinates. */
static void sum_to_range(void *ctx, int64_t begin, int64_t end) {
    sum_to_job *j = ctx;
    int64_t red = 1, in_strides[VKFT_MAX_DIMS], s = 1;
    for (int d = VKFT_MAX_DIMS - 1; d >= 0; d--) {
        in_strides[d] = s;
        s *= j->in_shape[d];
        if (j->out_shape[d] == 1) red *= j->in_shape[d];
    }
    for (int64_t o = begin; o < end; o++) {
        int64_t base = 0, r = o;
        for (int d = VKFT_MAX_DIMS - 1; d >= 0; d--) {
            int64_t c = r % j->out_shape[d];
            r /= j->out_shape[d];
            base += c * in_strides[d];
        }
        float acc = 0.0f;
        for (int64_t k = 0; k < red; k++) {
            int64_t idx = base, rk = k;
            for (int d = VKFT_MAX_DIMS - 1; d >= 0; d--) {
                if (j->out_shape[d] != 1) continue;
                idx += rk % j->in_shape[d] * in_strides[d];
                rk /= j->in_shape[d];
            }
            acc += j->x[idx];
        }
        j->o[o] = acc;
    }
}

VKFT_CPU_KERNEL(sum_to) {
    (void)err;
    const vkft_desc *in = &call->in[0]->desc, *out = &call->out[0]->desc;
    sum_to_job j = {.x = vkft_cpu_f32(call->in[0]), .o = vkft_cpu_f32(call->out[0])};
    int64_t os[VKFT_MAX_DIMS];
    vkft_bcast_pad(out, in->ndim, os);
    int lead = VKFT_MAX_DIMS - in->ndim;
    for (int d = 0; d < VKFT_MAX_DIMS; d++) {
        j.in_shape[d] = d < lead ? 1 : in->shape[d - lead];
        j.out_shape[d] = d < lead ? 1 : os[d - lead];
    }
    vkft_parallel_for(cpu->pool, vkft_desc_numel(out), 64, sum_to_range, &j);
    return VKFT_OK;
}
