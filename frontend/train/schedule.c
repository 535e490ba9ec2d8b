/* Learning-rate schedules (see schedule.h for the formulas). */
#include "train/schedule.h"

#include <math.h>

double vkft_schedule_lr(const vkft_schedule *s, int64_t step)
{
    if (step < s->warmup)
        return s->lr * (double)step / (double)(s->warmup > 0 ? s->warmup : 1);
    double span = (double)(s->total - s->warmup);
    double done = (double)(step - s->warmup);
    switch (s->kind) {
    case VKFT_SCHEDULE_CONSTANT:
        return s->lr;
    case VKFT_SCHEDULE_LINEAR:
        return span <= 0 ? 0.0 : s->lr * fmax(0.0, (span - done) / span);
    case VKFT_SCHEDULE_COSINE:
        if (span <= 0) return 0.0;
        return s->lr * fmax(0.0, 0.5 * (1.0 + cos(M_PI * done / span)));
    }
    return s->lr;
}
