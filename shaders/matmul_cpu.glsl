// The CPU-shaped matmul kernel (included by matmul_cpu.comp and matmul_cpu_plain.comp), laid
// out for lavapipe as measured in the guide (LAVAPIPE.md): C[m,n] (+)= alpha A[m,k] op(B)[k,n]
// with A and B dense row-major f32 read as RGBA32F texels (rows start on a texel); B is
// [k, n], or [n, k] with TRANS_B.
//   - an invocation owns 4 consecutive columns (one texel of B) and ROWS rows: ROWS vec4
//     accumulators; a workgroup is WG invocations side by side along n;
//   - K runs in blocks of 32. With USE_SHUFFLE, lane l of each group of 8 first fetches texel l
//     of the block's 32 A values of every row. The block then runs as 4 steps of 8 k (a loop
//     kept rolled: the unrolled block is ~75 KB of code per 32 rows): fetch the step's 8 B
//     texels of the invocation's columns (with TRANS_B 2 texels of each of its 4 columns:
//     the same count, transposed in registers), then the products, GROUP rows at a time, A
//     broadcast by subgroupShuffle (one permute). On lavapipe a texelFetch is an out-of-line
//     call around which every live vector register is spilled: grouping the fetches ahead
//     of the products spills the accumulators once per step instead of once per k (the
//     earlier layout, 16 rows fetching per k, ran ~1.3-1.4x slower). Without USE_SHUFFLE
//     every lane fetches the A texels itself, per quad inside the products (the fallback;
//     slower, same results);
//   - TRANS_A (A stored [k, m], m % 4 == 0): a texel holds 4 rows at one k; per step lane l
//     fetches the step's k number l for every 4 rows (ROWS / 4 fetches: per block as many as
//     without TRANS_A), and the products take component r % 4 of lane kk's texel. Saves the
//     transposing pack of A that full fine-tuning's weight gradients (dY^T X) needed;
//   - edges: rows and columns past the block are clamped on load and skipped on store; the
//     last K block (< 32) clamps its fetches and zeroes the values past K (selects: an `if`
//     costs lavapipe exec masks and doubled the compile time), and skips the steps wholly
//     past K. Accumulation order is fixed (k ascending): deterministic;
//   - stores: a lane-varying storage-buffer store is a loop over the lanes on lavapipe, one
//     loop per store instruction, so C's whole texels are stored as vec4s (STORE_TEXELS: 4x
//     fewer loops; a K = 16 product, bound by its stores, ran ~1.6x faster). Products that
//     read C's old texels first ran faster than the same products without, so C's texels are
//     fetched before each row's store even when C is not accumulated (TOUCH_C): as far as the
//     timings tell, a store into a line not in L1 holds up the lane loop, while the fetch
//     loads all 8 lanes' lines at once (one product alone: 1024 x 1376 x 16 ~1.4x faster,
//     K = 512..1376 ~5-8%; docs/performance.md);
//   - SPLIT_K (N <= 16, LoRA's x A^T: 4 column texels would leave half of each 8 lanes idle):
//     lanes 4-7 own the same columns as lanes 0-3 and take the second 16 k of every block
//     (lanes 0-3 the first), so a block is 2 steps, not 4; the halves are added once at the
//     end (lo + hi on every lane: commutative, so bitwise the same) and lanes 0-3 store.
#extension GL_EXT_control_flow_attributes : require
#if USE_SHUFFLE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const int ROWS = 32;    // a multiple of GROUP
layout(constant_id = 1) const int WG = 64;
layout(constant_id = 2) const bool TRANS_B = false;
layout(constant_id = 3) const bool TRANS_A = false;  // A stored [k, m] (USE_SHUFFLE only)
// C += alpha A B with C's old values read through C_IN, C's rows as whole texels (a constant:
// lavapipe runs a call under an `if` even when no lane takes it)
layout(constant_id = 4) const bool ACC_TEXELS = false;
// C's rows and the block's columns are whole texels: a lane stores its 4 values as one vec4
// (lavapipe runs one loop over the lanes per store instruction: a vec4 is one loop, not four)
layout(constant_id = 5) const bool STORE_TEXELS = false;
// lanes 4-7 of each 8 take the second half of every K block (USE_SHUFFLE, !TRANS_A)
layout(constant_id = 6) const bool SPLIT_K = false;
// C = alpha A B with C's rows as whole texels: each row's old texels are fetched through C_IN
// before its store, and dropped (see "stores" above)
layout(constant_id = 7) const bool TOUCH_C = false;
layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
layout(set = 0, binding = 2) buffer C { float c[]; };
layout(set = 0, binding = 2) buffer C4 { vec4 c4[]; };  // the same buffer (STORE_TEXELS)
layout(set = 0, binding = 3) uniform samplerBuffer C_IN;  // C as texels (ACC_TEXELS)
layout(push_constant) uniform P {
    uint m, n, k;           // this block
    uint lda4, ldb4;        // row strides of A and of B as stored, in texels
    uint ldc, c_base;       // row stride of C and the block's first element in the C binding
    uint a_bstride4, b_bstride4, c_bstride;  // between batches (texels, texels, floats)
    uint accumulate;        // 1: C += alpha A B; 0: C = alpha A B
    float alpha;
    uint rows_in_x;         // 1: workgroup x runs along the rows (m), y along n; 0: the reverse
} p;

