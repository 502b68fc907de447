// attention.c: causal multi-head self-attention over a fused qkv.
//
// qkv (B, T, 3C) holds [q | k | v] per position, each split into NH heads of
// hs = C/NH contiguous floats, as GPT-2's c_attn output is. Per (b, head):
//   S = q k^T / sqrt(hs)   (T, T), causal: only j <= i
//   P = softmax_rows(S)    kept in att (B, NH, T, T), zero above the diagonal
//   y = P v                (T, hs), written into out (B, T, C) at the head's columns
// and the backward, with dP = dy v^T and dS = P * (dP - rowsum(P * dP)) / sqrt(hs):
//   dq = dS k,  dk = dS^T q,  dv = P^T dy
// One (b, head) per OpenMP iteration.
//
// Two implementations of the same math:
//  - the tiled path (head sizes that are a multiple of 16, hs * T small enough
//    for a stack copy of k^T): register-blocked tiles of 4 rows by 16-float
//    vectors, written with GCC vector types so that they compile to AVX-512
//    (or AVX2/SSE halves) without intrinsics. With hs 32 or 64 every matmul
//    here has an inner dimension too small for sgemm to amortise its packing,
//    and the tiles skip the masked triangle exactly (to the next 16 columns).
//    Softmax and the softmax backward run on each tile row while it is hot.
//  - the sgemm path (any other shape): the three products per (b, head) go
//    through cblas_sgemm on strided views of qkv, in 64-row blocks that skip
//    most of the masked triangle.
// Both are deterministic: every sum has a fixed order.
#include <cblas.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>

#include "lib/common.h"
#include "cpu_ops.h"
#include "vec_math.h"

#define ATT_BLOCK 64      // sgemm path: rows per block
#define TILE_ROWS 4       // tiled path: rows per register tile
#define TILE_MAX_HS_T 32768  // tiled path: largest hs * T (the k^T copy lives on the stack)

// ================================================================ tiles

typedef float vf16 __attribute__((vector_size(64)));
// The same vector for unaligned loads and stores through any float pointer.
typedef float vf16_u __attribute__((vector_size(64), aligned(4), may_alias));
#define VLOAD(p) (*(const vf16_u *)(p))
#define VSTORE(p, x) (*(vf16_u *)(p) = (x))
#define INLINE static inline __attribute__((always_inline))

// Macros, not functions: passing a 64-byte vector by value changes the ABI
// on targets without AVX-512 (and GCC says so).
#define VSET1(x) ((vf16){(x), (x), (x), (x), (x), (x), (x), (x), \
                         (x), (x), (x), (x), (x), (x), (x), (x)})
// acc + a * b in one rounding. ISO C mode (-std=c11) keeps GCC from fusing
// a * b + c by itself, so the fused instruction is asked for where it exists.
#ifdef __AVX512F__
#define VFMA(a, b, acc) ((vf16)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(acc)))
#else
#define VFMA(a, b, acc) ((acc) + (a) * (b))
#endif

// The one register tile: C[r][16c + l] = sum_{k = k0}^{k1-1} A[r, k] * B[k][16c + l]
// for r < R, c < NV, with A[r, k] at A[r * a_rs + k * a_ks] (a row-major A has
// a_ks = 1; a transposed one, a_rs = 1) and B row-major (row stride ldb).
// R and NV are constants at every call, and so are the strides passed as 1:
// inlined, the loops unroll fully and acc lives in registers.
INLINE void tile_gemm(float *C, int ldc, const float *A, int a_rs, int a_ks, const float *B,
                      int ldb, int k0, int k1, const int R, const int NV) {
    vf16 acc[TILE_ROWS][8];
    #pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < NV; c++) acc[r][c] = (vf16){0};
    for (int k = k0; k < k1; k++) {
        const float *b = B + (size_t)k * ldb, *a = A + (size_t)k * a_ks;
        vf16 bv[8];
        #pragma GCC unroll 8
        for (int c = 0; c < NV; c++) bv[c] = VLOAD(b + 16 * c);
        #pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            float ar = a[(size_t)r * a_rs];
            #pragma GCC unroll 8
            for (int c = 0; c < NV; c++) acc[r][c] = VFMA(bv[c], VSET1(ar), acc[r][c]);
        }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 8
        for (int c = 0; c < NV; c++) VSTORE(C + (size_t)r * ldc + 16 * c, acc[r][c]);
}

