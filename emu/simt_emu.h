// simt_emu.h: just enough of CUDA and cuBLAS for the kernels in kernels/cuda/
// to compile with g++ and run on the CPU, so that `make test` checks every
// kernel on machines without a GPU. It stands in for <cuda_runtime.h> and
// <cublas_v2.h>: the emulated build puts emu/ on the include path.
//
// The files: simt_fibers.cpp runs a kernel's threads (simt_async.cpp their
// asynchronous copies to shared memory); simt_stream.cpp holds
// the stream (work run at once, recorded by a capture, or deferred to the
// next synchronisation); simt_runtime.cpp and simt_events.cpp are the
// runtime and cuBLAS calls, which issue their work on the stream. Calls go
// one way: runtime and events -> stream; a launch (below) -> stream, fibers.
//
// The model: a launch runs its blocks one after another on the calling OS
// thread. The threads of a block are cooperative fibers (ucontext), each with
// its own stack. A fiber runs until it reaches a barrier (__syncthreads, or the
// implicit warp barrier inside a shuffle) and then yields; when every live
// thread of the block (or of the warp) is waiting, they are all released. The
// order in which runnable fibers are resumed is forward (thread 0 first) or
// reversed, chosen at run time with simt_set_schedule(), so a kernel that
// reads shared memory without the barrier that orders the write gives a
// different answer in one of the two orders.
//
// Because only one block runs at a time, shared memory can simply be
// `static`: every fiber of the block sees the same variable. The kernels
// declare it as SHARED(type, name, dims) and DYNAMIC_SHARED(type, name)
// (kernels/cuda/cuda_common.cuh); here a static array registers itself the
// first time its declaration runs, and every block starts with all of them
// and the dynamic buffer filled with NaN bytes, so a read before the block
// has written shows up (on a GPU it reads whatever was there).
//
// Device memory is host memory; a copy is memcpy. The cuBLAS subset is
// forwarded to cblas_sgemm with the column-major convention kept exactly;
// cublasGemmEx's bf16 operands are widened to fp32 first (exact), and
// __float2bfloat16 rounds to nearest even as a GPU does.
#ifndef TB_SIMT_EMU_H
#define TB_SIMT_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simt_emu_api.h"
#include "simt_stream.h"

// ---------------------------------------------------------------- qualifiers
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define DYNAMIC_SHARED(type, name) type *name = (type *)simt_dynamic_shared()
#define SHARED(type, name, dims)                                                      \
    static type name dims;                                                            \
    static const int name##_simt_registered = simt_shared_register(name, sizeof name); \
    (void)name##_simt_registered

// ---------------------------------------------------------------- coordinates
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

struct SimtCoords {
    dim3 thread_idx, block_idx, block_dim, grid_dim;
};
// The coordinates of the fiber that is running now.
extern SimtCoords *simt_self;
#define threadIdx (simt_self->thread_idx)
#define blockIdx (simt_self->block_idx)
#define blockDim (simt_self->block_dim)
#define gridDim (simt_self->grid_dim)
#define warpSize 32

void *simt_dynamic_shared(void);
// Registers a static shared array (see SHARED) and poisons it; returns 1.
int simt_shared_register(void *p, size_t bytes);
void __syncthreads(void);
void __syncwarp(unsigned mask = 0xffffffffu);
// Lock-step exchange across the warp: every live lane publishes `bits`,
// waits for the whole warp, reads lane src_lane's value, and waits again so
// that no lane overwrites its slot before the others have read it.
uint64_t simt_warp_exchange(uint64_t bits, int src_lane);
unsigned simt_lane_id(void);

// ---------------------------------------------------------------- shuffles
template <typename T>
static inline T simt_shfl_from(T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 64 bits");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    uint64_t got = simt_warp_exchange(bits, src);
    T r;
    memcpy(&r, &got, sizeof(T));
    return r;
}
// The segment rules of CUDA: width splits the warp into independent groups;
// a source outside the lane's own segment returns the lane's own value.
template <typename T>
static inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
    (void)mask;
    int lane = (int)simt_lane_id();
    int base = lane & ~(width - 1);
    return simt_shfl_from(v, base + (src_lane & (width - 1)));
}
template <typename T>
static inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    int lane = (int)simt_lane_id();
    int base = lane & ~(width - 1);
    int src = lane - (int)delta;
    return simt_shfl_from(v, src < base ? lane : src);
}
template <typename T>
static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    (void)mask;
    int lane = (int)simt_lane_id();
    int base = lane & ~(width - 1);
    int src = lane + (int)delta;
    return simt_shfl_from(v, src >= base + width ? lane : src);
}
template <typename T>
static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    (void)mask;
    int lane = (int)simt_lane_id();
    int src = lane ^ lane_mask;
    return simt_shfl_from(v, (src & ~(width - 1)) != (lane & ~(width - 1)) ? lane : src);
}

