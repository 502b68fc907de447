// backend_cuda.cu: the CUDA Backend table, device memory, the cuBLAS handle
// and the backend's grow-only scratch.
#include "backend_cuda.h"

#include "ops_cuda.cuh"

#include <omp.h>

static cublasHandle_t cublas_handle;
static cudaStream_t stream;
static int device_ordinal;  // backend_cuda_use_device
static void *cublas_workspace;
static Precision precision = PRECISION_FP32;
static size_t bf16_operand_elems;  // what each bf16 operand slot must hold (reserve_workspace)
static char device_name[256] = "unknown";
static void *scratch_ptr[SCRATCH_COUNT];
static size_t scratch_bytes[SCRATCH_COUNT];

// cuBLAS allocates its own workspace on first use unless given one, and an
// allocation inside a graph capture would invalidate it; 32 MiB covers its
// fp32, TF32 and bf16 GEMMs on sm_80 and sm_90.
enum { CUBLAS_WORKSPACE_BYTES = 32 << 20 };

cublasHandle_t cuda_cublas(void) { return cublas_handle; }
cudaStream_t cuda_stream(void) { return stream; }
extern "C" void *backend_cuda_stream(void) { return (void *)stream; }
extern "C" void backend_cuda_use_device(int device) { device_ordinal = device; }

void *cuda_scratch(int slot, size_t bytes, const char *op) {
    if (bytes > scratch_bytes[slot])
        tb_die("%s needs %zu bytes of CUDA workspace but %zu were reserved (the model must "
               "reserve its largest shapes with reserve_workspace)",
               op, bytes, scratch_bytes[slot]);
    return scratch_ptr[slot];
}

static void grow_slot(int slot, size_t bytes) {
    if (bytes <= scratch_bytes[slot]) return;
    CUDA_CHECK(cudaDeviceSynchronize());  // the old buffer may still be in use
    if (scratch_ptr[slot]) CUDA_CHECK(cudaFree(scratch_ptr[slot]));
    cudaError_t err = cudaMalloc(&scratch_ptr[slot], bytes);
    if (err != cudaSuccess)
        tb_die("cannot allocate %zu bytes of CUDA workspace: %s (use a smaller --batch)", bytes,
               cudaGetErrorString(err));
    scratch_bytes[slot] = bytes;
}

// The bf16 operands' slots (linear.cu), 2 bytes an element.
static void grow_bf16_slots(void) {
    grow_slot(SCRATCH_BF16_A, bf16_operand_elems * 2);
    grow_slot(SCRATCH_BF16_B, bf16_operand_elems * 2);
}

// What each op asks of cuda_scratch, at the largest shapes (see the ops).
static void cuda_reserve_workspace(const WorkspaceShapes *s) {
    size_t slices = (size_t)colsum_slices((int)s->rows);
    size_t partials = 2 * slices * s->widest * sizeof(float);  // bias, layernorm, rmsnorm
    size_t conv = slices * s->widest * (size_t)(s->conv_kernel + 1) * sizeof(float);
    size_t sumsq = (SUMSQ_PARTIAL_BLOCKS + 1) * sizeof(double);
    if (conv > partials) partials = conv;
    if (sumsq > partials) partials = sumsq;
    grow_slot(SCRATCH_PARTIALS, partials);
    grow_slot(SCRATCH_ATTENTION, 7 * s->attention * sizeof(float));
    grow_slot(SCRATCH_EMBEDDING, embedding_backward_scratch_bytes(s->rows));
    // A bf16 GEMM's operand is an activation (at most rows x widest) or a weight.
    size_t activations = s->rows * s->widest;
    size_t operand = activations > s->largest_weight ? activations : s->largest_weight;
    if (operand > bf16_operand_elems) bf16_operand_elems = operand;
    if (precision == PRECISION_BF16) grow_bf16_slots();
}

// ---------------------------------------------------------------- memory
static void *cuda_alloc(size_t bytes) {
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess)
        tb_die("cannot allocate %zu bytes on the GPU: %s (use a smaller --batch or model)", bytes,
               cudaGetErrorString(err));
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
    return p;
}
static void cuda_free(void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}
// Every copy and fill goes on the backend's stream, in order with the kernels;
// nothing relies on the legacy default stream's implicit ordering (the build
// uses --default-stream per-thread, and the stream is non-blocking). A copy
// from the host is staged before the call returns (pageable memory), so the
// caller may reuse its buffer; a copy to the host waits for the stream, as
// the host reads it next.
static void cuda_zero(void *p, size_t bytes) { CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream)); }
static void cuda_to_device(void *dst, const void *src, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
}
static void cuda_to_host(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
}
static void cuda_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
}
static void cuda_copy_2d(void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                         size_t width, size_t rows) {
    if (width && rows)
        CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows,
                                     cudaMemcpyDeviceToDevice, stream));
}
static void cuda_synchronize(void) { CUDA_CHECK(cudaStreamSynchronize(stream)); }

