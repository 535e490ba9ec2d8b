/*
 * NF4 (QLoRA) constants and the per-element rules shared by the CPU kernels (cpu/nf4.c), the
 * tests, and mirrored by the shaders (shaders/nf4.glsl holds the same tables as bit patterns).
 *
 * Semantics are those of bitsandbytes' default (torch) backend, read in
 * bitsandbytes-foundation/bitsandbytes at commit 95f9af30 (bitsandbytes/functional.py:
 * get_4bit_type, create_dynamic_map, quantize_4bit(compress_statistics=True),
 * quantize_blockwise; bitsandbytes/backends/default/ops.py: the quantize_4bit,
 * quantize_blockwise, dequantize_4bit, dequantize_blockwise kernels):
 *   - w is flattened and cut into blocks of 64 (the last one may be partial); blocks straddle
 *     the rows of a [n, k] weight whenever k % 64 != 0. absmax = max |w| of the block.
 *   - a value's code is the number of code midpoints strictly below s (torch.bucketize with
 *     right=False: a value exactly on a midpoint takes the lower code), where
 *     s = clamp(w * (1 / absmax), -1, 1) in full blocks and clamp(w / absmax, -1, 1) in the
 *     partial last block (bitsandbytes computes them that way). Codes are packed two per byte,
 *     the first element in the high nibble.
 *   - double quantisation: offset = mean of the nb absmax values; absmax - offset is quantised
 *     by the same blockwise rule in blocks of 256 to the signed dynamic 8-bit map, each block
 *     with an f32 absmax2. Dequantised: absmax = DYN[q] * absmax2 + offset (a product rounded
 *     to f32, then a sum rounded to f32: the shaders mark it `precise` so no FMA fuses it),
 *     w = NF4[c] * absmax.
 * Where vkft departs from it, so that the CPU and Vulkan kernels agree bit for bit:
 *   - the offset is the f32 sum of the absmax values in a fixed order (each run of 256 summed
 *     left to right, then the run sums left to right) divided by nb; torch's mean() sums in
 *     its own vectorised order and can differ in the last bit;
 *   - an absmax (or absmax2) below FLT_MIN is stored as 0 and its block codes as the code of 0
 *     (GPUs and llvmpipe flush subnormals); bitsandbytes clamps it to 1e-38 (a subnormal) and
 *     stores 1e-38 for an all-zero partial last block. Weights that small do not occur.
 *   - NaN inputs are not defined.
 * Division and reciprocal are correctly rounded on the CPU; on Vulkan the shader relies on the
 * driver's (exact on lavapipe, tested; the spec allows 2.5 ulp, which could move a value lying
 * within an ulp of a midpoint to the neighbouring code on such a GPU).
 */
#ifndef VKFT_OPS_NF4_CODEBOOK_H
#define VKFT_OPS_NF4_CODEBOOK_H

#include <float.h>
#include <stdint.h>
#include <string.h>

enum {
    VKFT_NF4_BLOCK = 64,    /* weights per absmax */
    VKFT_NF4_BLOCK2 = 256,  /* absmax values per absmax2 (and per run of the offset's sum) */
};

/* The NF4 code, index 0..15, as f32 bit patterns: bitsandbytes' get_4bit_type("nf4") list
 * (-1.0, -0.6961928009986877, ..., 0.7229568362236023, 1.0; the quantiles of N(0, 1) from
 * create_normal_map(offset=0.9677083)) rounded to f32 by torch.tensor(dtype=float32). */
static const uint32_t vkft_nf4_code_bits[16] = {
    0xbf800000u, 0xbf3239b1u, 0xbf066b30u, 0xbeca32a0u, 0xbe91a24du, 0xbe3d353fu, 0xbdba7871u,
    0x00000000u, 0x3da2faffu, 0x3e24cae3u, 0x3e7c04ddu, 0x3ead033au, 0x3ee1a4b8u, 0x3f1007abu,
    0x3f3913b3u, 0x3f800000u
};

/*
 * bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), as f32 bit
 * patterns, ascending. The derivation (reproduced in torch by tools/gen_nf4_fixture.py, which
 * printed this table, and checked against it by tests/backend/ops/nf4_test.c): for
 * i = 0..6, b = torch.linspace(0.1, 1, 2^i + 1) in f32, the f32 midpoints (b[j] + b[j+1]) / 2
 * times the f32 of 10^(i - 6), with both signs: 2 * (1 + 2 + ... + 64) = 254 values; plus 0.0
 * and 1.0 (no extra "all exponent bits zero" items: 2^(7 - 7) - 1 = 0); sorted. So entry 0 is
 * -0.99296875 (-(0.9859375 + 1) / 2 at i = 6), entry 127 is 0, entry 128 is 5.5e-7 (the
 * smallest: (0.1 + 1) / 2 * 1e-6), entry 254 is 0.99296875 and entry 255 is 1.0.
 */
