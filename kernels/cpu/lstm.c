// lstm.c: the recurrence of one nn.LSTM layer (see LstmParams in backend.h).
//
// The caller has already computed x_t W_ih^T + b_ih for every step with one
// GEMM. What is left is sequential in t, so the op runs all T steps inside
// ONE OpenMP parallel region (see my_part for how the threads share it):
// per step and per thread,
//   forward:  a_t[rows, gate units] += h_{t-1}[rows] @ W_hh[gate units]^T
//             (gemm_few_rows on W_hh^T, transposed once per call), then the
//             fused cell update of its rows and units;
//   backward: the fused cell backward of its rows and units (which needs
//             only its own part of dh_{t-1}), then
//             dh_{t-1}[rows, units] = da_t[rows] @ W_hh[:, units].
// Never a fork/join per step. dW_hh and db_hh, sums over all steps, are one
// GEMM and one column sum after the loop (linear_backward on da and the
// saved h_{t-1}).
//
// The pointwise math is vec16.h's (vsigmoid, and tanh as 1 - 2 / (e^2x + 1)
// like vec_math.h's vec_tanhf) with scalar tails. Every element is computed
// by one thread in a fixed order, so a result depends on the thread count
// only through the sgemm shapes, and repeats bit for bit.
#include <omp.h>
#include <string.h>

#include <cblas.h>

#include "cpu_ops.h"
#include "vec16.h"
#include "vec_math.h"

static inline vec16 vtanh(vec16 x) {
    x = vselect(x < -9.0f, vsplat(-9.0f), x);
    x = vselect(x > 9.0f, vsplat(9.0f), x);
    return 1.0f - 2.0f / (vexp(2.0f * x) + 1.0f);
}

// ---------------------------------------------------------------- the per-step products

// C (M, N) (+)= A (M, K) @ Bm (K, N), all row-major with row strides lda,
// ldb, ldc; accumulate: add to C, else overwrite it. The per-step products
// have M = a thread's few batch rows. OpenBLAS packs a whole operand for
// every call, which for these shapes (M 4 to 8, N 1920, K 480) ran at 14-27
// GFLOP/s on this machine against 37-53 for this loop: 4 rows x 64 columns
// of accumulators in registers, each A element broadcast against 4 vectors
// of a row of Bm. Every C element is one sum over k in increasing order, so
// the result does not depend on how rows and columns are split.
#define FEW_ROWS 4
static inline void few_rows_block(int mr, int nv, int K, const float *A, int lda, const float *Bm,
                                  int ldb, float *C, int ldc, int accumulate) {
    vec16 acc[FEW_ROWS][4];
    for (int m = 0; m < FEW_ROWS; m++)
        for (int v = 0; v < 4; v++)
            acc[m][v] = m < mr && v < nv && accumulate ? vload(C + (size_t)m * ldc + 16 * v)
                                                       : vsplat(0.0f);
    for (int k = 0; k < K; k++) {
        const float *brow = Bm + (size_t)k * ldb;
        vec16 b[4];
        for (int v = 0; v < 4; v++) b[v] = v < nv ? vload(brow + 16 * v) : vsplat(0.0f);
        for (int m = 0; m < FEW_ROWS; m++) {
            if (m >= mr) break;
            vec16 am = vsplat(A[(size_t)m * lda + k]);
            for (int v = 0; v < 4; v++)
                if (v < nv) acc[m][v] += am * b[v];
        }
    }
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < nv; v++) vstore(C + (size_t)m * ldc + 16 * v, acc[m][v]);
}

static void gemm_few_rows(int M, int N, int K, const float *A, int lda, const float *Bm, int ldb,
                          float *C, int ldc, int accumulate) {
    for (int m0 = 0; m0 < M; m0 += FEW_ROWS) {
        const int mr = M - m0 < FEW_ROWS ? M - m0 : FEW_ROWS;
        const float *a = A + (size_t)m0 * lda;
        float *c = C + (size_t)m0 * ldc;
        int n = 0;
        for (; n + 64 <= N; n += 64) few_rows_block(mr, 4, K, a, lda, Bm + n, ldb, c + n, ldc, accumulate);
        for (; n + 16 <= N; n += 16) few_rows_block(mr, 1, K, a, lda, Bm + n, ldb, c + n, ldc, accumulate);
        for (; n < N; n++)
            for (int m = 0; m < mr; m++) {
                float sum = accumulate ? c[(size_t)m * ldc + n] : 0.0f;
                for (int k = 0; k < K; k++) sum += a[(size_t)m * lda + k] * Bm[(size_t)k * ldb + n];
                c[(size_t)m * ldc + n] = sum;
            }
    }
}

