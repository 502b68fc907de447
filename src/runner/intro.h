// intro.h: the first lines of a run, which say what it is about to do before
// it spends the time: how many passes over the training split its steps make
// (and a protocol-length run's), what the config resolution changed for a
// short run, and how it will validate.
#ifndef TB_RUNNER_INTRO_H
#define TB_RUNNER_INTRO_H

#include <stdint.h>

#include "config.h"
#include "eval_budget.h"
#include "progress.h"

typedef struct cJSON cJSON;

// Passes over a training split of train_tokens that `steps` steps of
// tokens_per_step tokens make (0 for an empty split).
double intro_epochs(double steps, double tokens_per_step, uint64_t train_tokens);

// Prints the epochs, each line of `notes` (training.resolution_notes, may be
// NULL) and the validation plan.
void intro_print(Progress *p, const ExperimentConfig *cfg, const EvalPlan *plan, const cJSON *notes,
                 uint64_t train_tokens);

#endif
