// slurm.h: a grid as Slurm job arrays, and the queue's view of them.
//
// One sbatch script per experiment (resources differ between a 6M and a 60M
// model, and an array shares one resource request), written to
// <results>/slurm/<experiment>.sbatch: one array task per run that is not
// completed, its index the run's index in the grid, so that
// `tunebench grid run GRID --task $SLURM_ARRAY_TASK_ID` picks the run (and
// skips or resumes it from its files, as a local worker does). A cuda run
// asks for one GPU (--gres=gpu:1) and runs build/tunebench-cuda. Task logs go
// to <results>/logs/slurm-<job>_<task>.out. Submitted job ids are appended to
// <results>/slurm/jobs.txt, which `grid status --slurm` asks squeue about.
#ifndef TB_GRID_SLURM_H
#define TB_GRID_SLURM_H

#include "grid.h"

// Writes the scripts; with submit, runs sbatch on each and records the job
// ids. `binary_dir` holds tunebench and tunebench-cuda (absolute or relative
// to the working directory; the scripts use absolute paths). 0 or -1.
int slurm_write_and_submit(const Grid *g, const char *binary_dir, int submit);

// Fills state[i] with the squeue state of run i ("PENDING", "RUNNING", ...)
// or "" when the queue does not hold it. Returns the number of tasks the
// queue holds, or -1 (error set) when squeue fails.
int slurm_queue_states(const Grid *g, char (*state)[16]);

#endif