// Below this many steps the forward multiplies by W_hh as it is (cblas): a
// decode step would spend more on transposing W_hh than on the product.
#define LSTM_TRANSPOSE_MIN_STEPS 8

// A thread's part of the work: rows [b0, b1) of the batch and hidden units
// [j0, j1). Each row's recurrence is independent of the other rows', so with
// at least as many rows as threads each thread takes whole rows and all H
// units (shared = 0): its T steps need nothing from the other threads, and a
// training step meets no barrier inside the op. With fewer rows (batch-1
// decode and prefill) the threads split the units instead (shared = 1), in
// chunks of whole vectors, and meet once per step. On this project's shared
// 2-core machine a barrier waits for a descheduled thread whenever other
// work runs, so avoiding them matters more than streaming W_hh once per step
// instead of once per thread.
typedef struct {
    int b0, b1, j0, j1, shared;
} Part;

static Part my_part(int B, int H) {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    Part q = {0, B, 0, H, nt > 1 && B < nt};
    if (nt == 1) return q;
    if (!q.shared) {
        q.b0 = (int)((long)B * t / nt), q.b1 = (int)((long)B * (t + 1) / nt);
    } else {
        int per = ((H + nt - 1) / nt + VEC16_LANES - 1) / VEC16_LANES * VEC16_LANES;
        q.j0 = t * per < H ? t * per : H;
        q.j1 = q.j0 + per < H ? q.j0 + per : H;
    }
    return q;
}

// ---------------------------------------------------------------- cell, forward

// One row's units [j0, j1) at one step. a: the row's 4H pre-activations,
// activated in place. c_prev may be NULL (zeros).
static void cell_forward_row(float *a, const float *b_hh, const float *c_prev, float *c, float *h,
                             float *h_next, int H, int j0, int j1) {
    float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
    const float *bi = b_hh, *bf = b_hh + H, *bg = b_hh + 2 * H, *bo = b_hh + 3 * H;
    int j = j0;
    for (; j + VEC16_LANES <= j1; j += VEC16_LANES) {
        vec16 i = vsigmoid(vload(ai + j) + vload(bi + j));
        vec16 f = vsigmoid(vload(af + j) + vload(bf + j));
        vec16 g = vtanh(vload(ag + j) + vload(bg + j));
        vec16 o = vsigmoid(vload(ao + j) + vload(bo + j));
        vec16 cp = c_prev ? vload(c_prev + j) : vsplat(0.0f);
        vec16 ct = f * cp + i * g;
        vec16 ht = o * vtanh(ct);
        vstore(ai + j, i), vstore(af + j, f), vstore(ag + j, g), vstore(ao + j, o);
        vstore(c + j, ct), vstore(h + j, ht);
        if (h_next) vstore(h_next + j, ht);
    }
    for (; j < j1; j++) {
        float i = vec_sigmoidf(ai[j] + bi[j]), f = vec_sigmoidf(af[j] + bf[j]);
        float g = vec_tanhf(ag[j] + bg[j]), o = vec_sigmoidf(ao[j] + bo[j]);
        float ct = f * (c_prev ? c_prev[j] : 0.0f) + i * g;
        float ht = o * vec_tanhf(ct);
        ai[j] = i, af[j] = f, ag[j] = g, ao[j] = o;
        c[j] = ct, h[j] = ht;
        if (h_next) h_next[j] = ht;
    }
}