// S[r][j0 + 16c + l] = sum_d A[r][d] * BT[d][j0 + 16c + l] for r < R, c < NV:
// R rows of A (row stride lda) against NV vectors of columns of BT (hs, ldb).
INLINE void tile_abt(float *S, int lds, const float *A, int lda, const float *BT, int ldb,
                     int j0, int hs, const int R, const int NV) {
    tile_gemm(S + j0, lds, A, lda, 1, BT + j0, ldb, 0, hs, R, NV);
}

// S (R, ncols rounded up to 16) = A (R, hs) @ BT[:, 0:ncols]: whole 64-column
// tiles, then 16-column ones. BT is padded so that every tile is in bounds.
INLINE void rows_abt(float *S, int lds, const float *A, int lda, const float *BT, int ldb,
                     int ncols, int hs, const int R) {
    int j0 = 0;
    for (; j0 + 64 <= ncols; j0 += 64) tile_abt(S, lds, A, lda, BT, ldb, j0, hs, R, 4);
    for (; j0 < ncols; j0 += 16) tile_abt(S, lds, A, lda, BT, ldb, j0, hs, R, 1);
}

// Y[r][:] = sum_{j < n} P[r][j] * X[j][:] for r < R: a tile of rows of P (R, n)
// @ X (n, hs) with hs = 16 NV.
INLINE void tile_px(float *Y, int ldy, const float *P, int ldp, const float *X, int ldx, int n,
                    const int R, const int NV) {
    tile_gemm(Y, ldy, P, ldp, 1, X, ldx, 0, n, R, NV);
}

// Z[r][:] = sum_{i = i0}^{n-1} P[i][r] * X[i][:] for r < R: a tile of columns of
// P, transposed, @ X. P points at the tile's first column.
INLINE void tile_ptx(float *Z, int ldz, const float *P, int ldp, const float *X, int ldx, int i0,
                     int n, const int R, const int NV) {
    tile_gemm(Z, ldz, P, 1, ldp, X, ldx, i0, n, R, NV);
}

// The tile functions for the head size hs = 16 nv, with R = TILE_ROWS or 1
// rows (the last rows of a sequence whose length is not a multiple of 4).
#define DISPATCH_NV(nv, call_with_nv) \
    switch (nv) {                     \
    case 1: call_with_nv(1); break;   \
    case 2: call_with_nv(2); break;   \
    case 4: call_with_nv(4); break;   \
    default: call_with_nv(8); break;  \
    }

static void rows_px(float *Y, int ldy, const float *P, int ldp, const float *X, int ldx, int n,
                    int R, int nv) {
#define PX(NV)                                                             \
    if (R == TILE_ROWS) tile_px(Y, ldy, P, ldp, X, ldx, n, TILE_ROWS, NV); \
    else for (int r = 0; r < R; r++)                                       \
        tile_px(Y + (size_t)r * ldy, ldy, P + (size_t)r * ldp, ldp, X, ldx, n, 1, NV)
    DISPATCH_NV(nv, PX)
#undef PX
}

static void cols_ptx(float *Z, int ldz, const float *P, int ldp, const float *X, int ldx, int i0,
                     int n, int R, int nv) {
#define PTX(NV)                                                                \
    if (R == TILE_ROWS) tile_ptx(Z, ldz, P, ldp, X, ldx, i0, n, TILE_ROWS, NV); \
    else for (int r = 0; r < R; r++)                                           \
        tile_ptx(Z + (size_t)r * ldz, ldz, P + r, ldp, X, ldx, i0, n, 1, NV)
    DISPATCH_NV(nv, PTX)
#undef PTX
}

static void rows_abt_any(float *S, int lds, const float *A, int lda, const float *BT, int ldb,
                         int ncols, int hs, int R) {
    if (R == TILE_ROWS) rows_abt(S, lds, A, lda, BT, ldb, ncols, hs, TILE_ROWS);
    else
        for (int r = 0; r < R; r++)
            rows_abt(S + (size_t)r * lds, lds, A + (size_t)r * lda, lda, BT, ldb, ncols, hs, 1);
}

// xT (hs, Tp) = x (T, hs) with row stride ldx, transposed; columns T..Tp-1 zero.
// Row by row of xT: its writes are sequential, and the strided reads touch
// one cache line per position, which stay in L1 from one d to the next.
static void transpose_head(float *xT, int Tp, const float *x, int ldx, int T, int hs) {
    for (int d = 0; d < hs; d++) {
        float *row = xT + (size_t)d * Tp;
        for (int j = 0; j < T; j++) row[j] = x[(size_t)j * ldx + d];
        memset(row + T, 0, (size_t)(Tp - T) * sizeof(float));
    }
}