// ---------------------------------------------------------------- graphs
// While a capture is open an error invalidates the capture, not the run:
// CUDA_CHECK, LAUNCH_CHECK and CUBLAS_CHECK hand it to cuda_capture_absorbs,
// which keeps the first one for graph_capture_end's one line. A graph keeps
// the epoch of the settings it was captured under (a precision change bumps it).
static int capture_open;
static char capture_error[256];
static unsigned long graph_epoch;

typedef struct {
    cudaGraphExec_t exec;
    unsigned long epoch;
} CudaGraph;

int cuda_capture_absorbs(const char *what, const char *file, int line) {
    if (!capture_open) return 0;
    if (!capture_error[0])
        snprintf(capture_error, sizeof capture_error, "%s at %s:%d", what, file, line);
    return 1;
}

static int cuda_graph_capture_begin(void) {
    cudaError_t err = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    if (err != cudaSuccess) {
        cudaGetLastError();  // clear it
        fprintf(stderr, "tunebench: a CUDA graph capture could not start (%s); decoding without graphs\n",
                cudaGetErrorString(err));
        return -1;
    }
    capture_open = 1;
    capture_error[0] = '\0';
    return 0;
}
static void *cuda_graph_capture_end(void) {
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    cudaError_t err = cudaStreamEndCapture(stream, &graph);
    capture_open = 0;
    if (err == cudaSuccess && !capture_error[0]) err = cudaGraphInstantiate(&exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (err != cudaSuccess || capture_error[0]) {
        cudaGetLastError();  // clear it
        fprintf(stderr, "tunebench: CUDA graph capture failed (%s); decoding without graphs\n",
                capture_error[0] ? capture_error : cudaGetErrorString(err));
        if (exec) cudaGraphExecDestroy(exec);
        return NULL;
    }
    CudaGraph *g = (CudaGraph *)tb_malloc(sizeof *g);
    g->exec = exec, g->epoch = graph_epoch;
    return g;
}
static int cuda_graph_launch(void *graph) {
    CudaGraph *g = (CudaGraph *)graph;
    if (g->epoch != graph_epoch) return -1;
    CUDA_CHECK(cudaGraphLaunch(g->exec, stream));
    return 0;
}
static void cuda_graph_destroy(void *graph) {
    if (!graph) return;
    CUDA_CHECK(cudaGraphExecDestroy(((CudaGraph *)graph)->exec));
    free(graph);
}

static void cuda_describe(BackendInfo *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->device, sizeof info->device, "%s", device_name);
    info->threads = tb_num_threads();
    snprintf(info->precision, sizeof info->precision, "%s", precision_names[precision]);
}

// The host threads only issue work (every op runs on the device), so the
// count only sets OpenMP's, for the host code around the backend.
static void cuda_set_threads(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
}

// TF32 is cuBLAS's math mode for the fp32 GEMMs; bf16 is linear.cu's choice
// of cublasGemmEx with CUDA_R_16BF operands (the mode stays the default, as
// the TF32 mode would also change the attention's fp32 GEMMs).
static void apply_math_mode(void) {
    if (cublas_handle)
        CUBLAS_CHECK(cublasSetMathMode(cublas_handle, precision == PRECISION_TF32
                                                          ? CUBLAS_TF32_TENSOR_OP_MATH
                                                          : CUBLAS_DEFAULT_MATH));
}

Precision cuda_precision(void) { return precision; }

// A captured graph keeps the precision of its capture (the math mode, the
// GEMM calls and conversions recorded): a change makes every graph stale,
// graph_launch refuses it and the model captures again.
static int cuda_set_precision(Precision p) {
    if ((int)p < 0 || (int)p >= PRECISION_COUNT) return tb_error("unknown precision %d", (int)p);
#ifdef __CUDACC__
    int major = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
    if (p != PRECISION_FP32 && major < 8)
        return tb_error("precision %s needs a GPU of compute capability 8.0 or later (Ampere); %s is %d.x: "
                        "use --precision fp32", precision_names[p], device_name, major);
#endif
    if (p != precision) graph_epoch++;
    precision = p;
    apply_math_mode();
    if (p == PRECISION_BF16) grow_bf16_slots();
    return 0;
}

