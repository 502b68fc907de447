// intro.c: see intro.h.
#include "intro.h"

#include <cjson/cJSON.h>

// Above this many passes over its training split, a run is told that it will
// overfit and how to use a larger corpus. After 4 epochs of the default corpus
// mamba-6m's training loss was already 1.65 against a validation loss of 2.55.
#define INTRO_MANY_EPOCHS 10.0

double intro_epochs(double steps, double tokens_per_step, uint64_t train_tokens) {
    return train_tokens ? steps * tokens_per_step / (double)train_tokens : 0;
}

void intro_print(Progress *p, const ExperimentConfig *c, const EvalPlan *plan, const cJSON *notes,
                 uint64_t train_tokens) {
    double per_step = (double)c->batch_size * c->seq_len;
    double run = intro_epochs(c->steps, per_step, train_tokens);
    double protocol = intro_epochs(PROTOCOL_STEPS, per_step, train_tokens);
    char also[96] = "";
    if (c->steps != PROTOCOL_STEPS)
        snprintf(also, sizeof also, "; the protocol's %d steps would make %.1f", PROTOCOL_STEPS, protocol);
    progress_note(p, "epochs: %d steps of %.0f tokens make %.2f passes over the %.2fM training tokens of %s%s",
                  c->steps, per_step, run, (double)train_tokens / 1e6, c->data_dir, also);
    if (run > INTRO_MANY_EPOCHS || protocol > INTRO_MANY_EPOCHS)
        progress_note(p, "epochs: %.0f passes over one corpus overfit (the validation curve, not the training "
                         "loss, is the result); a larger corpus: make data DATASET=irishman, or make data "
                         "ABC_SRC=\"FILES OR FOLDERS\"", run > protocol ? run : protocol);
    for (const cJSON *n = notes ? notes->child : NULL; n; n = n->next)
        if (cJSON_IsString(n)) progress_note(p, "short run: %s", n->valuestring);
    char rule[1024];
    eval_plan_rule(plan, c, rule, sizeof rule);
    progress_note(p, "%s", rule);
}
