// Shared part of the CPU-shaped attention kernels (attention_cpu*.comp; design in
// backend/vulkan/ops_attention.c). A workgroup is 8 lanes (one subgroup on lavapipe; on a wider
// subgroup, its first 8 lanes) that all work on the same R rows (queries, or keys in the dk/dv
// pass). Rows of q, k, v, dO (D floats, D % 4 == 0) are RGBA32F texel buffers, read two ways:
//   - row-distributed: lane l holds texels l, l + 8, ... (NT slots) of a row; row-sized state
//     (q, output accumulators) lives like that, and element d of it reaches every lane by
//     subgroupShuffle(slot[d / 32][d % 4], (d / 4) % 8);
//   - column blocks: for dot products against 32 other rows, lane l fetches texel i of rows
//     4l .. 4l + 3 and transposes them in registers (as matmul_cpu.glsl does with TRANS_B), so a
//     vec4 holds 4 rows' element and every product is a vec4 FMA.
// Cross-lane sums and maxima are xor butterflies: every lane ends with bitwise the same value.
// Loops over rows, slots and the 4 rows of a column block are unrolled (constant array indices
// keep the state in registers); the loops over texels and block rows stay rolled with a dynamic
// shuffle index (one vpermd on lavapipe): unrolling them measured no faster and compiles slower.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint HD = 64;     // head dim D, a multiple of 4
layout(constant_id = 1) const uint R = 8;       // rows per workgroup, a multiple of 4
const uint D4 = HD / 4u;                        // texels per row
const uint NT = (D4 + 7u) / 8u;                 // texel slots per lane
const uint KB = 32u;                            // rows of a column block (8 lanes x 4)
#define NEG_INF uintBitsToFloat(0xff800000u)

layout(push_constant) uniform P {
    uint T, S, P, nh, nkv;
    int off;        // q_pos_offset
    float scale;
    uint causal, has_mask;
    uint qs, ks, ms, ls;    // element shifts of the q, k, mask and lse bindings
    uint prefix, nb, accumulate, nkeys;   // dkv kernels only
    uint lds, ds_pre;       // dS scratch: row stride, first sequence column (0: no scratch)
} p;

uint lane;

// Texel of slot s of this lane in the row starting at texel base (clamped into the row).
int slot_texel(uint base, uint s) { return int(base + min(lane + 8u * s, D4 - 1u)); }
// True when slot s of this lane holds a texel of the row.
bool slot_valid(uint s) { return lane + 8u * s < D4; }
// True when source lane src's slot s holds a texel of the row (always, and folded away, when
// D4 is a multiple of 8: no select per row then).
bool src_slot_in_row(uint s, uint src) { return D4 % 8u == 0u || 8u * s + src < D4; }

float sum8(float x) {
    x += subgroupShuffleXor(x, 1u);
    x += subgroupShuffleXor(x, 2u);
    return x + subgroupShuffleXor(x, 4u);
}
float max8(float x) {
    x = max(x, subgroupShuffleXor(x, 1u));
    x = max(x, subgroupShuffleXor(x, 2u));
    return max(x, subgroupShuffleXor(x, 4u));
}

// Component e of a vec4 of the 4 rows fetched by a column block (at a[o] .. a[o + 3]).
#define COL4(a, e) vec4(a[0][e], a[1][e], a[2][e], a[3][e])
#define COL4_AT(a, o, e) vec4(a[(o)][e], a[(o) + 1u][e], a[(o) + 2u][e], a[(o) + 3u][e])
// The dot products of R row-distributed rows with a 32-row column block run one source lane
// at a time (a rolled loop) over every slot of the rows (unrolled inside it): NIR unrolls only
// innermost loops, so with the slots outside, the slot index of the row arrays stayed dynamic
// and lavapipe gathered every row element lane by lane from the stack (~30% of the forward's
// time). A slot past the row (D4 % 8 != 0) is fetched clamped and its products dropped.

