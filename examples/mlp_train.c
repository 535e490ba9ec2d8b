/*
 * mlp_train: trains a two-layer MLP classifier with libvkft's public API only (vkft/graph.h,
 * which brings vkft/backend.h and vkft/ops.h), the way a program outside this repository would:
 *
 *     cc mlp_train.c $(pkg-config --cflags --libs vkft) -o mlp_train
 *     ./mlp_train [device]        # device: auto (default), cpu, vulkan, vulkan:N
 *
 * The data are 256 points in 8-D whose class (of 4) is given by a fixed random teacher network;
 * the student is logits = W2 gelu(W1 x + b1) + b2 with cross-entropy, trained by AdamW on
 * mini-batches of 64. Exits 0 when the mean loss of the last epoch is below half of the first
 * epoch's, 1 otherwise or on any error (with the library's message).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vkft/graph.h>

enum { N = 256, BATCH = 64, IN = 8, HID = 32, CLASSES = 4, EPOCHS = 40 };

static uint64_t rng = 0x243f6a8885a308d3ull;

static double uniform(void) {  /* splitmix64 -> [0, 1) */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static float normal(float scale) {
    double u1 = uniform() + 1e-12, u2 = uniform();
    return scale * (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* x [N, IN] and labels: argmax of a random tanh teacher. */
static void make_data(float *x, int32_t *labels) {
    float t1[16 * IN], t2[CLASSES * 16];
    for (int i = 0; i < 16 * IN; i++) t1[i] = normal(1.0f);
    for (int i = 0; i < CLASSES * 16; i++) t2[i] = normal(1.0f);
    for (int n = 0; n < N; n++) {
        float h[16], best = -INFINITY;
        for (int i = 0; i < IN; i++) x[n * IN + i] = normal(1.0f);
        for (int j = 0; j < 16; j++) {
            float s = 0;
            for (int i = 0; i < IN; i++) s += t1[j * IN + i] * x[n * IN + i];
            h[j] = tanhf(s);
        }
        for (int c = 0; c < CLASSES; c++) {
            float s = 0;
            for (int j = 0; j < 16; j++) s += t2[c * 16 + j] * h[j];
            if (s > best) {
                best = s;
                labels[n] = c;
            }
        }
    }
}

/* The training graph: forward, loss (mean over the batch), backward, AdamW phase. */
static vkft_graph *build(void) {
    vkft_graph *g;
    if (vkft_graph_create(&g) != VKFT_OK) return NULL;
    vkft_value x = vkft_graph_leaf(g, "x", VKFT_ROLE_INPUT, VKFT_F32, 2,
                                   (int64_t[]){BATCH, IN});
    vkft_value labels = vkft_graph_leaf(g, "labels", VKFT_ROLE_INPUT, VKFT_I32, 1,
                                        (int64_t[]){BATCH});
    vkft_value w1 = vkft_graph_leaf(g, "w1", VKFT_ROLE_TRAINABLE, VKFT_F32, 2,
                                    (int64_t[]){HID, IN});
    vkft_value b1 = vkft_graph_leaf(g, "b1", VKFT_ROLE_TRAINABLE, VKFT_F32, 1,
                                    (int64_t[]){HID});
    vkft_value w2 = vkft_graph_leaf(g, "w2", VKFT_ROLE_TRAINABLE, VKFT_F32, 2,
                                    (int64_t[]){CLASSES, HID});
    vkft_value b2 = vkft_graph_leaf(g, "b2", VKFT_ROLE_TRAINABLE, VKFT_F32, 1,
                                    (int64_t[]){CLASSES});
    vkft_matmul_params lin = {.trans_b = true, .alpha = 1.0f};
    vkft_value h = vkft_graph_op1(g, VKFT_OP_MATMUL, &lin, (vkft_value[]){x, w1, VKFT_NONE}, 3);
    h = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){h, b1}, 2);
    h = vkft_graph_op1(g, VKFT_OP_GELU, NULL, &h, 1);
    vkft_value logits = vkft_graph_op1(g, VKFT_OP_MATMUL, &lin,
                                       (vkft_value[]){h, w2, VKFT_NONE}, 3);
    logits = vkft_graph_op1(g, VKFT_OP_ADD, NULL, (vkft_value[]){logits, b2}, 2);
    vkft_cross_entropy_params cp = {.ignore_index = -100};
    vkft_value ce[3] = {0, 0, 0};
    vkft_status st = vkft_graph_op(g, VKFT_OP_CROSS_ENTROPY, &cp,
                                   (vkft_value[]){logits, labels, VKFT_NONE}, 3, ce, 3);
    vkft_scale_params mean = {.alpha = 1.0f / BATCH, .beta = 0.0f};
    vkft_value loss = st ? VKFT_NONE : vkft_graph_op1(g, VKFT_OP_SCALE, &mean, &ce[0], 1);
    vkft_optimizer_options adamw = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                    .weight_decay = 0.0f, .clip = 1.0f};
    if (loss == VKFT_NONE || vkft_graph_keep(g, loss, "loss") != VKFT_OK ||
        vkft_graph_backward(g, loss, VKFT_NONE) != VKFT_OK ||
        vkft_graph_optimizer(g, &adamw) < 0) {
        fprintf(stderr, "mlp_train: building the graph: %s\n", vkft_graph_error(g));
        vkft_graph_destroy(g);
        return NULL;
    }
    return g;
}

