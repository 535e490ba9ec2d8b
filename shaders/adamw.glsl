// AdamW's bias corrections, shared by adamw.comp and adamw_cpu.comp.

// 1 - b^step without cancellation (see one_minus_pow in backend/cpu/optimizer.c).
float one_minus_pow(float b, float step) {
    float s = min(step, 16777216.0);
    uint n = s >= 1.0 ? uint(s) : 0u;
    float d = 1.0 - b, e = 0.0;
    for (int bit = findMSB(n); bit >= 0; bit--) {   // findMSB(0) = -1: no iteration
        e = e * (2.0 - e);
        if (((n >> uint(bit)) & 1u) != 0u) e = e + d * (1.0 - e);
    }
    return e;
}
