#version 450
// MATMUL_NF4 without subgroup operations (each lane loads its A values itself).
#define USE_SHUFFLE 0
#extension GL_GOOGLE_include_directive : require
#include "nf4_matmul.glsl"
