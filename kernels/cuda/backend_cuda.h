// backend_cuda.h: the CUDA backend as C sees it (kernels/backend.c, the
// runner, the tests). Built only when the project is compiled with CUDA
// (`make cuda`, -DTB_HAVE_CUDA) or against the SIMT emulation (tests).
#ifndef TB_BACKEND_CUDA_H
#define TB_BACKEND_CUDA_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

// The CUDA backend on the first GPU (or backend_cuda_use_device's), or NULL
// with tb_error() set (no GPU, no driver). The first call picks the device and
// creates the cuBLAS handle.
const Backend *backend_cuda_get(void);
// Before the first backend_cuda_get: the GPU to use (data-parallel training
// gives each rank its own, src/runner/dist.c). 0 by default.
void backend_cuda_use_device(int device);
// The backend's one stream (a cudaStream_t), for work that must be ordered
// with its ops: data-parallel training's NCCL collectives.
void *backend_cuda_stream(void);
// TF32 tensor-core matmuls in cuBLAS: off by default (exact fp32), opt-in for
// speed. The same as set_precision(PRECISION_TF32) or (PRECISION_FP32), which
// is how a run sets it (and bf16); the record states the backend's precision.
void backend_cuda_set_tf32(int enabled);
int backend_cuda_tf32(void);
// The device's name ("NVIDIA H100 80GB HBM3", "simt-emulation"), for records.
const char *backend_cuda_device_name(void);

// What the benchmarks need to put a speed in context. Peaks are estimates
// from the SM count and clock: fp32 FMA lanes per SM (64 on sm_80, 128 on
// sm_86 and later) x 2 x clock, and dense TF32 tensor-core throughput per SM
// (1024 FLOP/clock on sm_80, 2048 on sm_90); dense bf16 is twice TF32's.
typedef struct {
    char name[256];
    int cc_major, cc_minor, sm_count;
    double clock_ghz;
    double peak_fp32_tflops, peak_tf32_tflops, peak_bf16_tflops;
    double mem_bandwidth_gbs;  // 2 x memory clock x bus width (DDR)
    size_t mem_bytes;
} CudaDeviceInfo;
// Fills info for the device in use (after backend_cuda_get()). 0 or -1 with
// the error set.
int backend_cuda_device_info(CudaDeviceInfo *info);

// ---------------------------------------------------------------- counters
// What the host asked of the GPU (backend_cuda_stats.cu), counted where the
// calls are issued (cuda_common.cuh wraps them, so no call site can forget):
// a regression that adds launches or synchronous copies shows up in the
// benchmark's JSON. A call issued while a stream capture is open counts when
// it is recorded; replaying the graph counts one graph launch and nothing
// for the work inside it.
typedef struct {
    long long kernel_launches;   // LAUNCH(...) of the project's own kernels
    long long gemm_calls;        // cuBLAS GEMM calls (each launches one or more kernels)
    long long memcpy_h2d;        // host-to-device copies (cudaMemcpy: synchronous)
    long long memcpy_d2h;        // device-to-host copies (synchronous: the host waits)
    long long memcpy_d2d;        // device-to-device copies, 1-D and 2-D, on the stream
    long long memsets;           // fills (backend zero, and allocation's)
    long long graph_launches;    // CUDA graph replays
    long long backend_calls;     // ops called through backend_cuda_profiled() (0 otherwise)
} CudaCounters;
void backend_cuda_counters(CudaCounters *out);
void backend_cuda_counters_reset(void);

// ---------------------------------------------------------------- timing marks
// CUDA events recorded on the backend's stream: the GPU's own clock, so that
// asynchronous work is timed where it runs, not where the host issued it.
// backend_cuda_mark() records the next event of a fixed pool (created at the
// first mark) and returns its index; backend_cuda_marks_clear() starts the
// pool over. Not inside a graph capture.
enum { CUDA_MARKS_MAX = 8192 };
int backend_cuda_mark(void);
void backend_cuda_marks_clear(void);
// GPU milliseconds from mark `from` to mark `to`; waits for `to` to complete.
double backend_cuda_elapsed_ms(int from, int to);

// ---------------------------------------------------------------- op profile
// Where the GPU time of a step goes. backend_cuda_profiled() is the CUDA
// backend wrapped with kernels/backend_hooks.h (one wrapper per program): it
// counts every op call in CudaCounters.backend_calls, and between
// profile_begin and profile_end it records a mark before each op. The time
// from one op's mark to the next is that op's: its kernels, plus any gap
// in which the GPU waited for the host to issue it. Profiled steps are
// slower than plain ones (one event per op); time plain steps separately.
const Backend *backend_cuda_profiled(void);

// Op classes: selective_scan_* -> scan; linear_* and attention_* (cuBLAS
// GEMMs, with attention's softmax kernels) -> gemm; everything else -> other.
enum { CUDA_OP_SCAN, CUDA_OP_GEMM, CUDA_OP_OTHER, CUDA_OP_CLASSES };
int backend_cuda_op_class(const char *op);
const char *backend_cuda_op_class_name(int op_class);  // "scan", "gemm", "other"

enum { CUDA_PROFILE_MAX_OPS = 64 };
typedef struct {
    const char *name;  // the op's field name in Backend ("linear_forward")
    int calls;
    double ms;
} CudaOpTime;
typedef struct {
    double total_ms;  // first mark to the last
    double class_ms[CUDA_OP_CLASSES];
    int n_ops;        // distinct ops, in the order of their first call
    CudaOpTime ops[CUDA_PROFILE_MAX_OPS];
} CudaOpProfile;
// Opens a profile (clears the marks). Not while a graph capture may begin.
void backend_cuda_profile_begin(void);
// Records the closing mark, waits for it and attributes the time.
void backend_cuda_profile_end(CudaOpProfile *out);

#ifdef __cplusplus
}
#endif

#endif
