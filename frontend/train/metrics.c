/* metrics.jsonl (see metrics.h). */
#include "train/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"
#include "util/json.h"

struct vkft_metrics {
    FILE *f;
    char *path;
};

size_t vkft_metrics_format(const vkft_step_metrics *s, char *buf, size_t cap)
{
    vkft_json_writer w;
    vkft_json_writer_init(&w, 0);
    vkft_json_obj_begin(&w);
    vkft_json_key(&w, "step"); vkft_json_int(&w, s->step);
    vkft_json_key(&w, "loss"); vkft_json_f32(&w, (float)s->loss);
    vkft_json_key(&w, "lr"); vkft_json_f32(&w, (float)s->lr);
    vkft_json_key(&w, "grad_norm"); vkft_json_f32(&w, (float)s->grad_norm);
    vkft_json_key(&w, "tokens"); vkft_json_int(&w, s->tokens);
    vkft_json_key(&w, "tokens_per_s"); vkft_json_f64(&w, (double)(int64_t)(s->tokens_per_s * 10) / 10);
    vkft_json_key(&w, "elapsed_s"); vkft_json_f64(&w, (double)(int64_t)(s->elapsed_s * 1000) / 1000);
    if (s->n_tasks) {
        vkft_json_key(&w, "task_loss");
        vkft_json_obj_begin(&w);
        for (int k = 0; k < s->n_tasks; k++) {
            vkft_json_key(&w, s->task_names[k]);
            vkft_json_f32(&w, (float)s->task_loss[k]);
        }
        vkft_json_obj_end(&w);
    }
    if (s->has_eval) {
        vkft_json_key(&w, "eval_loss");
        vkft_json_f32(&w, (float)s->eval_loss);
    }
    if (s->n_eval_tasks) {
        vkft_json_key(&w, "eval_task_loss");
        vkft_json_obj_begin(&w);
        for (int k = 0; k < s->n_eval_tasks; k++) {
            vkft_json_key(&w, s->eval_task_names[k]);
            vkft_json_f32(&w, (float)s->eval_task_loss[k]);
        }
        vkft_json_obj_end(&w);
    }
    vkft_json_obj_end(&w);
    char *text = NULL;
    size_t len = 0;
    if (vkft_json_writer_finish(&w, &text, &len, NULL)) {
        if (cap) buf[0] = '\0';
        return 0;
    }
    size_t n = len < cap ? len : (cap ? cap - 1 : 0);
    if (cap) {
        memcpy(buf, text, n);
        buf[n] = '\0';
    }
    free(text);
    return n;
}

/* Keeps the rows with "step" <= keep of an existing file (rewritten atomically). */
static vkft_status truncate_rows(const char *path, int64_t keep, vkft_err *err)
{
    if (!vkft_is_file(path)) return VKFT_OK;
    char *text = NULL;
    size_t len = 0;
    vkft_status rc = vkft_file_read(path, &text, &len, err);
    if (rc) return rc;
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        long long step = -1;
        if (sscanf(text + i, "{\"step\":%lld", &step) == 1 && step <= keep) {
            memmove(text + out, text + i, end - i);
            out += end - i;
        }
        i = end;
    }
    rc = vkft_file_write_atomic(path, text, out, err);
    free(text);
    return rc;
}

vkft_status vkft_metrics_open(const char *out_dir, int64_t keep_steps, vkft_metrics **out,
                              vkft_err *err)
{
    *out = NULL;
    vkft_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->path = vkft_path_join(out_dir, "metrics.jsonl"))) {
        free(m);
        return vkft_err_set(err, VKFT_ERR_NO_MEMORY, "out of memory");
    }
    vkft_status rc = keep_steps > 0 ? truncate_rows(m->path, keep_steps, err)
                                    : vkft_file_write_atomic(m->path, "", 0, err);
    if (!rc && !(m->f = fopen(m->path, "a")))
        rc = vkft_err_set(err, VKFT_ERR_IO, "%s: cannot open: %s", m->path, strerror(errno));
    if (rc) {
        free(m->path);
        free(m);
        return rc;
    }
    *out = m;
    return VKFT_OK;
}

vkft_status vkft_metrics_write(vkft_metrics *m, const vkft_step_metrics *s, vkft_err *err)
{
    char line[4096];
    size_t n = vkft_metrics_format(s, line, sizeof line - 1);
    line[n++] = '\n';
    if (fwrite(line, 1, n, m->f) != n || fflush(m->f) || fsync(fileno(m->f)))
        return vkft_err_set(err, VKFT_ERR_IO, "%s: write failed: %s", m->path, strerror(errno));
    return VKFT_OK;
}

void vkft_metrics_close(vkft_metrics *m)
{
    if (!m) return;
    if (m->f) fclose(m->f);
    free(m->path);
    free(m);
}