// kernels/ops.def's functions: memory and graphs above, each op's <name>_cuda.
#define OP_CUDA_FN_MEMORY(name) cuda_##name
#define OP_CUDA_FN_GRAPH(name) cuda_##name
#define OP_CUDA_FN_COMPUTE(name) name##_cuda
#define OP_CUDA_FN_QUERY(name) name##_cuda

static const Backend cuda_backend = {
    .name = "cuda",
    .on_host = 0,
    .selective_scan_max_dstate = SELECTIVE_SCAN_MAX_DSTATE_CUDA,
    .conv1d_max_kernel = CONV1D_MAX_KERNEL_CUDA,
    .describe = cuda_describe,
    .set_threads = cuda_set_threads,
    .set_precision = cuda_set_precision,
#define OP(kind, ret, name, params, args) .name = OP_CUDA_FN_##kind(name),
#include "../ops.def"
#undef OP
};

extern "C" const Backend *backend_cuda_get(void) {
    if (cublas_handle) return &cuda_backend;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        tb_error("the CUDA backend needs a GPU, but none is usable here (%s); use --backend cpu (make: BACKEND=cpu)",
                 err != cudaSuccess ? cudaGetErrorString(err) : "no device found");
        return NULL;
    }
    if (device_ordinal >= count) {
        tb_error("the CUDA backend was asked for GPU %d, but this process sees %d (CUDA_VISIBLE_DEVICES?)",
                 device_ordinal, count);
        return NULL;
    }
    CUDA_CHECK(cudaSetDevice(device_ordinal));
#ifdef __CUDACC__
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, device_ordinal));
    snprintf(device_name, sizeof device_name, "%s", prop.name);
#else
    snprintf(device_name, sizeof device_name, "simt-emulation");
#endif
    if (cublasCreate(&cublas_handle) != CUBLAS_STATUS_SUCCESS) {
        cublas_handle = NULL;
        tb_error("cuBLAS could not be initialised on %s; check the CUDA installation", device_name);
        return NULL;
    }
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaMalloc(&cublas_workspace, CUBLAS_WORKSPACE_BYTES));
    CUBLAS_CHECK(cublasSetStream(cublas_handle, stream));  // resets the workspace: set it after
    CUBLAS_CHECK(cublasSetWorkspace(cublas_handle, cublas_workspace, CUBLAS_WORKSPACE_BYTES));
    apply_math_mode();
    return &cuda_backend;
}

extern "C" void backend_cuda_set_tf32(int enabled) {
    if (cuda_set_precision(enabled ? PRECISION_TF32 : PRECISION_FP32)) tb_die("%s", tb_last_error());
}
extern "C" int backend_cuda_tf32(void) { return precision == PRECISION_TF32; }
extern "C" const char *backend_cuda_device_name(void) { return device_name; }

extern "C" int backend_cuda_device_info(CudaDeviceInfo *info) {
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s", device_name);
    if (!cublas_handle) return tb_error("the CUDA backend is not initialised (no GPU?)");
#ifdef __CUDACC__
    int clock_khz = 0, mem_clock_khz = 0, bus_bits = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&info->cc_major, cudaDevAttrComputeCapabilityMajor, device_ordinal));
    CUDA_CHECK(cudaDeviceGetAttribute(&info->cc_minor, cudaDevAttrComputeCapabilityMinor, device_ordinal));
    CUDA_CHECK(cudaDeviceGetAttribute(&info->sm_count, cudaDevAttrMultiProcessorCount, device_ordinal));
    CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device_ordinal));
    CUDA_CHECK(cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, device_ordinal));
    CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device_ordinal));
    size_t free_bytes = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_bytes, &info->mem_bytes));
    info->clock_ghz = clock_khz * 1e-6;
    int fp32_lanes = info->cc_major == 8 && info->cc_minor == 0 ? 64 : 128;
    int tf32_per_clock = info->cc_major >= 9 ? 2048 : 1024;
    info->peak_fp32_tflops = info->sm_count * fp32_lanes * 2.0 * info->clock_ghz * 1e-3;
    info->peak_tf32_tflops = info->sm_count * tf32_per_clock * info->clock_ghz * 1e-3;
    info->peak_bf16_tflops = 2 * info->peak_tf32_tflops;
    info->mem_bandwidth_gbs = 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8.0) * 1e-9;
#endif
    return 0;
}
