// linear.cu: fully connected layers through cuBLAS, plus the bias kernels.
//
// cuBLAS is column-major. A row-major (rows, cols) matrix is, read in place,
// a column-major (cols, rows) matrix, i.e. its transpose. So for row-major
//   out (N, OC) = inp (N, C) @ W
// we ask cuBLAS for the column-major out^T (OC, N) = W^T (OC, C) @ inp^T (C, N):
// inp^T is inp read as-is (ld C). W^T is W read as-is when W is stored (C, OC)
// (GPT-2's Conv1D, ld OC), and W read transposed when W is stored (OC, C)
// (nn.Linear, ld C).
#include "ops_cuda.cuh"

// out (N, OC; row stride ld_out) += bias (OC), broadcast over rows.
__global__ void add_bias_kernel(float *out, int ld_out, const float *bias, int N, int OC) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * OC) return;
    out[(i / OC) * ld_out + i % OC] += bias[i % OC];
}

void linear_forward_cuda(float *out, int ld_out, const float *inp, int ld_inp,
                         const float *weight, const float *bias, int N, int C, int OC,
                         int w_in_out) {
    const float one = 1.0f, zero = 0.0f;
    if (N == 0 || OC == 0) return;
    if (w_in_out)
        CUBLAS_CHECK(cublasSgemm(cuda_cublas(), CUBLAS_OP_N, CUBLAS_OP_N, OC, N, C, &one, weight,
                                 OC, inp, ld_inp, &zero, out, ld_out));
    else
        CUBLAS_CHECK(cublasSgemm(cuda_cublas(), CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, &one, weight,
                                 C, inp, ld_inp, &zero, out, ld_out));
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
    const float one = 1.0f, zero = 0.0f;
    cublasHandle_t h = cuda_cublas();
    if (N == 0) return;
    if (dinp) {
        // dinp^T (C, N) = W (C, OC) @ dout^T (OC, N)
        if (w_in_out)
            CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, C, N, OC, &one, weight, OC, dout,
                                     ld_dout, &zero, dinp, ld_dinp));
        else
            CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, &one, weight, C, dout,
                                     ld_dout, &zero, dinp, ld_dinp));
    }
    if (dweight && w_in_out)  // dW (C, OC) += inp^T @ dout: col-major dW^T (OC, C) += dout^T @ inp
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, OC, C, N, &one, dout, ld_dout, inp,
                                 ld_inp, &one, dweight, OC));
    else if (dweight)  // dW (OC, C) += dout^T @ inp: col-major dW^T (C, OC) += inp^T @ dout
        CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, &one, inp, ld_inp, dout,
                                 ld_dout, &one, dweight, C));
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
