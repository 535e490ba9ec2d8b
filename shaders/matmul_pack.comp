#version 450
// Packs a block of a matmul operand into a dense, zero-padded f32 [batch][rows][ldd] scratch
// for the CPU-shaped kernel (matmul_cpu.glsl), which reads operands as RGBA32F texels: rows
// start on a texel (ldd % 4 == 0), transposes become plain rows, f16/bf16 become f32.
// One invocation per destination element; a workgroup covers a 16 x 16 tile so a transposing
// pack touches 16 source lines 16 times each instead of streaming the source once per row (on
// lavapipe a workgroup runs on one thread: the tile stays in its cache). The batch is the grid's z.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer S { uint s[]; };  // f32 bits or packed 16-bit
layout(set = 0, binding = 1) writeonly buffer D { float d[]; };
layout(push_constant) uniform P {
    uint rows, cols, ldd;   // destination block: rows x ldd, columns >= cols are zero
    uint src_base;          // element offset of the block in the source binding
    uint si, sj;            // source element strides of a destination row / column
    uint src_bstride;       // source elements between batches (0: shared)
    uint kind;              // 0 f32, 1 f16, 2 bf16
} p;

void main() {
    uint tiles_j = (p.ldd + 15u) / 16u, g = vkft_group_id(), lid = gl_LocalInvocationID.x;
    uint i = g / tiles_j * 16u + lid / 16u, j = g % tiles_j * 16u + lid % 16u;
    uint b = gl_WorkGroupID.z;
    if (i >= p.rows || j >= p.ldd) return;
    float v = 0.0;
    if (j < p.cols) {
        uint e = p.src_base + b * p.src_bstride + i * p.si + j * p.sj;
        v = p.kind == 0u ? uintBitsToFloat(s[e]) : vkft_load16(s[e >> 1], e, p.kind);
    }
    d[(b * p.rows + i) * p.ldd + j] = v;
}
