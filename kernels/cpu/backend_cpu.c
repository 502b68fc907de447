// backend_cpu.c: the CPU Backend table. Memory is plain host memory; every op
// is one of the functions declared in cpu_ops.h (one small file per op
// family), named from kernels/ops.def.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "cpu_ops.h"

// 64-byte alignment: a cache line, and an AVX-512 vector.
static void *cpu_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) tb_die("out of memory allocating %zu bytes on the CPU backend", bytes);
    memset(p, 0, rounded);
    return p;
}

static void cpu_free(void *p) { free(p); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_to_device(void *dst, const void *src, size_t bytes) { cpu_copy(dst, src, bytes); }
static void cpu_to_host(void *dst, const void *src, size_t bytes) { cpu_copy(dst, src, bytes); }
static void cpu_copy_2d(void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                        size_t width, size_t rows) {
    for (size_t r = 0; r < rows; r++)
        memmove((char *)dst + r * dst_pitch, (const char *)src + r * src_pitch, width);
}
static void cpu_synchronize(void) {}
// The only workspace of the CPU ops: the bf16 GEMM's rounded operands
// (blas.c), allocated once the precision is bf16.
static void cpu_reserve_workspace(const WorkspaceShapes *shapes) {
    size_t activations = shapes->rows * shapes->widest;
    cpu_gemm_reserve(activations > shapes->largest_weight ? activations : shapes->largest_weight);
}

static void cpu_describe(BackendInfo *info) {
    memset(info, 0, sizeof *info);
    const char *core = openblas_get_corename();
    Precision p = cpu_gemm_precision();
    snprintf(info->device, sizeof info->device, "host CPU (OpenBLAS %s kernels%s%s)", core ? core : "unknown",
             p == PRECISION_BF16 ? "; bf16 GEMMs: " : "", p == PRECISION_BF16 ? cpu_bf16_gemm_path() : "");
    info->threads = omp_get_max_threads();
    snprintf(info->precision, sizeof info->precision, "%s", precision_names[p]);
}

// One pool of OpenMP threads: OpenBLAS stays single-threaded (blas.c) and
// the ops split their products over these.
static void cpu_set_threads(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
    cpu_blas_single_threaded();
}

// kernels/ops.def's functions: memory above, no graphs, each op's <name>_cpu.
#define OP_CPU_FN_MEMORY(name) cpu_##name
#define OP_CPU_FN_GRAPH(name) NULL
#define OP_CPU_FN_COMPUTE(name) name##_cpu
#define OP_CPU_FN_QUERY(name) name##_cpu

static const Backend cpu_backend = {
    .name = "cpu",
    .on_host = 1,
    .selective_scan_max_dstate = SCAN_MAX_DSTATE,
    .conv1d_max_kernel = CONV1D_MAX_KERNEL_CPU,
    .describe = cpu_describe,
    .set_threads = cpu_set_threads,
    .set_precision = cpu_set_gemm_precision,
#define OP(kind, ret, name, params, args) .name = OP_CPU_FN_##kind(name),
#include "../ops.def"
#undef OP
};
const Backend *backend_cpu(void) {
    cpu_blas_single_threaded();  // the ops split their own matmuls (blas.c)
    return &cpu_backend;
}
