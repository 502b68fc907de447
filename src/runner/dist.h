// dist.h: data-parallel training over MPI, `tunebench train --ranks N` under
// `mpirun -np N build/tunebench-mpi` (make mpi).
//
// Rank 0 is the run: it reads the config and the corpus, owns the record, the
// checkpoints, the validations, the signals and the optimizer, exactly as a
// single process does. Ranks 1..N-1 only compute gradients: they build the
// same model (its name, vocabulary, backend, slice and threads come from
// rank 0), and each step
//
//   rank 0                                   rank r
//   loader_next_batch: the global (B, T)
//   dist_scatter_batch:  header, params  -> receive the parameters
//                        rows r*B/N ..   -> receive its B/N rows
//   forward + backward on rows 0..B/N-1      forward + backward on its rows
//   dist_reduce_grads:   gather          <- its gradients, loss, token count
//   g = sum over r in rank order of (n_r / n) g_r; loss likewise
//   clip, AdamW
//
// so the update is the global batch's mean gradient, summed in a fixed
// order: N ranks give the same bits run after run and on an exact resume
// (the checkpoint is rank 0's, the others hold no state). Against one
// process at the same global batch they differ only by the float rounding of
// splitting the batch's sums in N (tests/test_dist.sh bounds it). Rank 0
// sends the parameters each step instead of the gradients so that only rank 0
// holds optimizer state. Validation and the end's measurements run on rank 0
// alone. Transfers go through host memory (the backend's to_host/to_device),
// so nothing here depends on the backend; only the CPU build links MPI so far,
// and NCCL would keep the transfers on the GPU.
//
// Built without MPI (the default build) every call is a no-op, and a run that
// asks for more than one rank is refused with the command that would run it.
#ifndef TB_RUNNER_DIST_H
#define TB_RUNNER_DIST_H

#include <stdint.h>

#include "../../models/model.h"

// First thing in cmd_train (after signals_install): starts MPI in the MPI
// build. Returns 1 on ranks 1..N-1, which then call dist_follow() and exit
// with what it returns; 0 on rank 0 and without MPI.
int dist_start(void);
int dist_follow(void);

// Rank 0, once the model is built (loaded on a resume) and before the first
// step: checks that the launch has `ranks` processes and that batch_size
// splits over them, then tells the other ranks what to build. 0 or -1 with
// the error set (the other ranks are released either way).
int dist_setup(const Model *m, const char *model_name, const char *backend, int batch_size, int seq_len,
               int threads, int ranks);

// The rows of the global batch this process trains on (batch_size / ranks);
// they are the first rows of the batch on rank 0.
int dist_local_rows(int batch_size);

// Rank 0, after loading a global batch (B, T): sends the parameters and each
// rank's rows. No-op with one rank.
void dist_scatter_batch(Model *m, const int32_t *inputs, const int32_t *targets);

// Rank 0, after the backward of its rows: m->grads becomes the global batch's
// mean gradient and *loss its mean loss. No-op with one rank.
void dist_reduce_grads(Model *m, float *loss);

#endif
