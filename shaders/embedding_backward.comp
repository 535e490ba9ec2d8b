#version 450
// EMBEDDING_BACKWARD, pass 2: one invocation per (token, column). The first token of the chunk
// with a given id, if the id falls in this dispatch's chunk of table rows [v0, v0 + vn), walks
// the chunk's tokens with that id in index order (embedding_backward_link.comp) and adds their
// dy to its table row, which starts zero-filled. Every element has one writer and a fixed sum
// order: deterministic, no atomics. Chunks of tokens run in order, the later ones adding.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer IDS { int ids[]; };
layout(set = 0, binding = 1) readonly buffer LINK { uint link[]; };
layout(set = 0, binding = 2) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 3) buffer DT { float dt[]; };
layout(push_constant) uniform P {
    uint tokens;    // tokens in this dispatch
    uint h;
    int v0;         // first table row of the chunk
    int vn;         // table rows in the chunk
    uint is;        // element shift of token 0 in the ids binding
    uint ds;        // element shift of token 0 in the dy binding
    uint ts;        // element shift of row v0 in the dtable binding
} p;

void main() {
    uint gid = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (gid >= p.tokens * p.h) return;
    uint tok = gid / p.h, c = gid % p.h;
    uint l = link[tok];
    if ((l & 0x80000000u) == 0u) return;
    int id = ids[p.is + tok];
    if (id < p.v0 || id - p.v0 >= p.vn) return;
    float acc = 0.0;
    uint s = tok;
    for (;;) {
        acc += dy[p.ds + s * p.h + c];
        uint n = link[s] & 0x7fffffffu;
        if (n == 0u) break;
        s = n - 1u;
    }
    uint e = p.ts + uint(id - p.v0) * p.h + c;
    dt[e] = dt[e] + acc;
}
