// bf16_checks.h: what the bf16 tests of both backends check a linear layer
// with (test_bf16.c on the CPU, test_cuda_bf16.c under the emulation or on a
// GPU). Include after test.h. Every output element of a bf16 GEMM is checked
// two ways (check_gemm):
//   - against the product of the bf16-rounded operands summed in double,
//     within fp32 summation error, (K + 2) 2^-24 sum |a b|: the operands
//     really are rounded to nearest even, and the sums really are fp32;
//   - against the fp32 reference, within the stated bf16 tolerance
//     atol = 6 * 2^-8 * sqrt(K) * sd(a) * sd(b), rtol = 2^-8. Each operand's
//     rounding is at most 2^-8 relative (about 0.42 * 2^-8 rms), so the error
//     of a K-term dot product is a random walk of about 0.6 * 2^-8 sqrt(K)
//     sd(a) sd(b): the tolerance is some 10 of its standard deviations.
#ifndef TB_BF16_CHECKS_H
#define TB_BF16_CHECKS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/bf16.h"
#include "lib/common.h"

static double rounded(float x) { return (double)bf16_to_float(bf16_from_float(x)); }

// The three references of one output element: the exact fp32 product, the
// product of the rounded operands, and sum |a b| (for the fp32 bound).
typedef struct {
    double *fp32, *bf16, *abs;
} Refs;
static Refs refs_new(size_t n) {
    Refs r = {(double *)calloc(n, sizeof(double)), (double *)calloc(n, sizeof(double)),
              (double *)calloc(n, sizeof(double))};
    return r;
}
static void refs_free(Refs *r) { free(r->fp32), free(r->bf16), free(r->abs); }
static void refs_add(Refs *r, size_t i, float a, float b) {
    r->fp32[i] += (double)a * b;
    r->bf16[i] += rounded(a) * rounded(b);
    r->abs[i] += fabs(rounded(a) * rounded(b));
}
static void refs_start(Refs *r, size_t i, float start) {
    r->fp32[i] = r->bf16[i] = start;
    r->abs[i] = fabs(start);
}

// got (rows x cols, row stride ld, host memory) against r: both checks above.
static void check_gemm(const char *what, const float *got, int ld, int rows, int cols, const Refs *r, int K,
                       double sd_a, double sd_b) {
    size_t n = (size_t)rows * cols, bad = 0, worst = 0;
    double worst_excess = -INFINITY;
    float *dense = (float *)tb_malloc(n * sizeof(float)), *ref32 = (float *)tb_malloc(n * sizeof(float));
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            size_t e = (size_t)i * cols + j;
            dense[e] = got[(size_t)i * ld + j];
            ref32[e] = (float)r->fp32[e];
            double err = fabs((double)dense[e] - r->bf16[e]), bound = (K + 2) * ldexp(r->abs[e], -24) + 1e-30;
            if (!(err <= bound)) bad++;
            if (err - bound > worst_excess) worst_excess = err - bound, worst = e;
        }
    CHECK(bad == 0, "%s: %zu of %zu elements are not the fp32 sum of the bf16-rounded products; worst [%zu] got %.9g, "
          "want %.9g within %.3g", what, bad, n, worst, (double)dense[worst], r->bf16[worst],
          (K + 2) * ldexp(r->abs[worst], -24));
    char line[400];
    snprintf(line, sizeof line, "%s against fp32", what);
    check_close(line, dense, ref32, n, (float)(6.0 * ldexp(sqrt((double)K), -8) * sd_a * sd_b), 0x1p-8f);
    free(dense);
    free(ref32);
}

// out (N, OC) = inp (N, C; ld_in) @ W + bias, as linear_forward.
static Refs linear_forward_refs(const float *inp, int ld_in, const float *w, const float *bias, int N, int C,
                                int OC, int w_in_out) {
    Refs r = refs_new((size_t)N * OC);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            size_t e = (size_t)i * OC + o;
            refs_start(&r, e, bias ? bias[o] : 0.0f);
            for (int c = 0; c < C; c++)
                refs_add(&r, e, inp[(size_t)i * ld_in + c], w_in_out ? w[(size_t)c * OC + o] : w[(size_t)o * C + c]);
        }
    return r;
}

// dinp (N, C) = dout @ W^T; dW = dw0 + the product; dbias = db0 + sum of dout
// rows (*rdb, in double: the bias gradient is an fp32 sum in every precision).
static void linear_backward_refs(Refs *rd, Refs *rw, double **rdb, const float *dout, int ld_out,
                                 const float *inp, int ld_in, const float *w, const float *dw0, const float *db0,
                                 int N, int C, int OC, int w_in_out) {
    *rd = refs_new((size_t)N * C), *rw = refs_new((size_t)C * OC);
    for (size_t e = 0; e < (size_t)C * OC; e++) refs_start(rw, e, dw0[e]);
    *rdb = (double *)calloc((size_t)OC, sizeof(double));
    for (int o = 0; o < OC; o++) (*rdb)[o] = db0[o];
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            float g = dout[(size_t)i * ld_out + o];
            (*rdb)[o] += g;
            for (int c = 0; c < C; c++) {
                size_t wi = w_in_out ? (size_t)c * OC + o : (size_t)o * C + c;
                refs_add(rd, (size_t)i * C + c, g, w[wi]);
                refs_add(rw, wi, g, inp[(size_t)i * ld_in + c]);
            }
        }
}

#endif
