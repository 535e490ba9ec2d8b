#version 450
// EMBEDDING_BACKWARD, pass 1: for each token t of this dispatch's chunk, link[t] =
// (0x80000000 if t is the first token of the chunk with its id) | (index + 1 of the next token
// of the chunk with the same id, 0 if none). Tokens with an id outside [0, vocab) are never
// linked. Cost: O(tokens^2) id compares in the worst case (all ids distinct), once per op
// rather than once per column.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer IDS { int ids[]; };
layout(set = 0, binding = 1) writeonly buffer LINK { uint link[]; };
layout(push_constant) uniform P {
    uint tokens;
    int vocab;
    uint is;        // element shift of token 0 in the ids binding
} p;

void main() {
    uint t = vkft_group_id() * 64u + gl_LocalInvocationID.x;
    if (t >= p.tokens) return;
    int id = ids[p.is + t];
    if (id < 0 || id >= p.vocab) {
        link[t] = 0u;
        return;
    }
    uint first = 0x80000000u;
    for (uint s = 0u; s < t; s++) {
        if (ids[p.is + s] == id) {
            first = 0u;
            break;
        }
    }
    uint next = 0u;
    for (uint s = t + 1u; s < p.tokens; s++) {
        if (ids[p.is + s] == id) {
            next = s + 1u;
            break;
        }
    }
    link[t] = first | next;
}
