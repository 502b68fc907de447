// lstm.c: the recurrence of one nn.LSTM layer (see LstmParams in backend.h).
//
// The caller has already computed x_t W_ih^T + b_ih for every step with one
// GEMM. What is left is inherently sequential in t, so the op runs all T
// steps inside ONE OpenMP parallel region: each thread owns a slice of the
// hidden units j in [j0, j1) and, per step,
//   forward:  a[:, g*H + j] += h_{t-1} @ W_hh[g*H + j, :]^T  for its slice of
//             each of the four gates (four small sgemms, the rows of W_hh it
//             always reads), then the fused cell update of its units;
//   backward: the fused cell backward of its units (which needs only its own
//             slice of dh_{t-1}), then dh_{t-1}[:, j0:j1] = da_t @ W_hh[:, j0:j1].
// So a step needs one barrier (everyone's h_t, or everyone's da_t, before the
// next GEMM reads all of it), never a fork/join, and a thread's rows or
// columns of W_hh are the same at every step (they stay in its cache when
// they fit). dW_hh and db_hh, sums over all steps, are one GEMM and one
// column sum after the loop (linear_backward on da and the saved h_{t-1}).
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

// This thread's hidden units [*j0, *j1): chunks of whole vectors.
static void my_slice(int H, int *j0, int *j1) {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int per = ((H + nt - 1) / nt + VEC16_LANES - 1) / VEC16_LANES * VEC16_LANES;
    *j0 = t * per < H ? t * per : H;
    *j1 = *j0 + per < H ? *j0 + per : H;
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
    cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
        int j0, j1;
        my_slice(H, &j0, &j1);
        const int w = j1 - j0;
        // h_{-1}: h0 or zeros into h_prev's first step, each thread its own slice.
        for (int b = 0; b < B && w > 0; b++) {
            float *dst = p->h_prev + b * row_h + j0;
            if (p->h0) memcpy(dst, p->h0 + (size_t)b * H + j0, (size_t)w * sizeof(float));
            else memset(dst, 0, (size_t)w * sizeof(float));
        }
        for (int t = 0; t < T; t++) {
#pragma omp barrier
            // h_{t-1} is complete. a_t[:, g*H + j0 : g*H + j1] += h_{t-1} @ W_hh[g*H + j0 : g*H + j1]^T
            for (int g = 0; g < 4 && w > 0; g++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, w, H, 1.0f,
                            p->h_prev + (size_t)t * H, (int)row_h,
                            p->w_hh + ((size_t)g * H + j0) * H, H, 1.0f,
                            p->gates + (size_t)t * G + (size_t)g * H + j0, (int)row_a);
            for (int b = 0; b < B && w > 0; b++) {
                const float *c_prev = t > 0 ? p->c + b * row_h + (size_t)(t - 1) * H
                                            : p->c0 ? p->c0 + (size_t)b * H : NULL;
                float *h_next = t + 1 < T ? p->h_prev + b * row_h + (size_t)(t + 1) * H : NULL;
                cell_forward_row(p->gates + b * row_a + (size_t)t * G, p->b_hh, c_prev,
                                 p->c + b * row_h + (size_t)t * H, p->h + b * row_h + (size_t)t * H,
                                 h_next, H, j0, j1);
            }
        }
        // The final state: this thread's own units, which it wrote itself
        // (so hT may alias h0: nobody reads h0 after the first step).
        for (int b = 0; b < B && w > 0; b++) {
            size_t last = b * row_h + (size_t)(T - 1) * H + j0;
            if (p->hT) memcpy(p->hT + (size_t)b * H + j0, p->h + last, (size_t)w * sizeof(float));
            if (p->cT) memcpy(p->cT + (size_t)b * H + j0, p->c + last, (size_t)w * sizeof(float));
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

// Scratch: dh_rec (B, H), the gradient reaching h_{t-1} through W_hh, and
// dc (B, H), the one reaching c_{t-1}.
size_t lstm_scratch_floats(const LstmParams *p) { return 2 * (size_t)p->batch * p->hidden; }

void lstm_backward(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden;
    const size_t G = 4 * (size_t)H, row_a = (size_t)T * G, row_h = (size_t)T * H;
    float *dh_rec = p->scratch, *dc = p->scratch + (size_t)B * H;
    cpu_blas_single_threaded();
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
        int j0, j1;
        my_slice(H, &j0, &j1);
        const int w = j1 - j0;
        for (int b = 0; b < B && w > 0; b++)
            memset(dc + (size_t)b * H + j0, 0, (size_t)w * sizeof(float));
        for (int t = T - 1; t >= 0; t--) {
            // Only this thread's slice of dh_rec is read, and this thread wrote it.
            for (int b = 0; b < B && w > 0; b++) {
                const float *c_prev = t > 0 ? p->c + b * row_h + (size_t)(t - 1) * H
                                            : p->c0 ? p->c0 + (size_t)b * H : NULL;
                cell_backward_row(p->dgates + b * row_a + (size_t)t * G,
                                  p->gates + b * row_a + (size_t)t * G,
                                  p->c + b * row_h + (size_t)t * H, c_prev,
                                  p->dh + b * row_h + (size_t)t * H,
                                  t < T - 1 ? dh_rec + (size_t)b * H : NULL, dc + (size_t)b * H,
                                  H, j0, j1);
            }
            if (t == 0) break;  // truncated: no gradient into h0
#pragma omp barrier
            // da_t is complete. dh_rec[:, j0:j1] = da_t (B, 4H) @ W_hh[:, j0:j1] (4H, w)
            if (w > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, w, (int)G, 1.0f,
                            p->dgates + (size_t)t * G, (int)row_a, p->w_hh + j0, H, 0.0f,
                            dh_rec + j0, H);
        }
    }
    // dW_hh (4H, H) += da^T @ h_prev and db_hh += column sums of da, over all B*T rows.
    linear_backward(NULL, 0, p->dw_hh, p->db_hh, p->dgates, (int)G, p->h_prev, H, p->w_hh, B * T, H,
                    (int)G, 0);
}
