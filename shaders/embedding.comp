#version 450
// EMBEDDING: out[t][c] = table[ids[t]][c] for the tokens of this dispatch whose id falls in its
// chunk of table rows [v0, v0 + vn); with zero_oob, ids outside [0, vocab) get a zero row.
// One invocation per (token, column). 16-bit tables are read as packed uint words.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer IDS { int ids[]; };
layout(set = 0, binding = 1) readonly buffer TAB { uint tab[]; };   // f32 bits or 2 x 16-bit
layout(set = 0, binding = 2) writeonly buffer OUT { float o[]; };
layout(push_constant) uniform P {
    uint tokens;    // tokens in this dispatch
    uint h;
    int v0;         // first table row of the chunk
    int vn;         // table rows in the chunk
    int vocab;
    uint kind;      // 0 f32, 1 f16, 2 bf16
    uint zero_oob;
    uint is;        // element shift of token 0 in the ids binding
    uint os;        // element shift of token 0 in the out binding
    uint ts;        // element shift of row v0 in the table binding
} p;

void main() {
    uint gid = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (gid >= p.tokens * p.h) return;
    uint tok = gid / p.h, c = gid % p.h;
    int id = ids[p.is + tok];
    uint oi = p.os + gid;
    if (id >= p.v0 && id - p.v0 < p.vn) {
        uint e = p.ts + uint(id - p.v0) * p.h + c;
        o[oi] = p.kind == 0u ? uintBitsToFloat(tab[e]) : vkft_load16(tab[e >> 1], e, p.kind);
    } else if (p.zero_oob != 0u && (id < 0 || id >= p.vocab)) {
        o[oi] = 0.0;
    }
}