// One (b, head)'s views: q, k, v in qkv (row stride 3C), its P in att and
// its dS in scratch ((T, T) each), dy in dout and y in out (row stride C),
// and dq, dk, dv in dqkv (row stride 3C). Forward callers pass NULL for the
// gradients' buffers and use the views they need.
typedef struct {
    const float *q, *k, *v, *dy;
    float *a, *ds, *y, *dq, *dk, *dv;
} HeadViews;

static HeadViews head_views(int bh, int NH, int T, int C, const float *qkv, float *att, float *out,
                            const float *dout, float *scratch, float *dqkv) {
    const int b = bh / NH, h = bh % NH, hs = C / NH, C3 = 3 * C;
    const size_t qkv_off = (size_t)b * T * C3 + h * hs, out_off = (size_t)b * T * C + h * hs;
    HeadViews v = {.q = qkv + qkv_off, .a = att + (size_t)bh * T * T};
    v.k = v.q + C, v.v = v.q + 2 * C;
    if (out) v.y = out + out_off;
    if (dout) v.dy = dout + out_off;
    if (scratch) v.ds = scratch + (size_t)bh * T * T;
    if (dqkv) v.dq = dqkv + qkv_off, v.dk = v.dq + C, v.dv = v.dq + 2 * C;
    return v;
}

static int use_tiles(int T, int hs) { return hs % 16 == 0 && hs <= 128 && (size_t)hs * T <= TILE_MAX_HS_T; }

// ================================================================ forward

// row[0:T] = softmax(scale * s[0:n]), zeros after (n = i + 1 for row i).
// The loops run over whole 16-float vectors, to nn = n rounded up (capped at
// s_len, the floats s holds), with s[n:nn] set to -inf first: a scalar
// remainder loop of exponentials would cost as much as all the vectors, and a
// per-lane condition makes GCC split the loop back into one. s is overwritten.
static void softmax_causal_row(float *row, float *s, int s_len, int n, int T, float scale) {
    int nn = (n + 15) / 16 * 16;
    nn = nn < s_len ? nn : s_len;
    const int nw = nn < T ? nn : T;
    for (int j = n; j < nn; j++) s[j] = -INFINITY;
    float maxv = -INFINITY;
    #pragma omp simd reduction(max : maxv)
    for (int j = 0; j < nn; j++) maxv = s[j] > maxv ? s[j] : maxv;
    float sum = 0.0f;
    #pragma omp simd reduction(+ : sum)
    for (int j = 0; j < nn; j++) {
        s[j] = vec_expf((s[j] - maxv) * scale);  // about 1e-38 (not 0) past n
        sum += s[j];
    }
    for (int j = n; j < nn; j++) s[j] = 0.0f;
    float inv = 1.0f / sum;
    #pragma omp simd
    for (int j = 0; j < nw; j++) row[j] = s[j] * inv;
    memset(row + nw, 0, (size_t)(T - nw) * sizeof(float));
}

static void attention_forward_tiles(float *out, float *att, const float *qkv, int B, int T,
                                    int C, int NH) {
    const int hs = C / NH, C3 = 3 * C, nv = hs / 16, Tp = (T + 63) / 64 * 64;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        HeadViews hv = head_views(bh, NH, T, C, qkv, att, out, NULL, NULL, NULL);
        const float *q = hv.q, *k = hv.k, *v = hv.v;
        float *a = hv.a, *y = hv.y;
        float kT[hs * Tp], s[TILE_ROWS * Tp];
        transpose_head(kT, Tp, k, C3, T, hs);
        for (int i0 = 0; i0 < T; i0 += TILE_ROWS) {
            int R = T - i0 < TILE_ROWS ? T - i0 : TILE_ROWS;
            // s (R, i0 + R) = q[i0:i0+R] k[0:i0+R]^T, unscaled
            rows_abt_any(s, Tp, q + (size_t)i0 * C3, C3, kT, Tp, i0 + R, hs, R);
            for (int r = 0; r < R; r++)
                softmax_causal_row(a + (size_t)(i0 + r) * T, s + (size_t)r * Tp, Tp, i0 + r + 1, T,
                                   scale);
            // y[i0:i0+R] = P[i0:i0+R, 0:i0+R] v[0:i0+R]  (P is zero past the diagonal)
            rows_px(y + (size_t)i0 * C, C, a + (size_t)i0 * T, T, v, C3, i0 + R, R, nv);
        }
    }
}

