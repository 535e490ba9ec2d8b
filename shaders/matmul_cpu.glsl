// The CPU-shaped matmul kernel (included by matmul_cpu.comp and matmul_cpu_plain.comp), laid
// out for lavapipe as measured in the guide (LAVAPIPE.md): C[m,n] (+)= alpha A[m,k] op(B)[k,n]
// with A and B dense row-major f32 read as RGBA32F texels (rows start on a texel); B is
// [k, n], or [n, k] with TRANS_B (then an invocation fetches one texel of each of its 4 columns
// per 4 k: the same number of fetches, transposed in registers).
//   - an invocation owns 4 consecutive columns (one texel of B) and ROWS rows: ROWS vec4
//     accumulators; a workgroup is WG invocations side by side along n;
//   - K runs in steps of 32, unrolled by hand (the JIT neither unrolls nor hoists). With
//     USE_SHUFFLE, lane l of each group of 8 fetches texel l of the step's 32 A values of every
//     row, and step kk broadcasts component kk%4 of lane kk/4 with a constant-index
//     subgroupShuffle (a single register permute); without it every lane fetches the same A
//     texels itself (a lane-uniform texel fetch: more fetches, no subgroup operation);
//   - edges: rows and columns past the block are clamped on load and skipped on store; the
//     K tail (< 32) runs its whole quads
//     the same way (the quad index, and so the shuffle's lane, dynamic) and the rest one k at a time. Accumulation order is fixed (k ascending): deterministic.
#if USE_SHUFFLE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const int ROWS = 16;
layout(constant_id = 1) const int WG = 64;
layout(constant_id = 2) const bool TRANS_B = false;
layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
layout(set = 0, binding = 2) buffer C { float c[]; };
layout(push_constant) uniform P {
    uint m, n, k;           // this block
    uint lda4, ldb4;        // row strides of A and of B as stored, in texels
    uint ldc, c_base;       // row stride of C and the block's first element in the C binding
    uint a_bstride4, b_bstride4, c_bstride;  // between batches (texels, texels, floats)
    uint accumulate;        // 1: C += alpha A B; 0: C = alpha A B
    float alpha;
} p;

#if USE_SHUFFLE
#define A_LOAD(q)                                                                              \
    for (int r = 0; r < ROWS; r++) av[r] = texelFetch(A, arow[r] + k4 + lane);
#define A_VAL(r, kk) subgroupShuffle(av[r][(kk) & 3], uint(kk) >> 2)
#define QUAD(q) B_QUAD(q) STEP(4 * (q)) STEP(4 * (q) + 1) STEP(4 * (q) + 2) STEP(4 * (q) + 3)
#else
#define A_LOAD(q)
#define A_VAL(r, kk) av[r][(kk) & 3]
#define QUAD(q)                                                                                \
    for (int r = 0; r < ROWS; r++) av[r] = texelFetch(A, arow[r] + k4 + (q));                  \
    B_QUAD(q) STEP(4 * (q)) STEP(4 * (q) + 1) STEP(4 * (q) + 2) STEP(4 * (q) + 3)
#endif

// TRANS_B: the 4 k of quad q for each of the invocation's 4 columns
#define B_QUAD(q)                                                                              \
    if (TRANS_B)                                                                               \
        for (int j = 0; j < 4; j++) bt[j] = texelFetch(B, brow[j] + k4 + (q));
// The tail's quad q (not a constant): the lane to shuffle from is q, the component a constant
#if USE_SHUFFLE
#define T_A_LOAD(q)
#define T_A_VAL(r, c, q) subgroupShuffle(av[r][c], uint(q))
#else
#define T_A_LOAD(q)                                                                            \
    for (int r = 0; r < ROWS; r++) av[r] = texelFetch(A, arow[r] + k4 + (q));
#define T_A_VAL(r, c, q) av[r][c]
#endif
#define T_STEP(q, c)                                                                           \
    {                                                                                          \
        vec4 bv;                                                                               \
        if (TRANS_B)                                                                           \
            bv = vec4(bt[0][c], bt[1][c], bt[2][c], bt[3][c]);                                 \
        else                                                                                   \
            bv = texelFetch(B, bidx + (4 * (q) + (c)) * ldb4);                                 \
        for (int r = 0; r < ROWS; r++) acc[r] += T_A_VAL(r, c, q) * bv;                        \
    }
