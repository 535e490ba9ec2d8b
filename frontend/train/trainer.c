/*
 * The trainer (see trainer.h): setup (model, tokenizer, data, graph, plan, weights), the step
 * loop, evaluation, checkpoints and the final save.
 */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/data.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/method.h"
#include "train/metrics.h"
#include "train/schedule.h"
#include "train/task_loss.h"
#include "util/file.h"

struct vkft_trainer {
    const vkft_job *job;
    vkft_trainer_options opts;
    vkft_device *dev;
    vkft_model_config cfg;
    vkft_tokenizer *tok;
    vkft_dataset *train, *eval;
    vkft_method *method;
    vkft_graph *graph;
    vkft_model_built model;
    vkft_plan *plan;
    vkft_schedule schedule;
    vkft_trainer_info info;
    vkft_ckpt_tensor *persist;      /* trainables + optimizer moments */
    int n_persist;
    /* one micro-batch on the host, reused every step */
    int32_t *tokens, *labels, *task, *token_task;
    float *weights;
    int n_tasks;                    /* per-task loss outputs (0 with a single dataset) */
    float *task_weights;            /* [n_tasks * B*T] */
    double task_sum[VKFT_MAX_TASKS], task_count[VKFT_MAX_TASKS];
    vkft_value task_values[2 * VKFT_MAX_TASKS]; /* per task: loss sum, count */
    int eval_phase;                 /* the forward-only evaluation phase; -1 without data.eval */
    vkft_ckpt_counters counters;
    bool interrupted;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void message(vkft_trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void message(vkft_trainer *t, const char *fmt, ...)
{
    if (!t->opts.on_message) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    t->opts.on_message(t->opts.user, line);
}

static vkft_status open_data(vkft_trainer *t, const vkft_job_datasets *sets, vkft_dataset **out,
                             vkft_err *err)
{
    const vkft_job *job = t->job;
    vkft_data_source src[VKFT_DATA_MAX_SOURCES];
    if (sets->n > VKFT_DATA_MAX_SOURCES)
        return vkft_err_set(err, VKFT_ERR_LIMIT, "data: more than %d datasets",
                            VKFT_DATA_MAX_SOURCES);
    for (int i = 0; i < sets->n; i++) {
        src[i] = (vkft_data_source){
            .path = sets->items[i].path, .format = sets->items[i].format,
            .weight = (float)sets->items[i].weight, .task = sets->items[i].task,
            .prompt_loss_weight = (float)sets->items[i].prompt_loss_weight,
        };
    }
    vkft_data_options o;
    vkft_data_options_default(&o);
    o.seq_len = job->data.seq_len;
    o.shuffle = job->data.shuffle;
    o.packing = job->data.packing;
    o.prompt_loss_weight = (float)job->data.prompt_loss_weight;
    o.seed = job->train.seed;
    o.mix_temperature = (float)job->data.mix_temperature;
    o.chat_template = job->data.chat_template;
    o.vocab_size = (int32_t)t->cfg.vocab;
    /* prompt tuning trains the first token too (from the last virtual token; model.h) */
    o.first_target = t->model.prefix_tokens > 0;
    return vkft_dataset_open(src, sets->n, &o, t->tok, out, err);
}

/* Collects the persistent tensors a checkpoint holds and counts parameters. */
static vkft_status collect_persistent(vkft_trainer *t, vkft_err *err)
{
    int nv = vkft_graph_value_count(t->graph);
    t->persist = calloc((size_t)nv, sizeof *t->persist);
    if (!t->persist) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    for (vkft_value v = 0; v < nv; v++) {
        vkft_role role = vkft_graph_value_role(t->graph, v);
        const char *name = vkft_graph_value_name(t->graph, v);
        const vkft_desc *d = vkft_graph_value_desc(t->graph, v);
        if (!name) continue;
        int64_t numel = 1;
        for (int k = 0; k < d->ndim; k++) numel *= d->shape[k];
        bool moment = role == VKFT_ROLE_STATE &&
                      (!strncmp(name, "adam_m:", 7) || !strncmp(name, "adam_v:", 7));
        if (role == VKFT_ROLE_TRAINABLE) t->info.params_trainable += numel;
        if (role != VKFT_ROLE_TRAINABLE && !moment) continue;
        vkft_ckpt_tensor *c = &t->persist[t->n_persist++];
        if (!(c->name = strdup(name))) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "oom");
        c->ndim = d->ndim;
        memcpy(c->shape, d->shape, sizeof c->shape);
        c->bytes = (size_t)numel * sizeof(float);
    }
    t->info.params_total = vkft_model_param_numel(&t->model);
    /* a method's own parameters add to the model's (full and BitFit train the model's own) */
    if (t->job->method.kind != VKFT_METHOD_FULL && t->job->method.kind != VKFT_METHOD_BITFIT)
        t->info.params_total += t->info.params_trainable;
    return VKFT_OK;
}

/* Evaluation runs a phase of its own holding copies of the forward nodes the losses depend on
 * (vkft_graph_copy_forward): an eval batch costs a forward pass instead of a training step, and
 * touches no gradient. The copies are kept as "eval:loss_sum", "eval:count" and
 * "eval:task_loss_sum:<k>" / "eval:task_count:<k>". */
static vkft_status build_eval_phase(vkft_trainer *t, vkft_err *err)
{
    vkft_value outs[2 + 2 * VKFT_MAX_TASKS], copies[2 + 2 * VKFT_MAX_TASKS];
    char names[2 + 2 * VKFT_MAX_TASKS][48];
    int n = 0;
    outs[n] = t->model.loss_sum;
    snprintf(names[n++], sizeof names[0], "eval:loss_sum");
    outs[n] = t->model.count;
    snprintf(names[n++], sizeof names[0], "eval:count");
    for (int k = 0; k < t->n_tasks; k++) {
        outs[n] = t->task_values[2 * k];
        snprintf(names[n++], sizeof names[0], "eval:task_loss_sum:%d", k);
        outs[n] = t->task_values[2 * k + 1];
        snprintf(names[n++], sizeof names[0], "eval:task_count:%d", k);
    }
    t->eval_phase = vkft_graph_begin_phase(t->graph);
    vkft_status rc = vkft_graph_copy_forward(t->graph, outs, n, copies);
    for (int i = 0; i < n && !rc; i++) rc = vkft_graph_keep(t->graph, copies[i], names[i]);
    if (rc)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "building the evaluation: %s",
                            vkft_graph_error(t->graph));
    return VKFT_OK;
}

