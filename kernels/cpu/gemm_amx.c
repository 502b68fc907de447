// gemm_amx.c: bf16 GEMMs on Intel AMX tiles (Sapphire Rapids and later), the
// CPU backend's fast bf16 path (blas.c picks it; see cpu_gemm there).
//
// An AMX tile holds 16 rows of 64 bytes; TDPBF16PS multiplies a 16 x 32 bf16
// tile of A by a 32 x 16 bf16 tile of B (stored as 16 rows of 16 column pairs,
// "VNNI": the two k of a pair side by side) into a 16 x 16 fp32 tile with fp32
// sums, 8192 multiply-adds per instruction. Here each block of 32 x 32
// outputs keeps four accumulator tiles (tmm0-3) and streams A (tmm4-5) and B
// (tmm6-7) along K in steps of 32:
//
//   A packed: (Mp, K) row-major bf16, Mp = M rounded up to 32 (zero rows)
//   B packed: (Kmain / 2, Np, 2) bf16, Kmain = K rounded down to 32 and
//             Np = N rounded up to 32 (zero columns), then the last
//             K - Kmain rows of op(B) as (K - Kmain, N) bf16
//   C[i][j] = alpha * (tile sum + the K - Kmain tail, in fp32) + beta * C[i][j]
//
// Each output is summed by one thread in a fixed order (the tiles' K steps,
// then the tail), so the result does not depend on the thread count. The
// operands are rounded to nearest even (kernels/bf16.h) as they are packed.
// Linux hands out the tiles' 8 KB of state per process on request
// (arch_prctl ARCH_REQ_XCOMP_PERM); where it refuses, or the CPU has no
// AMX-BF16, cpu_amx_available() is 0 and blas.c uses another path.
#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../bf16.h"
#include "cpu_ops.h"
#include "lib/common.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int cpu_amx_available(void) {
    static int state = -1;
    if (state < 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        int cpu = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)) && (d & (1u << 24));
        state = cpu && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }
    return state;
}

// The tile configuration (palette 1): tmm0-7 all 16 rows of 64 bytes.
typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) AmxConfig;

static inline float op_at(const float *X, int ld, int trans, int r, int c) {
    return trans ? X[(size_t)c * ld + r] : X[(size_t)r * ld + c];
}

// 32 x 32 outputs from A rows a (stride lda_bytes) and B column pairs bp
// (stride ldb_bytes per k-pair) over kmain: out (32, 32) fp32.
__attribute__((target("amx-tile,amx-bf16"))) static void amx_block(const uint16_t *a, size_t lda, const uint16_t *bp,
                                                                  size_t ldb, int kmain, float *out) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int k = 0; k < kmain; k += 32) {
        const uint16_t *ak = a + k, *bk = bp + (size_t)(k / 2) * (ldb / 2);
        _tile_loadd(4, ak, lda);
        _tile_loadd(5, ak + 16 * (lda / 2), lda);
        _tile_loadd(6, bk, ldb);
        _tile_loadd(7, bk + 32, ldb);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 128);
    _tile_stored(1, out + 16, 128);
    _tile_stored(2, out + 16 * 32, 128);
    _tile_stored(3, out + 16 * 32 + 16, 128);
}

// A constant in memory: ldtilecfg reads all 64 bytes, which the compiler
// cannot see through the intrinsic's asm (it names only the first 8).
static const AmxConfig amx_tiles = {
    .palette_id = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

__attribute__((target("amx-tile"))) static void amx_config(void) { _tile_loadconfig(&amx_tiles); }

__attribute__((target("amx-tile"))) static void amx_release(void) { _tile_release(); }

size_t cpu_amx_pack_elems(int M, int N, int K, int which) {
    size_t Mp = ((size_t)M + 31) / 32 * 32, Np = ((size_t)N + 31) / 32 * 32, kmain = (size_t)K / 32 * 32;
    return which == 0 ? Mp * (size_t)K : kmain * Np + ((size_t)K - kmain) * (size_t)N;
}

void cpu_amx_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                  int ldb, float beta, float *C, int ldc, uint16_t *a_pack, uint16_t *b_pack) {
    int Mp = (M + 31) / 32 * 32, Np = (N + 31) / 32 * 32, kmain = K / 32 * 32;
    int par = !omp_in_parallel();
    // A: row i of op(A), rounded; rows M..Mp-1 zero.
    #pragma omp parallel for schedule(static) if (par)
    for (int i = 0; i < Mp; i++) {
        uint16_t *row = a_pack + (size_t)i * K;
        if (i >= M) {
            memset(row, 0, (size_t)K * sizeof *row);
            continue;
        }
        for (int k = 0; k < K; k++) row[k] = bf16_from_float(op_at(A, lda, transA, i, k));
    }
    // B: the k-pairs of op(B) interleaved per column (columns N..Np-1 zero),
    // then the tail rows kmain..K-1 as they are.
    uint16_t *tail = b_pack + (size_t)kmain * Np;
    #pragma omp parallel for schedule(static) if (par)
    for (int kp = 0; kp < kmain / 2 + (K - kmain); kp++) {
        if (kp < kmain / 2) {
            uint16_t *row = b_pack + (size_t)kp * Np * 2;
            for (int j = 0; j < Np; j++) {
                row[2 * j] = j < N ? bf16_from_float(op_at(B, ldb, transB, 2 * kp, j)) : 0;
                row[2 * j + 1] = j < N ? bf16_from_float(op_at(B, ldb, transB, 2 * kp + 1, j)) : 0;
            }
        } else {
            int k = kmain + kp - kmain / 2;
            uint16_t *row = tail + (size_t)(k - kmain) * N;
            for (int j = 0; j < N; j++) row[j] = bf16_from_float(op_at(B, ldb, transB, k, j));
        }
    }
    int bi = Mp / 32, bj = Np / 32;
    #pragma omp parallel if (par)
    {
        amx_config();
        float out[32 * 32] __attribute__((aligned(64)));
        #pragma omp for schedule(static)
        for (int blk = 0; blk < bi * bj; blk++) {
            int i0 = blk / bj * 32, j0 = blk % bj * 32;
            amx_block(a_pack + (size_t)i0 * K, (size_t)K * 2, b_pack + (size_t)j0 * 2, (size_t)Np * 4, kmain, out);
            int rows = M - i0 < 32 ? M - i0 : 32, cols = N - j0 < 32 ? N - j0 : 32;
            for (int i = 0; i < rows; i++) {
                const uint16_t *ar = a_pack + (size_t)(i0 + i) * K;
                float *c = C + (size_t)(i0 + i) * ldc + j0;
                for (int j = 0; j < cols; j++) {
                    float acc = out[i * 32 + j];
                    for (int k = kmain; k < K; k++)
                        acc += bf16_to_float(ar[k]) * bf16_to_float(tail[(size_t)(k - kmain) * N + j0 + j]);
                    c[j] = beta == 0.0f ? alpha * acc : alpha * acc + beta * c[j];
                }
            }
        }
        amx_release();
    }
}
