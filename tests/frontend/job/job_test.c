/*
 * Job loading: a full job file parsed to the expected struct values, every default, each
 * method kind's keys, --set overrides (good ones; the bad ones are fixtures in
 * job_bad_files_test.c), path resolution (file-relative, override-relative, absolute), path
 * checks, the printer's YAML and JSON (YAML reloads to the same job, JSON parses), and random
 * corruptions of a job that must fail cleanly (ASan/UBSan runs watch for memory errors).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job/job.h"
#include "test_util.h"
#include "util/json.h"

#define CHECK_STR(got, want)                                                                   \
    do {                                                                                       \
        const char *g_ = (got), *w_ = (want);                                                  \
        if (!g_ || strcmp(g_, w_)) {                                                           \
            fprintf(stderr, "%s:%d: %s is '%s', want '%s'\n", __FILE__, __LINE__, #got,        \
                    g_ ? g_ : "(null)", w_);                                                   \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

static char fixtures[1024];

/* Loads a job from text (no base folder); NULL with the message printed on failure. */
static vkft_job *load_text(const char *text, const char *const *sets, int n_sets)
{
    vkft_job *job;
    vkft_err err;
    if (vkft_job_load_string(text, strlen(text), "t.yaml", NULL, sets, n_sets, &job, &err)) {
        fprintf(stderr, "unexpected load failure: %s\n", err.msg);
        test_failures++;
        return NULL;
    }
    return job;
}

/* Loads text that must fail with exactly want. */
static void load_fails(const char *text, const char *const *sets, int n_sets, const char *want)
{
    vkft_job *job;
    vkft_err err;
    if (!vkft_job_load_string(text, strlen(text), "t.yaml", NULL, sets, n_sets, &job, &err)) {
        fprintf(stderr, "load passed, want: %s\n", want);
        test_failures++;
        vkft_job_free(job);
        return;
    }
    CHECK(job == NULL);
    CHECK_STR(err.msg, want);
}

static const char minimal[] =
    "model: {path: m}\n"
    "method: {kind: lora}\n"
    "data: {train: [{path: d/train.jsonl}]}\n"
    "train: {steps: 5}\n";