/* train.optimizer.no_decay: a trainable decays unless its name contains one of the strings. */
static bool decays(const char *name, void *user)
{
    const vkft_job_strings *no = user;
    for (int i = 0; i < no->n; i++)
        if (strstr(name, no->items[i])) return false;
    return true;
}

static vkft_status build_graph(vkft_trainer *t, vkft_err *err)
{
    const vkft_job *job = t->job;
    vkft_status rc;
    if (vkft_graph_create(&t->graph))
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if ((rc = vkft_method_create(&job->method, &t->cfg, &t->method, err))) return rc;
    vkft_method_set_base(t->method, job->model_path, t->tok);
    vkft_model_build_options bo;
    vkft_model_build_options_default(&bo);
    bo.batch = job->train.batch;
    bo.seq = job->data.seq_len;
    if ((rc = vkft_model_build(&t->cfg, t->graph, &bo, vkft_method_hooks(t->method), &t->model,
                               err)))
        return rc;
    if ((rc = vkft_method_after_build(t->method, &t->model, err))) return rc;
    int n_train = job->data.train.n, n_eval = job->data.eval.n;   /* datasets = list entries */
    if (n_train > 1 || n_eval > 1) {
        t->n_tasks = n_train > n_eval ? n_train : n_eval;
        if ((rc = vkft_task_loss_build(t->graph, &t->model, t->n_tasks, t->task_values, err)))
            return rc;
    }
    vkft_value seed = vkft_graph_leaf(t->graph, "loss_seed", VKFT_ROLE_INPUT, VKFT_F32, 1,
                                      (int64_t[]){1});
    if (seed == VKFT_NONE || vkft_graph_backward(t->graph, t->model.loss_sum, seed))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "building the backward pass: %s",
                            vkft_graph_error(t->graph));
    vkft_optimizer_options oo = {
        .beta1 = (float)job->train.betas[0], .beta2 = (float)job->train.betas[1],
        .eps = (float)job->train.eps, .weight_decay = (float)job->train.weight_decay,
        .clip = (float)job->train.clip,
        .decays = job->train.no_decay.n ? decays : NULL,
        .decays_user = (void *)&job->train.no_decay,
    };
    if (vkft_graph_optimizer(t->graph, &oo) < 0)
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "building the optimizer: %s",
                            vkft_graph_error(t->graph));
    t->eval_phase = -1;
    if (job->data.eval.n > 0 && (rc = build_eval_phase(t, err))) return rc;
    return collect_persistent(t, err);
}

