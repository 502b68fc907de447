// samples.h: a few generated tunes for the run record, so a reader sees (not
// only measures) what the model learned.
//
// Tune i uses seed cfg->seed + i. The model first reads the end-of-tune token
// (in the shards every tune follows one, so it stands for "a new tune
// starts") and then the prompt; it samples until the end-of-tune token, the
// length cap (samples.max_tokens) or the model's context.
#ifndef TB_RUNNER_SAMPLES_H
#define TB_RUNNER_SAMPLES_H

#include "../../data/tokenizer.h"
#include "../../models/model.h"
#include "config.h"
#include "progress.h"

typedef struct cJSON cJSON;

// Checks the samples.* settings before a run trains: the sampler accepts
// them as the floats it uses (a top_p of 1e-50 is 0) and the prompt's tokens
// leave room in the model's context. 0, or -1 with the error naming the key.
int samples_check(const Model *m, const Tokenizer *tok, const ExperimentConfig *cfg);
// The record's "samples" array, or NULL with the error set. tick (may be
// NULL) runs after each tune; when it asks to stop, the result is NULL,
// *stopped is 1 and no error is set.
cJSON *samples_generate(Model *m, const Tokenizer *tok, const ExperimentConfig *cfg, const PhaseTick *tick,
                        int *stopped);

#endif
