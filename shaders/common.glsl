// Shared helpers for vkft compute shaders (included with #include "common.glsl").
// Buffers hold f32 as float[] and 16-bit / 8-bit data as packed uint words, so no optional
// 16-bit or 8-bit storage feature is needed.

// Workgroup index of a 1-D grid folded into (x, y) by vkft_vk_grid().
uint vkft_group_id() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

float vkft_bf16_lo(uint w) { return uintBitsToFloat(w << 16); }
float vkft_bf16_hi(uint w) { return uintBitsToFloat(w & 0xffff0000u); }
// Element i of a packed 16-bit array as f32 (kind 1 = f16, 2 = bf16).
float vkft_load16(uint w, uint i, uint kind) {
    uint h = (i & 1u) == 0u ? (w & 0xffffu) : (w >> 16);
    return kind == 1u ? unpackHalf2x16(h).x : uintBitsToFloat(h << 16);
}