static int64_t total_steps(const vkft_trainer *t)
{
    const vkft_job_train *tr = &t->job->train;
    if (tr->steps > 0) return tr->steps;
    vkft_data_stats s;
    vkft_dataset_stats(t->train, -1, &s);
    int64_t per_step = tr->batch * tr->grad_accum;
    int64_t rows = s.examples;
    if (t->job->data.packing) rows = (s.tokens + t->job->data.seq_len - 1) / t->job->data.seq_len;
    int64_t steps_per_epoch = (rows + per_step - 1) / per_step;
    return tr->epochs * (steps_per_epoch > 0 ? steps_per_epoch : 1);
}

vkft_status vkft_trainer_create(const vkft_job *job, vkft_context *ctx,
                                const vkft_trainer_options *opts, vkft_trainer **out,
                                vkft_err *err)
{
    *out = NULL;
    vkft_trainer *t = calloc(1, sizeof *t);
    if (!t) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    t->job = job;
    if (opts) t->opts = *opts;
    vkft_status rc = vkft_model_config_load(job->model_path, &t->cfg, err);
    /* A model folder without tokenizer.json can still train on pre-tokenised data. */
    char *tok_path = vkft_path_join(job->model_path, "tokenizer.json");
    if (!tok_path) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    if (!rc && vkft_is_file(tok_path)) rc = vkft_tokenizer_load(job->model_path, &t->tok, err);
    free(tok_path);
    /* the graph first: whether rows are shifted depends on the model (open_data) */
    if (!rc) rc = build_graph(t, err);
    if (!rc) rc = open_data(t, &job->data.train, &t->train, err);
    if (!rc && job->data.eval.n > 0) rc = open_data(t, &job->data.eval, &t->eval, err);
    const char *spec = t->opts.device ? t->opts.device : job->device;
    if (!rc && vkft_device_open(ctx, spec, &t->dev))
        rc = vkft_err_set(err, VKFT_ERR_DEVICE, "device %s: %s", spec, vkft_context_error(ctx));
    if (!rc) {
        snprintf(t->info.device_name, sizeof t->info.device_name, "%s",
                 vkft_device_get_info(t->dev)->name);
        vkft_compile_options co = {.recompute = job->train.checkpointing,
                                   .plan_only = t->opts.dry_run};
        rc = vkft_compile(t->dev, t->graph, &co, &t->info.memory, &t->plan);
        /* check (dry run) reports an over-budget plan instead of failing on it */
        if (rc == VKFT_ERR_NO_MEMORY && t->opts.dry_run) rc = VKFT_OK;
        if (rc) rc = vkft_err_set(err, rc, "%s", vkft_device_error(t->dev));
    }
    if (!rc) {
        t->info.total_steps = total_steps(t);
        t->info.tokens_per_step = job->train.batch * job->data.seq_len * job->train.grad_accum;
        /* forward 2, backward 2 (dx) + 2 (dW, trainables only) flops per weight and token */
        double frozen = (double)(t->info.params_total - t->info.params_trainable);
        t->info.flops_per_step = (double)t->info.tokens_per_step *
                                 (4.0 * frozen + 6.0 * (double)t->info.params_trainable);
        vkft_data_stats s;
        vkft_dataset_stats(t->train, -1, &s);
        t->info.train_examples = s.examples;
        t->info.truncated_examples = s.truncated;
        t->schedule = (vkft_schedule){
            .kind = (vkft_schedule_kind)job->train.schedule, .lr = job->train.lr,
            .warmup = job->train.warmup, .total = t->info.total_steps,
        };
    }
    if (!rc && !t->opts.dry_run) {
        vkft_st *st = NULL;
        rc = vkft_st_open(job->model_path, &st, err);
        if (!rc) rc = vkft_model_load_weights(&t->model, st, t->plan, err);
        if (!rc) rc = vkft_method_load_weights(t->method, &t->model, st, t->plan, err);
        vkft_st_close(st);
        if (!rc) rc = vkft_method_init_params(t->method, t->plan, job->train.seed, err);
    }
    if (!rc) {
        size_t n = (size_t)(job->train.batch * job->data.seq_len);
        t->tokens = malloc(n * sizeof *t->tokens);
        t->labels = malloc(n * sizeof *t->labels);
        t->weights = malloc(n * sizeof *t->weights);
        t->task = malloc((size_t)job->train.batch * sizeof *t->task);
        t->token_task = malloc(n * sizeof *t->token_task);
        t->task_weights = malloc(n * (size_t)(t->n_tasks ? t->n_tasks : 1) * sizeof(float));
        if (!t->tokens || !t->labels || !t->weights || !t->task || !t->token_task ||
            !t->task_weights)
            rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    }
    t->counters.seed = job->train.seed;
    if (rc) {
        vkft_trainer_free(t);
        return rc;
    }
    *out = t;
    return VKFT_OK;
}