static void attention_forward_blas(float *out, float *att, const float *qkv, int B, int T, int C,
                                   int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        HeadViews hv = head_views(bh, NH, T, C, qkv, att, out, NULL, NULL, NULL);
        const float *q = hv.q, *k = hv.k, *v = hv.v;
        float *a = hv.a, *y = hv.y;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // S[r0:r1, 0:r1] = q[r0:r1] k[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                        q + (size_t)r0 * C3, C3, k, C3, 0.0f, a + (size_t)r0 * T, T);
            for (int i = r0; i < r1; i++) {
                float *row = a + (size_t)i * T;
                softmax_causal_row(row, row, T, i + 1, T, scale);
            }
            // y[r0:r1] = P[r0:r1, 0:r1] v[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                        a + (size_t)r0 * T, T, v, C3, 0.0f, y + (size_t)r0 * C, C);
        }
    }
}

void attention_forward_cpu(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    if (use_tiles(T, C / NH)) attention_forward_tiles(out, att, qkv, B, T, C, NH);
    else attention_forward_blas(out, att, qkv, B, T, C, NH);
}

// ================================================================ backward

// ds[0:T] from the row's P (p, T floats, zero past n) and dP (dp, finite in
// its first dp_len floats): dS = P * (dP - sum(P * dP)) * scale over the
// n = i + 1 valid columns, zeros after. Whole vectors, as in
// softmax_causal_row; P's zeros make the columns past n zero.
static void softmax_backward_row(float *ds, const float *p, const float *dp, int dp_len, int n,
                                 int T, float scale) {
    int nw = (n + 15) / 16 * 16;
    nw = nw < dp_len ? nw : dp_len;
    nw = nw < T ? nw : T;
    float dot = 0.0f;
    #pragma omp simd reduction(+ : dot)
    for (int j = 0; j < nw; j++) dot += p[j] * dp[j];
    #pragma omp simd
    for (int j = 0; j < nw; j++) ds[j] = p[j] * (dp[j] - dot) * scale;
    memset(ds + nw, 0, (size_t)(T - nw) * sizeof(float));
}

static void attention_backward_tiles(float *dqkv, float *scratch, const float *dout,
                                     const float *qkv, const float *att, int B, int T, int C,
                                     int NH) {
    const int hs = C / NH, C3 = 3 * C, nv = hs / 16, Tp = (T + 63) / 64 * 64;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        HeadViews hv = head_views(bh, NH, T, C, qkv, (float *)att, NULL, dout, scratch, dqkv);
        const float *q = hv.q, *k = hv.k, *v = hv.v, *a = hv.a, *dy = hv.dy;
        float *ds = hv.ds, *dq = hv.dq, *dk = hv.dk, *dv = hv.dv;
        float vT[hs * Tp], dp[TILE_ROWS * Tp];
        transpose_head(vT, Tp, v, C3, T, hs);
        for (int i0 = 0; i0 < T; i0 += TILE_ROWS) {
            int R = T - i0 < TILE_ROWS ? T - i0 : TILE_ROWS;
            // dp (R, i0 + R) = dy[i0:i0+R] v[0:i0+R]^T
            rows_abt_any(dp, Tp, dy + (size_t)i0 * C, C, vT, Tp, i0 + R, hs, R);
            for (int r = 0; r < R; r++) {
                size_t i = (size_t)i0 + r;
                softmax_backward_row(ds + i * T, a + i * T, dp + (size_t)r * Tp, Tp, i0 + r + 1, T,
                                     scale);
            }
            // dq[i0:i0+R] = dS[i0:i0+R, 0:i0+R] k[0:i0+R]
            rows_px(dq + (size_t)i0 * C3, C3, ds + (size_t)i0 * T, T, k, C3, i0 + R, R, nv);
        }
        // Key block [j0, j0+R) is attended by rows j0..T-1 (dS and P are zero
        // above the diagonal): dk = dS[j0:T, block]^T q[j0:T], dv = P^T dy.
        for (int j0 = 0; j0 < T; j0 += TILE_ROWS) {
            int R = T - j0 < TILE_ROWS ? T - j0 : TILE_ROWS;
            cols_ptx(dk + (size_t)j0 * C3, C3, ds + j0, T, q, C3, j0, T, R, nv);
            cols_ptx(dv + (size_t)j0 * C3, C3, a + j0, T, dy, C, j0, T, R, nv);
        }
    }
}

