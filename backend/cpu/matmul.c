/*
 * CPU kernel of MATMUL (row in ops/matmul.c): OpenBLAS cblas_sgemm per batch, with beta = 1 to
 * add C0. Also the naive reference the tests compare the cblas path against (cpu/matmul_ref.h).
 */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/matmul_ref.h"

void vkft_cpu_matmul_naive(const vkft_matmul_dims *d, const float *a, const float *b, float *c,
                           float alpha, bool accumulate) {
    for (int64_t bt = 0; bt < d->batch; bt++) {
        const float *ab = a + bt * d->a_bstride, *bb = b + bt * d->b_bstride;
        float *cb = c + bt * d->c_bstride;
        for (int64_t i = 0; i < d->m; i++)
            for (int64_t j = 0; j < d->n; j++) {
                double s = 0.0;
                for (int64_t l = 0; l < d->k; l++) {
                    float x = d->trans_a ? ab[l * d->m + i] : ab[i * d->k + l];
                    float y = d->trans_b ? bb[j * d->k + l] : bb[l * d->n + j];
                    s += (double)x * (double)y;
                }
                float v = alpha * (float)s;
                cb[i * d->n + j] = accumulate ? cb[i * d->n + j] + v : v;
            }
    }
}

/* f16/bf16 B is converted to f32 one panel of columns at a time into a buffer of at most
 * PANEL_ELEMS floats: a buffer for the whole of B would be fresh pages on every call (a 128 MiB
 * LM head costs ~400 ms of page faults on the VMs we measured, more than the sgemm), while a
 * 4 MiB one is reused from the heap. Panels split the columns of C, never K: every output
 * element is still one sgemm dot product over all of K. */
enum { PANEL_ELEMS = 1 << 20 };

typedef struct {
    const vkft_tensor *t;
    float *dst;
    int64_t src0, src_ld, row_len;  /* row r of the panel: row_len elements at src0 + r src_ld */
} convert_job;

static void convert_rows(void *ctx, int64_t b, int64_t e) {
    convert_job *j = ctx;
    for (int64_t r = b; r < e; r++)
        vkft_cpu_load_row(j->t, j->src0 + r * j->src_ld, j->row_len, j->dst + r * j->row_len);
}

static void sgemm(const vkft_matmul_dims *d, const float *a, const float *b, int ldb, float *c,
                  int n, float alpha, float beta) {
    int m = (int)d->m, k = (int)d->k;
    cblas_sgemm(CblasRowMajor, d->trans_a ? CblasTrans : CblasNoTrans,
                d->trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, d->trans_a ? m : k, b,
                ldb, beta, c, (int)d->n);
}

VKFT_CPU_KERNEL(matmul) {
    const vkft_matmul_params *p = call->params;
    const vkft_tensor *ta = call->in[0], *tb = call->in[1], *tc0 = call->in[2];
    vkft_matmul_dims d;
    vkft_matmul_dims_get(&ta->desc, &tb->desc, p, &d);
    if (d.m > INT_MAX || d.n > INT_MAX || d.k > INT_MAX)
        return vkft_fail(err, VKFT_ERR_LIMIT, "matmul: a dim of %lld x %lld x %lld exceeds "
                         "cblas's int", (long long)d.m, (long long)d.n, (long long)d.k);
    float *c = vkft_cpu_f32(call->out[0]);
    const float *a = vkft_cpu_f32(ta);
    float beta = 0.0f;
    if (tc0) {
        beta = 1.0f;
        if (tc0->host != call->out[0]->host) memcpy(c, tc0->host, call->out[0]->bytes);
    }
    if (tb->desc.dtype == VKFT_F32) {
        const float *b = vkft_cpu_f32(tb);
        for (int64_t bt = 0; bt < d.batch; bt++)
            sgemm(&d, a + bt * d.a_bstride, b + bt * d.b_bstride, (int)(d.trans_b ? d.k : d.n),
                  c + bt * d.c_bstride, (int)d.n, p->alpha, beta);
        return VKFT_OK;
    }
    int64_t nb = PANEL_ELEMS / d.k;
    nb = nb < 1 ? 1 : nb > d.n ? d.n : nb >= 64 ? nb / 64 * 64 : nb;
    float *buf = malloc((size_t)(nb * d.k) * sizeof(float));
    if (!buf) return vkft_fail(err, VKFT_ERR_NO_MEMORY, "matmul: out of host memory");
    bool shared = d.b_bstride == 0;
    for (int64_t pb = 0; pb < (shared ? 1 : d.batch); pb++)
        for (int64_t n0 = 0; n0 < d.n; n0 += nb) {
            int64_t w = d.n - n0 < nb ? d.n - n0 : nb;
            /* the panel: B rows n0.. ([N,K] stored) or B columns n0.. ([K,N]) as dense f32 */
            convert_job j = {tb, buf, pb * d.b_bstride + (d.trans_b ? n0 * d.k : n0),
                             d.trans_b ? d.k : d.n, d.trans_b ? d.k : w};
            vkft_parallel_for(cpu->pool, d.trans_b ? w : d.k, 64, convert_rows, &j);
            for (int64_t bt = shared ? 0 : pb; bt < (shared ? d.batch : pb + 1); bt++)
                sgemm(&d, a + bt * d.a_bstride, buf, (int)(d.trans_b ? d.k : w),
                      c + bt * d.c_bstride + n0, (int)w, p->alpha, beta);
        }
    free(buf);
    return VKFT_OK;
}
