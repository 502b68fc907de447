// lstm.cu: the recurrence of one nn.LSTM layer (see LstmParams in backend.h).
//
// The T steps are sequential, so the host loops over them inside the op and
// issues, per step, exactly two launches on the stream:
//   forward:  one cuBLAS GEMM, a_t (B, 4H) += h_{t-1} (B, H) @ W_hh^T (all B rows
//             at once), then one fused cell kernel (one thread per (b, j)):
//             the four activations, c_t, h_t, and h_t copied into h_prev's next step;
//   backward: one fused cell-backward kernel (da_t and dc_{t-1} from dh_t, the
//             saved gates and cells), then one GEMM dh_{t-1} = da_t @ W_hh.
// dW_hh and db_hh, sums over every step, are one GEMM and one deterministic
// column sum after the loop (linear_backward_cuda on da and the saved h_{t-1}).
// Nothing is added atomically, so the results repeat bit for bit.
//
// Rows are (B, T, .) row-major, so step t of every sequence is a strided
// matrix: B rows, T*4H (or T*H) floats apart, which cuBLAS takes as its
// leading dimension. cuBLAS is column-major: a row-major (B, n) matrix with
// row stride ld is the column-major (n, B) matrix with the same ld.
#include "ops_cuda.cuh"

// ---------------------------------------------------------------- forward

// h_prev[b, 0, :] = h0[b, :] (or 0).
__global__ void lstm_init_state_kernel(float *h_prev, const float *h0, int B, int T, int H) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, j = i % H;
    h_prev[(size_t)b * T * H + j] = h0 ? h0[i] : 0.0f;
}

// Step t for every (b, j): a = gates[b, t] (4H) + b_hh, activated in place.
__global__ void lstm_cell_forward_kernel(float *gates, const float *b_hh, const float *c0,
                                         float *c, float *h, float *h_prev, float *hT, float *cT,
                                         int B, int T, int H, int t) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, j = i % H;
    float *a = gates + ((size_t)b * T + t) * 4 * H;
    size_t at = ((size_t)b * T + t) * H + j;
    float ig = sigmoidf_(a[j] + b_hh[j]);
    float fg = sigmoidf_(a[H + j] + b_hh[H + j]);
    float gg = tanhf(a[2 * H + j] + b_hh[2 * H + j]);
    float og = sigmoidf_(a[3 * H + j] + b_hh[3 * H + j]);
    float cp = t > 0 ? c[at - H] : c0 ? c0[i] : 0.0f;
    float ct = fg * cp + ig * gg;
    float ht = og * tanhf(ct);
    a[j] = ig, a[H + j] = fg, a[2 * H + j] = gg, a[3 * H + j] = og;
    c[at] = ct, h[at] = ht;
    if (t + 1 < T) h_prev[at + H] = ht;
    // The final state. cT may alias c0: this thread read its c0 element above.
    if (t == T - 1) {
        if (hT) hT[i] = ht;
        if (cT) cT[i] = ct;
    }
}

void lstm_forward_cuda(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden, G = 4 * H;
    const float one = 1.0f;
    const int blocks = ceil_div((long)B * H, 256);
    LAUNCH(lstm_init_state_kernel, blocks, 256, 0)(p->h_prev, p->h0, B, T, H);
    LAUNCH_CHECK();
    for (int t = 0; t < T; t++) {
        // column-major a_t^T (4H, B) += W_hh^T... : W_hh (4H, H) row-major is (H, 4H)
        // column-major, so op T; h_{t-1}^T (H, B) with ld T*H.
        CUBLAS_CHECK(cublasSgemm(cuda_cublas(), CUBLAS_OP_T, CUBLAS_OP_N, G, B, H, &one, p->w_hh,
                                 H, p->h_prev + (size_t)t * H, T * H, &one,
                                 p->gates + (size_t)t * G, T * G));
        LAUNCH(lstm_cell_forward_kernel, blocks, 256, 0)(p->gates, p->b_hh, p->c0, p->c, p->h,
                                                         p->h_prev, p->hT, p->cT, B, T, H, t);
        LAUNCH_CHECK();
    }
}

// ---------------------------------------------------------------- backward

// Step t for every (b, j); the formulas are kernels/cpu/lstm.c's. dh_rec
// (B, H) is the gradient through the recurrence (NULL at the last step); dc
// (B, H) carries dL/dc_t in and dL/dc_{t-1} out.
__global__ void lstm_cell_backward_kernel(float *dgates, const float *gates, const float *c,
                                          const float *c0, const float *dh_above,
                                          const float *dh_rec, float *dc, int B, int T, int H,
                                          int t) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * H) return;
    int b = i / H, j = i % H;
    const float *a = gates + ((size_t)b * T + t) * 4 * H;
    float *da = dgates + ((size_t)b * T + t) * 4 * H;
    size_t at = ((size_t)b * T + t) * H + j;
    float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
    float tc = tanhf(c[at]);
    float dh = dh_above[at] + (dh_rec ? dh_rec[i] : 0.0f);
    float dct = (t < T - 1 ? dc[i] : 0.0f) + dh * og * (1.0f - tc * tc);
    float cp = t > 0 ? c[at - H] : c0 ? c0[i] : 0.0f;
    da[j] = dct * gg * ig * (1.0f - ig);
    da[H + j] = dct * cp * fg * (1.0f - fg);
    da[2 * H + j] = dct * ig * (1.0f - gg * gg);
    da[3 * H + j] = dh * tc * og * (1.0f - og);
    dc[i] = dct * fg;
}

size_t lstm_scratch_floats_cuda(const LstmParams *p) { return 2 * (size_t)p->batch * p->hidden; }

void lstm_backward_cuda(const LstmParams *p) {
    const int B = p->batch, T = p->seqlen, H = p->hidden, G = 4 * H;
    const float one = 1.0f, zero = 0.0f;
    float *dh_rec = p->scratch, *dc = p->scratch + (size_t)B * H;
    const int blocks = ceil_div((long)B * H, 256);
    for (int t = T - 1; t >= 0; t--) {
        LAUNCH(lstm_cell_backward_kernel, blocks, 256, 0)(p->dgates, p->gates, p->c, p->c0, p->dh,
                                                          t < T - 1 ? dh_rec : NULL, dc, B, T, H, t);
        LAUNCH_CHECK();
        if (t == 0) break;  // truncated: no gradient into h0
        // dh_{t-1} (B, H) = da_t (B, 4H) @ W_hh (4H, H): column-major
        // dh^T (H, B) = W_hh^T... W_hh row-major (4H, H) is column-major (H, 4H), op N.
        CUBLAS_CHECK(cublasSgemm(cuda_cublas(), CUBLAS_OP_N, CUBLAS_OP_N, H, B, G, &one, p->w_hh,
                                 H, p->dgates + (size_t)t * G, T * G, &zero, dh_rec, H));
    }
    // dW_hh (4H, H) += da^T @ h_prev and db_hh += column sums of da, over all B*T rows.
    linear_backward_cuda(NULL, 0, p->dw_hh, p->db_hh, p->dgates, G, p->h_prev, H, p->w_hh, B * T, H,
                         G, 0);
}