static int upload_init(vkft_plan *p) {
    float w1[HID * IN], b1[HID] = {0}, w2[CLASSES * HID], b2[CLASSES] = {0};
    for (int i = 0; i < HID * IN; i++) w1[i] = normal(1.0f / sqrtf(IN));
    for (int i = 0; i < CLASSES * HID; i++) w2[i] = normal(1.0f / sqrtf(HID));
    return vkft_plan_upload(p, "w1", w1, sizeof w1) || vkft_plan_upload(p, "b1", b1, sizeof b1) ||
           vkft_plan_upload(p, "w2", w2, sizeof w2) || vkft_plan_upload(p, "b2", b2, sizeof b2);
}

/* One epoch of N / BATCH AdamW steps; returns the mean loss, or NAN on error. */
static float epoch(vkft_plan *p, const float *x, const int32_t *labels, int *step) {
    double sum = 0;
    for (int b = 0; b < N / BATCH; b++) {
        float hyper[2] = {1e-2f, (float)++*step}, loss = NAN;
        if (vkft_plan_upload(p, "x", x + b * BATCH * IN, sizeof(float) * BATCH * IN) ||
            vkft_plan_upload(p, "labels", labels + b * BATCH, sizeof(int32_t) * BATCH) ||
            vkft_plan_upload(p, "hyper", hyper, sizeof hyper) || vkft_plan_run(p, 0) ||
            vkft_plan_download(p, "loss", &loss, sizeof loss) || vkft_plan_run(p, 1))
            return NAN;
        sum += loss;
    }
    return (float)(sum / (N / BATCH));
}

int main(int argc, char **argv) {
    const char *spec = argc > 1 ? argv[1] : "auto";
    static float x[N * IN];
    static int32_t labels[N];
    make_data(x, labels);
    vkft_context_options opts;
    vkft_context_options_default(&opts);
    char msg[256];
    if (vkft_context_options_from_env(&opts, msg, sizeof msg) != VKFT_OK) {
        fprintf(stderr, "mlp_train: %s\n", msg);
        return 1;
    }
    vkft_context *ctx = NULL;
    vkft_device *dev = NULL;
    vkft_graph *g = NULL;
    vkft_plan *p = NULL;
    int rc = 1;
    if (vkft_context_create(&opts, &ctx) != VKFT_OK ||
        vkft_device_open(ctx, spec, &dev) != VKFT_OK) {
        fprintf(stderr, "mlp_train: device %s: %s\n", spec, vkft_context_error(ctx));
        goto done;
    }
    printf("libvkft %s (headers %d.%d.%d) on %s (%s)\n", vkft_version(), VKFT_VERSION_MAJOR,
           VKFT_VERSION_MINOR, VKFT_VERSION_PATCH, vkft_device_get_info(dev)->name,
           vkft_device_get_info(dev)->spec);
    if (!(g = build())) goto done;
    vkft_memory_report rep;
    if (vkft_compile(dev, g, NULL, &rep, &p) != VKFT_OK || upload_init(p)) {
        fprintf(stderr, "mlp_train: %s\n", p ? vkft_plan_error(p) : vkft_device_error(dev));
        goto done;
    }
    int step = 0;
    float first = NAN, last = NAN;
    for (int e = 0; e < EPOCHS; e++) {
        last = epoch(p, x, labels, &step);
        if (isnan(last)) {
            fprintf(stderr, "mlp_train: step %d: %s\n", step, vkft_plan_error(p));
            goto done;
        }
        if (e == 0) first = last;
        if (e % 10 == 0 || e == EPOCHS - 1) printf("epoch %2d  loss %.4f\n", e, last);
    }
    rc = last < 0.5f * first ? 0 : 1;
    printf("loss %.4f -> %.4f: %s\n", first, last, rc ? "did not fall enough" : "ok");
done:
    vkft_plan_destroy(p);
    vkft_graph_destroy(g);
    vkft_device_close(dev);
    vkft_context_destroy(ctx);
    return rc;
}