const vkft_trainer_info *vkft_trainer_get_info(const vkft_trainer *t) { return &t->info; }
bool vkft_trainer_interrupted(const vkft_trainer *t) { return t->interrupted; }

static vkft_status plan_fail(vkft_trainer *t, vkft_err *err)
{
    return vkft_err_set(err, VKFT_ERR_DEVICE, "%s", vkft_plan_error(t->plan));
}

/* Uploads one micro-batch and runs phase (0: forward + backward; eval_phase: forward only, its
 * outputs named with the prefix "eval:"). seed_scale multiplies 1 / weight_sum (1 / K);
 * dropout_step < 0 turns dropout off. */
static vkft_status run_micro(vkft_trainer *t, const vkft_batch *b, int phase, float seed_scale,
                             int32_t dropout_step, double *loss_sum, double *count, vkft_err *err)
{
    const char *prefix = phase == 0 ? "" : "eval:";
    char ls_name[32], count_name[32];
    snprintf(ls_name, sizeof ls_name, "%sloss_sum", prefix);
    snprintf(count_name, sizeof count_name, "%scount", prefix);
    size_t n = (size_t)(t->job->train.batch * t->job->data.seq_len);
    float seed = b->weight_sum > 0 ? (float)(seed_scale / b->weight_sum) : 0.0f;
    if (vkft_plan_upload(t->plan, "tokens", b->tokens, n * sizeof(int32_t)) ||
        vkft_plan_upload(t->plan, "labels", b->labels, n * sizeof(int32_t)) ||
        vkft_plan_upload(t->plan, "loss_weights", b->weights, n * sizeof(float)) ||
        vkft_plan_upload(t->plan, "loss_seed", &seed, sizeof seed))
        return plan_fail(t, err);
    const char *dropout = vkft_method_dropout_input(t->method);
    if (dropout) {
        int32_t ds[2] = {(int32_t)(uint32_t)t->job->train.seed, dropout_step};
        if (vkft_plan_upload(t->plan, dropout, ds, sizeof ds)) return plan_fail(t, err);
    }
    vkft_status rc;
    if (t->n_tasks &&
        (rc = vkft_task_loss_upload(t->plan, b, (int64_t)n, t->n_tasks, t->task_weights, err)))
        return rc;
    float ls, c;
    if (vkft_plan_run(t->plan, phase) ||
        vkft_plan_download(t->plan, ls_name, &ls, sizeof ls) ||
        vkft_plan_download(t->plan, count_name, &c, sizeof c))
        return plan_fail(t, err);
    *loss_sum = ls;
    *count = c;
    if (t->n_tasks)
        return vkft_task_loss_read(t->plan, prefix, t->n_tasks, t->task_sum, t->task_count,
                                   err);
    return VKFT_OK;
}

