// simt_runtime.cpp: the CUDA runtime and cuBLAS calls of simt_emu.h. Work
// that a GPU runs on a stream (launches are in simt_emu.h; here cuBLAS, async
// copies and fills, graph replays) goes through the stream of simt_stream.h.
#include "simt_emu.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

// ---------------------------------------------------------------- runtime API
cudaError_t cudaMalloc(void **p, size_t bytes) {
    simt_forbid_in_capture("cudaMalloc");
    *p = malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
// cudaFree waits for the device, as on a GPU.
cudaError_t cudaFree(void *p) {
    simt_stream_synchronize("cudaFree");
    free(p);
    return cudaSuccess;
}
// The synchronous copy and fill run at once, without waiting for queued
// work: on a GPU only the legacy default stream orders them after the
// backend's stream, and the backend does not rely on that.
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    (void)kind;
    simt_forbid_in_capture("cudaMemcpy (synchronous)");
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    simt_forbid_in_capture("cudaMemset (synchronous)");
    if (bytes) memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) {
    simt_stream_synchronize("cudaDeviceSynchronize");
    return cudaSuccess;
}
static cudaError_t last_error;
void simt_set_last_error(cudaError_t err) {
    if (last_error == cudaSuccess) last_error = err;
}
cudaError_t cudaGetLastError(void) {
    cudaError_t err = last_error;
    last_error = cudaSuccess;
    return err;
}
// The kernels that opted in to more dynamic shared memory, and how much.
enum { DEFAULT_DYNAMIC_SMEM = 48 * 1024, MAX_OPT_IN_SMEM = 227 * 1024, MAX_OPTED = 64 };
static struct {
    const void *kernel;
    size_t bytes;
} opted[MAX_OPTED];
static int opted_count;

size_t simt_dynamic_smem_allowed(const void *kernel) {
    for (int i = 0; i < opted_count; i++)
        if (opted[i].kernel == kernel) return opted[i].bytes;
    return DEFAULT_DYNAMIC_SMEM;
}
cudaError_t simt_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > MAX_OPT_IN_SMEM)
        return cudaErrorInvalidValue;
    int i = 0;
    while (i < opted_count && opted[i].kernel != kernel) i++;
    if (i == MAX_OPTED) return cudaErrorInvalidValue;
    opted[i].kernel = kernel, opted[i].bytes = (size_t)value;
    if (i == opted_count) opted_count++;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int *count) {
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidValue; }
const char *cudaGetErrorString(cudaError_t err) {
    switch (err) {
        case cudaSuccess: return "no error";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
        default: return "invalid value";
    }
}

// ---------------------------------------------------------------- cuBLAS subset
struct SimtCublas {
    cublasMath_t math_mode;
};

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    *handle = (cublasHandle_t)calloc(1, sizeof(struct SimtCublas));
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    free(handle);
    return CUBLAS_STATUS_SUCCESS;
}
// TF32 changes the precision on a GPU; the emulation always computes in fp32.
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    handle->math_mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode) {
    *mode = handle->math_mode;
    return CUBLAS_STATUS_SUCCESS;
}

static CBLAS_TRANSPOSE cblas_op(cublasOperation_t op) { return op == CUBLAS_OP_T ? CblasTrans : CblasNoTrans; }

// A strided-batched sgemm as issued (kept by the stream, or run at once).
struct SgemmCall {
    cublasOperation_t ta, tb;
    int m, n, k;
    float alpha;
    const float *A;
    int lda;
    long long sA;
    const float *B;
    int ldb;
    long long sB;
    float beta;
    float *C;
    int ldc;
    long long sC;
    int batch;
    static void run(void *p) {
        SgemmCall *c = (SgemmCall *)p;
        for (int i = 0; i < c->batch; i++)
            cblas_sgemm(CblasColMajor, cblas_op(c->ta), cblas_op(c->tb), c->m, c->n, c->k,
                        c->alpha, c->A + i * c->sA, c->lda, c->B + i * c->sB, c->ldb, c->beta,
                        c->C + i * c->sC, c->ldc);
    }
    static void destroy(void *p) { delete (SgemmCall *)p; }
};

