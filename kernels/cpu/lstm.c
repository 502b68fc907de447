// lstm.c: the recurrence of one nn.LSTM layer (see LstmParams in backend.h).
//
// The caller has already computed x_t W_ih^T + b_ih for every step with one
// GEMM. What is left is sequential in t, so the op runs all T steps inside
// ONE OpenMP parallel region (see my_part for how the threads share it):
// per step and per thread,
//   forward:  a_t[rows, gate units] += h_{t-1}[rows] @ W_hh[gate units]^T
//             (on W_hh^T, packed once per call), then the fused cell update
//             of its rows and units;
//   backward: the fused cell backward of its rows and units (which needs
//             only its own part of dh_{t-1}), then
//             dh_{t-1}[rows, units] = da_t[rows] @ W_hh[:, units].
// Never a fork/join per step. dW_hh and db_hh, sums over all steps, are one
// GEMM and one column sum after the loop (linear_backward on da and the
// saved h_{t-1}).
//
// The pointwise math is vec16.h's (vsigmoid, and tanh as 1 - 2 / (e^2x + 1)
// like vec_math.h's vec_tanhf) with scalar tails. Every element is computed
// by one thread in a fixed order: the activations and dgates are the same
// bits at any thread count (tests/test_lstm.c), dW_hh and db_hh depend on it
// only through cpu_sgemm's split, and every result repeats bit for bit.
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
//
// Each step multiplies a few rows (a thread's batch rows: 4 for batch 8 on
// two threads, 1 in a prefill) by all of W_hh. OpenBLAS packs a whole
// operand on every call, which for these shapes (M 4 to 8, N 1920, K 480) ran
// at 14-27 GFLOP/s on this machine. Instead the op packs W_hh once per call
// into panels of 64 columns, each stored row after row (so that a panel
// streams sequentially, from cache or DRAM), and multiplies with a
// register-blocked loop: 4 rows x 64 columns of accumulators, each A element
// broadcast against the 4 vectors of a panel row (37-53 GFLOP/s). Every
// output element is one sum over k in increasing order, so the result does
// not depend on how the rows and columns are split among the threads.
//
//   forward panels:  gate g, units [64p, 64p + nw): W_hh^T's (H, nw) block for
//                    those columns, at g*H*H + 64p*H (K = H rows of nw)
//   backward panels: units [64p, 64p + nw): W_hh's (4H, nw) block, at 64p*4H
//                    (K = 4H rows of nw)
#define PANEL 64
#define FEW_ROWS 4

// C (mr, 16*nv) (+)= A (mr, K) @ Bm (K, 16*nv); mr <= 4, nv <= 4; row strides lda, ldb, ldc.
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

// C (M, nw) (+)= A (M, K) @ panel (K, nw), nw <= 64; accumulate: add to C, else overwrite it.
static void panel_product(int M, int nw, int K, const float *A, int lda, const float *panel,
                          float *C, int ldc, int accumulate) {
    const int nv = nw / 16;
    for (int m0 = 0; m0 < M; m0 += FEW_ROWS) {
        const int mr = M - m0 < FEW_ROWS ? M - m0 : FEW_ROWS;
        const float *a = A + (size_t)m0 * lda;
        float *c = C + (size_t)m0 * ldc;
        if (nv) few_rows_block(mr, nv, K, a, lda, panel, nw, c, ldc, accumulate);
        for (int n = 16 * nv; n < nw; n++)
            for (int m = 0; m < mr; m++) {
                float sum = accumulate ? c[(size_t)m * ldc + n] : 0.0f;
                for (int k = 0; k < K; k++) sum += a[(size_t)m * lda + k] * panel[(size_t)k * nw + n];
                c[(size_t)m * ldc + n] = sum;
            }
    }
}

static inline int panel_width(int H, int p) { return H - PANEL * p < PANEL ? H - PANEL * p : PANEL; }

// Packs this thread's share of the panels (see above); the caller meets a barrier after.
static void pack_panels(float *dst, const float *w_hh, int H, int backward) {
    const int np = (H + PANEL - 1) / PANEL, total = backward ? np : 4 * np;
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    for (int i = total * id / nt; i < total * (id + 1) / nt; i++) {
        const int g = backward ? 0 : i / np, p = i % np, nw = panel_width(H, p);
        if (backward) {  // rows k of W_hh, columns [64p, 64p + nw)
            float *out = dst + (size_t)PANEL * p * 4 * H;
            for (int k = 0; k < 4 * H; k++)
                memcpy(out + (size_t)k * nw, w_hh + (size_t)k * H + PANEL * p, (size_t)nw * sizeof(float));
        } else {  // W_hh^T: row k holds W_hh[g*H + 64p + jj][k]
            float *out = dst + (size_t)g * H * H + (size_t)PANEL * p * H;
            for (int jj = 0; jj < nw; jj++) {
                const float *src = w_hh + ((size_t)g * H + PANEL * p + jj) * H;
                for (int k = 0; k < H; k++) out[(size_t)k * nw + jj] = src[k];
            }
        }
    }
}