void lstm_forward(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden;
    const size_t G = 4 * (size_t)H, row_a = (size_t)T * G, row_h = (size_t)T * H;
    float *w_t = T >= LSTM_TRANSPOSE_MIN_STEPS ? p->scratch : NULL;  // W_hh^T (H, 4H)
    cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
        const Part q = my_part(B, H);
        const int rows = q.b1 - q.b0, w = q.j1 - q.j0, mine = rows > 0 && w > 0;
        if (w_t) {  // W_hh^T (H, 4H) into scratch, a block of W_hh's rows per thread
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            size_t r0 = G * id / nt, r1 = G * (id + 1) / nt;
            for (size_t r = r0; r < r1; r++)
                for (int k = 0; k < H; k++) w_t[(size_t)k * G + r] = p->w_hh[r * H + k];
#pragma omp barrier
        }
        // h_{-1}: h0 or zeros into h_prev's first step, each thread its own part.
        for (int b = q.b0; b < q.b1 && mine; b++) {
            float *dst = p->h_prev + b * row_h + q.j0;
            if (p->h0) memcpy(dst, p->h0 + (size_t)b * H + q.j0, (size_t)w * sizeof(float));
            else memset(dst, 0, (size_t)w * sizeof(float));
        }
        for (int t = 0; t < T; t++) {
            if (q.shared) {
#pragma omp barrier
            }
            // h_{t-1} of this thread's rows is complete.
            // a_t[rows, g*H + j0 : g*H + j1] += h_{t-1}[rows] @ W_hh[g*H + j0 : g*H + j1]^T
            const float *h_in = p->h_prev + q.b0 * row_h + (size_t)t * H;
            float *a_out = p->gates + q.b0 * row_a + (size_t)t * G;
            if (mine && w_t && w == H)  // all four gates' columns are one block
                gemm_few_rows(rows, (int)G, H, h_in, (int)row_h, w_t, (int)G, a_out, (int)row_a, 1);
            for (int g = 0; g < 4 && mine && !(w_t && w == H); g++) {
                size_t col = (size_t)g * H + q.j0;
                if (w_t)
                    gemm_few_rows(rows, w, H, h_in, (int)row_h, w_t + col, (int)G, a_out + col,
                                  (int)row_a, 1);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, w, H, 1.0f, h_in,
                                (int)row_h, p->w_hh + col * H, H, 1.0f, a_out + col, (int)row_a);
            }
            for (int b = q.b0; b < q.b1 && mine; b++) {
                const float *c_prev = t > 0 ? p->c + b * row_h + (size_t)(t - 1) * H
                                            : p->c0 ? p->c0 + (size_t)b * H : NULL;
                float *h_next = t + 1 < T ? p->h_prev + b * row_h + (size_t)(t + 1) * H : NULL;
                cell_forward_row(p->gates + b * row_a + (size_t)t * G, p->b_hh, c_prev,
                                 p->c + b * row_h + (size_t)t * H, p->h + b * row_h + (size_t)t * H,
                                 h_next, H, q.j0, q.j1);
            }
        }
        // The final state: this thread's own part, which it wrote itself (so
        // hT may alias h0: nobody reads h0 after the first step).
        for (int b = q.b0; b < q.b1 && mine; b++) {
            size_t last = b * row_h + (size_t)(T - 1) * H + q.j0;
            if (p->hT) memcpy(p->hT + (size_t)b * H + q.j0, p->h + last, (size_t)w * sizeof(float));
            if (p->cT) memcpy(p->cT + (size_t)b * H + q.j0, p->c + last, (size_t)w * sizeof(float));
        }
    }
}

// ---------------------------------------------------------------- cell, backward

