/* Running a plan's phase on the CPU backend: the prepared calls, in node order (each timed
 * when the plan was compiled with profile). */
#include <time.h>

#include "cpu/cpu_device.h"
#include "graph/plan.h"

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

vkft_status vkft_plan_cpu_run(vkft_plan *p, int phase) {
    for (int i = 0; i < p->n_nodes; i++) {
        vkft_plan_node *n = &p->nodes[i];
        if (n->phase != phase) continue;
        const vkft_op_def *def = vkft_op_def_get(n->op);
        uint64_t t0 = p->profile ? now_ns() : 0;
        vkft_status st = n->elided ? VKFT_OK : def->cpu(p->dev->cpu, &n->call, &p->err);
        if (p->profile) p->node_ns[i] = now_ns() - t0;
        if (st) return st;
    }
    return VKFT_OK;
}