#define T_QUAD(q) T_A_LOAD(q) B_QUAD(q) T_STEP(q, 0) T_STEP(q, 1) T_STEP(q, 2) T_STEP(q, 3)
#define STEP(kk)                                                                               \
    {                                                                                          \
        vec4 bv;                                                                               \
        if (TRANS_B) {                                                                         \
            int c_ = (kk) & 3;                                                                 \
            bv = vec4(bt[0][c_], bt[1][c_], bt[2][c_], bt[3][c_]);                             \
        } else {                                                                               \
            bv = texelFetch(B, bidx + (kk) * ldb4);                                            \
        }                                                                                      \
        for (int r = 0; r < ROWS; r++) acc[r] += A_VAL(r, kk) * bv;                            \
    }

void main() {
    int ncol4 = int(p.n + 3u) >> 2;
    int col4 = int(gl_WorkGroupID.x) * WG + int(gl_LocalInvocationID.x);
    int row0 = int(gl_WorkGroupID.y) * ROWS, b = int(gl_WorkGroupID.z);
    int ldb4 = int(p.ldb4), m = int(p.m), k = int(p.k);
#if USE_SHUFFLE
    int lane = int(gl_SubgroupInvocationID & 7u);
#endif
    int arow[ROWS];
    for (int r = 0; r < ROWS; r++)
        arow[r] = b * int(p.a_bstride4) + min(row0 + r, m - 1) * int(p.lda4);
    vec4 acc[ROWS], av[ROWS];
    for (int r = 0; r < ROWS; r++) acc[r] = vec4(0.0);
    int bidx = b * int(p.b_bstride4) + min(col4, ncol4 - 1), brow[4];
    for (int j = 0; j < 4; j++)
        brow[j] = b * int(p.b_bstride4) + min(col4 * 4 + j, int(p.n) - 1) * ldb4;
    vec4 bt[4];
    int kfull = k & ~31;
    for (int k4 = 0; k4 < kfull >> 2; k4 += 8) {
        A_LOAD(0)
        QUAD(0) QUAD(1) QUAD(2) QUAD(3) QUAD(4) QUAD(5) QUAD(6) QUAD(7)
        if (!TRANS_B) bidx += 32 * ldb4;
    }
    int kt = k - kfull;
    if (kt > 0) {
        int k4 = kfull >> 2, last = ((kt + 3) >> 2) - 1;
#if USE_SHUFFLE
        for (int r = 0; r < ROWS; r++) av[r] = texelFetch(A, arow[r] + k4 + min(lane, last));
#endif
        // whole quads of the tail as in the main loop (a rank-16 LoRA matmul has K = 16 and
        // nothing else), then the last k one by one
        int nq = kt >> 2;
        for (int q = 0; q < nq; q++) {
            T_QUAD(q)
        }
        for (int t = nq * 4; t < kt; t++) {
            vec4 bv;
            if (TRANS_B) {
                for (int j = 0; j < 4; j++) bv[j] = texelFetch(B, brow[j] + k4 + (t >> 2))[t & 3];
            } else {
                bv = texelFetch(B, bidx + t * ldb4);
            }
            for (int r = 0; r < ROWS; r++) {
#if USE_SHUFFLE
                float a = subgroupShuffle(av[r][t & 3], uint(t) >> 2);
#else
                float a = texelFetch(A, arow[r] + k4 + (t >> 2))[t & 3];
#endif
                acc[r] += a * bv;
            }
        }
    }
    if (col4 >= ncol4) return;
    for (int r = 0; r < ROWS; r++) {
        if (row0 + r >= m) break;
        uint base = p.c_base + uint(b) * p.c_bstride + uint(row0 + r) * p.ldc + uint(col4) * 4u;
        for (int j = 0; j < 4; j++) {
            if (col4 * 4 + j >= int(p.n)) break;
            float v = p.alpha * acc[r][j];
            c[base + uint(j)] = p.accumulate != 0u ? c[base + uint(j)] + v : v;
        }
    }
}