static const uint32_t vkft_nf4_dyn_bits[256] = {
    0xbf7e3333u, 0xbf7a9999u, 0xbf770000u, 0xbf736666u, 0xbf6fccccu, 0xbf6c3333u, 0xbf68999au,
    0xbf650000u, 0xbf616666u, 0xbf5dccccu, 0xbf5a3333u, 0xbf569999u, 0xbf530000u, 0xbf4f6666u,
    0xbf4bccccu, 0xbf483333u, 0xbf44999au, 0xbf410000u, 0xbf3d6667u, 0xbf39cccdu, 0xbf363334u,
    0xbf32999au, 0xbf2f0000u, 0xbf2b6667u, 0xbf27cccdu, 0xbf243333u, 0xbf20999au, 0xbf1d0000u,
    0xbf196666u, 0xbf15cccdu, 0xbf123334u, 0xbf0e999au, 0xbf0b0000u, 0xbf076666u, 0xbf03cccdu,
    0xbf003333u, 0xbef93334u, 0xbef20000u, 0xbeeaccccu, 0xbee3999au, 0xbedc6666u, 0xbed53332u,
    0xbece0000u, 0xbec6ccccu, 0xbebf999au, 0xbeb86666u, 0xbeb13332u, 0xbeaa0000u, 0xbea2ccccu,
    0xbe9b999au, 0xbe946666u, 0xbe8d3334u, 0xbe860000u, 0xbe7d999au, 0xbe6f3334u, 0xbe60cccdu,
    0xbe526666u, 0xbe440000u, 0xbe359999u, 0xbe273333u, 0xbe18cccdu, 0xbe0a6666u, 0xbdf80000u,
    0xbddb3334u, 0xbdc9eb85u, 0xbdc428f5u, 0xbdbe6667u, 0xbdb8a3d7u, 0xbdb2e148u, 0xbdad1eb8u,
    0xbda75c28u, 0xbda1999au, 0xbd9bd70au, 0xbd96147bu, 0xbd9051ebu, 0xbd8a8f5du, 0xbd84cccdu,
    0xbd7e147au, 0xbd728f5du, 0xbd670a3du, 0xbd5b851fu, 0xbd500000u, 0xbd447ae1u, 0xbd38f5c3u,
    0xbd2d70a3u, 0xbd21eb85u, 0xbd166667u, 0xbd0ae147u, 0xbcfeb852u, 0xbce7ae13u, 0xbcd0a3d7u,
    0xbcb9999au, 0xbca28f5cu, 0xbc8b851fu, 0xbc68f5c3u, 0xbc3ae148u, 0xbc1f3b64u, 0xbc160418u,
    0xbc0ccccdu, 0xbc039581u, 0xbbf4bc6au, 0xbbe24dd3u, 0xbbcfdf3bu, 0xbbbd70a4u, 0xbbab020du,
    0xbb989374u, 0xbb8624ddu, 0xbb676c8au, 0xbb428f5cu, 0xbb1db22du, 0xbaf1a9fcu, 0xbaa7ef9du,
    0xba7765ffu, 0xba59e83eu, 0xba3c6a80u, 0xba1eecc1u, 0xba016f01u, 0xb9c7e283u, 0xb98ce705u,
    0xb923d70bu, 0xb8ba1f4bu, 0xb88aefb3u, 0xb8378034u, 0xb7b24206u, 0xb70205ffu, 0xb65a1a94u,
    0xb513a3b7u, 0x00000000u, 0x3513a3b7u, 0x365a1a94u, 0x370205ffu, 0x37b24206u, 0x38378034u,
    0x388aefb3u, 0x38ba1f4bu, 0x3923d70bu, 0x398ce705u, 0x39c7e283u, 0x3a016f01u, 0x3a1eecc1u,
    0x3a3c6a80u, 0x3a59e83eu, 0x3a7765ffu, 0x3aa7ef9du, 0x3af1a9fcu, 0x3b1db22du, 0x3b428f5cu,
    0x3b676c8au, 0x3b8624ddu, 0x3b989374u, 0x3bab020du, 0x3bbd70a4u, 0x3bcfdf3bu, 0x3be24dd3u,
    0x3bf4bc6au, 0x3c039581u, 0x3c0ccccdu, 0x3c160418u, 0x3c1f3b64u, 0x3c3ae148u, 0x3c68f5c3u,
    0x3c8b851fu, 0x3ca28f5cu, 0x3cb9999au, 0x3cd0a3d7u, 0x3ce7ae13u, 0x3cfeb852u, 0x3d0ae147u,
    0x3d166667u, 0x3d21eb85u, 0x3d2d70a3u, 0x3d38f5c3u, 0x3d447ae1u, 0x3d500000u, 0x3d5b851fu,
    0x3d670a3du, 0x3d728f5du, 0x3d7e147au, 0x3d84cccdu, 0x3d8a8f5du, 0x3d9051ebu, 0x3d96147bu,
    0x3d9bd70au, 0x3da1999au, 0x3da75c28u, 0x3dad1eb8u, 0x3db2e148u, 0x3db8a3d7u, 0x3dbe6667u,
    0x3dc428f5u, 0x3dc9eb85u, 0x3ddb3334u, 0x3df80000u, 0x3e0a6666u, 0x3e18cccdu, 0x3e273333u,
    0x3e359999u, 0x3e440000u, 0x3e526666u, 0x3e60cccdu, 0x3e6f3334u, 0x3e7d999au, 0x3e860000u,
    0x3e8d3334u, 0x3e946666u, 0x3e9b999au, 0x3ea2ccccu, 0x3eaa0000u, 0x3eb13332u, 0x3eb86666u,
    0x3ebf999au, 0x3ec6ccccu, 0x3ece0000u, 0x3ed53332u, 0x3edc6666u, 0x3ee3999au, 0x3eeaccccu,
    0x3ef20000u, 0x3ef93334u, 0x3f003333u, 0x3f03cccdu, 0x3f076666u, 0x3f0b0000u, 0x3f0e999au,
    0x3f123334u, 0x3f15cccdu, 0x3f196666u, 0x3f1d0000u, 0x3f20999au, 0x3f243333u, 0x3f27cccdu,
    0x3f2b6667u, 0x3f2f0000u, 0x3f32999au, 0x3f363334u, 0x3f39cccdu, 0x3f3d6667u, 0x3f410000u,
    0x3f44999au, 0x3f483333u, 0x3f4bccccu, 0x3f4f6666u, 0x3f530000u, 0x3f569999u, 0x3f5a3333u,
    0x3f5dccccu, 0x3f616666u, 0x3f650000u, 0x3f68999au, 0x3f6c3333u, 0x3f6fccccu, 0x3f736666u,
    0x3f770000u, 0x3f7a9999u, 0x3f7e3333u, 0x3f800000u
};

