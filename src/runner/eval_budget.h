// eval_budget.h: how much of a run validation may take, and what is left.
//
// A validation runs the model forward over the same sequential windows of the
// validation split each time (src/evaluate.h). On a protocol-length run it is
// cheap; on a short run (make exp-* STEPS=50), where config_resolve asks for
// about ten validations, whole validations would take most of the run. So a
// run's validations are planned from token counts before it starts:
//
//   cost of the run's validations   V x W forward windows
//   cost of its training            R x B x steps forward windows
//
// with V validations (step 0 and the last step included) of W windows each, B
// sequences per step, and R = EVAL_WINDOWS_PER_TRAIN_SEQUENCE, what one
// training sequence (forward, backward and update) costs in forward windows.
// When V x W would exceed eval.max_share of the total, the plan first keeps
// the whole configured set of windows and validates less often (at least
// three times: the start, the middle and the end); only when three whole
// validations are too many does it use fewer windows (the first ones, whole
// batches, at least one batch). The plan is a function of the config and the
// split's size, never of measured times, so the same command validates on the
// same windows on every machine, and a resumed run keeps its recorded plan.
//
// Protocol-length runs are far inside the budget: 101 validations of the
// default corpus's 214 windows against 100,000 steps of 8 sequences, about 1%
// of the compute; their validations stay as configured (the whole split).
//
// The ETA: the training steps left at the median time of the recent steps
// (train.c), plus the validations left at the seconds per window measured so
// far (from the first validation, before step 1, refined by each later one),
// plus the checkpoints left at the mean measured time (an estimate from the
// checkpoint's bytes until the first one is written), plus the final phase
// (eta_final_seconds).
#ifndef TB_RUNNER_EVAL_BUDGET_H
#define TB_RUNNER_EVAL_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct cJSON cJSON;

// A training sequence costs about three forward windows. The reference set's
// records (results/reference, 2-core CPU, 8 x 256) measured the ratio of step
// time per sequence to validation time per window at 3.0 (gpt2-6m: 549 ms a
// step, 54 s for 11 x 214 windows), 2.9 (mamba-6m), 3.1 (gpt2-60m) and 3.1
// (mamba-60m).
#define EVAL_WINDOWS_PER_TRAIN_SEQUENCE 3.0
// The fewest validations a budget-limited run keeps: the start, middle and end.
#define EVAL_MIN_VALIDATIONS 3

typedef struct {
    double max_share;             // eval.max_share
    uint64_t split_windows;       // windows in the whole validation split
    uint64_t configured_windows;  // windows per validation the config asked for (eval.batches, capped by the split)
    uint64_t windows;             // windows per validation in this run
    int validations;              // validations in this run, step 0 and the last step included
    double estimated_share;       // V x W / (V x W + R x B x steps)
    int protocol_eval_interval;   // the config file's eval.interval (before resolution)
    int protocol_validations;     // validations of a protocol-length run at that interval
    int limited;                  // the budget changed eval.interval or eval.batches
} EvalPlan;

// Validations a run of `steps` steps makes at `interval`: step 0, every
// interval-th step and the last step.
int eval_count(int steps, int interval);

// Plans a new run's validations and applies the plan to cfg->eval_interval
// and cfg->eval_batches (after config_resolve). val_tokens: tokens in the
// validation split; protocol_eval_interval: eval.interval before resolution.
// Adds a line to `notes` (a JSON array) for each changed key.
void eval_budget_apply(EvalPlan *plan, ExperimentConfig *cfg, uint64_t val_tokens, int protocol_eval_interval,
                       cJSON *notes);
// A resumed run's plan: its recorded config, and what training.validation_plan
// of its record says about the config before the budget (absent from records
// older than the budget: the defaults then).
void eval_plan_load(EvalPlan *plan, const cJSON *training, const ExperimentConfig *cfg, uint64_t val_tokens);
// One line for the console: what the run validates and why.
void eval_plan_rule(const EvalPlan *plan, const ExperimentConfig *cfg, char *out, size_t cap);
// The plan as the record's training.validation_plan.
cJSON *eval_plan_json(const EvalPlan *plan);

// ---------------------------------------------------------------- the ETA

typedef struct {
    double eval_s;           // seconds validating (this segment)
    uint64_t eval_windows;   // windows validated (this segment)
    double ckpt_s;           // seconds checkpointing (this segment)
    int ckpts;               // checkpoints written (this segment)
    double ckpt_bytes;       // bytes of one checkpoint (parameters and AdamW moments)
    int context;             // the model's context, for the final phase (0: leave it out)
} RunCosts;

typedef struct {
    double train_s, eval_s, ckpt_s, final_s, total_s;
    int evals_left, ckpts_left;
} Eta;

// The final phase, the inference timings (inference.repeats + 1 passes of
// prefills of 16, 64 and 256 tokens and a decode of the whole context) and
// the samples (samples.count tunes of up to samples.max_tokens), estimated
// from the validation's seconds per token: a batch-1 decode step costs about
// ETA_DECODE_TOKEN_COST validation tokens (9.2 to 17.3 in the reference set's
// records: decode_ms_median against eval_seconds per validated token), a
// prefill token about ETA_PREFILL_TOKEN_COST.
#define ETA_DECODE_TOKEN_COST 12.0
#define ETA_PREFILL_TOKEN_COST 2.0
double eta_final_seconds(const ExperimentConfig *cfg, const RunCosts *costs);

// What is left after training step `step` (its validation and checkpoint
// included) at `step_s` seconds per training step.
void eta_remaining(Eta *eta, const ExperimentConfig *cfg, const EvalPlan *plan, const RunCosts *costs, int step,
                   double step_s);
// The same for a protocol-length run from scratch, at the config's
// validations (plan->protocol_validations of plan->configured_windows) and
// checkpoint interval.
void eta_protocol(Eta *eta, const ExperimentConfig *cfg, const EvalPlan *plan, const RunCosts *costs,
                  double step_s);
// The line a run prints once its step time is known: the rest of this run
// and a protocol-length run, each split into training, validation and checkpoints.
void eta_describe(char *out, size_t cap, const ExperimentConfig *cfg, const EvalPlan *plan, const RunCosts *costs,
                  int step, double step_s);
// Seconds per validation window so far (NAN before the first validation).
double eta_seconds_per_window(const RunCosts *costs);

#endif
