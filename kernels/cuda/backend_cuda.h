// backend_cuda.h: the CUDA backend as C sees it (kernels/backend.c, the
// runner, the tests). Built only when the project is compiled with CUDA
// (`make cuda`, -DTB_HAVE_CUDA) or against the SIMT emulation (tests).
#ifndef TB_BACKEND_CUDA_H
#define TB_BACKEND_CUDA_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

// The CUDA backend on the first GPU, or NULL with tb_error() set (no GPU,
// no driver). The first call picks the device and creates the cuBLAS handle.
const Backend *backend_cuda_get(void);
// TF32 tensor-core matmuls in cuBLAS: off by default (exact fp32), opt-in for
// speed. The run record stores backend_cuda_tf32() so results say which.
void backend_cuda_set_tf32(int enabled);
int backend_cuda_tf32(void);
// The device's name ("NVIDIA H100 80GB HBM3", "simt-emulation"), for records.
const char *backend_cuda_device_name(void);

// What the benchmarks need to put a speed in context. Peaks are estimates
// from the SM count and clock: fp32 FMA lanes per SM (64 on sm_80, 128 on
// sm_86 and later) x 2 x clock, and dense TF32 tensor-core throughput per SM
// (1024 FLOP/clock on sm_80, 2048 on sm_90).
typedef struct {
    char name[256];
    int cc_major, cc_minor, sm_count;
    double clock_ghz;
    double peak_fp32_tflops, peak_tf32_tflops;
    double mem_bandwidth_gbs;  // 2 x memory clock x bus width (DDR)
    size_t mem_bytes;
} CudaDeviceInfo;
// Fills info for the device in use (after backend_cuda_get()). 0 or -1 with
// the error set.
int backend_cuda_device_info(CudaDeviceInfo *info);

#ifdef __cplusplus
}
#endif

#endif
