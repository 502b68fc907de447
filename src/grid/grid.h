// grid.h: an experiment grid, grids/<name>.json, expanded into runs.
//
// A grid names experiments (experiments/NAME.json, or a config's path) and
// the axes to cross them with: seeds, peak learning rates, precisions. Each
// combination is one run of `tunebench train` with a stable run id,
//   <experiment>[-lr<lr>]-s<seed>       (-lr only when the grid sweeps it)
// whose record and checkpoint go to <results>/<experiment>/<run-id>[.json],
// so a grid's folder is a records folder like any other (make plots tables
// RECORDS=<folder>). The id depends on the values, never on their order in
// the file, so adding a seed or a rate leaves the other runs' ids alone.
//
// A run's state comes from its files only (record, checkpoint, lock): the
// grid tools keep no state of their own, so `make grid` after a crash, on
// another node or under Slurm sees the same thing.
#ifndef TB_GRID_GRID_H
#define TB_GRID_GRID_H

#include <stdint.h>

#include "../runner/config.h"

#define GRID_MAX_RUNS 4096
#define GRID_MAX_SETS 32

// What a Slurm array task of an experiment asks for.
typedef struct {
    int cpus;          // --cpus-per-task
    char mem[32];      // --mem ("8G")
    char time[32];     // --time ("04:00:00", "2-00:00:00")
} GridResources;

typedef struct {
    char run_id[96];
    char experiment[64];      // the config's experiment: names the records' folder
    char config_path[512];    // the experiment's config file
    int64_t seed;
    double lr;                // the peak learning rate this run trains with
    int lr_swept;             // the grid sets it (--set optimizer.lr=)
    int steps;                // optimizer steps (the grid's, else the config's)
    char backend[8];
    char precision[8];
    GridResources res;
} GridRun;

typedef struct {
    char path[512];           // the grid file
    char name[64];            // "study": names the default results folder
    char results[512];        // <results>/<experiment>/<run-id>.json
    int steps;                // 0: each experiment's own
    char backend[8];          // "": each experiment's own
    char sets[GRID_MAX_SETS][600];  // "key=value" for `train --set`, applied to every run
    int n_sets;
    char partition[64], account[64];
    int n_runs;
    GridRun *runs;
} Grid;

// Reads and expands a grid file: every experiment config is loaded with the
// grid's overrides and checked as `tunebench train` would, so a bad key or
// value stops here, naming the grid file. 0, or -1 with the error set.
int grid_load(Grid *g, const char *path);
void grid_free(Grid *g);

typedef enum {
    RUN_PENDING,      // no record yet
    RUN_RUNNING,      // a process holds the run's lock
    RUN_RESUMABLE,    // stopped before its last step, with a checkpoint
    RUN_RESTART,      // a record without a checkpoint: killed before its first one
    RUN_COMPLETED,
    RUN_DIVERGED,
    RUN_MISMATCH,     // the record on disk is another run (steps, seed or rate differ)
} RunState;

typedef struct {
    RunState state;
    int steps_done;           // from the record's timing; 0 without one
    double train_loss;        // the last curve row's (NAN without)
    double val_bpb;           // the last validation's (NAN without)
    double tokens_per_step;
    char detail[1600];        // why a record is a mismatch
} RunStatus;

// The paths of a run's record and checkpoint folder.
void grid_run_paths(const Grid *g, const GridRun *r, char *record, int record_cap, char *dir, int dir_cap);
// Reads a run's files into st.
void grid_run_status(const Grid *g, const GridRun *r, RunStatus *st);
const char *grid_state_name(RunState s);

#endif