// One row's units at one step. With dh_t = dh_above + dh_rec (the gradient
// through the recurrence) and dc carrying dL/dc_t in and dL/dc_{t-1} out:
//   tc = tanh(c_t)
//   dc_t  = dc + dh_t * o * (1 - tc^2)
//   da_i = dc_t * g * i (1 - i)        da_f = dc_t * c_{t-1} * f (1 - f)
//   da_g = dc_t * i * (1 - g^2)        da_o = dh_t * tc * o (1 - o)
//   dc_{t-1} = dc_t * f
static void cell_backward_row(float *da, const float *a, const float *c, const float *c_prev,
                              const float *dh_above, const float *dh_rec, float *dc, int H,
                              int j0, int j1) {
    const float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
    float *di = da, *df = da + H, *dg = da + 2 * H, *dout = da + 3 * H;
    int j = j0;
    for (; j + VEC16_LANES <= j1; j += VEC16_LANES) {
        vec16 i = vload(ai + j), f = vload(af + j), g = vload(ag + j), o = vload(ao + j);
        vec16 tc = vtanh(vload(c + j));
        vec16 dh = vload(dh_above + j) + (dh_rec ? vload(dh_rec + j) : vsplat(0.0f));
        vec16 dct = vload(dc + j) + dh * o * (1.0f - tc * tc);
        vec16 cp = c_prev ? vload(c_prev + j) : vsplat(0.0f);
        vstore(di + j, dct * g * i * (1.0f - i));
        vstore(df + j, dct * cp * f * (1.0f - f));
        vstore(dg + j, dct * i * (1.0f - g * g));
        vstore(dout + j, dh * tc * o * (1.0f - o));
        vstore(dc + j, dct * f);
    }
    for (; j < j1; j++) {
        float i = ai[j], f = af[j], g = ag[j], o = ao[j];
        float tc = vec_tanhf(c[j]);
        float dh = dh_above[j] + (dh_rec ? dh_rec[j] : 0.0f);
        float dct = dc[j] + dh * o * (1.0f - tc * tc);
        float cp = c_prev ? c_prev[j] : 0.0f;
        di[j] = dct * g * i * (1.0f - i);
        df[j] = dct * cp * f * (1.0f - f);
        dg[j] = dct * i * (1.0f - g * g);
        dout[j] = dh * tc * o * (1.0f - o);
        dc[j] = dct * f;
    }
}

// Scratch: the forward's W_hh^T (4H * H); the backward's dh_rec (B, H), the
// gradient reaching h_{t-1} through W_hh, and dc (B, H), the one reaching c_{t-1}.
size_t lstm_scratch_floats(const LstmParams *p) {
    size_t fwd = 4 * (size_t)p->hidden * p->hidden, bwd = 2 * (size_t)p->batch * p->hidden;
    return fwd > bwd ? fwd : bwd;
}

void lstm_backward(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden;
    const size_t G = 4 * (size_t)H, row_a = (size_t)T * G, row_h = (size_t)T * H;
    float *dh_rec = p->scratch, *dc = p->scratch + (size_t)B * H;
    cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
        const Part q = my_part(B, H);
        const int rows = q.b1 - q.b0, w = q.j1 - q.j0, mine = rows > 0 && w > 0;
        for (int b = q.b0; b < q.b1 && mine; b++)
            memset(dc + (size_t)b * H + q.j0, 0, (size_t)w * sizeof(float));
        for (int t = T - 1; t >= 0; t--) {
            // This thread reads only its own part of dh_rec, which it wrote.
            for (int b = q.b0; b < q.b1 && mine; b++) {
                const float *c_prev = t > 0 ? p->c + b * row_h + (size_t)(t - 1) * H
                                            : p->c0 ? p->c0 + (size_t)b * H : NULL;
                cell_backward_row(p->dgates + b * row_a + (size_t)t * G,
                                  p->gates + b * row_a + (size_t)t * G,
                                  p->c + b * row_h + (size_t)t * H, c_prev,
                                  p->dh + b * row_h + (size_t)t * H,
                                  t < T - 1 ? dh_rec + (size_t)b * H : NULL, dc + (size_t)b * H,
                                  H, q.j0, q.j1);
            }
            if (t == 0) break;  // truncated: no gradient into h0
            if (q.shared) {
#pragma omp barrier
            }
            // da_t of this thread's rows is complete.
            // dh_rec[rows, j0:j1] = da_t[rows] (4H) @ W_hh[:, j0:j1] (4H, w)
            if (mine)
                gemm_few_rows(rows, w, (int)G, p->dgates + q.b0 * row_a + (size_t)t * G,
                              (int)row_a, p->w_hh + q.j0, H, dh_rec + (size_t)q.b0 * H + q.j0, H,
                              0);
        }
    }
    // dW_hh (4H, H) += da^T @ h_prev and db_hh += column sums of da, over all B*T rows.
    linear_backward(NULL, 0, p->dw_hh, p->db_hh, p->dgates, (int)G, p->h_prev, H, p->w_hh, B * T, H,
                    (int)G, 0);
}
