// sweep.h: the learning-rate sweep (`tunebench sweep`, `make sweep-NAME`).
//
// A sweep trains one experiment for a few steps at each learning rate of a
// log-spaced grid, each a normal `tunebench train` run with its own run id
// (sweep-n<steps>-lr<lr>-s<seed>) under <results>/<experiment>/, and picks
// one rate by the rule below. It writes <results>/<experiment>.json: every
// rate with its run, final and best validation bits per byte, the rule and
// the choice.
#ifndef TB_SWEEP_H
#define TB_SWEEP_H

typedef struct cJSON cJSON;

// The rule, as the sweep's JSON and its closing line state it.
#define SWEEP_RULE                                                                                              \
    "the lowest final validation bits per byte among the completed runs; a diverged run (non-finite loss, "   \
    "status diverged or a null final bpb) or an unfinished one is never chosen; final values within "        \
    "0.001 bpb of the lowest are a tie, won by the smallest learning rate"
#define SWEEP_TIE_BPB 0.001

// The default grid: the experiment's rate times 2^k, k = -2..2.
#define SWEEP_GRID_POINTS 5

typedef struct {
    double lr;
    char run_id[96];
    char record[1200];
    char status[16];      // the record's identity.status ("missing" without a record)
    int steps_done;
    double final_bpb;     // the last validation's bpb (NAN when null or absent)
    double best_bpb;      // the lowest finite bpb
    int best_step;
    char verdict[160];    // why the run was or was not eligible
} SweepRun;

// Fills a run's status, steps and bits per byte from its record (already
// parsed). steps is the sweep's step count: a run that did fewer is unfinished.
void sweep_read_record(SweepRun *run, const cJSON *record, int steps);
// Applies SWEEP_RULE: the index of the chosen run, or -1 when none is
// eligible. Writes each run's verdict.
int sweep_choose(SweepRun *runs, int n);
// The grid around lr: n_points (odd) rates spaced by factors of 2.
void sweep_grid(double lr, int n_points, double *out);

#endif