static inline float vkft_nf4_bits_f32(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}
static inline float vkft_nf4_code(int i) { return vkft_nf4_bits_f32(vkft_nf4_code_bits[i]); }
static inline float vkft_nf4_dyn(int i) { return vkft_nf4_bits_f32(vkft_nf4_dyn_bits[i]); }

/* The number of midpoints (code[i] + code[i+1]) / 2 strictly below s, for a sorted code of
 * 16 or 256 entries: a branch-free binary search with the same steps as shaders/nf4.glsl. */
static inline int vkft_nf4_nearest(float s) {
    int q = 0;
    for (int step = 8; step >= 1; step >>= 1) {
        float mid = (vkft_nf4_code(q + step - 1) + vkft_nf4_code(q + step)) * 0.5f;
        if (mid < s) q += step;
    }
    return q;
}
static inline int vkft_nf4_dyn_nearest(float s) {
    int q = 0;
    for (int step = 128; step >= 1; step >>= 1) {
        float mid = (vkft_nf4_dyn(q + step - 1) + vkft_nf4_dyn(q + step)) * 0.5f;
        if (mid < s) q += step;
    }
    return q;
}

/* The scaled value of x in a block whose absmax is a (>= FLT_MIN), as bitsandbytes computes
 * it: multiply by the reciprocal in full blocks, divide in the partial last one. */
static inline float vkft_nf4_scaled(float x, float a, int partial) {
    float s = partial ? x / a : x * (1.0f / a);
    return s < -1.0f ? -1.0f : s > 1.0f ? 1.0f : s;
}

/* The dequantised absmax of a block. volatile keeps the product rounded before the sum even
 * where the compiler would contract them into an FMA. */
static inline float vkft_nf4_absmax(uint8_t q, float absmax2, float offset) {
    volatile float p = vkft_nf4_dyn(q) * absmax2;
    return p + offset;
}

/* nb = ceil(numel / 64) absmax values, nb2 = ceil(nb / 256) absmax2 values. */
static inline int64_t vkft_nf4_nb(int64_t numel) {
    return (numel + VKFT_NF4_BLOCK - 1) / VKFT_NF4_BLOCK;
}
static inline int64_t vkft_nf4_nb2(int64_t numel) {
    return (vkft_nf4_nb(numel) + VKFT_NF4_BLOCK2 - 1) / VKFT_NF4_BLOCK2;
}

#endif
