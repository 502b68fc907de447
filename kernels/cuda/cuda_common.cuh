// cuda_common.cuh: what every CUDA kernel file includes.
//
// The same source compiles two ways: with nvcc for a GPU, and with g++ against
// the SIMT emulation (emu/simt_emu.h) for `make test`. The two differences the
// kernels see are spelled as macros:
//   LAUNCH(kernel, grid, block, smem)(args...)   kernel<<<grid, block, smem, stream>>>(args...)
//   SHARED(float, buf, [8][32]);                  __shared__ float buf[8][32];
//   DYNAMIC_SHARED(float, buf);                   extern __shared__ float buf[];
// (The emulation poisons shared memory at every block start through them.)
// Everything else is plain CUDA C. LAUNCH also counts the launch, and the
// runtime and cuBLAS calls that issue work are counted too (see "counters").
#ifndef TB_CUDA_COMMON_CUH
#define TB_CUDA_COMMON_CUH

#ifdef __CUDACC__
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#define LAUNCH_UNCOUNTED(kernel, grid, block, smem) \
    kernel<<<(grid), (block), (smem), cuda_stream()>>>
#define SHARED(type, name, dims) __shared__ type name dims
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#else
// The SIMT emulation (emu/, on the emulated build's include path) in place
// of the CUDA runtime and cuBLAS.
#include <simt_emu.h>
#include <simt_events.h>
#undef LAUNCH  // simt_emu.h's, uncounted
#define LAUNCH_UNCOUNTED(kernel, grid, block, smem) \
    simt_launch(kernel, dim3(grid), dim3(block), (smem))
#endif

// The static shared memory a block may declare on every GPU the build
// targets. A kernel with more than a few KB of it checks its total at
// compile time, once per template configuration:
//   SHARED_BYTES_CHECK("scan_bwd", sizeof s_a + sizeof s_b);
enum { STATIC_SHARED_LIMIT = 48 * 1024 };
#define SHARED_BYTES_CHECK(kernel, bytes) \
    static_assert((bytes) <= STATIC_SHARED_LIMIT, kernel ": over 48 KB of static shared memory")

#include <stddef.h>
#include <stdint.h>

// The backend's one stream (backend_cuda.cu): every kernel, cuBLAS call and
// device-to-device copy goes there, so a decode step can be captured as a graph.
cudaStream_t cuda_stream(void);

extern "C" {
#include "lib/common.h"
#include "../backend.h"
#include "backend_cuda.h"
}

// ---------------------------------------------------------------- counters
// (backend_cuda_stats.cu) Every launch, GEMM, copy, fill and graph replay the
// backend issues adds one here; C reads them with backend_cuda_counters().
// The runtime and cuBLAS calls are wrapped under their own names below, so a
// kernel file that includes this header is counted without writing anything
// different, and a new call site cannot be missed. Host-side integers on the
// one thread that drives the backend: a few nanoseconds per call.
extern CudaCounters cuda_counters;
static inline void cuda_count_launch(void) { cuda_counters.kernel_launches++; }
#define LAUNCH(kernel, grid, block, smem) \
    cuda_count_launch(), LAUNCH_UNCOUNTED(kernel, grid, block, smem)