vkft_status vkft_trainer_eval(vkft_trainer *t, double *loss, vkft_err *err)
{
    *loss = NAN;
    if (!t->eval) return vkft_err_set(err, VKFT_ERR_INVALID_ARG, "the job has no data.eval");
    vkft_dataset_eval_reset(t->eval);
    double sum = 0, count = 0;
    memset(t->task_sum, 0, sizeof t->task_sum);
    memset(t->task_count, 0, sizeof t->task_count);
    for (;;) {
        vkft_batch b = {.tokens = t->tokens, .labels = t->labels, .weights = t->weights,
                        .task = t->task, .token_task = t->token_task};
        bool done = false;
        vkft_status rc = vkft_dataset_eval_next(t->eval, t->job->train.batch, &b, &done, err);
        if (rc) return rc;
        if (done) break;
        double ls = 0, c = 0;
        if ((rc = run_micro(t, &b, t->eval_phase, 0.0f, -1, &ls, &c, err))) return rc;
        sum += ls;
        count += c;
    }
    *loss = count > 0 ? sum / count : NAN;
    return VKFT_OK;
}

static vkft_status save_checkpoint(vkft_trainer *t, vkft_err *err)
{
    vkft_status rc = vkft_ckpt_save(t->job->output_dir, t->plan, t->persist, t->n_persist,
                                    &t->counters, t->train, err);
    if (!rc) message(t, "checkpoint: %s/checkpoints/step-%lld", t->job->output_dir,
                     (long long)t->counters.step);
    return rc;
}

static vkft_status save_result(vkft_trainer *t, vkft_err *err)
{
    const char *sub = vkft_method_output_name(t->method);
    char *dir = vkft_path_join(t->job->output_dir, sub);
    if (!dir) return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    vkft_status rc = vkft_method_save(t->method, &t->model, t->plan, dir, t->job->model_path,
                                      err);
    static const char *const tok_files[] = {"tokenizer.json", "tokenizer_config.json",
                                            "special_tokens_map.json", "generation_config.json"};
    for (size_t i = 0; !rc && t->job->method.kind == VKFT_METHOD_FULL &&
                       i < sizeof tok_files / sizeof *tok_files; i++) {
        char *src = vkft_path_join(t->job->model_path, tok_files[i]);
        char *dst = vkft_path_join(dir, tok_files[i]);
        if (!src || !dst) rc = vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
        else if (vkft_is_file(src)) rc = vkft_file_copy(src, dst, err);
        free(src);
        free(dst);
    }
    if (!rc) message(t, "saved %s", dir);
    free(dir);
    return rc;
}

/* One optimizer step: K micro-batches then clip + AdamW. */
static vkft_status train_step(vkft_trainer *t, vkft_step_metrics *m, vkft_err *err)
{
    const vkft_job_train *tr = &t->job->train;
    int64_t step = t->counters.step;        /* 0-based index of this step */
    double loss_mean = 0;
    int counted = 0;
    memset(t->task_sum, 0, sizeof t->task_sum);
    memset(t->task_count, 0, sizeof t->task_count);
    int64_t tokens = 0;
    for (int64_t k = 0; k < tr->grad_accum; k++) {
        vkft_batch b = {.tokens = t->tokens, .labels = t->labels, .weights = t->weights,
                        .task = t->task, .token_task = t->token_task};
        vkft_status rc = vkft_dataset_next_batch(t->train, tr->batch, &b, err);
        if (rc) return rc;
        double ls = 0, c = 0;
        int32_t dstep = (int32_t)(step * tr->grad_accum + k);
        if ((rc = run_micro(t, &b, 0, 1.0f / (float)tr->grad_accum, dstep, &ls, &c, err)))
            return rc;
        if (c > 0) {
            loss_mean += ls / c;
            counted++;
        }
        tokens += b.real_tokens;
    }
    m->loss = counted ? loss_mean / counted : 0.0;
    if (t->n_tasks) {
        m->n_tasks = vkft_dataset_count(t->train);
        for (int k = 0; k < m->n_tasks; k++) {
            m->task_names[k] = vkft_dataset_task(t->train, k);
            m->task_loss[k] = t->task_count[k] > 0 ? t->task_sum[k] / t->task_count[k] : NAN;
        }
    }
    if (!isfinite(m->loss))
        return vkft_err_set(err, VKFT_ERR_INVALID_ARG,
                            "step %lld: the loss is %s; stopping before the update (the last "
                            "checkpoint is kept). Lower train.lr or set train.clip.",
                            (long long)step + 1, isnan(m->loss) ? "NaN" : "infinite");
    m->lr = vkft_schedule_lr(&t->schedule, step);
    float hyper[2] = {(float)m->lr, (float)(step + 1)};
    float stats[4];
    if (vkft_plan_upload(t->plan, "hyper", hyper, sizeof hyper) || vkft_plan_run(t->plan, 1) ||
        vkft_plan_download(t->plan, "step_stats", stats, sizeof stats))
        return plan_fail(t, err);
    m->grad_norm = stats[3];
    m->tokens = tokens;
    m->step = step + 1;
    m->total_steps = t->info.total_steps;
    t->counters.step = step + 1;
    t->counters.tokens += tokens;
    return VKFT_OK;
}