// Below this many steps the forward multiplies by W_hh as it is (cblas): a
// decode step would spend more on packing W_hh than on the product.
#define LSTM_PACK_MIN_STEPS 8
// Above this many bytes a W_hh no longer stays in the cores' shared cache
// (32 MB of L3 here, with the activations beside it) and comes from DRAM at
// every step; then the threads split the hidden units, so that W_hh is read
// once per step, not once per thread.
#define LSTM_CACHED_W_BYTES (16u << 20)

// A thread's part of the work: rows [b0, b1) of the batch and hidden units
// [j0, j1). Each row's recurrence is independent of the other rows', so with
// at least as many rows as threads and a W_hh that stays in cache, each
// thread takes whole rows and all H units (shared = 0): its T steps need
// nothing from the other threads, and a training step meets no barrier
// inside the op (on this project's shared 2-core machine a barrier waits for
// a descheduled thread whenever other work runs). Otherwise (batch-1 decode
// and prefill, or a W_hh from DRAM) the threads split the units in whole
// panels and meet once per step (shared = 1).
typedef struct {
    int b0, b1, j0, j1, shared;
} Part;

static Part my_part(int B, int H) {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int big = 4.0 * H * H * sizeof(float) > LSTM_CACHED_W_BYTES;
    Part q = {0, B, 0, H, nt > 1 && (B < nt || big)};
    if (nt == 1) return q;
    if (!q.shared) {
        q.b0 = (int)((long)B * t / nt), q.b1 = (int)((long)B * (t + 1) / nt);
    } else {
        int per = ((H + nt - 1) / nt + PANEL - 1) / PANEL * PANEL;
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

void lstm_forward_cpu(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden;
    const size_t G = 4 * (size_t)H, row_a = (size_t)T * G, row_h = (size_t)T * H;
    float *panels = T >= LSTM_PACK_MIN_STEPS ? p->scratch : NULL;
    cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
        const Part q = my_part(B, H);
        const int rows = q.b1 - q.b0, w = q.j1 - q.j0, mine = rows > 0 && w > 0;
        if (panels) {
            pack_panels(panels, p->w_hh, H, 0);
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
            for (int g = 0; g < 4 && mine; g++) {
                if (panels) {
                    for (int j = q.j0; j < q.j1; j += PANEL)
                        panel_product(rows, panel_width(H, j / PANEL), H, h_in, (int)row_h,
                                      panels + (size_t)g * H * H + (size_t)j * H,
                                      a_out + (size_t)g * H + j, (int)row_a, 1);
                } else if (rows == 1) {  // decode: stream W_hh once, as a matrix-vector product
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, w, H, 1.0f,
                                p->w_hh + ((size_t)g * H + q.j0) * H, H, h_in, 1, 1.0f,
                                a_out + (size_t)g * H + q.j0, 1);
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, w, H, 1.0f, h_in,
                                (int)row_h, p->w_hh + ((size_t)g * H + q.j0) * H, H, 1.0f,
                                a_out + (size_t)g * H + q.j0, (int)row_a);
                }
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

// Scratch: the packed panels of W_hh (4H * H), then for the backward dh_rec
// (B, H), the gradient reaching h_{t-1} through W_hh, and dc (B, H), the one
// reaching c_{t-1}.
size_t lstm_scratch_floats_cpu(const LstmParams *p) {
    return 4 * (size_t)p->hidden * p->hidden + 2 * (size_t)p->batch * p->hidden;
}

void lstm_backward_cpu(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden;
    const size_t G = 4 * (size_t)H, row_a = (size_t)T * G, row_h = (size_t)T * H;
    float *panels = p->scratch, *dh_rec = panels + G * H, *dc = dh_rec + (size_t)B * H;
    cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
        const Part q = my_part(B, H);
        const int rows = q.b1 - q.b0, w = q.j1 - q.j0, mine = rows > 0 && w > 0;
        pack_panels(panels, p->w_hh, H, 1);
#pragma omp barrier
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
            for (int j = q.j0; j < q.j1 && mine; j += PANEL)
                panel_product(rows, panel_width(H, j / PANEL), (int)G,
                              p->dgates + q.b0 * row_a + (size_t)t * G, (int)row_a,
                              panels + (size_t)j * G, dh_rec + (size_t)q.b0 * H + j, H, 0);
        }
    }
    // dW_hh (4H, H) += da^T @ h_prev and db_hh += column sums of da, over all B*T rows.
    linear_backward_cpu(NULL, 0, p->dw_hh, p->db_hh, p->dgates, (int)G, p->h_prev, H, p->w_hh, B * T, H,
                    (int)G, 0);
}
