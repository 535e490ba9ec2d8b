#version 450
// GRAD_CLIP: AdamW's hyper vector {lr, step, coef, norm} from the gradients' sum of squares.
// The arithmetic mirrors backend/cpu/clip.c (sqrt and one division: correctly rounded in both).
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) readonly buffer S { float sumsq[]; };
layout(set = 0, binding = 1) readonly buffer H { float hyper[]; };
layout(set = 0, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { float max_norm; } p;

void main() {
    float norm = sqrt(sumsq[0]);
    float coef = 1.0;
    if (p.max_norm > 0.0) {
        coef = p.max_norm / (norm + 1e-6);
        if (!(coef < 1.0)) coef = 1.0;
    }
    o[0] = hyper[0];
    o[1] = hyper[1];
    o[2] = coef;
    o[3] = norm;
}
