#version 450
// CPU-shaped matmul without subgroup operations (the fallback of matmul_cpu.comp).
#define USE_SHUFFLE 0
#extension GL_GOOGLE_include_directive : require
#include "matmul_cpu.glsl"