// cuBLAS checks the leading dimensions against the stored (not the
// transposed) shape; so does this, so a wrong ld fails here too.
static int gemm_args_valid(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           int lda, int ldb, int ldc) {
    if (m < 0 || n < 0 || k < 0) return 0;
    int a_rows = ta == CUBLAS_OP_N ? m : k, b_rows = tb == CUBLAS_OP_N ? k : n;
    return lda >= (a_rows > 1 ? a_rows : 1) && ldb >= (b_rows > 1 ? b_rows : 1) &&
           ldc >= (m > 1 ? m : 1);
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    (void)stream;
    return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes) {
    (void)workspace, (void)bytes;
    return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    return cublasSgemmStridedBatched(handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0,
                                     beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long strideA, const float *B, int ldb,
                                         long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batch_count) {
    if (!handle || batch_count < 0 || !gemm_args_valid(transa, transb, m, n, k, lda, ldb, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    // alpha and beta are read now (host pointer mode).
    SgemmCall call = {transa, transb, m, n, k, *alpha, A, lda, strideA, B, ldb,
                      strideB, *beta, C, ldc, strideC, batch_count};
    if (!simt_stream_keeps())
        SgemmCall::run(&call);
    else if (simt_stream_keep(&SgemmCall::run, &SgemmCall::destroy, new SgemmCall(call)))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    return CUBLAS_STATUS_SUCCESS;
}

// A GemmEx as issued: its operands are widened to fp32 when it runs (a
// capture or deferred mode keeps it until then), into buffers of their own.
struct GemmExCall {
    cublasOperation_t ta, tb;
    int m, n, k;
    float alpha, beta;
    const void *A, *B;
    cudaDataType_t Atype, Btype;
    int lda, ldb;
    float *C;
    int ldc;
    // The stored column-major (rows, cols; ld) operand as floats with the same
    // ld; a float operand is used in place. NULL where malloc failed.
    static const float *widen(const void *src, cudaDataType_t type, int rows, int cols, int ld,
                              float **owned) {
        *owned = NULL;
        if (type == CUDA_R_32F) return (const float *)src;
        size_t span = cols > 0 ? (size_t)ld * (cols - 1) + rows : 1;
        float *w = (float *)calloc(span ? span : 1, sizeof(float));
        if (!w) return NULL;
        const __nv_bfloat16 *h = (const __nv_bfloat16 *)src;
        for (int j = 0; j < cols; j++)
            for (int i = 0; i < rows; i++) w[(size_t)j * ld + i] = __bfloat162float(h[(size_t)j * ld + i]);
        return *owned = w;
    }
    static void run(void *p) {
        GemmExCall *c = (GemmExCall *)p;
        float *own_a, *own_b;
        int a_rows = c->ta == CUBLAS_OP_N ? c->m : c->k, a_cols = c->ta == CUBLAS_OP_N ? c->k : c->m;
        int b_rows = c->tb == CUBLAS_OP_N ? c->k : c->n, b_cols = c->tb == CUBLAS_OP_N ? c->n : c->k;
        const float *a = widen(c->A, c->Atype, a_rows, a_cols, c->lda, &own_a);
        const float *b = widen(c->B, c->Btype, b_rows, b_cols, c->ldb, &own_b);
        if (!a || !b) {
            fprintf(stderr, "simt emulation: out of memory widening a cublasGemmEx operand\n");
            abort();
        }
        cblas_sgemm(CblasColMajor, cblas_op(c->ta), cblas_op(c->tb), c->m, c->n, c->k, c->alpha, a,
                    c->lda, b, c->ldb, c->beta, c->C, c->ldc);
        free(own_a);
        free(own_b);
    }
    static void destroy(void *p) { delete (GemmExCall *)p; }
};

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void *alpha,
                            const void *A, cudaDataType_t Atype, int lda, const void *B,
                            cudaDataType_t Btype, int ldb, const void *beta, void *C,
                            cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
    (void)algo;
    if (!handle || !gemm_args_valid(transa, transb, m, n, k, lda, ldb, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    int types_ok = (Atype == CUDA_R_32F || Atype == CUDA_R_16BF) &&
                   (Btype == CUDA_R_32F || Btype == CUDA_R_16BF) && Ctype == CUDA_R_32F &&
                   computeType == CUBLAS_COMPUTE_32F;
    if (!types_ok) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    // alpha and beta are read now (host pointer mode), as floats (compute 32F).
    GemmExCall call = {transa, transb, m, n, k, *(const float *)alpha, *(const float *)beta,
                       A, B, Atype, Btype, lda, ldb, (float *)C, ldc};
    if (!simt_stream_keeps())
        GemmExCall::run(&call);
    else if (simt_stream_keep(&GemmExCall::run, &GemmExCall::destroy, new GemmExCall(call)))
        return CUBLAS_STATUS_EXECUTION_FAILED;
    return CUBLAS_STATUS_SUCCESS;
}

// ---------------------------------------------------------------- streams
// One stream: every handle names it.
struct SimtStream {
    int unused;
};

cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    *stream = (cudaStream_t)calloc(1, sizeof(struct SimtStream));
    return *stream ? cudaSuccess : cudaErrorMemoryAllocation;
}
// Blocking or not, nothing here orders work with a default stream: the
// emulation has no other stream, and no synchronous copy waits for this one.
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags) {
    (void)flags;
    return cudaStreamCreate(stream);
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    simt_stream_synchronize("cudaStreamDestroy");
    free(stream);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    (void)stream;
    simt_stream_synchronize("cudaStreamSynchronize");
    return cudaSuccess;
}

// ---------------------------------------------------------------- async copies
typedef struct {
    char *dst;
    const char *src;
    size_t dpitch, spitch, width, height;
    int value, is_set;
    char *staged;  // a host source, copied when issued (as CUDA stages pageable memory)
} CopyCall;

static void copy_run(void *p) {
    CopyCall *c = (CopyCall *)p;
    const char *src = c->staged ? c->staged : c->src;
    for (size_t r = 0; r < c->height; r++) {
        if (c->is_set) memset(c->dst + r * c->dpitch, c->value, c->width);
        else memmove(c->dst + r * c->dpitch, src + r * c->spitch, c->width);
    }
}
static void copy_destroy(void *p) {
    free(((CopyCall *)p)->staged);
    free(p);
}

static cudaError_t issue_copy(CopyCall c, cudaMemcpyKind kind) {
    if (!simt_stream_keeps()) {
        copy_run(&c);
        return cudaSuccess;
    }
    CopyCall *kept = (CopyCall *)malloc(sizeof c);
    if (!kept) return cudaErrorMemoryAllocation;
    *kept = c;
    if (kind == cudaMemcpyHostToDevice && c.height) {
        size_t bytes = (c.height - 1) * c.spitch + c.width;
        kept->staged = (char *)malloc(bytes ? bytes : 1);
        if (!kept->staged) return free(kept), cudaErrorMemoryAllocation;
        memcpy(kept->staged, c.src, bytes);
    }
    return simt_stream_keep(copy_run, copy_destroy, kept) ? cudaErrorStreamCaptureInvalidated
                                                          : cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
    (void)stream;
    return issue_copy((CopyCall){(char *)dst, (const char *)src, bytes, bytes, bytes, 1, 0, 0, NULL},
                      kind);
}
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
    (void)stream;
    if (width > dpitch || width > spitch) return cudaErrorInvalidValue;
    return issue_copy(
        (CopyCall){(char *)dst, (const char *)src, dpitch, spitch, width, height, 0, 0, NULL}, kind);
}
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream) {
    (void)stream;
    return issue_copy((CopyCall){(char *)p, NULL, bytes, bytes, bytes, 1, value, 1, NULL},
                      cudaMemcpyDeviceToDevice);
}

// ---------------------------------------------------------------- capture and graphs
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
    (void)stream, (void)mode;
    return simt_capture_begin() == 0 ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    (void)stream;
    int open = simt_capturing();
    *graph = simt_capture_end();
    return *graph ? cudaSuccess : open ? cudaErrorStreamCaptureInvalidated : cudaErrorInvalidValue;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                 unsigned long long flags) {
    (void)flags;
    if (!graph) return cudaErrorInvalidValue;
    simt_graph_retain(graph);
    *exec = graph;
    return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    (void)stream;
    if (!exec) return cudaErrorInvalidValue;
    simt_graph_issue(exec);
    return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    simt_graph_release(exec);
    return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    simt_graph_release(graph);
    return cudaSuccess;
}
