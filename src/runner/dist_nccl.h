// dist_nccl.h: data-parallel training's NCCL transport (dist.h), compiled
// into build/tunebench-nccl only (make nccl, -DTB_NCCL); elsewhere
// dist_nccl.c is empty. All of it runs on the ranks' GPUs: every pointer is
// CUDA backend memory.
#ifndef TB_RUNNER_DIST_NCCL_H
#define TB_RUNNER_DIST_NCCL_H

#include <stddef.h>

#include "../../models/model.h"

// Every rank, before any backend exists: the CUDA backend will use the GPU
// dist_gpu_for_rank picks for this rank (none when no GPU shows: a CPU run,
// or a cuda run that fails at its backend with its own line). 0 or -1 with
// the error set.
int dist_nccl_pick_gpu(int local_rank, int local_size);
// Collective, once every rank has built its model on the CUDA backend:
// rank 0 makes the communicator's id, MPI shares it, every rank joins.
// 0 or -1 with the error set.
int dist_nccl_connect(int rank, int size);
// Collective: rank 0's parameters into every rank's.
void dist_nccl_broadcast_params(Model *m);
// Collective, launched as soon as the backend's stream has issued the
// bucket's backward: rank 0's grads[lo, hi) becomes the sum over the ranks.
void dist_nccl_reduce(Model *m, size_t lo, size_t hi);
// The backend's stream waits for every reduction launched (the host does not).
void dist_nccl_wait(void);
// NCCL's version ("2.28.9") into out.
void dist_nccl_version(char *out, size_t cap);
// Frees the communicator, its stream and events.
void dist_nccl_close(void);

#endif
