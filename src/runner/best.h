// best.h: which checkpoint of a run a command reads.
//
// A run keeps two checkpoints beside its record (train.c):
//   <results>/<experiment>/<run-id>/        the latest (what --resume continues)
//   <results>/<experiment>/<run-id>.best/   the one with the lowest validation
//                                           loss so far (identity.best in the record)
// Given the run's record (RUN.json) or its latest checkpoint folder (RUN/),
// generate and the music evaluation read its best checkpoint, or its latest
// when it has no best yet; any other checkpoint folder is read as it is.
#ifndef TB_RUNNER_BEST_H
#define TB_RUNNER_BEST_H

#include <stddef.h>

// The checkpoint folder for arg (a record RUN.json or a checkpoint folder)
// into out: RUN.best/ when want_best and it holds a checkpoint, else RUN/.
// *kind (if given) becomes "best", "latest" or "latest (no best)". Returns out.
const char *run_checkpoint_choose(const char *arg, int want_best, char *out, size_t cap, const char **kind);

// For a record RUN.json, run_checkpoint_choose(arg, 1, ...); any folder is
// returned as it is.
const char *run_checkpoint_for(const char *arg, char *out, size_t cap);

// For train (run.h's Run):
typedef struct Run Run;
// identity.best: the best checkpoint's folder, step, loss and bpb, or null
// while none is on disk.
void best_record(Run *run);
// After the validation of `step`: a new lowest loss saves the best checkpoint.
int best_note_validation(Run *run, int step, double loss, double bpb);
// A resumed run's best, from its record and its best folder.
int best_resume(Run *run);

#endif
