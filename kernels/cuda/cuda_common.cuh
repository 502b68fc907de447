// cuda_common.cuh: what every CUDA kernel file includes.
//
// The same source compiles two ways: with nvcc for a GPU, and with g++ against
// the SIMT emulation (simt_emu.h) for `make test`. The two differences the
// kernels see are spelled as macros:
//   LAUNCH(kernel, grid, block, smem)(args...)   kernel<<<grid, block, smem, stream>>>(args...)
//   DYNAMIC_SHARED(float, buf);                   extern __shared__ float buf[];
// Everything else is plain CUDA C.
#ifndef TB_CUDA_COMMON_CUH
#define TB_CUDA_COMMON_CUH

#ifdef __CUDACC__
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define LAUNCH(kernel, grid, block, smem) kernel<<<(grid), (block), (smem), cuda_stream()>>>
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#else
#include "simt_emu.h"
#endif

#include <stddef.h>
#include <stdint.h>

// The backend's one stream (backend_cuda.cu): every kernel, cuBLAS call and
// device-to-device copy goes there, so a decode step can be captured as a graph.
cudaStream_t cuda_stream(void);

extern "C" {
#include "../../src/common.h"
#include "../backend.h"
}

// ---------------------------------------------------------------- checks
// A failed CUDA call leaves the device in an unknown state; nothing in a
// training run can recover from it, so it is fatal, with the place named.
#define CUDA_CHECK(call)                                                                 \
    do {                                                                                 \
        cudaError_t err_ = (call);                                                       \
        if (err_ != cudaSuccess)                                                         \
            tb_die("CUDA error at %s:%d: %s (%s)", __FILE__, __LINE__,                   \
                   cudaGetErrorString(err_), #call);                                     \
    } while (0)
#define CUBLAS_CHECK(call)                                                               \
    do {                                                                                 \
        cublasStatus_t st_ = (call);                                                     \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                                \
            tb_die("cuBLAS error %d at %s:%d (%s)", (int)st_, __FILE__, __LINE__, #call); \
    } while (0)
// After a launch: a bad configuration shows up here, not at the next sync.
#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

static __host__ __device__ inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

// ---------------------------------------------------------------- backend state
// (backend_cuda.cu) The cuBLAS handle, and a workspace per slot for ops whose
// contract passes no scratch (permuted q/k/v, reduction partials), sized by
// reserve_workspace from the model's shapes. An op asks for what it needs;
// more than was reserved is a fatal error that names the op, never an
// allocation inside the op.
cublasHandle_t cuda_cublas(void);
enum { SCRATCH_ATTENTION, SCRATCH_PARTIALS, SCRATCH_EMBEDDING, SCRATCH_COUNT };
// sum_squares' first pass writes one double per block, at most this many.
enum { SUMSQ_PARTIAL_BLOCKS = 512 };
void *cuda_scratch(int slot, size_t bytes, const char *op);
// The embedding backward's host arrays (3 * rows + 1 ints), reserved with the rest.
int32_t *cuda_host_scratch(size_t ints, const char *op);

// ---------------------------------------------------------------- reductions
// All reductions are trees of a fixed shape: same input, same bits.
static __device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}
static __device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}
static __device__ __forceinline__ double warp_sum_double(double v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Sum over a 1-D block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `shared` holds 32 floats; the trailing barrier lets
// the caller reuse it right away.
static __device__ __forceinline__ float block_sum(float v, float *shared) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_sum(v);
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float total = lane < nwarps ? shared[lane] : 0.0f;
    total = warp_sum(total);
    __syncthreads();
    return total;
}
static __device__ __forceinline__ float block_max(float v, float *shared) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_max(v);
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float total = lane < nwarps ? shared[lane] : -INFINITY;
    total = warp_max(total);
    __syncthreads();
    return total;
}

// ---------------------------------------------------------------- column sums
// Deterministic sums over the rows of (rows, cols) quantities (bias and norm
// weight gradients): pass 1 has each block own a slice of rows and write one
// partial per column; pass 2 adds the partials in slice order. The number of
// slices is a fixed function of the row count, never of the device.
enum { COLSUM_ROWS_PER_SLICE = 256 };
static inline int colsum_slices(int rows) { return ceil_div(rows, COLSUM_ROWS_PER_SLICE); }
// (reduce.cu) dst[c] += sum_s partials[s * cols + c], s = 0..slices-1 in order.
void colsum_finish(float *dst, const float *partials, int slices, int cols);

// ---------------------------------------------------------------- device math
static __device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
// softplus with PyTorch's threshold: linear above 20.
static __device__ __forceinline__ float softplusf_(float x) {
    return x <= 20.0f ? log1pf(expf(x)) : x;
}

#endif