static inline void cuda_count_copy(cudaMemcpyKind kind) {
    if (kind == cudaMemcpyHostToDevice) cuda_counters.memcpy_h2d++;
    else if (kind == cudaMemcpyDeviceToHost) cuda_counters.memcpy_d2h++;
    else cuda_counters.memcpy_d2d++;  // device to device (the backend names every kind)
}
static inline cudaError_t counted_cudaMemcpy(void *dst, const void *src, size_t bytes,
                                             cudaMemcpyKind kind) {
    cuda_count_copy(kind);
    return cudaMemcpy(dst, src, bytes, kind);
}
static inline cudaError_t counted_cudaMemcpyAsync(void *dst, const void *src, size_t bytes,
                                                  cudaMemcpyKind kind, cudaStream_t s) {
    cuda_count_copy(kind);
    return cudaMemcpyAsync(dst, src, bytes, kind, s);
}
static inline cudaError_t counted_cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src,
                                                    size_t spitch, size_t width, size_t height,
                                                    cudaMemcpyKind kind, cudaStream_t s) {
    cuda_count_copy(kind);
    return cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, kind, s);
}
static inline cudaError_t counted_cudaMemset(void *p, int value, size_t bytes) {
    cuda_counters.memsets++;
    return cudaMemset(p, value, bytes);
}
static inline cudaError_t counted_cudaMemsetAsync(void *p, int value, size_t bytes,
                                                  cudaStream_t s) {
    cuda_counters.memsets++;
    return cudaMemsetAsync(p, value, bytes, s);
}
static inline cudaError_t counted_cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
    cuda_counters.graph_launches++;
    return cudaGraphLaunch(exec, s);
}
static inline cublasStatus_t counted_cublasSgemm(cublasHandle_t h, cublasOperation_t ta,
                                                 cublasOperation_t tb, int m, int n, int k,
                                                 const float *alpha, const float *A, int lda,
                                                 const float *B, int ldb, const float *beta,
                                                 float *C, int ldc) {
    cuda_counters.gemm_calls++;
    return cublasSgemm(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
static inline cublasStatus_t counted_cublasSgemmStridedBatched(
    cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
    const float *alpha, const float *A, int lda, long long strideA, const float *B, int ldb,
    long long strideB, const float *beta, float *C, int ldc, long long strideC, int batch) {
    cuda_counters.gemm_calls++;
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB,
                                     beta, C, ldc, strideC, batch);
}
static inline cublasStatus_t counted_cublasGemmEx(
    cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
    const void *alpha, const void *A, cudaDataType_t Atype, int lda, const void *B,
    cudaDataType_t Btype, int ldb, const void *beta, void *C, cudaDataType_t Ctype, int ldc,
    cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    cuda_counters.gemm_calls++;
    return cublasGemmEx(h, ta, tb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype,
                        ldc, compute, algo);
}
// From here on the kernel files call the counted versions. (cublas_v2.h
// spells cublasSgemm as a macro for cublasSgemm_v2; the wrapper above was
// expanded with it.)
#undef cudaMemcpy
#undef cudaMemcpyAsync
#undef cudaMemcpy2DAsync
#undef cudaMemset
#undef cudaMemsetAsync
#undef cudaGraphLaunch
#undef cublasSgemm
#undef cublasSgemmStridedBatched
#undef cublasGemmEx
#define cudaMemcpy counted_cudaMemcpy
#define cudaMemcpyAsync counted_cudaMemcpyAsync
#define cudaMemcpy2DAsync counted_cudaMemcpy2DAsync
#define cudaMemset counted_cudaMemset
#define cudaMemsetAsync counted_cudaMemsetAsync
#define cudaGraphLaunch counted_cudaGraphLaunch
#define cublasSgemm counted_cublasSgemm
#define cublasSgemmStridedBatched counted_cublasSgemmStridedBatched
#define cublasGemmEx counted_cublasGemmEx

// ---------------------------------------------------------------- checks
// A failed CUDA call leaves the device in an unknown state; nothing in a
// training run can recover from it, so it is fatal, with the place named.
// Inside a graph capture (backend_cuda.cu) it only invalidates the capture:
// cuda_capture_absorbs keeps it and returns 1, and the decode step runs
// without the graph.
int cuda_capture_absorbs(const char *what, const char *file, int line);
#define CUDA_CHECK(call)                                                                 \
    do {                                                                                 \
        cudaError_t err_ = (call);                                                       \
        if (err_ != cudaSuccess &&                                                       \
            !cuda_capture_absorbs(cudaGetErrorString(err_), __FILE__, __LINE__))         \
            tb_die("CUDA error at %s:%d: %s (%s)", __FILE__, __LINE__,                   \
                   cudaGetErrorString(err_), #call);                                     \
    } while (0)
#define CUBLAS_CHECK(call)                                                               \
    do {                                                                                 \
        cublasStatus_t st_ = (call);                                                     \
        if (st_ != CUBLAS_STATUS_SUCCESS &&                                              \
            !cuda_capture_absorbs("a cuBLAS call failed", __FILE__, __LINE__))          \
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
// The linear layers' precision (set_precision): linear.cu's GEMMs read it.
Precision cuda_precision(void);
// SCRATCH_BF16_A and _B hold a bf16 GEMM's two operands, rounded from fp32;
// they exist only once the precision is bf16.
enum { SCRATCH_ATTENTION, SCRATCH_PARTIALS, SCRATCH_EMBEDDING, SCRATCH_BF16_A, SCRATCH_BF16_B,
       SCRATCH_COUNT };
// sum_squares' first pass writes one double per block, at most this many.
enum { SUMSQ_PARTIAL_BLOCKS = 512 };
void *cuda_scratch(int slot, size_t bytes, const char *op);
// The embedding backward's device scratch for up to rows = B*T positions (embedding.cu).
size_t embedding_backward_scratch_bytes(size_t rows);

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
