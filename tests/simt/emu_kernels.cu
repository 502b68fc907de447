// emu_kernels.cu: small kernels that test the SIMT emulation itself
// (tests/test_cuda_emu.c). Compiled only against the emulation, where device
// memory is host memory, so the runners take host pointers; each waits for
// its work (cudaDeviceSynchronize) before the host reads, as on a GPU.
#include "../../kernels/cuda/cuda_common.cuh"

// Each thread publishes a value in shared memory and reads its right
// neighbour's. Correct only if the barrier separates the write and the read.
__global__ void neighbour_kernel(int *out, int seed, int with_barrier) {
    SHARED(int, values, [1024]);
    int n = blockDim.x, tid = threadIdx.x;
    values[tid] = seed + 1000 * (int)blockIdx.x + tid;
    if (with_barrier) __syncthreads();
    out[blockIdx.x * n + tid] = values[(tid + 1) % n];
}

extern "C" void emu_neighbour(int *out, int blocks, int threads, int seed, int with_barrier) {
    LAUNCH(neighbour_kernel, blocks, threads, 0)(out, seed, with_barrier);
    cudaDeviceSynchronize();
}

// Lane-level exchanges; out holds 5 arrays of blockDim.x ints.
__global__ void shuffle_kernel(int *out) {
    int n = blockDim.x, tid = threadIdx.x, v = 100 + tid;
    out[0 * n + tid] = __shfl_xor_sync(0xffffffffu, v, 5);
    out[1 * n + tid] = __shfl_down_sync(0xffffffffu, v, 3);
    out[2 * n + tid] = __shfl_up_sync(0xffffffffu, v, 3);
    out[3 * n + tid] = __shfl_sync(0xffffffffu, v, 7, 16);  // lane 7 of each 16-lane half
    out[4 * n + tid] = (int)warp_sum((float)v);
}

extern "C" void emu_shuffles(int *out, int threads) {
    LAUNCH(shuffle_kernel, 1, threads, 0)(out);
    cudaDeviceSynchronize();
}

__global__ void atomic_kernel(int *counter, int *maximum) {
    atomicAdd(counter, 1);
    atomicMax(maximum, (int)(blockIdx.x * blockDim.x + threadIdx.x));
}

extern "C" void emu_atomics(int *counter, int *maximum, int blocks, int threads) {
    LAUNCH(atomic_kernel, blocks, threads, 0)(counter, maximum);
    cudaDeviceSynchronize();
}

// Dynamic shared memory: reverse a block's slice through it.
__global__ void reverse_kernel(float *data) {
    DYNAMIC_SHARED(float, buf);
    int n = blockDim.x, tid = threadIdx.x;
    buf[tid] = data[blockIdx.x * n + tid];
    __syncthreads();
    data[blockIdx.x * n + tid] = buf[n - 1 - tid];
}

extern "C" void emu_reverse(float *data, int blocks, int threads) {
    LAUNCH(reverse_kernel, blocks, threads, threads * sizeof(float))(data);
    cudaDeviceSynchronize();
}

// block_sum must see every thread of the block exactly once.
__global__ void block_sum_kernel(float *out) {
    SHARED(float, buf, [32]);
    float total = block_sum((float)(threadIdx.x + 1), buf);
    out[blockIdx.x * blockDim.x + threadIdx.x] = total;
}

extern "C" void emu_block_sum(float *out, int blocks, int threads) {
    LAUNCH(block_sum_kernel, blocks, threads, 0)(out);
    cudaDeviceSynchronize();
}

// The cuBLAS subset, with the column-major convention: C (m, n) = op(A) op(B).
extern "C" int emu_sgemm(int transa, int transb, int m, int n, int k, const float *A, int lda,
                         const float *B, int ldb, float beta, float *C, int ldc) {
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return -1;
    const float one = 1.0f;
    cublasStatus_t st = cublasSgemm(h, transa ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    transb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &one, A, lda, B,
                                    ldb, &beta, C, ldc);
    cudaDeviceSynchronize();
    cublasDestroy(h);
    return st == CUBLAS_STATUS_SUCCESS ? 0 : -1;
}

