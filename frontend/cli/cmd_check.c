/*
 * `vkft check job.yaml [--json] [--set key=value]... [--device D]`: validates the job, prints it
 * with every default filled in, then plans it against the device without training: parameter
 * counts (total, trainable), the memory report, FLOPs per step and whether it fits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "job_args.h"
#include "train/trainer.h"
#include "util/json.h"

static double mib(uint64_t b) { return (double)b / 1048576.0; }

static void print_text(const vkft_trainer_info *i)
{
    const vkft_memory_report *r = &i->memory;
    printf("\n# plan\n");
    printf("device: %s\n", i->device_name);
    printf("parameters: %lld total, %lld trainable (%.3f%%)\n", (long long)i->params_total,
           (long long)i->params_trainable,
           i->params_total ? 100.0 * (double)i->params_trainable / (double)i->params_total : 0.0);
    printf("train examples: %lld (%lld truncated to seq_len)\n", (long long)i->train_examples,
           (long long)i->truncated_examples);
    printf("steps: %lld, positions per step: %lld, ~%.3g FLOPs per step\n",
           (long long)i->total_steps, (long long)i->tokens_per_step, i->flops_per_step);
    printf("memory (MiB): frozen weights %.1f, trainables %.1f, gradients %.1f, optimizer "
           "state %.1f, inputs %.1f, activations %.1f (%.1f without reuse), workspace %.1f\n",
           mib(r->frozen_weights), mib(r->trainables), mib(r->gradients),
           mib(r->optimizer_state), mib(r->inputs), mib(r->activations),
           mib(r->activations_no_reuse), mib(r->workspace));
    printf("total: %.1f MiB of %.1f MiB available: %s\n", mib(r->total), mib(r->budget),
           !r->budget || r->total <= r->budget ? "fits" : "does NOT fit");
}

static void print_json(const char *job_json, const vkft_trainer_info *i)
{
    const vkft_memory_report *r = &i->memory;
    vkft_json_writer w;
    vkft_json_writer_init(&w, 2);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "job"); vkft_json_raw(&w, job_json, strlen(job_json));
    vkft_json_key(&w, "device"); vkft_json_str(&w, i->device_name);
    vkft_json_key(&w, "params_total"); vkft_json_int(&w, i->params_total);
    vkft_json_key(&w, "params_trainable"); vkft_json_int(&w, i->params_trainable);
    vkft_json_key(&w, "train_examples"); vkft_json_int(&w, i->train_examples);
    vkft_json_key(&w, "truncated_examples"); vkft_json_int(&w, i->truncated_examples);
    vkft_json_key(&w, "steps"); vkft_json_int(&w, i->total_steps);
    vkft_json_key(&w, "flops_per_step"); vkft_json_f64(&w, i->flops_per_step);
    vkft_json_key(&w, "memory");
    vkft_json_obj_begin(&w);
    const struct { const char *k; uint64_t v; } parts[] = {
        {"frozen_weights", r->frozen_weights}, {"trainables", r->trainables},
        {"gradients", r->gradients}, {"optimizer_state", r->optimizer_state},
        {"inputs", r->inputs}, {"activations", r->activations},
        {"activations_no_reuse", r->activations_no_reuse}, {"workspace", r->workspace},
        {"total", r->total}, {"budget", r->budget},
    };
    for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) {
        vkft_json_key(&w, parts[k].k);
        vkft_json_int(&w, (int64_t)parts[k].v);
    }
    vkft_json_obj_end(&w);
    vkft_json_key(&w, "fits"); vkft_json_bool(&w, !r->budget || r->total <= r->budget);
    vkft_json_obj_end(&w);
    char *out = NULL;
    size_t len = 0;
    if (!vkft_json_writer_finish(&w, &out, &len, NULL)) printf("%s\n", out);
    free(out);
}

int cmd_check(int argc, char **argv)
{
    static const char *const flags[] = {"--json"};
    cli_job_args a;
    if (!cli_job_args_parse(argc, argv, flags, 1, &a)) return 2;
    vkft_job *job = cli_job_load(&a);
    if (!job) return 1;
    vkft_err err = {{0}};
    char *text = NULL;
    size_t len = 0;
    int code = 0;
    if (vkft_job_format(job, a.json, &text, &len, &err)) {
        fprintf(stderr, "vkft: %s\n", err.msg);
        vkft_job_free(job);
        return 1;
    }
    if (!a.json) printf("%s", text);
    vkft_context *ctx = cli_context_open();
    vkft_trainer *t = NULL;
    vkft_trainer_options o = {.device = a.device, .dry_run = true};
    if (!ctx) {
        code = 1;
    } else if (vkft_trainer_create(job, ctx, &o, &t, &err)) {
        fprintf(stderr, "vkft: %s\n", err.msg);
        code = 1;
    } else {
        const vkft_trainer_info *i = vkft_trainer_get_info(t);
        if (a.json) print_json(text, i);
        else print_text(i);
        if (i->memory.budget && i->memory.total > i->memory.budget) code = 1;
    }
    free(text);
    vkft_trainer_free(t);
    vkft_context_destroy(ctx);
    vkft_job_free(job);
    return code;
}