static void attention_backward_blas(float *dqkv, float *scratch, const float *dout,
                                    const float *qkv, const float *att, int B, int T, int C,
                                    int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        HeadViews hv = head_views(bh, NH, T, C, qkv, (float *)att, NULL, dout, scratch, dqkv);
        const float *q = hv.q, *k = hv.k, *v = hv.v, *a = hv.a, *dy = hv.dy;
        float *ds = hv.ds, *dq = hv.dq, *dk = hv.dk, *dv = hv.dv;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // dP[r0:r1, 0:r1] = dy[r0:r1] v[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                        dy + (size_t)r0 * C, C, v, C3, 0.0f, ds + (size_t)r0 * T, T);
            for (int i = r0; i < r1; i++) {
                float *d = ds + (size_t)i * T;
                softmax_backward_row(d, a + (size_t)i * T, d, r1, i + 1, T, scale);
            }
        }
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // dq[r0:r1] = dS[r0:r1, 0:r1] k[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                        ds + (size_t)r0 * T, T, k, C3, 0.0f, dq + (size_t)r0 * C3, C3);
            // Column block c = [r0, r1) of keys is attended by rows r0..T-1:
            // dk[c] = dS[r0:T, c]^T q[r0:T],  dv[c] = P[r0:T, c]^T dy[r0:T]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, 1.0f,
                        ds + (size_t)r0 * T + r0, T, q + (size_t)r0 * C3, C3, 0.0f,
                        dk + (size_t)r0 * C3, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, 1.0f,
                        a + (size_t)r0 * T + r0, T, dy + (size_t)r0 * C, C, 0.0f,
                        dv + (size_t)r0 * C3, C3);
        }
    }
}

void attention_backward_cpu(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    if (use_tiles(T, C / NH)) attention_backward_tiles(dqkv, scratch, dout, qkv, att, B, T, C, NH);
    else attention_backward_blas(dqkv, scratch, dout, qkv, att, B, T, C, NH);
}

// ================================================================ decode

// B sequences, n new tokens each, sequence b's at positions pos[b]..:
// qkv (B, n, 3C); caches (B, max_T, C), heads side by side in a row; out
// (B, n, C). The (sequence, token, head) triples run in parallel when there
// is enough work to pay for it; each one's sums run in a fixed order.
void attention_decode_cpu(float *out, float *k_cache, float *v_cache, const float *qkv,
                          const int32_t *pos, int B, int n, int max_T, int C, int NH) {
    const int hs = C / NH;
    const float scale = 1.0f / sqrtf((float)hs);
    size_t work = 0;
    for (int b = 0; b < B; b++) {
        if (pos[b] < 0 || n < 1 || pos[b] + n > max_T)
            tb_die("attention_decode: sequence %d's positions %d..%d are outside the cache of %d "
                   "positions", b, pos[b], pos[b] + n - 1, max_T);
        work += (size_t)NH * n * (pos[b] + n) * hs;
        for (int i = 0; i < n; i++) {
            const float *row = qkv + ((size_t)b * n + i) * 3 * C;
            size_t at = ((size_t)b * max_T + pos[b] + i) * C;
            memcpy(k_cache + at, row + C, C * sizeof(float));
            memcpy(v_cache + at, row + 2 * C, C * sizeof(float));
        }
    }
    #pragma omp parallel for schedule(static) if (work > 32768)
    for (int bih = 0; bih < B * n * NH; bih++) {
        const int h = bih % NH, bi = bih / NH, b = bi / n, p = pos[b] + bi % n;
        const float *q = qkv + (size_t)bi * 3 * C + h * hs;
        const float *kc = k_cache + (size_t)b * max_T * C + h * hs;  // row stride C
        const float *vc = v_cache + (size_t)b * max_T * C + h * hs;
        float scores[p + 1];
        float maxv = -INFINITY;
        for (int j = 0; j <= p; j++) {
            const float *kj = kc + (size_t)j * C;
            float s = 0.0f;
            #pragma omp simd reduction(+ : s)
            for (int d = 0; d < hs; d++) s += q[d] * kj[d];
            scores[j] = s;
            maxv = s > maxv ? s : maxv;
        }
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int j = 0; j <= p; j++) {
            scores[j] = vec_expf((scores[j] - maxv) * scale);
            sum += scores[j];
        }
        float inv = 1.0f / sum;
        float *y = out + (size_t)bi * C + h * hs;
        for (int d = 0; d < hs; d++) y[d] = 0.0f;
        for (int j = 0; j <= p; j++) {
            const float *vj = vc + (size_t)j * C;
            float pj = scores[j] * inv;
            #pragma omp simd
            for (int d = 0; d < hs; d++) y[d] += pj * vj[d];
        }
    }
}