vkft_status vkft_trainer_run(vkft_trainer *t, vkft_err *err)
{
    const vkft_job *job = t->job;
    vkft_status rc = vkft_mkdirs(job->output_dir, err);
    if (rc) return rc;
    if (t->opts.resume) {
        char *dir = vkft_ckpt_find_latest(job->output_dir);
        if (!dir)
            return vkft_err_set(err, VKFT_ERR_IO, "--resume: no checkpoint in %s/checkpoints",
                                job->output_dir);
        rc = vkft_ckpt_load(dir, t->plan, t->persist, t->n_persist, &t->counters, t->train,
                            err);
        if (!rc) message(t, "resumed from %s (step %lld)", dir, (long long)t->counters.step);
        free(dir);
        if (rc) return rc;
    }
    vkft_metrics *metrics = NULL;
    if ((rc = vkft_metrics_open(job->output_dir, t->opts.resume ? t->counters.step : 0,
                                &metrics, err)))
        return rc;
    double start = now_s() - t->counters.elapsed_s;
    int64_t last_saved = t->counters.step;
    while (t->counters.step < t->info.total_steps) {
        if (t->opts.stop && *t->opts.stop) {
            t->interrupted = true;
            break;
        }
        double t0 = now_s();
        vkft_step_metrics m = {0};
        if ((rc = train_step(t, &m, err))) break;
        double t1 = now_s();
        m.tokens_per_s = (double)m.tokens / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9);
        m.elapsed_s = t1 - start;
        t->counters.elapsed_s = m.elapsed_s;
        bool last = t->counters.step == t->info.total_steps;
        int64_t ev = job->train.eval_every;
        if (t->eval && (last || (ev > 0 && m.step % ev == 0))) {
            if ((rc = vkft_trainer_eval(t, &m.eval_loss, err))) break;
            m.has_eval = true;
            for (int k = 0; t->n_tasks && k < vkft_dataset_count(t->eval); k++) {
                m.eval_task_names[k] = vkft_dataset_task(t->eval, k);
                m.eval_task_loss[k] = t->task_count[k] > 0 ? t->task_sum[k] / t->task_count[k]
                                                           : NAN;
                m.n_eval_tasks = k + 1;
            }
        }
        if ((rc = vkft_metrics_write(metrics, &m, err))) break;
        if (t->opts.on_step) t->opts.on_step(t->opts.user, &m);
        int64_t se = job->train.save_every;
        if (!last && se > 0 && m.step % se == 0) {
            if ((rc = save_checkpoint(t, err))) break;
            last_saved = t->counters.step;
        }
    }
    vkft_metrics_close(metrics);
    if (rc) return rc;
    if (t->counters.step != last_saved || t->interrupted) {
        if ((rc = save_checkpoint(t, err))) return rc;
    }
    if (!t->interrupted) rc = save_result(t, err);
    return rc;
}

void vkft_trainer_free(vkft_trainer *t)
{
    if (!t) return;
    vkft_plan_destroy(t->plan);
    vkft_model_built_free(&t->model);
    vkft_graph_destroy(t->graph);
    vkft_method_free(t->method);
    vkft_dataset_free(t->train);
    vkft_dataset_free(t->eval);
    vkft_tokenizer_free(t->tok);
    vkft_device_close(t->dev);
    for (int i = 0; i < t->n_persist; i++) free(t->persist[i].name);
    free(t->persist);
    free(t->tokens);
    free(t->labels);
    free(t->weights);
    free(t->task);
    free(t->token_task);
    free(t->task_weights);
    free(t);
}
