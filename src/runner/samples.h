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

typedef struct cJSON cJSON;

// The record's "samples" array, or NULL with the error set.
cJSON *samples_generate(Model *m, const Tokenizer *tok, const ExperimentConfig *cfg);

#endif