// Rows whose accumulators stay in registers during a step's products; quads (4 k) per step
// (TRANS_A takes a step's 8 k from 8 lanes: QH is 2).
const int GROUP = 4, QH = 2;

// x with its components i (k index 4 q + i inside the block) at or past kt set to zero
vec4 zero_past(vec4 x, int q, int kt) {
    bvec4 keep = lessThan(ivec4(4 * q) + ivec4(0, 1, 2, 3), ivec4(kt));
    return mix(vec4(0.0), x, keep);
}

void main() {
    int ncol4 = int(p.n + 3u) >> 2;
    uint gcol = p.rows_in_x != 0u ? gl_WorkGroupID.y : gl_WorkGroupID.x;
    uint grow = p.rows_in_x != 0u ? gl_WorkGroupID.x : gl_WorkGroupID.y;
    uint lid = gl_LocalInvocationID.x;
    // SPLIT_K: lanes 8i + j and 8i + 4 + j own the same column texel
    int col4 = SPLIT_K ? int(gcol) * (WG / 2) + int(((lid >> 3) << 2) + (lid & 3u))
                       : int(gcol) * WG + int(lid);
    int row0 = int(grow) * ROWS, b = int(gl_WorkGroupID.z);
    int ldb4 = int(p.ldb4), m = int(p.m), k = int(p.k);
#if USE_SHUFFLE
    int lane = int(gl_SubgroupInvocationID & 7u);
    // first k (elements) of this lane's part of a block, and the steps of 8 k a lane runs
    int khalf = SPLIT_K ? 16 * (lane >> 2) : 0, kspan = SPLIT_K ? 16 : 32;
#else
    const int khalf = 0, kspan = 32;
#endif
    int arow[ROWS], acol[ROWS / 4];
    [[unroll]] for (int r = 0; r < ROWS; r++)
        arow[r] = b * int(p.a_bstride4) + min(row0 + r, m - 1) * int(p.lda4);
    [[unroll]] for (int rq = 0; rq < ROWS / 4; rq++)
        acol[rq] = b * int(p.a_bstride4) + min((row0 >> 2) + rq, (m - 1) >> 2);
    vec4 acc[ROWS];
    [[unroll]] for (int r = 0; r < ROWS; r++) acc[r] = vec4(0.0);
    int bidx = b * int(p.b_bstride4) + min(col4, ncol4 - 1), brow[4];
    [[unroll]] for (int j = 0; j < 4; j++)
        brow[j] = b * int(p.b_bstride4) + min(col4 * 4 + j, int(p.n) - 1) * ldb4;
    for (int kb = 0; kb < k; kb += 32) {
        int k4 = kb >> 2, kt = min(32, k - kb), last = ((kt + 3) >> 2) - 1;
#if USE_SHUFFLE
        vec4 av[ROWS];
        if (!TRANS_A) {
            [[unroll]] for (int r = 0; r < ROWS; r++)
                av[r] = zero_past(texelFetch(A, arow[r] + k4 + min(lane, last)), lane, kt);
        }
#endif
        [[dont_unroll]] for (int h = 0; 4 * QH * h < min(kt, kspan); h++) {
            vec4 bq[4 * QH];
            if (TRANS_B) {
                [[unroll]] for (int qq = 0; qq < QH; qq++)
                    [[unroll]] for (int j = 0; j < 4; j++) {
                        int q = QH * h + qq + (khalf >> 2);
                        bq[4 * qq + j] = zero_past(texelFetch(B, brow[j] + k4 + min(q, last)), q, kt);
                    }
            } else {
                [[unroll]] for (int kk = 0; kk < 4 * QH; kk++) {
                    int kr = 4 * QH * h + kk + khalf;
                    vec4 t = texelFetch(B, bidx + (kb + min(kr, kt - 1)) * ldb4);
                    bq[kk] = kr < kt ? t : vec4(0.0);
                }
            }
#if USE_SHUFFLE
            // TRANS_A: a texel is 4 rows at one k; lane l fetches k = the step's l-th (a step is
            // 8 k, one per lane), so a row's value is component r % 4 of lane kk's texel
            vec4 at[ROWS / 4];
            if (TRANS_A) {
                int kr = 4 * QH * h + lane, ka = (kb + min(kr, kt - 1)) * int(p.lda4);
                [[unroll]] for (int rq = 0; rq < ROWS / 4; rq++) {
                    vec4 t = texelFetch(A, acol[rq] + ka);
                    at[rq] = kr < kt ? t : vec4(0.0);
                }
            }
#endif
            [[unroll]] for (int r0 = 0; r0 < ROWS; r0 += GROUP)
                [[unroll]] for (int qq = 0; qq < QH; qq++) {
                    int q = QH * h + qq + (khalf >> 2);
#if !USE_SHUFFLE
                    vec4 aq[GROUP];
                    [[unroll]] for (int g = 0; g < GROUP; g++)
                        aq[g] = zero_past(texelFetch(A, arow[r0 + g] + k4 + min(q, last)), q, kt);
#endif
                    [[unroll]] for (int i = 0; i < 4; i++) {
                        vec4 bv = TRANS_B ? vec4(bq[4 * qq][i], bq[4 * qq + 1][i],
                                                 bq[4 * qq + 2][i], bq[4 * qq + 3][i])
                                          : bq[4 * qq + i];
                        [[unroll]] for (int g = 0; g < GROUP; g++) {
#if USE_SHUFFLE
                            int r = r0 + g;
                            float a = TRANS_A ? subgroupShuffle(at[r >> 2][r & 3], uint(4 * qq + i))
                                              : subgroupShuffle(av[r][i], uint(q));
#else
                            float a = aq[g][i];
#endif
                            acc[r0 + g] += a * bv;
                        }
                    }
                }
        }
    }
#if USE_SHUFFLE
    if (SPLIT_K) {
        [[unroll]] for (int r = 0; r < ROWS; r++) acc[r] += subgroupShuffleXor(acc[r], 4u);
        if (lane >= 4) return;
    }
#endif
    if (col4 >= ncol4) return;
    // a lane-varying storage-buffer load is a scalar loop over the lanes on lavapipe (as the
    // store is); a texel fetch takes 8 lanes' texels at once
    [[unroll]] for (int r = 0; r < ROWS; r++) {
        if (row0 + r >= m) break;
        uint base = p.c_base + uint(b) * p.c_bstride + uint(row0 + r) * p.ldc + uint(col4) * 4u;
        vec4 v = p.alpha * acc[r];
        if (ACC_TEXELS || TOUCH_C) {
            vec4 old = texelFetch(C_IN, int(base >> 2));
            // TOUCH_C: accumulate is 0, so this subtracts +0.0 (x - +0.0 == x for every x,
            // -0.0 included); the compiler cannot know that and keeps the fetch
            if (ACC_TEXELS) v += old;
            else v.x -= uintBitsToFloat(floatBitsToUint(old.x) & (0u - p.accumulate));
        }
        if (STORE_TEXELS) {
            c4[base >> 2] = v;
            continue;
        }
        [[unroll]] for (int j = 0; j < 4; j++) {
            if (col4 * 4 + j >= int(p.n)) break;
            bool add = !ACC_TEXELS && p.accumulate != 0u;
            c[base + uint(j)] = add ? c[base + uint(j)] + v[j] : v[j];
        }
    }
}
