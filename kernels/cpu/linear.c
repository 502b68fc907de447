// linear.c: fully connected layers, every matmul through cpu_gemm (blas.c):
// cblas_sgemm in fp32, operands rounded to bf16 in the bf16 precision.
//
// Two weight layouts, because GPT-2's checkpoints store its Conv1D weights as
// (in, out) while nn.Linear (and the tied LM head) store (out, in):
//   w_in_out = 1: W is (C, OC), out = inp @ W
//   w_in_out = 0: W is (OC, C), out = inp @ W^T
// Both are handled by telling sgemm whether to transpose, never by copying.
// Rows of inp, out and their gradients may be strided views into wider
// buffers (Mamba's dt_proj reads the first dt_rank columns of x_proj's
// output): each has a leading dimension, its row stride in floats, as in CBLAS.
// cpu_gemm (blas.c) splits each product over the OpenMP threads.
#include <string.h>

#include "cpu_ops.h"

// out (N, OC; row stride ld_out) = inp (N, C; row stride ld_inp) @ W + bias
void linear_forward_cpu(float *out, int ld_out, const float *inp, int ld_inp, const float *weight,
                    const float *bias, int N, int C, int OC, int w_in_out) {
    float beta = 0.0f;
    if (bias) {
        // Start from the bias and let sgemm add the product (beta = 1): one
        // pass over out instead of a separate bias pass afterwards.
        #pragma omp parallel for schedule(static) if ((size_t)N * OC > 65536)
        for (int i = 0; i < N; i++) memcpy(out + (size_t)i * ld_out, bias, (size_t)OC * sizeof(float));
        beta = 1.0f;
    }
    if (N == 1 && cpu_gemm_precision() == PRECISION_FP32) {
        // Batch-1 decode: a matrix-vector product, bound by streaming W once.
        if (w_in_out)
            cpu_sgemv(1, C, OC, 1.0f, weight, OC, inp, beta, out);
        else
            cpu_sgemv(0, OC, C, 1.0f, weight, C, inp, beta, out);
        return;
    }
    cpu_gemm(0, !w_in_out, N, OC, C, 1.0f, inp, ld_inp, weight, w_in_out ? OC : C, beta, out,
             ld_out);
}

// dinp (N, C; ld_dinp) = dout (N, OC; ld_dout) @ W^T   (written)
// dW += inp^T @ dout  (w_in_out: (C, OC))  or  dout^T @ inp  ((OC, C))
// dbias (OC) += sum over rows of dout
void linear_backward_cpu(float *dinp, int ld_dinp, float *dweight, float *dbias, const float *dout,
                     int ld_dout, const float *inp, int ld_inp, const float *weight, int N, int C,
                     int OC, int w_in_out) {
    if (dinp) {
        cpu_gemm(0, w_in_out, N, C, OC, 1.0f, dout, ld_dout, weight, w_in_out ? OC : C, 0.0f,
                 dinp, ld_dinp);
    }
    if (dweight) {
        if (w_in_out)
            cpu_gemm(1, 0, C, OC, N, 1.0f, inp, ld_inp, dout, ld_dout, 1.0f, dweight, OC);
        else
            cpu_gemm(1, 0, OC, C, N, 1.0f, dout, ld_dout, inp, ld_inp, 1.0f, dweight, C);
    }
    if (dbias) {
        // Each block of columns is summed over the rows in row order by one
        // thread, so the result does not depend on the thread count.
        enum { BLOCK = 64 };
        int nblocks = (OC + BLOCK - 1) / BLOCK;
        #pragma omp parallel for schedule(static) if ((size_t)N * OC > 65536)
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * BLOCK, width = OC - o0 < BLOCK ? OC - o0 : BLOCK;
            float acc[BLOCK] = {0};
            for (int i = 0; i < N; i++) {
                const float *row = dout + (size_t)i * ld_dout + o0;
                for (int o = 0; o < width; o++) acc[o] += row[o];
            }
            for (int o = 0; o < width; o++) dbias[o0 + o] += acc[o];
        }
    }
}
