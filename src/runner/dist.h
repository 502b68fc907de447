// dist.h: data-parallel training, `tunebench train --ranks N` under
// `mpirun -np N build/tunebench-mpi` (make mpi: CPU ranks) or
// `mpirun -np N build/tunebench-nccl` (make nccl: a GPU per rank).
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
//                        w_r             -> its share of the predicted positions
//   forward + backward on rows 0..B/N-1      forward + backward on its rows
//     each bucket of final gradients: g *= w_r, then sent to rank 0
//   dist_reduce_grads:   g = sum over r of w_r g_r; loss likewise
//   clip, AdamW
//
// so the update is the global batch's mean gradient. Buckets
// (dist_buckets.h) start the reduction while the backward goes on: after
// each layer the model says which gradients are final (model_grads_final).
// Rank 0 sends the parameters each step instead of every rank stepping an
// optimizer of its own, so that only rank 0 holds optimizer state and a
// resume needs nothing from the others. Validation and the end's
// measurements run on rank 0 alone, after the others are released.
//
// Two transports move the tensors:
// - MPI (build/tunebench-mpi, and CPU ranks of build/tunebench-nccl): through
//   host memory (the backend's to_host/to_device). Each bucket is gathered to
//   rank 0 (MPI_Igatherv), which adds the ranks' rows in rank order, each
//   element on its own: N ranks give the same bits run after run and on an
//   exact resume. Against one process at the same global batch they differ
//   only by the rounding of splitting the batch's sums in N
//   (tests/test_dist.sh bounds it).
// - NCCL (build/tunebench-nccl with --backend cuda): on the GPU, with each
//   rank's GPU its place on its node (dist_gpu_for_rank). Rank 0 makes the
//   communicator's id and MPI_Bcast shares it (MPI only bootstraps). Each
//   bucket is an ncclReduce (fp32 sum to rank 0) on a stream of its own that
//   waits for the bucket's backward by an event, so it runs beside the
//   layers still to come; the parameters go out by ncclBroadcast. A ring
//   reduce and a ring broadcast each move the buffer once per link, about
//   what one ring all-reduce moves (2 (N-1)/N times), and only rank 0 keeps
//   optimizer state. NCCL picks its summation order (ring or tree, chunking,
//   channels) from the topology, the rank count, the bucket sizes, its
//   version and NCCL_ALGO/NCCL_PROTO: with 2 ranks each element is one
//   addition, so the bits do not depend on it; with more, the same job shape
//   on the same machines and NCCL repeats its order in practice (NCCL
//   promises no order), and another shape may differ in the last bits.
//
// Built without MPI (the default build) every call is a no-op, and a run that
// asks for more than one rank is refused with the command that would run it.
#ifndef TB_RUNNER_DIST_H
#define TB_RUNNER_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "../../models/model.h"


// First thing in cmd_train (after signals_install): starts MPI in the MPI
// builds, and in build/tunebench-nccl gives each rank its GPU before any
// backend exists. Returns 1 on ranks 1..N-1, which then call dist_follow()
// and exit with what it returns; 0 on rank 0 and without MPI.
int dist_start(void);
int dist_follow(void);

// Rank 0, once the model is built (loaded on a resume) and before the first
// step: checks that the launch has `ranks` processes and that batch_size
// splits over them, then tells the other ranks what to build. 0 or -1 with
// the error set (the other ranks are released either way).
int dist_setup(Model *m, const char *model_name, const char *backend, int batch_size, int seq_len,
               int threads, int ranks);

// The rows of the global batch this process trains on (batch_size / ranks);
// they are the first rows of the batch on rank 0.
int dist_local_rows(int batch_size);

// Rank 0, after loading a global batch (B, T): sends the parameters, each
// rank's rows and its share of the positions. No-op with one rank.
void dist_scatter_batch(Model *m, const int32_t *inputs, const int32_t *targets);

// Rank 0, after the backward of its rows: m->params.grads becomes the global
// batch's mean gradient and *loss its mean loss. No-op with one rank.
void dist_reduce_grads(Model *m, float *loss);

// Rank 0, after dist_setup: with more than one rank, adds the record's
// environment.data_parallel to env: ranks, transport ("mpi" or "nccl"), the
// bucket size and NCCL's version (null on the MPI transport).
void dist_describe(cJSON *env);

// Rank 0, when it starts no more steps (before the model goes): finishes a
// step it left after the forward (a diverged loss), so that the others finish
// theirs, then releases them. Safe to call more than once, and with m NULL.
void dist_end(Model *m);

// ---------------------------------------------------------------- bootstrap
// The plain-MPI parts of the NCCL bootstrap, which tests/mpi_bootstrap.c
// runs on CPU ranks. Without MPI: rank 0 of 1.
//
// This rank's place among the ranks on its node, and their count
// (MPI_COMM_TYPE_SHARED).
int dist_local_rank(int *local_size);
// Rank 0 calls make_id(id); every rank returns with its id_bytes bytes.
void dist_share_id(void (*make_id)(void *id), void *id, size_t id_bytes);
// The GPU of a rank that is the local_rank-th of local_size ranks on its
// node, which shows `devices` GPUs: its own when each rank sees them all,
// GPU 0 when each sees one (Slurm's --gpus-per-task, or CUDA_VISIBLE_DEVICES
// set per rank). -1 with the error set when ranks would share a GPU (NCCL
// cannot put two ranks of a communicator on one GPU) or none is there.
int dist_gpu_for_rank(int local_rank, int local_size, int devices);

#endif