// Shared memory as a block finds it: out holds, per thread, what the thread
// read before anyone wrote (before[]), and what it read after block 0 alone
// wrote (after[]): NaN everywhere but block 0's after[].
__global__ void shared_poison_kernel(float *before, float *after) {
    SHARED(float, buf, [64]);
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    before[i] = buf[threadIdx.x];
    __syncthreads();
    if (blockIdx.x == 0) buf[threadIdx.x] = 1.0f;
    __syncthreads();
    after[i] = buf[threadIdx.x];
}

extern "C" void emu_shared_poison(float *before, float *after, int blocks, int threads) {
    LAUNCH(shared_poison_kernel, blocks, threads, 0)(before, after);
    cudaDeviceSynchronize();
}

__global__ void fill_kernel(float *x, float value) { x[blockIdx.x * blockDim.x + threadIdx.x] = value; }

// Fills x (blocks x threads) with value, then waits for it only if sync.
extern "C" void emu_fill(float *x, float value, int blocks, int threads, int sync) {
    LAUNCH(fill_kernel, blocks, threads, 0)(x, value);
    if (sync) cudaDeviceSynchronize();
}
extern "C" void emu_synchronize(void) { cudaDeviceSynchronize(); }

// A capture the emulation invalidates: returns what the launch reported, and
// sets *graph_made when cudaStreamEndCapture gave a graph anyway.
extern "C" int emu_invalidated_capture(float *x, int n, int *graph_made) {
    cudaStream_t s;
    cudaStreamCreate(&s);
    simt_invalidate_next_capture();
    cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    LAUNCH(fill_kernel, 1, n, 0)(x, 5.0f);
    int launch_failed = cudaGetLastError() == cudaErrorStreamCaptureInvalidated;
    cudaGraph_t graph = NULL;
    cudaError_t end = cudaStreamEndCapture(s, &graph);
    *graph_made = graph != NULL || end == cudaSuccess;
    cudaStreamDestroy(s);
    return launch_failed;
}

// Asynchronous copies (cp.async): each thread copies its element of `in`
// into two shared buffers as two commit groups (every fourth thread's second
// copy is all zero-fill), waits as `mode` says, and after a barrier reads its
// right neighbour's elements: out[0][i] from the first group, out[1][i] from
// the second.
enum { ASYNC_WAIT_ALL, ASYNC_WAIT_FIRST, ASYNC_NO_WAIT, ASYNC_NO_COMMIT };
__global__ void async_copy_kernel(float *out, const float *in, int mode) {
    SHARED(float, first, [256]);
    SHARED(float, second, [256]);
    int n = blockDim.x, tid = threadIdx.x, i = blockIdx.x * n + tid;
    __pipeline_memcpy_async(&first[tid], &in[i], sizeof(float));
    if (mode != ASYNC_NO_COMMIT) __pipeline_commit();
    __pipeline_memcpy_async(&second[tid], &in[i], sizeof(float), tid % 4 == 0 ? sizeof(float) : 0);
    if (mode != ASYNC_NO_COMMIT) __pipeline_commit();
    if (mode == ASYNC_WAIT_ALL || mode == ASYNC_NO_COMMIT) __pipeline_wait_prior(0);
    if (mode == ASYNC_WAIT_FIRST) __pipeline_wait_prior(1);
    __syncthreads();
    out[i] = first[(tid + 1) % n];
    out[gridDim.x * n + i] = second[(tid + 1) % n];
}

extern "C" void emu_async_copy(float *out, const float *in, int blocks, int threads, int mode) {
    LAUNCH(async_copy_kernel, blocks, threads, 0)(out, in, mode);
    cudaDeviceSynchronize();
}

// A buffer read by one thread and refilled by another's cp.async: right only
// with the barrier between the read and the issue.
__global__ void async_reuse_kernel(float *out, const float *in, int with_barrier) {
    SHARED(float, buf, [256]);
    int n = blockDim.x, tid = threadIdx.x;
    buf[tid] = (float)tid;
    __syncthreads();
    float v = buf[(tid + 1) % n];
    if (with_barrier) __syncthreads();
    __pipeline_memcpy_async(&buf[tid], &in[tid], sizeof(float));
    __pipeline_commit();
    __pipeline_wait_prior(0);
    out[tid] = v;
}

extern "C" void emu_async_reuse(float *out, const float *in, int threads, int with_barrier) {
    LAUNCH(async_reuse_kernel, 1, threads, 0)(out, in, with_barrier);
    cudaDeviceSynchronize();
}
