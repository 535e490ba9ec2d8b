#version 450
// CAST between f32, f16 and bf16, round to nearest even. The rounding is done with integer ops,
// a port of vkft_f32_to_f16 / vkft_f32_to_bf16 / vkft_f16_to_f32 (backend/cpu/cpu_device.c), so
// the result is bit-identical to the CPU's, subnormals, inf and nan included (packHalf2x16's
// rounding is implementation-defined, and float loads/stores may quieten or flush values).
// One invocation per output word (one f32, or two 16-bit halves); a chunk's last word may be
// half-filled, then its upper half is preserved.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(set = 0, binding = 1) buffer Y { uint y[]; };
layout(push_constant) uniform P {
    uint n;         // elements in this dispatch
    uint in_kind;   // 0 f32, 1 f16, 2 bf16
    uint out_kind;
} p;

uint f16_to_f32(uint h) {
    uint sign = (h & 0x8000u) << 16, ex = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (ex == 0u) {
        if (man == 0u) return sign;
        uint shift = 10u - uint(findMSB(man));   // normalise the subnormal
        man <<= shift;
        return sign | ((113u - shift) << 23) | ((man & 0x3ffu) << 13);
    }
    if (ex == 31u) return sign | 0x7f800000u | (man << 13);
    return sign | ((ex + 112u) << 23) | (man << 13);
}

uint f32_to_f16(uint v) {
    uint sign = (v >> 16) & 0x8000u, man = v & 0x7fffffu;
    int ex = int((v >> 23) & 0xffu);
    if (ex == 255) return sign | 0x7c00u | (man != 0u ? 0x200u : 0u);   // inf / nan
    int e = ex - 127 + 15;
    if (e >= 31) return sign | 0x7c00u;                                 // overflow
    if (e <= 0) {                                                        // subnormal
        if (e < -10) return sign;
        man |= 0x800000u;
        uint shift = uint(14 - e);
        uint h = man >> shift, rem = man & ((1u << shift) - 1u), mid = 1u << (shift - 1u);
        if (rem > mid || (rem == mid && (h & 1u) != 0u)) h++;
        return sign | h;
    }
    uint h = sign | (uint(e) << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++;      // may carry into exp
    return h;
}

uint f32_to_bf16(uint v) {
    if ((v & 0x7fffffffu) > 0x7f800000u) return (v >> 16) | 0x40u;     // quiet nan
    v += 0x7fffu + ((v >> 16) & 1u);
    return v >> 16;
}

// Element i of the input as f32 bits.
uint load_bits(uint i) {
    if (p.in_kind == 0u) return x[i];
    uint h = (x[i >> 1] >> ((i & 1u) * 16u)) & 0xffffu;
    return p.in_kind == 1u ? f16_to_f32(h) : h << 16;
}

uint store16(uint bits) { return p.out_kind == 1u ? f32_to_f16(bits) : f32_to_bf16(bits); }

void main() {
    uint wi = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (p.out_kind == 0u) {
        if (wi < p.n) y[wi] = load_bits(wi);
        return;
    }
    uint e = wi * 2u;
    if (e >= p.n) return;
    uint lo = store16(load_bits(e));
    if (e + 1u < p.n) y[wi] = lo | (store16(load_bits(e + 1u)) << 16);
    else y[wi] = (y[wi] & 0xffff0000u) | lo;
}
