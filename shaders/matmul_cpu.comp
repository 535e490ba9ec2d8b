#version 450
// CPU-shaped matmul with A broadcast by constant-index subgroupShuffle (subgroup size >= 8).
#define USE_SHUFFLE 1
#extension GL_GOOGLE_include_directive : require
#include "matmul_cpu.glsl"
