// run.h: one training run's state, shared by the files of `tunebench train`:
// train.c (arguments, data, model, the loop, the command), resume.c (what a
// resumed run takes from its record and checkpoint), best.c (the best
// checkpoint) and finish.c (the final phase and the closing lines).
#ifndef TB_RUNNER_RUN_H
#define TB_RUNNER_RUN_H

#include <stdint.h>

#include "../../data/shards.h"
#include "../../data/tokenizer.h"
#include "../../models/checkpoint.h"
#include "../../models/model.h"
#include "config.h"
#include "eval_budget.h"
#include "progress.h"
#include "record.h"

// Files of a prepared corpus (`make data`).
#define CORPUS_TRAIN "train.bin"
#define CORPUS_VAL "val.bin"
#define CORPUS_VOCAB "vocab.tok"
#define CORPUS_MANIFEST "manifest.json"

// Steps at the start of each run segment left out of the timing median:
// the first steps pay for page faults and cold caches.
#define TIMING_WARMUP_STEPS 3
// The ETA and the tokens/s shown take the median of this many recent steps.
#define ETA_RECENT_STEPS 50

// Exit statuses besides 0 (completed) and 1 (error).
#define EXIT_DIVERGED 3

typedef struct Run {
    ExperimentConfig cfg;
    char run_id[96];
    char run_dir[1024];      // the checkpoint directory
    char record_path[1100];
    char command[2048];

    Tokenizer *tok;
    DataLoader train, val;
    Model *model;
    OptimConfig optim;
    int32_t *inputs, *targets;  // (B, T)
    int *token_bytes;           // (V) decoded byte length of each token

    char best_dir[1100];     // the best checkpoint: <run_dir>.best
    int best_step;           // its step, -1 before the first validation after step 0
    double best_loss, best_bpb;
    int evals_since_best;    // validations since the best one (eval.patience)
    int best_saved;          // best_dir holds the checkpoint of best_step

    RunRecord rec;
    Progress progress;
    EvalPlan plan;           // the run's validations (eval_budget.h)
    RunCosts costs;          // measured validation and checkpoint time, for the ETA
    int start_step;          // steps already done when this segment began
    double *step_ms;         // (steps - start_step) times of this segment
    double eta_scratch[ETA_RECENT_STEPS];  // the recent step times, sorted for their median
    int timed;               // entries in step_ms
    double train_s_before;   // training seconds of earlier segments
    double wall_s_before;    // wall seconds of earlier segments
    double eval_s_before, ckpt_s_before;  // validation and checkpoint seconds of earlier segments
    double median_before;    // the recorded median step time (NAN if none), for a segment without steps
    int skip_before, timed_before;
    double t_start;          // this segment's start (monotonic)
    TbCpuSample cpu_start;   // the CPUs' counters at that moment (timing.contention)
    double train_s, eval_s, ckpt_s;
    uint64_t fault_nan_step; // test hooks, see cmd_train
    uint64_t fault_stop_step;
    uint64_t fault_kill_step;
    int fault_kill_final;    // test hook: SIGKILL at the first tick of the final phase
    uint64_t fault_kill_best; // test hook: SIGKILL right after the best checkpoint of this step
    int fault_stop_final;    // test hook: SIGTERM at this tick of the final phase
    int final_ticks;
    int training_done;       // a resumed run whose training ended: only the final phase is left
    double final_s;          // seconds of the inference timings and samples
    int record_started;      // this process has written the record
    int threads_given;       // --threads was on the command line
    int verify_corpus;       // check the corpus files against its manifest (not --no-verify-corpus)
    int allow_config_change; // --allow-config-change: a resume may continue with an edited config
    char verification[64];   // what that check did, for data.verification
    double verify_s;         // its seconds
    int stop_signal;         // the signal that interrupted the run
} Run;

// What ended the loop (or the final phase).
typedef enum { END_COMPLETED, END_INTERRUPTED, END_DIVERGED, END_ERROR } RunEnd;

// train_loop.c
// The steps from run->start_step; *last_step is the last one done.
RunEnd train_loop(Run *run, int *last_step);
// Mean loss (nats per token) and bits per byte over the validation windows
// the config asks for, as of `step`.
int run_evaluate_val(Run *run, int step, double *loss, double *bpb, long long *tokens);
// Wall seconds of the run so far, earlier segments included.
double run_wall_seconds(const Run *run);
// The model and everything a resume needs, as of `step`, into dir.
int run_save_state(Run *run, const char *dir, int step);
// Updates the timing and memory sections and writes the record.
int run_write_record(Run *run, int steps_done);

// resume.c
// --resume accepts the checkpoint directory or the record beside it: reads
// the record, its config and its earlier segments' times.
int run_locate_resume(Run *run, const char *arg);
// The record's config against the checkpoint's (run_config.json and the
// optimizer of train_state.bin): a difference is an error naming the keys,
// unless allow_change, when the resumed segment lists them.
int run_check_resume_config(Run *run, const TrainState *ts, int allow_change);

// finish.c
// The inference timings and samples of the trained model, each showing its
// progress and stopping at a signal between its parts (END_INTERRUPTED).
RunEnd run_final_phase(Run *run);
// A completed run's last lines: its losses, its time and what to do next.
void run_closing_lines(Run *run, int last_step);

#endif
