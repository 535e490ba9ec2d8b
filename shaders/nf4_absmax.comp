#version 450
// NF4's absmax chain (double quantisation), one mode per dispatch:
//   3: the dynamic map into a buffer (`table`): indexing the shader's const array with a
//      variable copies all of it per use, so the other modes read the buffer instead;
//   0: one invocation per run of 256 absmax values sums it left to right (run_sums);
//   1: one invocation sums the run sums left to right and divides by nb: the offset;
//   2: one invocation per run: absmax2 = max |absmax - offset|, and each (absmax - offset) to
//      the dynamic map; a run's 256 codes are 64 whole words owned by its invocation;
//   4: one invocation per block: the dequantised absmax DYN[q] * absmax2 + offset into `absmax`
//      (for NF4_DEQUANTIZE and MATMUL_NF4: 1/64 of W's size, never W itself).
// Modes 0-2 run in order for NF4_QUANTIZE, 3 first; the CPU kernel's operations in its order,
// so the offset and every code agree bit for bit.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "nf4.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer Absmax { float absmax[]; };          // this chunk's blocks
layout(set = 0, binding = 1) buffer RunSums { float run_sums[]; };       // all runs
layout(set = 0, binding = 2) buffer Offset { float offset[]; };
layout(set = 0, binding = 3) buffer AbsmaxQ { uint absmax_q[]; };        // this chunk's blocks
layout(set = 0, binding = 4) buffer Absmax2 { float absmax2[]; };
layout(set = 0, binding = 5) buffer Table { uint table[]; };             // the dynamic map
layout(push_constant) uniform P {
    uint mode;
    uint nb;        // absmax values in this chunk (mode 1: in all)
    uint runs;      // runs in this chunk (mode 1: in all; mode 3: 256, mode 4: blocks)
    uint r0;        // the chunk's first run (mode 4: first block)
    uint abs2_base; // mode 4: the first absmax2 of its binding
} p;

float dyn(uint i) { return uintBitsToFloat(table[i]); }

// nf4_codebook.h's vkft_nf4_dyn_nearest: the same steps.
uint dyn_nearest(float s) {
    uint q = 0u;
    for (uint step = 128u; step >= 1u; step >>= 1) {
        precise float mid = (dyn(q + step - 1u) + dyn(q + step)) * 0.5;
        if (mid < s) q += step;
    }
    return q;
}

void main() {
    uint r = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (r >= p.runs || (p.mode == 1u && r > 0u)) return;
    if (p.mode == 3u) {
        table[r] = DYN_BITS[r];
        return;
    }
    if (p.mode == 4u) {  // r is a block of this chunk
        uint b = p.r0 + r;
        precise float prod = dyn(nf4_byte(absmax_q[r >> 2], r)) * absmax2[(b >> 8) - p.abs2_base];
        precise float a = prod + offset[0];
        absmax[r] = a;
        return;
    }
    if (p.mode == 1u) {
        float total = 0.0;
        for (uint i = 0u; i < p.runs; i++) total += run_sums[i];
        precise float off = total / float(p.nb);
        offset[0] = off;
        return;
    }
    uint j0 = r * 256u, len = min(256u, p.nb - j0);
    if (p.mode == 0u) {
        float s = 0.0;
        for (uint i = 0u; i < len; i++) s += absmax[j0 + i];
        run_sums[p.r0 + r] = s;
        return;
    }
    float off = offset[0], a2 = 0.0;
    for (uint i = 0u; i < len; i++) {
        precise float d = absmax[j0 + i] - off;
        a2 = max(a2, abs(d));
    }
    a2 = nf4_flush(a2);
    absmax2[p.r0 + r] = a2;
    bool partial = len < 256u;
    uint zero = dyn_nearest(0.0);
    for (uint wd = 0u; wd < (len + 3u) / 4u; wd++) {
        uint word = 0u;
        for (uint j = 0u; j < 4u; j++) {
            uint i = wd * 4u + j;
            if (i >= len) break;
            precise float d = absmax[j0 + i] - off;
            uint q = a2 == 0.0 ? zero : dyn_nearest(nf4_scaled(d, a2, partial));
            word |= q << (j * 8u);
        }
        absmax_q[r * 64u + wd] = word;
    }
}
