// linear.cu: fully connected layers through cuBLAS, plus the bias kernels.
//
// cuBLAS is column-major. A row-major (rows, cols) matrix is, read in place,
// a column-major (cols, rows) matrix, i.e. its transpose. So for row-major
//   out (N, OC) = inp (N, C) @ W
// we ask cuBLAS for the column-major out^T (OC, N) = W^T (OC, C) @ inp^T (C, N):
// inp^T is inp read as-is (ld C). W^T is W read as-is when W is stored (C, OC)
// (GPT-2's Conv1D, ld OC), and W read transposed when W is stored (OC, C)
// (nn.Linear, ld C).
//
// Every GEMM goes through linear_gemm, in the backend's precision: fp32 (or
// TF32, cuBLAS's math mode) with cublasSgemm; bf16 with cublasGemmEx on bf16
// copies of both operands (CUDA_R_16BF, rounded to nearest even by
// round_to_bf16_kernel) and fp32 sums (CUBLAS_COMPUTE_32F), as PyTorch's
// autocast runs a linear layer. What the layer reads and writes stays fp32.
#include "ops_cuda.cuh"

// dst (rows, cols) dense = src (rows, cols; row stride ld) rounded to bf16.
__global__ void round_to_bf16_kernel(__nv_bfloat16 *dst, const float *src, int ld, int rows,
                                     int cols) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)rows * cols) return;
    dst[i] = __float2bfloat16(src[(i / cols) * ld + i % cols]);
}

// A column-major operand of rows x cols with leading dimension ld (cuBLAS's
// view), rounded into a slot as a dense copy of leading dimension rows.
static const __nv_bfloat16 *bf16_operand(int slot, const float *src, int ld, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    __nv_bfloat16 *dst = (__nv_bfloat16 *)cuda_scratch(slot, n * sizeof(__nv_bfloat16),
                                                       "a bf16 linear layer");
    if (n == 0) return dst;
    // Column-major (rows, cols; ld) is row-major (cols, rows; ld).
    LAUNCH(round_to_bf16_kernel, ceil_div((long)n, 256), 256, 0)(dst, src, ld, cols, rows);
    LAUNCH_CHECK();
    return dst;
}

// C (m, n; ldc) = op(A) (m, k) @ op(B) (k, n) + beta * C, column-major.
static void linear_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                        const float *A, int lda, const float *B, int ldb, float beta, float *C,
                        int ldc) {
    const float one = 1.0f;
    if (cuda_precision() != PRECISION_BF16) {
        CUBLAS_CHECK(cublasSgemm(cuda_cublas(), ta, tb, m, n, k, &one, A, lda, B, ldb, &beta, C,
                                 ldc));
        return;
    }
    int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
    int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
    const __nv_bfloat16 *a = bf16_operand(SCRATCH_BF16_A, A, lda, a_rows, a_cols);
    const __nv_bfloat16 *b = bf16_operand(SCRATCH_BF16_B, B, ldb, b_rows, b_cols);
    CUBLAS_CHECK(cublasGemmEx(cuda_cublas(), ta, tb, m, n, k, &one, a, CUDA_R_16BF,
                              a_rows > 1 ? a_rows : 1, b, CUDA_R_16BF, b_rows > 1 ? b_rows : 1,
                              &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// out (N, OC; row stride ld_out) += bias (OC), broadcast over rows.
__global__ void add_bias_kernel(float *out, int ld_out, const float *bias, int N, int OC) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * OC) return;
    out[(i / OC) * ld_out + i % OC] += bias[i % OC];
}

void linear_forward_cuda(float *out, int ld_out, const float *inp, int ld_inp,
                         const float *weight, const float *bias, int N, int C, int OC,
                         int w_in_out) {
    if (N == 0 || OC == 0) return;
    if (w_in_out)
        linear_gemm(CUBLAS_OP_N, CUBLAS_OP_N, OC, N, C, weight, OC, inp, ld_inp, 0.0f, out, ld_out);
    else
        linear_gemm(CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, weight, C, inp, ld_inp, 0.0f, out, ld_out);
    if (bias) {
        LAUNCH(add_bias_kernel, ceil_div((long)N * OC, 256), 256, 0)(out, ld_out, bias, N, OC);
        LAUNCH_CHECK();
    }
}

// Pass 1 of dbias = sum over rows of dout (N, OC): block (32 columns x 8
// row lanes) owns one slice of COLSUM_ROWS_PER_SLICE rows; each lane sums
// its rows in order, then lane 0 adds the 8 lanes in order.
__global__ void bias_grad_partial_kernel(float *partials, const float *dout, int ld_dout, int N,
                                         int OC) {
    SHARED(float, lane_sums, [8][32]);
    int c = blockIdx.x * 32 + threadIdx.x;
    int row0 = blockIdx.y * COLSUM_ROWS_PER_SLICE;
    int row_end = min(row0 + COLSUM_ROWS_PER_SLICE, N);
    float sum = 0.0f;
    if (c < OC)
        for (int r = row0 + threadIdx.y; r < row_end; r += 8) sum += dout[(size_t)r * ld_dout + c];
    lane_sums[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        float total = 0.0f;
        for (int y = 0; y < 8; y++) total += lane_sums[y][threadIdx.x];
        partials[(size_t)blockIdx.y * OC + c] = total;
    }
}

void linear_backward_cuda(float *dinp, int ld_dinp, float *dweight, float *dbias,
                          const float *dout, int ld_dout, const float *inp, int ld_inp,
                          const float *weight, int N, int C, int OC, int w_in_out) {
    if (N == 0) return;
    if (dinp) {
        // dinp^T (C, N) = W (C, OC) @ dout^T (OC, N)
        if (w_in_out)
            linear_gemm(CUBLAS_OP_T, CUBLAS_OP_N, C, N, OC, weight, OC, dout, ld_dout, 0.0f, dinp,
                        ld_dinp);
        else
            linear_gemm(CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, weight, C, dout, ld_dout, 0.0f, dinp,
                        ld_dinp);
    }
    if (dweight && w_in_out)  // dW (C, OC) += inp^T @ dout: col-major dW^T (OC, C) += dout^T @ inp
        linear_gemm(CUBLAS_OP_N, CUBLAS_OP_T, OC, C, N, dout, ld_dout, inp, ld_inp, 1.0f, dweight, OC);
    else if (dweight)  // dW (OC, C) += dout^T @ inp: col-major dW^T (C, OC) += inp^T @ dout
        linear_gemm(CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, inp, ld_inp, dout, ld_dout, 1.0f, dweight, C);
    if (dbias) {
        int slices = colsum_slices(N);
        float *partials = (float *)cuda_scratch(SCRATCH_PARTIALS, (size_t)slices * OC * sizeof(float),
                                                     "linear_backward");
        LAUNCH(bias_grad_partial_kernel, dim3(ceil_div(OC, 32), slices), dim3(32, 8), 0)(
            partials, dout, ld_dout, N, OC);
        LAUNCH_CHECK();
        colsum_finish(dbias, partials, slices, OC);
    }
}
