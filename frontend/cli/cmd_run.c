/*
 * `vkft run job.yaml [--resume] [--set key=value]... [--device D]`: trains the job. On a
 * terminal a progress line (step, loss, lr, tokens/s, ETA) is redrawn in place; otherwise one
 * plain line per logged step. Ctrl-C stops after the current step and writes a checkpoint
 * (exit 130); a second Ctrl-C exits at once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "job_args.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    if (stop_requested) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_requested = 1;
}

typedef struct progress {
    bool tty;
    int64_t log_every;
    bool line_open;
} progress;

static void fmt_duration(double s, char *buf, size_t n)
{
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

static void on_step(void *user, const vkft_step_metrics *m)
{
    progress *p = user;
    double rate = m->elapsed_s / (double)m->step;   /* includes a resumed run's earlier part */
    char eta[32], el[32];
    fmt_duration(rate * (double)(m->total_steps - m->step), eta, sizeof eta);
    fmt_duration(m->elapsed_s, el, sizeof el);
    char ev[48] = "";
    if (m->has_eval) snprintf(ev, sizeof ev, "  eval %.4f", m->eval_loss);
    if (p->tty) {
        int width = 24, done = (int)(width * m->step / (m->total_steps ? m->total_steps : 1));
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] step %lld/%lld  loss %.4f  lr %.3g  %.0f tok/s  ETA %s%s\033[K",
                bar, (long long)m->step, (long long)m->total_steps, m->loss, m->lr,
                m->tokens_per_s, eta, ev);
        p->line_open = true;
        if (m->has_eval || m->step == m->total_steps) {
            fputc('\n', stderr);
            p->line_open = false;
        }
    } else if (m->step % p->log_every == 0 || m->step == m->total_steps || m->has_eval) {
        printf("step %lld/%lld loss %.4f lr %.4g grad_norm %.4f tokens/s %.0f elapsed %s%s\n",
               (long long)m->step, (long long)m->total_steps, m->loss, m->lr, m->grad_norm,
               m->tokens_per_s, el, ev);
        fflush(stdout);
    }
}

static void on_message(void *user, const char *line)
{
    progress *p = user;
    if (p->line_open) {
        fputc('\n', stderr);
        p->line_open = false;
    }
    fprintf(p->tty ? stderr : stdout, "%s\n", line);
    fflush(stdout);
}

int cmd_run(int argc, char **argv)
{
    static const char *const flags[] = {"--resume"};
    cli_job_args a;
    if (!cli_job_args_parse(argc, argv, flags, 1, &a)) return 2;
    vkft_job *job = cli_job_load(&a);
    if (!job) return 1;
    if (!a.resume) {
        char *ck = vkft_ckpt_find_latest(job->output_dir);
        if (ck) {
            fprintf(stderr, "vkft: %s already holds a checkpoint (%s): use --resume to "
                    "continue it, or choose another output.dir\n", job->output_dir, ck);
            free(ck);
            vkft_job_free(job);
            return 1;
        }
    }
    vkft_context *ctx = cli_context_open();
    if (!ctx) {
        vkft_job_free(job);
        return 1;
    }
    progress p = {.tty = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO),
                  .log_every = job->train.log_every > 0 ? job->train.log_every : 1};
    vkft_trainer_options o = {.resume = a.resume, .device = a.device, .on_step = on_step,
                              .on_message = on_message, .user = &p, .stop = &stop_requested};
    vkft_trainer *t = NULL;
    vkft_err err = {{0}};
    int code = 0;
    if (vkft_trainer_create(job, ctx, &o, &t, &err)) {
        fprintf(stderr, "vkft: %s\n", err.msg);
        code = 1;
    } else {
        const vkft_trainer_info *i = vkft_trainer_get_info(t);
        printf("vkft run %s: %s on %s, %lld steps, %lld trainable of %lld parameters, "
               "%.1f MiB planned\n", a.job_path, vkft_method_kind_name(job->method.kind),
               i->device_name, (long long)i->total_steps, (long long)i->params_trainable,
               (long long)i->params_total, (double)i->memory.total / 1048576.0);
        fflush(stdout);
        struct sigaction sa = {0};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        if (vkft_trainer_run(t, &err)) {
            if (p.line_open) fputc('\n', stderr);
            fprintf(stderr, "vkft: %s\n", err.msg);
            code = 1;
        } else if (vkft_trainer_interrupted(t)) {
            on_message(&p, "interrupted: checkpoint written; continue with --resume");
            code = 130;
        }
        signal(SIGINT, SIG_DFL);
    }
    vkft_trainer_free(t);
    vkft_context_destroy(ctx);
    vkft_job_free(job);
    return code;
}
