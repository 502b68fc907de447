// cuda_ref_scan.h: the selective scan reference for test_cuda_scan.c, in
// double, sequential, straight from the formulas in kernels/backend.h.
#ifndef TB_CUDA_REF_SCAN_H
#define TB_CUDA_REF_SCAN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_softplus(double x) { return x <= 20.0 ? log1p(exp(x)) : x; }

// ---------------------------------------------------------------- selective scan
// In double, with every state kept: h (batch, seqlen, dim, dstate).
typedef struct {
    int batch, seqlen, dim, N;
    const double *u, *delta_raw, *z, *Bm, *Cm, *A_log, *D, *dt_bias;  // contiguous
} RefScan;

static double ref_scan_forward(const RefScan *s, double *out, double *h_all, double *y_all,
                               double *final_state) {
    double loss_dummy = 0.0;
    for (int b = 0; b < s->batch; b++)
        for (int d = 0; d < s->dim; d++) {
            double h[64] = {0};
            for (int t = 0; t < s->seqlen; t++) {
                size_t r = (size_t)b * s->seqlen + t;
                double delta = ref_softplus(s->delta_raw[r * s->dim + d] + s->dt_bias[d]);
                double u = s->u[r * s->dim + d], y = s->D[d] * u;
                for (int n = 0; n < s->N; n++) {
                    double A = -exp(s->A_log[d * s->N + n]);
                    h[n] = exp(delta * A) * h[n] + delta * s->Bm[r * s->N + n] * u;
                    y += s->Cm[r * s->N + n] * h[n];
                    if (h_all) h_all[(r * s->dim + d) * s->N + n] = h[n];
                }
                if (y_all) y_all[r * s->dim + d] = y;
                double zv = s->z[r * s->dim + d];
                out[r * s->dim + d] = y * zv * ref_sigmoid(zv);
                loss_dummy += out[r * s->dim + d];
            }
            if (final_state)
                for (int n = 0; n < s->N; n++) final_state[((size_t)b * s->dim + d) * s->N + n] = h[n];
        }
    return loss_dummy;
}

// Reverse-mode by hand, one step at a time, from the stored states.
// Gradients: du, ddelta_raw, dz (like u), dB, dC (like B), dA_log (dim, N),
// dD, ddt_bias (dim), all written (zeroed first).
static void ref_scan_backward(const RefScan *s, const double *dout, double *du, double *ddr,
                              double *dz, double *dB, double *dC, double *dA_log, double *dD,
                              double *ddt_bias) {
    size_t rows = (size_t)s->batch * s->seqlen;
    double *h_all = (double *)calloc(rows * s->dim * s->N, sizeof(double));
    double *y_all = (double *)calloc(rows * s->dim, sizeof(double));
    double *out = (double *)calloc(rows * s->dim, sizeof(double));
    ref_scan_forward(s, out, h_all, y_all, NULL);
    memset(dB, 0, sizeof(double) * rows * s->N);
    memset(dC, 0, sizeof(double) * rows * s->N);
    memset(dA_log, 0, sizeof(double) * s->dim * s->N);
    memset(dD, 0, sizeof(double) * s->dim);
    memset(ddt_bias, 0, sizeof(double) * s->dim);
    for (int b = 0; b < s->batch; b++)
        for (int d = 0; d < s->dim; d++) {
            double g[64] = {0};  // dL/dh_t, carried backwards
            for (int t = s->seqlen - 1; t >= 0; t--) {
                size_t r = (size_t)b * s->seqlen + t, i = r * s->dim + d;
                double x = s->delta_raw[i] + s->dt_bias[d], delta = ref_softplus(x);
                double u = s->u[i], zv = s->z[i], sz = ref_sigmoid(zv);
                double dy = dout[i] * zv * sz;
                dz[i] = dout[i] * y_all[i] * sz * (1.0 + zv * (1.0 - sz));
                dD[d] += dy * u;
                double ddelta = 0.0, du_i = dy * s->D[d];
                for (int n = 0; n < s->N; n++) {
                    double A = -exp(s->A_log[d * s->N + n]), a = exp(delta * A);
                    double h = h_all[i * s->N + n];
                    double h_prev = t > 0 ? h_all[((r - 1) * s->dim + d) * s->N + n] : 0.0;
                    g[n] += dy * s->Cm[r * s->N + n];
                    dC[r * s->N + n] += dy * h;
                    dB[r * s->N + n] += g[n] * delta * u;
                    du_i += g[n] * delta * s->Bm[r * s->N + n];
                    ddelta += g[n] * (s->Bm[r * s->N + n] * u + h_prev * A * a);
                    dA_log[d * s->N + n] += g[n] * h_prev * delta * a * A;
                    g[n] *= a;  // to step t-1
                }
                du[i] = du_i;
                double dx = x <= 20.0 ? ddelta * ref_sigmoid(x) : ddelta;
                ddr[i] = dx;
                ddt_bias[d] += dx;
            }
        }
    free(h_all);
    free(y_all);
    free(out);
}

#endif
