// best.h: which checkpoint of a run a command reads.
//
// A run keeps two checkpoints beside its record (train.c):
//   <results>/<experiment>/<run-id>/        the latest (what --resume continues)
//   <results>/<experiment>/<run-id>.best/   the one with the lowest validation
//                                           loss so far (identity.best in the record)
// Given the run's record (RUN.json), generate and the music evaluation read
// its best checkpoint, or its latest when it has no best yet; given a
// checkpoint folder, they read that folder.
#ifndef TB_RUNNER_BEST_H
#define TB_RUNNER_BEST_H

#include <stddef.h>

// The checkpoint folder for arg (a record RUN.json or a checkpoint folder)
// into out. Returns out.
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
