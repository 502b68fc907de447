// cuda_ref.h: plain-C references for the CUDA kernel tests, written straight
// from the formulas in kernels/backend.h, loop by loop, with no attempt at
// speed. They stand in for the CPU backend (kernels/cpu/) until its ops are
// merged; the selective scan reference works in double and is itself checked
// against finite differences in test_cuda_scan.c (cuda_ref_scan.h).
#ifndef TB_CUDA_REF_H
#define TB_CUDA_REF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/backend.h"

// ---------------------------------------------------------------- linear
static float ref_weight(const float *w, int c, int o, int C, int OC, int w_in_out) {
    return w_in_out ? w[(size_t)c * OC + o] : w[(size_t)o * C + c];
}
static void ref_linear_forward(float *out, const float *inp, const float *w, const float *bias,
                               int N, int C, int OC, int w_in_out) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)inp[n * C + c] * ref_weight(w, c, o, C, OC, w_in_out);
            out[n * OC + o] = (float)s;
        }
}
static void ref_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                                const float *inp, const float *w, int N, int C, int OC,
                                int w_in_out) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            double s = 0.0;
            for (int o = 0; o < OC; o++) s += (double)dout[n * OC + o] * ref_weight(w, c, o, C, OC, w_in_out);
            if (dinp) dinp[n * C + c] = (float)s;
        }
    for (int c = 0; c < C; c++)
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += (double)dout[n * OC + o] * inp[n * C + c];
            if (w_in_out) dw[(size_t)c * OC + o] += (float)s;
            else dw[(size_t)o * C + c] += (float)s;
        }
    if (dbias)
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += dout[n * OC + o];
            dbias[o] += (float)s;
        }
}

// ---------------------------------------------------------------- norms
static void ref_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                  const float *w, const float *b, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + n * C;
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        double r = 1.0 / sqrt(v / C + eps);
        for (int c = 0; c < C; c++) out[n * C + c] = (float)((x[c] - m) * r * w[c] + (b ? b[c] : 0.0));
        mean[n] = (float)m;
        rstd[n] = (float)r;
    }
}
static void ref_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                   const float *inp, const float *w, const float *mean,
                                   const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + n * C, *dy = dout + n * C;
        double gm = 0.0, gnm = 0.0;
        for (int c = 0; c < C; c++) {
            double norm = (x[c] - mean[n]) * (double)rstd[n];
            gm += dy[c] * w[c];
            gnm += dy[c] * w[c] * norm;
        }
        gm /= C, gnm /= C;
        for (int c = 0; c < C; c++) {
            double norm = (x[c] - mean[n]) * (double)rstd[n];
            dinp[n * C + c] += (float)(rstd[n] * (dy[c] * w[c] - gm - norm * gnm));
            dw[c] += (float)(dy[c] * norm);
            if (db) db[c] += dy[c];
        }
    }
}
static void ref_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N,
                                int C, float eps) {
    for (int n = 0; n < N; n++) {
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)inp[n * C + c] * inp[n * C + c];
        double r = 1.0 / sqrt(ss / C + eps);
        for (int c = 0; c < C; c++) out[n * C + c] = (float)(inp[n * C + c] * r * w[c]);
        rstd[n] = (float)r;
    }
}
static void ref_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                                 const float *w, const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        double r = rstd[n], gy = 0.0;
        for (int c = 0; c < C; c++) gy += (double)dout[n * C + c] * w[c] * inp[n * C + c] * r;
        gy /= C;
        for (int c = 0; c < C; c++) {
            double y = inp[n * C + c] * r;
            dinp[n * C + c] += (float)(r * (dout[n * C + c] * w[c] - y * gy));
            dw[c] += (float)(dout[n * C + c] * y);
        }
    }
}

// ---------------------------------------------------------------- elementwise
static double ref_gelu(double x) { return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

// ---------------------------------------------------------------- attention
static void ref_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                                  int NH) {
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * hs;
                float *a = att + (((size_t)b * NH + h) * T + i) * T;
                double mx = -INFINITY, sum = 0.0, s[1024];
                for (int j = 0; j <= i; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double dot = 0.0;
                    for (int d = 0; d < hs; d++) dot += (double)q[d] * k[d];
                    s[j] = dot * scale;
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j <= i; j++) sum += (s[j] = exp(s[j] - mx));
                for (int j = 0; j < T; j++) a[j] = j <= i ? (float)(s[j] / sum) : 0.0f;
                for (int d = 0; d < hs; d++) {
                    double y = 0.0;
                    for (int j = 0; j <= i; j++) y += a[j] * (double)qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + d];
                    out[((size_t)b * T + i) * C + h * hs + d] = (float)y;
                }
            }
}
static void ref_attention_backward(float *dqkv, const float *dout, const float *qkv,
                                   const float *att, int B, int T, int C, int NH) {
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    memset(dqkv, 0, sizeof(float) * (size_t)B * T * 3 * C);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *a = att + (((size_t)b * NH + h) * T + i) * T;
                const float *dy = dout + ((size_t)b * T + i) * C + h * hs;
                double datt[1024], dot = 0.0;
                for (int j = 0; j <= i; j++) {
                    const float *v = qkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    float *dv = dqkv + ((size_t)b * T + j) * 3 * C + 2 * C + h * hs;
                    datt[j] = 0.0;
                    for (int d = 0; d < hs; d++) {
                        datt[j] += (double)dy[d] * v[d];
                        dv[d] += a[j] * dy[d];
                    }
                    dot += a[j] * datt[j];
                }
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * hs;
                float *dq = dqkv + ((size_t)b * T + i) * 3 * C + h * hs;
                for (int j = 0; j <= i; j++) {
                    double dpre = a[j] * (datt[j] - dot) * scale;
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    float *dk = dqkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    for (int d = 0; d < hs; d++) {
                        dq[d] += (float)(dpre * k[d]);
                        dk[d] += (float)(dpre * q[d]);
                    }
                }
            }
}

// ---------------------------------------------------------------- conv1d
static void ref_conv1d_forward(float *out, const float *x, int xs, const float *w, const float *bias,
                               int B, int L, int D, int K) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            for (int d = 0; d < D; d++) {
                double s = bias ? bias[d] : 0.0;
                for (int k = 0; k < K; k++) {
                    int src = t - K + 1 + k;
                    if (src >= 0) s += (double)w[d * K + k] * x[((size_t)b * L + src) * xs + d];
                }
                out[((size_t)b * L + t) * D + d] = (float)s;
            }
}
static void ref_conv1d_backward(float *dx, int dxs, float *dw, float *db, const float *dout,
                                const float *x, int xs, const float *w, int B, int L, int D, int K) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            for (int d = 0; d < D; d++) dx[((size_t)b * L + t) * dxs + d] = 0.0f;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            for (int d = 0; d < D; d++) {
                float g = dout[((size_t)b * L + t) * D + d];
                if (db) db[d] += g;
                for (int k = 0; k < K; k++) {
                    int src = t - K + 1 + k;
                    if (src < 0) continue;
                    dw[d * K + k] += g * x[((size_t)b * L + src) * xs + d];
                    dx[((size_t)b * L + src) * dxs + d] += g * w[d * K + k];
                }
            }
}

#endif