// ---------------------------------------------------------------- async copies
// cp.async, as cuda_pipeline_primitives.h offers it (simt_async.cpp): a
// thread's copies from global to shared memory of 4, 8 or 16 bytes (the last
// zfill of them zeros), grouped by __pipeline_commit();
// __pipeline_wait_prior(n) returns when at most the n most recent committed
// groups of the thread are still in flight. The copies become visible to the
// thread itself at that wait, and to the others after a barrier that follows
// it. A GPU may complete a copy at any time between the issue and the wait:
// here it lands at the issue, or, in deferred mode (SIMT_DEFERRED=1, or
// simt_set_async_copies_late), only at the wait. So a kernel that reads before
// its wait, waits for the wrong group or never commits reads poisoned shared
// memory in deferred mode, and one that issues into a buffer other threads
// still read (a missing barrier before the issue) gives a wrong answer in the
// ordinary mode, in one of the two schedules.
void __pipeline_memcpy_async(void *dst_shared, const void *src_global, size_t size_and_align,
                             size_t zfill = 0);
void __pipeline_commit(void);
void __pipeline_wait_prior(size_t prior);
// For simt_async.cpp: the running thread's index in its block, whether
// [p, p + bytes) lies in the block's shared memory, and the reset of every
// thread's copies at a block's start.
int simt_thread_rank(void);
int simt_is_shared(const void *p, size_t bytes);
void simt_async_block_start(int threads);

