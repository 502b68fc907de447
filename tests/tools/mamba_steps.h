// mamba_steps.h: the training steps behind tests/fixtures/mamba/ssm-names/,
// shared by the tool that wrote it (make_ssm_names_checkpoint.c) and the test
// that resumes it (test_checkpoint_formats.c): tiny-mamba at V = 64, AdamW,
// batch (2, 8) of tokens drawn from a generator seeded with the step.
#ifndef TB_TEST_MAMBA_STEPS_H
#define TB_TEST_MAMBA_STEPS_H

#include "lib/common.h"
#include "models/model.h"

enum { STEPS_V = 64, STEPS_B = 2, STEPS_T = 8, STEPS_SAVED = 3, STEPS_LAST = 5 };

static inline void steps_optim(OptimConfig *oc) {
    optim_config_default(oc);
    oc->lr = 1e-2f, oc->min_lr = 1e-3f, oc->warmup_steps = 1, oc->total_steps = STEPS_LAST;
}

// AdamW steps first..last (from 1).
static inline void steps_train(Model *m, const OptimConfig *oc, int first, int last) {
    int32_t inputs[STEPS_B * STEPS_T], targets[STEPS_B * STEPS_T];
    for (int step = first; step <= last; step++) {
        Rng r;
        rng_seed(&r, 100 + (uint64_t)step);
        for (int i = 0; i < STEPS_B * STEPS_T; i++)
            inputs[i] = (int32_t)rng_below(&r, STEPS_V), targets[i] = (int32_t)rng_below(&r, STEPS_V);
        model_zero_grad(m);
        m->vt->forward(m, inputs, targets, STEPS_B, STEPS_T);
        m->vt->backward(m);
        model_adamw_step(m, oc, step, optim_lr_at(oc, step));
    }
}

#endif