static void test_full_file(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/job/good/lora.yaml", fixtures);
    vkft_job *job;
    vkft_err err;
    if (vkft_job_load(path, NULL, 0, &job, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        return;
    }
    char want[1400];
    CHECK_STR(job->file, path);
    snprintf(want, sizeof want, "%s/job/good/model", fixtures);
    CHECK_STR(job->model_path, want);
    CHECK_STR(job->device, "vulkan:1");
    const vkft_job_method *m = &job->method;
    CHECK(m->kind == VKFT_METHOD_LORA);
    CHECK(m->r == 16 && m->alpha == 32 && m->dropout == 0.05 && m->rslora);
    CHECK(m->targets.n == 4 && !m->all_linear);
    if (m->targets.n == 4) {
        CHECK_STR(m->targets.items[0], "q_proj");
        CHECK_STR(m->targets.items[3], "o_proj");
    }
    CHECK(m->init == NULL);
    const vkft_job_data *d = &job->data;
    CHECK(d->train.n == 2 && d->eval.n == 1);
    if (d->train.n == 2 && d->eval.n == 1) {
        snprintf(want, sizeof want, "%s/job/good/data/train.jsonl", fixtures);
        CHECK_STR(d->train.items[0].path, want);
        CHECK(d->train.items[0].format == VKFT_DATA_TEXT);
        CHECK(d->train.items[0].weight == 3.0);
        CHECK_STR(d->train.items[0].task, "train");            /* the file's stem */
        CHECK(d->train.items[0].prompt_loss_weight == 0.1);   /* the global one */
        CHECK(d->train.items[1].format == VKFT_DATA_COMPLETION);
        CHECK(d->train.items[1].weight == 1.0);
        CHECK_STR(d->train.items[1].task, "answers");
        CHECK(d->train.items[1].prompt_loss_weight == 0.25);
        snprintf(want, sizeof want, "%s/job/good/data/eval.jsonl", fixtures);
        CHECK_STR(d->eval.items[0].path, want);
        CHECK_STR(d->eval.items[0].task, "eval");
        CHECK(d->eval.items[0].prompt_loss_weight == 0.1);
    }
    CHECK(d->seq_len == 256 && !d->shuffle && d->packing && d->prompt_loss_weight == 0.1);
    CHECK(d->chat_template == VKFT_CHAT_LLAMA3 && d->mix_temperature == 2.0);
    const vkft_job_train *t = &job->train;
    CHECK(t->steps == 1000 && t->epochs == 0 && t->batch == 4 && t->grad_accum == 2);
    CHECK(t->lr == 2.0e-4 && t->optimizer == VKFT_JOB_OPTIMIZER_ADAMW);
    CHECK(t->betas[0] == 0.8 && t->betas[1] == 0.95 && t->eps == 1e-6);
    CHECK(t->weight_decay == 0.01 && t->schedule == VKFT_JOB_SCHEDULE_COSINE);
    CHECK(t->no_decay.n == 2);
    if (t->no_decay.n == 2) {
        CHECK_STR(t->no_decay.items[0], "bias");
        CHECK_STR(t->no_decay.items[1], "norm");
    }
    CHECK(t->warmup == 100 && t->clip == 0.5 && t->checkpointing);
    CHECK(t->eval_every == 100 && t->save_every == 500 && t->log_every == 10);
    CHECK(t->seed == 1234);
    snprintf(want, sizeof want, "%s/job/good/out/", fixtures);
    CHECK_STR(job->output_dir, want);
    /* Every path of the fixture exists. */
    if (vkft_job_check_paths(job, &err)) {
        fprintf(stderr, "check_paths: %s\n", err.msg);
        test_failures++;
    }
    vkft_job_free(job);
}

static void test_defaults(void)
{
    vkft_job *job = load_text(minimal, NULL, 0);
    if (!job) return;
    CHECK_STR(job->device, "auto");
    CHECK_STR(job->model_path, "m");           /* no base folder: as written */
    const vkft_job_method *m = &job->method;
    CHECK(m->r == 8 && m->alpha == 8 && m->dropout == 0 && !m->rslora && !m->init);
    CHECK(m->targets.n == 2 && !m->all_linear);
    if (m->targets.n == 2) {
        CHECK_STR(m->targets.items[0], "q_proj");
        CHECK_STR(m->targets.items[1], "v_proj");
    }
    /* Keys of other kinds stay zero. */
    CHECK(m->reduction_factor == 0 && m->num_virtual_tokens == 0 && m->feedforward.n == 0);
    const vkft_job_dataset *ds = &job->data.train.items[0];
    CHECK_STR(ds->path, "d/train.jsonl");
    CHECK(ds->format == VKFT_DATA_AUTO && ds->weight == 0 && ds->prompt_loss_weight == 0);
    CHECK_STR(ds->task, "train");
    const vkft_job_data *d = &job->data;
    CHECK(d->eval.n == 0 && d->seq_len == 512 && d->shuffle && !d->packing);
    CHECK(d->prompt_loss_weight == 0 && d->mix_temperature == 1 && d->chat_template == 0);
    const vkft_job_train *t = &job->train;
    CHECK(t->steps == 5 && t->epochs == 0 && t->batch == 1 && t->grad_accum == 1);
    CHECK(t->lr == 5e-5 && t->betas[0] == 0.9 && t->betas[1] == 0.999 && t->eps == 1e-8);
    CHECK(t->weight_decay == 0 && t->schedule == VKFT_JOB_SCHEDULE_LINEAR && t->warmup == 0);
    CHECK(t->no_decay.n == 0 && !t->no_decay.items);
    CHECK(t->clip == 1.0 && !t->checkpointing && t->eval_every == 0 && t->save_every == 0);
    CHECK(t->log_every == 1 && t->seed == 0);
    CHECK_STR(job->output_dir, "out");
    vkft_job_free(job);
}

static void test_kinds(void)
{
    static const struct {
        const char *method;
        vkft_method_kind kind;
    } cases[] = {
        {"{kind: full}", VKFT_METHOD_FULL},
        {"{kind: qlora, compute_dtype: bf16, targets: all-linear}", VKFT_METHOD_QLORA},
        {"{kind: adapter, placement: houlsby, size: 64, activation: gelu}",
         VKFT_METHOD_ADAPTER},
        {"{kind: prefix, num_virtual_tokens: 10, projection: 128}", VKFT_METHOD_PREFIX},
        {"{kind: prompt, init_text: \"Classify: \"}", VKFT_METHOD_PROMPT},
        {"{kind: ia3}", VKFT_METHOD_IA3},
        {"{kind: bitfit, include_norms: true}", VKFT_METHOD_BITFIT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "model: {path: m}\nmethod: %s\ndata: {train: {path: x.jsonl}}\n"
                 "train: {epochs: 2}\n", cases[i].method);
        vkft_job *job = load_text(text, NULL, 0);
        if (!job) continue;
        const vkft_job_method *m = &job->method;
        CHECK(m->kind == cases[i].kind);
        CHECK(job->train.epochs == 2 && job->train.steps == 0);
        CHECK(job->data.train.n == 1);     /* one mapping is a list of one */
        switch (cases[i].kind) {
        case VKFT_METHOD_FULL: CHECK(m->r == 0 && m->targets.n == 0); break;
        case VKFT_METHOD_QLORA:
            CHECK(m->compute_dtype == VKFT_JOB_DTYPE_BF16 && m->all_linear && m->r == 8);
            CHECK(m->targets.n == 1);
            break;
        case VKFT_METHOD_ADAPTER:
            CHECK(m->placement == VKFT_ADAPTER_HOULSBY && m->size == 64);
            CHECK(m->reduction_factor == 16 && m->activation == VKFT_ADAPTER_GELU);
            break;
        case VKFT_METHOD_PREFIX: CHECK(m->num_virtual_tokens == 10 && m->projection == 128); break;
        case VKFT_METHOD_PROMPT:
            CHECK(m->num_virtual_tokens == 20);
            CHECK_STR(m->init_text, "Classify: ");
            break;
        case VKFT_METHOD_IA3:
            CHECK(m->targets.n == 3 && m->feedforward.n == 1);
            if (m->feedforward.n == 1) CHECK_STR(m->feedforward.items[0], "down_proj");
            break;
        case VKFT_METHOD_BITFIT: CHECK(m->include_norms); break;
        default: CHECK(!"kind");
        }
        vkft_job_free(job);
    }
}

static void test_overrides(void)
{
    const char *sets[] = {
        "train.lr=1e-4",
        "method.targets=[q_proj,v_proj,o_proj]",
        "data.train[0].weight=2",
        "data.eval={path: e.jsonl, task: dev}",
        "train.schedule.kind=cosine",       /* creates train.schedule */
        "train.clip=",                      /* explicit null: the default */
        "device=vulkan:0",
        "output.dir=results",
    };
    vkft_job *job = load_text("model: {path: m}\nmethod: {kind: lora}\n"
                              "data: {train: [{path: d/a.jsonl}]}\n"
                              "train: {steps: 5, clip: 0.25}\n",
                              sets, (int)(sizeof sets / sizeof sets[0]));
    if (!job) return;
    CHECK(job->train.lr == 1e-4);
    CHECK(job->method.targets.n == 3);
    if (job->method.targets.n == 3) CHECK_STR(job->method.targets.items[2], "o_proj");
    CHECK(job->data.train.items[0].weight == 2);
    CHECK(job->data.eval.n == 1);
    if (job->data.eval.n == 1) CHECK_STR(job->data.eval.items[0].task, "dev");
    CHECK(job->train.schedule == VKFT_JOB_SCHEDULE_COSINE);
    CHECK(job->train.clip == 1.0);
    CHECK_STR(job->device, "vulkan:0");
    CHECK_STR(job->output_dir, "results");
    vkft_job_free(job);

    /* An optional list takes [] as none (the printer writes it so); a defaulted one does not. */
    const char *lists[] = {"train.optimizer.no_decay=[bias]", "train.optimizer.no_decay=[]"};
    if ((job = load_text(minimal, lists, 2))) CHECK(job->train.no_decay.n == 0);
    vkft_job_free(job);
    const char *empty_targets[] = {"method.targets=[]"};
    load_fails(minimal, empty_targets, 1,
               "--set method.targets=[]: method.targets: expected at least one name, got an "
               "empty list");

    /* Later overrides win; an override can build a whole job from nothing. */
    const char *build[] = {"model.path=m", "method.kind=bitfit", "data.train=[{path: a}]",
                           "train.steps=3", "train.steps=4"};
    job = load_text("", build, 5);
    if (job) {
        CHECK(job->method.kind == VKFT_METHOD_BITFIT && job->train.steps == 4);
        vkft_job_free(job);
    }
    /* A kind switched by --set drops the keys of the file's kind with a clear message. */
    const char *kind[] = {"method.kind=prompt"};
    load_fails("model: {path: m}\nmethod: {kind: lora, alpha: 4}\n"
               "data: {train: [{path: a}]}\ntrain: {steps: 5}\n", kind, 1,
               "t.yaml:2:22: method.alpha: not a key of method kind 'prompt' "
               "(it belongs to lora, qlora)");
    const char *not_map[] = {"train.steps.x=1"};
    load_fails(minimal, not_map, 1, "--set train.steps.x=1: train.steps is not a mapping");
    const char *not_list[] = {"train[0]=1"};
    load_fails(minimal, not_list, 1, "--set train[0]=1: train is not a list");
}

static void test_paths(void)
{
    /* Written in the file: relative to the job's folder; from --set: as typed (the current
     * directory); absolute: unchanged. */
    const char *sets[] = {"method.init=adapters/a", "data.eval=[{path: /abs/e.jsonl}]"};
    vkft_job *job;
    vkft_err err;
    const char *text = "model: {path: models/m}\nmethod: {kind: lora}\n"
                       "data: {train: [{path: /data/t.jsonl}, {path: ../t2.jsonl}]}\n"
                       "train: {steps: 5}\n";
    if (vkft_job_load_string(text, strlen(text), "jobs/j.yaml", "jobs", sets, 2, &job, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        return;
    }
    CHECK_STR(job->model_path, "jobs/models/m");
    CHECK_STR(job->method.init, "adapters/a");
    CHECK_STR(job->data.train.items[0].path, "/data/t.jsonl");
    CHECK_STR(job->data.train.items[1].path, "jobs/../t2.jsonl");
    CHECK_STR(job->data.train.items[1].task, "t2");
    CHECK_STR(job->data.eval.items[0].path, "/abs/e.jsonl");
    CHECK_STR(job->output_dir, "jobs/out");      /* the default is relative to the job too */
    /* The first path that does not exist is named with where it was written. */
    CHECK(vkft_job_check_paths(job, &err) == VKFT_ERR_IO);
    CHECK_STR(err.msg, "jobs/j.yaml:1:15: model.path: folder 'jobs/models/m': "
                       "No such file or directory");
    vkft_job_free(job);
}

/* YAML output reloads to a job that prints the same; JSON output is valid JSON. */
static void test_print(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/job/good/lora.yaml", fixtures);
    vkft_job *job;
    vkft_err err;
    if (vkft_job_load(path, NULL, 0, &job, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        test_failures++;
        return;
    }
    char *yaml = NULL, *yaml2 = NULL, *json = NULL;
    size_t len;
    CHECK(vkft_job_format(job, false, &yaml, &len, &err) == VKFT_OK);
    CHECK(yaml && strlen(yaml) == len);
    vkft_job *again = NULL;
    if (yaml && vkft_job_load_string(yaml, len, path, NULL, NULL, 0, &again, &err)) {
        fprintf(stderr, "reloading the printed job: %s\n%s", err.msg, yaml);
        test_failures++;
    }
    if (again) {
        CHECK(vkft_job_format(again, false, &yaml2, &len, &err) == VKFT_OK);
        if (yaml2) CHECK_STR(yaml2, yaml);
        CHECK(again->train.lr == job->train.lr && again->method.dropout == job->method.dropout);
        CHECK(again->train.eps == job->train.eps && again->train.betas[1] == job->train.betas[1]);
    }
    /* Only the kind's method keys. */
    CHECK(yaml && strstr(yaml, "  rslora: true\n") && !strstr(yaml, "placement"));
    CHECK(yaml && strstr(yaml, "  lr: 0.0002\n") && strstr(yaml, "  eps: 1.0e-06\n"));
    CHECK(yaml && strstr(yaml, "  epochs: null\n"));

    CHECK(vkft_job_format(job, true, &json, &len, &err) == VKFT_OK);
    vkft_json_doc *doc = NULL;
    if (json && vkft_json_parse(json, len, "job.json", &doc, &err)) {
        fprintf(stderr, "printed JSON does not parse: %s\n%s", err.msg, json);
        test_failures++;
    }
    if (doc) {
        const vkft_json *root = vkft_json_root(doc);
        double lr = 0;
        CHECK(vkft_json_get_double(vkft_json_get(vkft_json_get(root, "train"), "lr"), &lr));
        CHECK(lr == 2.0e-4);
        const vkft_json *train = vkft_json_get(vkft_json_get(root, "data"), "train");
        CHECK(train && train->type == VKFT_JSON_ARRAY && train->len == 2);
        CHECK_STR(vkft_json_get_str(vkft_json_get(vkft_json_at(train, 1), "task")), "answers");
        const vkft_json *targets = vkft_json_get(vkft_json_get(root, "method"), "targets");
        CHECK(targets && targets->type == VKFT_JSON_ARRAY && targets->len == 4);
        CHECK(vkft_json_get(vkft_json_get(root, "train"), "epochs")->type == VKFT_JSON_NULL);
        vkft_json_free(doc);
    }
    /* Strings that YAML would read as something else are quoted. */
    const char *sets[] = {"data.train[0].task=\"true\"", "method.init=\"a b: c\""};
    vkft_job *q = load_text(minimal, sets, 2);
    char *qy = NULL;
    if (q && !vkft_job_format(q, false, &qy, &len, &err)) {
        CHECK(strstr(qy, "task: \"true\"\n") && strstr(qy, "init: \"a b: c\"\n"));
        vkft_job *q2 = load_text(qy, NULL, 0);
        if (q2) {
            CHECK_STR(q2->data.train.items[0].task, "true");
            CHECK_STR(q2->method.init, "a b: c");
            vkft_job_free(q2);
        }
    }
    free(qy);
    vkft_job_free(q);
    free(yaml);
    free(yaml2);
    free(json);
    vkft_job_free(again);
    vkft_job_free(job);
}

/* Misc. rules not worth a fixture each. */
static void test_rules(void)
{
    /* A key with no value is the default; 1e3 is an integer; aliases expand. */
    vkft_job *job = load_text("model: {path: m}\nmethod: {kind: lora, r: &r 4, alpha: *r}\n"
                              "data:\n  train: [{path: a}]\n  eval:\ntrain: {steps: 1e3}\n",
                              NULL, 0);
    if (job) {
        CHECK(job->method.r == 4 && job->method.alpha == 4 && job->train.steps == 1000);
        CHECK(job->data.eval.n == 0);
        vkft_job_free(job);
    }
    load_fails("model: {path: m}\nmethod: {kind: lora}\ndata: {train: [{path: a}]}\n"
               "train: {steps: 1.5}\n", NULL, 0,
               "t.yaml:4:16: train.steps: expected an integer >= 1, got 1.5");
    load_fails("model: {path: m}\nmethod: {kind: lora}\ndata: {train: []}\ntrain: {steps: 1}\n",
               NULL, 0,
               "t.yaml:3:15: data.train: expected at least one dataset, got an empty list");
    load_fails("model: {path: m}\nmethod: {kind: lora}\ndata: {train: [{path: a}]}\n"
               "train: {steps: 1, lr: .nan}\n", NULL, 0,
               "t.yaml:4:23: train.lr: expected a number > 0, got .nan");
    load_fails("model: {path: m}\nmethod: {kind: lora, targets: [q_proj, \"\"]}\n"
               "data: {train: [{path: a}]}\ntrain: {steps: 1}\n", NULL, 0,
               "t.yaml:2:40: method.targets[1]: expected a name, got an empty string");
}

/* Corrupted jobs: each either loads or fails with a message; nothing crashes or leaks. */
static void test_corruptions(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/job/good/lora.yaml", fixtures);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        test_failures++;
        return;
    }
    char base[4096];
    size_t n = fread(base, 1, sizeof base, f);
    fclose(f);
    uint64_t rng = 42;
    static const char junk[] = "{}[]:,-&*!|>'\"#%@` \n\t0a.";
    int failed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char text[4096];
        memcpy(text, base, n);
        int edits = 1 + (int)(test_rand_u64(&rng) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(test_rand_u64(&rng) % n);
            uint64_t r = test_rand_u64(&rng);
            text[at] = (r & 1) ? junk[(r >> 1) % (sizeof junk - 1)] : (char)(r >> 8);
        }
        vkft_job *job;
        vkft_err err = {{0}};
        if (vkft_job_load_string(text, n, "c.yaml", NULL, NULL, 0, &job, &err) == VKFT_OK) {
            char *out;
            if (!vkft_job_format(job, iter & 1, &out, NULL, &err)) free(out);
            vkft_job_free(job);
        } else {
            failed++;
            CHECK(job == NULL && err.msg[0] != '\0');
        }
    }
    /* Most corruptions must be caught (a sanity bound: the check is not vacuous). */
    CHECK(failed > 1500);
}

int main(void)
{
    const char *env = getenv("VKFT_FIXTURES");
    snprintf(fixtures, sizeof fixtures, "%s", env ? env : "tests/fixtures");
    test_full_file();
    test_defaults();
    test_kinds();
    test_overrides();
    test_paths();
    test_print();
    test_rules();
    test_corruptions();
    printf("job: %d failures\n", test_failures);
    return test_failures ? 1 : 0;
}
