#version 450
// MATMUL_NF4 with A broadcast by constant-index subgroupShuffle (subgroup size >= 8).
#define USE_SHUFFLE 1
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_GOOGLE_include_directive : require
#include "nf4_matmul.glsl"
