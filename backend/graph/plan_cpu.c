/* Running a plan's phase on the CPU backend: the prepared calls, in node order. */
#include "cpu/cpu_device.h"
#include "graph/plan.h"

vkft_status vkft_plan_cpu_run(vkft_plan *p, int phase) {
    for (int i = 0; i < p->n_nodes; i++) {
        vkft_plan_node *n = &p->nodes[i];
        if (n->phase != phase) continue;
        const vkft_op_def *def = vkft_op_def_get(n->op);
        vkft_status st = def->cpu(p->dev->cpu, &n->call, &p->err);
        if (st) return st;
    }
    return VKFT_OK;
}
