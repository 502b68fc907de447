// backend_cpu.c: the CPU Backend table. Memory is plain host memory; every op
// is one of the functions declared in cpu_ops.h (one small file per op).
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
static void cpu_memcpy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_memcpy_2d(void *dst, size_t dst_pitch, const void *src, size_t src_pitch,
                          size_t width, size_t rows) {
    for (size_t r = 0; r < rows; r++)
        memmove((char *)dst + r * dst_pitch, (const char *)src + r * src_pitch, width);
}
static void cpu_synchronize(void) {}
// The CPU ops need no workspace of their own.
static void cpu_reserve_workspace(const WorkspaceShapes *shapes) { (void)shapes; }

static const Backend cpu_backend = {
    .name = "cpu",
    .selective_scan_max_dstate = SCAN_MAX_DSTATE,
    .conv1d_max_kernel = CONV1D_MAX_KERNEL_CPU,

    .alloc = cpu_alloc,
    .free = cpu_free,
    .zero = cpu_zero,
    .to_device = cpu_memcpy,
    .to_host = cpu_memcpy,
    .copy = cpu_memcpy,
    .copy_2d = cpu_memcpy_2d,
    .synchronize = cpu_synchronize,
    .reserve_workspace = cpu_reserve_workspace,

    .linear_forward = linear_forward,
    .linear_backward = linear_backward,
    .embedding_forward = embedding_forward,
    .embedding_backward = embedding_backward,
    .layernorm_forward = layernorm_forward,
    .layernorm_backward = layernorm_backward,
    .rmsnorm_forward = rmsnorm_forward,
    .add_rmsnorm_forward = add_rmsnorm_forward,
    .rmsnorm_backward = rmsnorm_backward,

    .gelu_forward = gelu_forward,
    .gelu_backward = gelu_backward,
    .add = add_forward,
    .accumulate = accumulate,
    .scale = scale_inplace,
    .silu_forward = silu_forward,
    .silu_backward = silu_backward,

    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .attention_decode = attention_decode,

    .crossentropy_forward_backward = crossentropy_forward_backward,

    .sum_squares = sum_squares,
    .adamw_update = adamw_update,

    .conv1d_forward = conv1d_forward,
    .conv1d_backward = conv1d_backward,
    .conv1d_silu_step = conv1d_silu_step,
    .conv1d_state_from_sequence = conv1d_state_from_sequence,
    .selective_scan_forward = selective_scan_forward,
    .selective_scan_backward = selective_scan_backward,
    .selective_scan_scratch_floats = selective_scan_scratch_floats,
    .selective_scan_step = selective_scan_step,

    .lstm_forward = lstm_forward,
    .lstm_backward = lstm_backward,
    .lstm_scratch_floats = lstm_scratch_floats,
};

const Backend *backend_cpu(void) {
    cpu_blas_single_threaded();  // the ops split their own matmuls (blas.c)
    return &cpu_backend;
}
