// dist_nccl.c: see dist_nccl.h. Compiled with -DTB_NCCL by mpicc against
// nccl.h and the CUDA runtime's headers (mk/nccl.mk); in the other builds
// this file holds nothing.
//
// Streams: the CUDA backend runs every op on its one stream (compute). The
// collectives run on a stream of their own (comm), so that a bucket's
// reduction overlaps the backward of the layers below it; events order the
// two: comm waits for compute before each collective (the bucket's
// gradients, or the optimizer's parameters, are written), and compute waits
// for comm before it reads what a collective wrote (the forward reads the
// parameters, the optimizer the gradients, the next zero_grad overwrites
// them). One event each way serves every wait: cudaStreamWaitEvent waits for
// the event's latest record at the time of the call.
#ifdef TB_NCCL

#include "dist_nccl.h"

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>
#include <stdio.h>

#include "dist.h"
#include "kernels/cuda/backend_cuda.h"
#include "lib/common.h"

static ncclComm_t comm;
static cudaStream_t compute, comm_stream;
static cudaEvent_t compute_done, comm_done;
static int connected;

#define CUDA_OK(call)                                                                           \
    do {                                                                                        \
        cudaError_t err_ = (call);                                                              \
        if (err_ != cudaSuccess) tb_die("%s: %s", #call, cudaGetErrorString(err_));             \
    } while (0)
#define NCCL_OK(call)                                                                           \
    do {                                                                                        \
        ncclResult_t res_ = (call);                                                             \
        if (res_ != ncclSuccess)                                                                \
            tb_die("%s: %s (NCCL_DEBUG=WARN says more)", #call, ncclGetErrorString(res_));      \
    } while (0)

int dist_nccl_pick_gpu(int local_rank, int local_size) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return 0;
    int gpu = dist_gpu_for_rank(local_rank, local_size, count);
    if (gpu < 0) return -1;
    backend_cuda_use_device(gpu);
    return 0;
}

static void make_id(void *id) { NCCL_OK(ncclGetUniqueId((ncclUniqueId *)id)); }

int dist_nccl_connect(int rank, int size) {
    ncclUniqueId id;
    dist_share_id(make_id, &id, sizeof id);
    compute = (cudaStream_t)backend_cuda_stream();
    CUDA_OK(cudaStreamCreateWithFlags(&comm_stream, cudaStreamNonBlocking));
    CUDA_OK(cudaEventCreateWithFlags(&compute_done, cudaEventDisableTiming));
    CUDA_OK(cudaEventCreateWithFlags(&comm_done, cudaEventDisableTiming));
    ncclResult_t res = ncclCommInitRank(&comm, size, id, rank);
    if (res != ncclSuccess)
        return tb_error("rank %d: NCCL could not join the %d ranks: %s (NCCL_DEBUG=WARN says why)", rank, size,
                        ncclGetErrorString(res));
    connected = 1;
    return 0;
}

static void comm_after_compute(void) {
    CUDA_OK(cudaEventRecord(compute_done, compute));
    CUDA_OK(cudaStreamWaitEvent(comm_stream, compute_done, 0));
}

static void compute_after_comm(void) {
    CUDA_OK(cudaEventRecord(comm_done, comm_stream));
    CUDA_OK(cudaStreamWaitEvent(compute, comm_done, 0));
}

void dist_nccl_broadcast_params(Model *m) {
    comm_after_compute();
    const ModelParams *p = &m->params;
    NCCL_OK(ncclBroadcast(p->values, p->values, p->num_params, ncclFloat, 0, comm, comm_stream));
    compute_after_comm();
}

void dist_nccl_reduce(Model *m, size_t lo, size_t hi) {
    comm_after_compute();
    float *grads = m->params.grads;
    NCCL_OK(ncclReduce(grads + lo, grads + lo, hi - lo, ncclFloat, ncclSum, 0, comm, comm_stream));
}

void dist_nccl_wait(void) { compute_after_comm(); }

void dist_nccl_version(char *out, size_t cap) {
    int v = 0;
    NCCL_OK(ncclGetVersion(&v));
    // NCCL_VERSION(X, Y, Z) is X * 10000 + Y * 100 + Z since 2.9 (X * 1000 + Y * 100 + Z before).
    if (v >= 10000) snprintf(out, cap, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    else snprintf(out, cap, "%d.%d.%d", v / 1000, v / 100 % 10, v % 100);
}

void dist_nccl_close(void) {
    if (!connected) return;
    CUDA_OK(cudaStreamSynchronize(comm_stream));
    ncclCommDestroy(comm);
    cudaEventDestroy(compute_done);
    cudaEventDestroy(comm_done);
    cudaStreamDestroy(comm_stream);
    connected = 0;
}

#else
typedef int dist_nccl_not_built;  // ISO C wants a declaration in every file
#endif