// ---------------------------------------------------------------- atomics
// Blocks run one at a time, but the builtins keep them atomic even if that
// changes.
template <typename T>
static inline T atomicAdd(T *p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline float atomicAdd(float *p, float v) {
    float old = *p, want;
    do { want = old + v; } while (!__atomic_compare_exchange(p, &old, &want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return old;
}
template <typename T>
static inline T atomicMax(T *p, T v) {
    T old = *p;
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    return old;
}
template <typename T>
static inline T atomicMin(T *p, T v) {
    T old = *p;
    while (old > v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
    return old;
}
template <typename T>
static inline T atomicExch(T *p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
template <typename T>
static inline T atomicCAS(T *p, T expected, T desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

// ---------------------------------------------------------------- device math
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline float __fdividef(float a, float b) { return a / b; }

// ---------------------------------------------------------------- bf16 (cuda_bf16.h)
// As a GPU's cvt.rn.bf16.f32: round to nearest even (add 0x7fff plus the
// lowest kept bit, truncate), subnormals kept, NaN kept a quiet NaN. The
// CPU backend rounds with kernels/bf16.h; test_cuda_bf16 checks that the two
// agree bit for bit.
struct __nv_bfloat16 {
    uint16_t bits;
};
static inline __nv_bfloat16 __float2bfloat16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{(uint16_t)((u >> 16) | 0x0040u)};
    u += 0x7fffu + ((u >> 16) & 1u);
    return __nv_bfloat16{(uint16_t)(u >> 16)};
}
static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.bits << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// ---------------------------------------------------------------- errors
typedef enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidValue = 1,
               cudaErrorNoDevice = 100, cudaErrorStreamCaptureInvalidated = 901 } cudaError_t;
// What a failed launch leaves for cudaGetLastError (simt_runtime.cpp).
void simt_set_last_error(cudaError_t err);

// ---------------------------------------------------------------- launch
typedef void (*SimtThunk)(void *ctx);
// Runs fn(ctx) as every thread of every block of the grid.
void simt_run_grid(dim3 grid, dim3 block, size_t dynamic_smem, SimtThunk fn, void *ctx);

template <typename F>
static void simt_thunk(void *ctx) { (*(F *)ctx)(); }

// A launch as issued: the grid, and the kernel with its arguments as they
// were at the launch (a graph's kernel nodes keep their parameters too).
template <typename F>
struct SimtKeptLaunch {
    dim3 grid, block;
    size_t smem;
    F body;
    static void run(void *p) {
        SimtKeptLaunch *r = (SimtKeptLaunch *)p;
        simt_run_grid(r->grid, r->block, r->smem, &simt_thunk<F>, (void *)&r->body);
    }
    static void destroy(void *p) { delete (SimtKeptLaunch *)p; }
};

// Dynamic shared memory above 48 KB needs the kernel's opt-in
// (cudaFuncSetAttribute), as on a GPU; the largest a kernel has opted in to.
size_t simt_dynamic_smem_allowed(const void *kernel);

template <typename... P>
struct SimtLaunch {
    void (*kernel)(P...);
    dim3 grid, block;
    size_t smem;
    template <typename... A>
    void operator()(A... args) const {
        if (smem > simt_dynamic_smem_allowed((const void *)kernel)) {
            simt_set_last_error(cudaErrorInvalidValue);  // a GPU refuses the launch
            return;
        }
        void (*k)(P...) = kernel;
        auto body = [=]() { k(args...); };
        if (simt_stream_keeps()) {  // a capture, or deferred mode
            typedef SimtKeptLaunch<decltype(body)> Kept;
            if (simt_stream_keep(&Kept::run, &Kept::destroy, new Kept{grid, block, smem, body}))
                simt_set_last_error(cudaErrorStreamCaptureInvalidated);
            return;
        }
        simt_run_grid(grid, block, smem, &simt_thunk<decltype(body)>, (void *)&body);
    }
};
template <typename... P>
static inline SimtLaunch<P...> simt_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem) {
    return SimtLaunch<P...>{kernel, grid, block, smem};
}
#define LAUNCH(kernel, grid, block, smem) simt_launch(kernel, dim3(grid), dim3(block), (smem))

// ---------------------------------------------------------------- runtime API
typedef enum { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
               cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 } cudaMemcpyKind;
cudaError_t cudaMalloc(void **p, size_t bytes);
template <typename T>
static inline cudaError_t cudaMalloc(T **p, size_t bytes) { return cudaMalloc((void **)p, bytes); }
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
typedef enum { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 } cudaFuncAttribute;
cudaError_t simt_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value);
template <typename F>
static inline cudaError_t cudaFuncSetAttribute(F *kernel, cudaFuncAttribute attr, int value) {
    return simt_func_set_attribute((const void *)kernel, attr, value);
}
cudaError_t cudaSetDevice(int device);
const char *cudaGetErrorString(cudaError_t err);

// ---------------------------------------------------------------- streams and graphs
// One stream, in order (simt_stream.h). Capture records what is issued on
// it; a graph replays the records in order. The calls that a GPU forbids
// during a capture (synchronous copies, allocation, synchronisation) stop the
// emulation with a message, so a decode step that would not capture on a GPU
// fails `make test` here.
typedef struct SimtStream *cudaStream_t;
typedef struct SimtGraph *cudaGraph_t;
typedef struct SimtGraph *cudaGraphExec_t;
typedef enum { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1,
               cudaStreamCaptureModeRelaxed = 2 } cudaStreamCaptureMode;
enum { cudaStreamDefault = 0, cudaStreamNonBlocking = 1 };
cudaError_t cudaStreamCreate(cudaStream_t *stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                 unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

// ---------------------------------------------------------------- cuBLAS subset
typedef struct SimtCublas *cublasHandle_t;
typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7,
               CUBLAS_STATUS_EXECUTION_FAILED = 13, CUBLAS_STATUS_NOT_SUPPORTED = 15 } cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;
cublasStatus_t cublasCreate(cublasHandle_t *handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes);
// Column-major, as cuBLAS: C (m, n) = alpha op(A) (m, k) op(B) (k, n) + beta C.
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc);
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long strideA, const float *B, int ldb,
                                         long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batch_count);
// The mixed-precision GEMM: A and B fp32 or bf16, C fp32, fp32 sums
// (CUBLAS_COMPUTE_32F); other types are CUBLAS_STATUS_NOT_SUPPORTED here.
// Every product of two bf16 values is exact in fp32, so widening them and
// running sgemm gives what a GPU's tensor cores give, up to the order of the sums.
typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType_t;
typedef enum { CUBLAS_COMPUTE_32F = 68 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C,
                            cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo);

#endif
