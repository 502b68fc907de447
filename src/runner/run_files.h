// run_files.h: what ties a run's files together and keeps them its own.
//
//   <results>/<experiment>/<run-id>.json   the record
//   <results>/<experiment>/<run-id>/       the latest checkpoint
//   <results>/<experiment>/<run-id>.lock   held (flock) by the process running it
//
// The run id names files, so it is restricted to a safe alphabet. Only one
// process may run a given run at a time: a second `train --resume` (or a
// resume while the run itself is still going) would interleave two writers
// of one record and one checkpoint. And a checkpoint resumes only with the
// record it was written with (the same run, and a record that holds every
// curve row up to the checkpoint's step).
#ifndef TB_RUNNER_RUN_FILES_H
#define TB_RUNNER_RUN_FILES_H

#include "../../models/checkpoint.h"
#include "record.h"

// 0 if id may name a run: [A-Za-z0-9._-], 1 to 95 characters, no leading
// dot, no ".tmp." or ".old." and no ".best" at the end (the names of
// temporary and best checkpoint folders). Otherwise -1
// with the error set (origin names the option).
int run_id_check(const char *id, const char *origin);

// Takes the run's lock (creating <run_dir>.lock), held until the process
// exits. -1 with a clear error if another process holds it, or if the run
// folder, its best checkpoint folder, its record or its lock file is a
// symbolic link (refused, never followed). Holding the lock, it removes the temporary folders and files
// that killed processes left beside the run (<run>.tmp.PID and the like).
int run_lock(const char *run_dir);

// Checks that a checkpoint (its train state) may resume the run of this
// record: the same run id, and a record whose checkpoint_step is at least the
// checkpoint's step (rows after it are redone; rows before it must be there).
int run_check_resume(const RunRecord *rec, const TrainState *ts, const char *run_dir);

// Out-of-memory errors from now on suggest a smaller --batch.
void run_set_oom_hint(int batch_size);

#endif
