// attention.cu: causal multi-head self-attention.
//
// Forward, as llm.c lays it out on a GPU:
//   1. permute qkv (B, T, 3, NH, hs) into q, k, v (B, NH, T, hs)    (scratch)
//   2. att = q @ k^T / sqrt(hs), all T x T, one strided-batched GEMM  (into att)
//   3. causal softmax in place: row i keeps columns 0..i, zeros after
//   4. y = att @ v (B, NH, T, hs), a second strided-batched GEMM       (scratch)
//   5. un-permute y into out (B, T, C)
// Backward (att, the probabilities, is saved; q, k, v are permuted again):
//   dv = att^T @ dy,  datt = dy @ v^T,
//   dpre = att * (datt - rowsum(att * datt)) / sqrt(hs),
//   dq = dpre @ k,  dk = dpre^T @ q,  then permuted back into dqkv.
// Row-major (T, hs) per head is, to cuBLAS, a column-major (hs, T) matrix;
// each GEMM below is written out with that in mind.
#include "ops_cuda.cuh"

// q, k, v (B, NH, T, hs) <- qkv (B, T, 3C).
__global__ void attention_permute_kernel(float *q, float *k, float *v, const float *qkv, int B,
                                         int T, int NH, int hs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * NH * T * hs) return;
    int d = i % hs, t = (i / hs) % T, h = (i / ((size_t)hs * T)) % NH, b = i / ((size_t)hs * T * NH);
    int C = NH * hs;
    const float *src = qkv + ((size_t)b * T + t) * 3 * C + h * hs + d;
    q[i] = src[0];
    k[i] = src[C];
    v[i] = src[2 * C];
}

// dqkv (B, T, 3C) <- dq, dk, dv (B, NH, T, hs).
__global__ void attention_unpermute_qkv_kernel(float *dqkv, const float *dq, const float *dk,
                                               const float *dv, int B, int T, int NH, int hs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * NH * T * hs) return;
    int d = i % hs, t = (i / hs) % T, h = (i / ((size_t)hs * T)) % NH, b = i / ((size_t)hs * T * NH);
    int C = NH * hs;
    float *dst = dqkv + ((size_t)b * T + t) * 3 * C + h * hs + d;
    dst[0] = dq[i];
    dst[C] = dk[i];
    dst[2 * C] = dv[i];
}

// out (B, T, C) <- y (B, NH, T, hs), and the reverse when to_heads.
__global__ void attention_heads_kernel(float *dst, const float *src, int B, int T, int NH, int hs,
                                       int to_heads) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * NH * T * hs) return;
    int d = i % hs, t = (i / hs) % T, h = (i / ((size_t)hs * T)) % NH, b = i / ((size_t)hs * T * NH);
    size_t flat = ((size_t)b * T + t) * NH * hs + h * hs + d;
    if (to_heads) dst[i] = src[flat];
    else dst[flat] = src[i];
}

// In place over att (B*NH*T rows of T): one warp per row i (position t = i % T).
__global__ void causal_softmax_kernel(float *att, int rows, int T) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int t = row % T;
    float *a = att + (size_t)row * T;
    float mx = -INFINITY;
    for (int j = lane; j <= t; j += 32) mx = fmaxf(mx, a[j]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j <= t; j += 32) {
        float e = expf(a[j] - mx);
        a[j] = e;
        sum += e;
    }
    float inv = 1.0f / warp_sum(sum);
    for (int j = lane; j < T; j += 32) a[j] = j <= t ? a[j] * inv : 0.0f;
}

// In place: datt (rows of T) becomes dpre = att * (datt - sum(att * datt)) * scale.
__global__ void causal_softmax_backward_kernel(float *datt, const float *att, int rows, int T,
                                               float scale) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int t = row % T;
    float *da = datt + (size_t)row * T;
    const float *a = att + (size_t)row * T;
    float dot = 0.0f;
    for (int j = lane; j <= t; j += 32) dot += a[j] * da[j];
    dot = warp_sum(dot);
    for (int j = lane; j < T; j += 32) da[j] = j <= t ? a[j] * (da[j] - dot) * scale : 0.0f;
}

void attention_forward_cuda(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    size_t n = (size_t)B * T * C;
    if (n == 0) return;
    float *q = (float *)cuda_scratch(SCRATCH_ATTENTION, 4 * n * sizeof(float),
                                     "attention_forward");
    float *k = q + n, *v = k + n, *y = v + n;
    int blocks = ceil_div((long)n, 256);
    LAUNCH(attention_permute_kernel, blocks, 256, 0)(q, k, v, qkv, B, T, NH, hs);
    LAUNCH_CHECK();
    const float scale = 1.0f / sqrtf((float)hs), zero = 0.0f, one = 1.0f;
    cublasHandle_t h = cuda_cublas();
    // att (T_q, T_k) row-major = column-major (T_k, T_q) = k (T_k, hs) @ q^T (hs, T_q)
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &scale, k, hs,
                                           (long long)T * hs, q, hs, (long long)T * hs, &zero, att,
                                           T, (long long)T * T, B * NH));
    int rows = B * NH * T;
    LAUNCH(causal_softmax_kernel, ceil_div(rows, 4), 128, 0)(att, rows, T);
    LAUNCH_CHECK();
    // y (T, hs) row-major = column-major (hs, T) = v^T (hs, T_k) @ att^T (T_k, T_q)
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &one, v, hs,
                                           (long long)T * hs, att, T, (long long)T * T, &zero, y,
                                           hs, (long long)T * hs, B * NH));
    LAUNCH(attention_heads_kernel, blocks, 256, 0)(out, y, B, T, NH, hs, 0);
    LAUNCH_CHECK();
}

void attention_backward_cuda(float *dqkv, float *scratch, const float *dout, const float *qkv,
                             const float *att, int B, int T, int C, int NH) {
    int hs = C / NH;
    size_t n = (size_t)B * T * C;
    if (n == 0) return;
    float *q = (float *)cuda_scratch(SCRATCH_ATTENTION, 7 * n * sizeof(float),
                                     "attention_backward");
    float *k = q + n, *v = k + n, *dy = v + n, *dq = dy + n, *dk = dq + n, *dv = dk + n;
    float *datt = scratch;  // (B, NH, T, T)
    int blocks = ceil_div((long)n, 256);
    LAUNCH(attention_permute_kernel, blocks, 256, 0)(q, k, v, qkv, B, T, NH, hs);
    LAUNCH_CHECK();
    LAUNCH(attention_heads_kernel, blocks, 256, 0)(dy, dout, B, T, NH, hs, 1);
    LAUNCH_CHECK();
    const float one = 1.0f, zero = 0.0f;
    long long sT = (long long)T * hs, sTT = (long long)T * T;
    cublasHandle_t h = cuda_cublas();
    // datt (T_q, T_k) row-major = column-major (T_k, T_q) = v (T_k, hs) @ dy^T (hs, T_q)
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_T, CUBLAS_OP_N, T, T, hs, &one, v, hs, sT,
                                           dy, hs, sT, &zero, datt, T, sTT, B * NH));
    // dv (T_k, hs) = att^T @ dy: column-major (hs, T_k) = dy^T (hs, T_q) @ att (T_q, T_k)
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, &one, dy, hs, sT,
                                           att, T, sTT, &zero, dv, hs, sT, B * NH));
    int rows = B * NH * T;
    LAUNCH(causal_softmax_backward_kernel, ceil_div(rows, 4), 128, 0)(datt, att, rows, T,
                                                                     1.0f / sqrtf((float)hs));
    LAUNCH_CHECK();
    // dq (T_q, hs) = dpre @ k: column-major (hs, T_q) = k^T (hs, T_k) @ dpre^T (T_k, T_q)
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, hs, T, T, &one, k, hs, sT,
                                           datt, T, sTT, &zero, dq, hs, sT, B * NH));
    // dk (T_k, hs) = dpre^T @ q: column-major (hs, T_k) = q^T (hs, T_q) @ dpre (T_q, T_k)
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, hs, T, T, &one, q, hs, sT,
                                           datt, T, sTT, &zero, dk, hs, sT, B * NH));
    LAUNCH(attention_unpermute_qkv_kernel, blocks, 256, 0)(dqkv, dq, dk, dv, B, T, NH, hs);
    LAUNCH_CHECK();
}

// ---------------------------------------------------------------- decode
// Attention over the caches of B sequences for n new tokens each. The
// positions are read from device memory, so that a decode step captured
// once in a CUDA graph serves every position; the scores buffer is sized for
// the whole cache for the same reason. Two kernels: every new k and v row
// must be in its cache before any token attends over it.
__global__ void attention_cache_store_kernel(float *k_cache, float *v_cache, const float *qkv,
                                             const int32_t *pos, int B, int n, int max_T, int C) {
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * n * C) return;
    size_t bi = idx / C, c = idx % C, b = bi / n, i = bi % n;
    int p0 = pos[b];
    if (p0 < 0 || p0 + n > max_T) return;  // the model checks the positions first
    size_t row = (b * max_T + p0 + i) * C + c;
    k_cache[row] = qkv[bi * 3 * C + C + c];
    v_cache[row] = qkv[bi * 3 * C + 2 * C + c];
}

// One block per (head, new token, sequence).
__global__ void attention_decode_kernel(float *out, const float *k_cache, const float *v_cache,
                                        const float *qkv, const int32_t *pos, int n, int max_T,
                                        int C, int NH) {
    DYNAMIC_SHARED(float, scores);  // max_T
    SHARED(float, reduce_buf, [32]);
    int h = blockIdx.x, i = blockIdx.y, b = blockIdx.z, hs = C / NH, p0 = pos[b], p = p0 + i;
    if (p0 < 0 || p0 + n > max_T) return;  // the model checks the positions first
    size_t bi = (size_t)b * n + i;
    const float *q = qkv + bi * 3 * C + h * hs;
    const float *kc = k_cache + (size_t)b * max_T * C + h * hs;  // row stride C
    const float *vc = v_cache + (size_t)b * max_T * C + h * hs;
    float scale = 1.0f / sqrtf((float)hs);
    float mx = -INFINITY;
    for (int t = threadIdx.x; t <= p; t += blockDim.x) {
        float s = 0.0f;
        for (int d = 0; d < hs; d++) s += q[d] * kc[(size_t)t * C + d];
        scores[t] = s * scale;
        mx = fmaxf(mx, s * scale);
    }
    mx = block_max(mx, reduce_buf);
    float sum = 0.0f;
    for (int t = threadIdx.x; t <= p; t += blockDim.x) {
        float e = expf(scores[t] - mx);
        scores[t] = e;
        sum += e;
    }
    float inv = 1.0f / block_sum(sum, reduce_buf);  // its barriers also publish scores
    for (int d = threadIdx.x; d < hs; d += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t <= p; t++) acc += scores[t] * vc[(size_t)t * C + d];
        out[bi * C + h * hs + d] = acc * inv;
    }
}

void attention_decode_cuda(float *out, float *k_cache, float *v_cache, const float *qkv,
                           const int32_t *pos, int B, int n, int max_T, int C, int NH) {
    if (n < 1 || n > max_T) tb_die("attention_decode: %d tokens for a cache of %d", n, max_T);
    if (B < 1 || B > 65535 || n > 65535)
        tb_die("attention_decode: %d sequences of %d tokens; a launch takes 1 to 65,535 of each", B, n);
    // The scores of a whole context in dynamic shared memory: above 48 KB
    // (max_T 12,288) the kernel must opt in, once per size, before any
    // capture (the first decode step runs outside one).
    static size_t smem_allowed = 48 * 1024;
    size_t smem = (size_t)max_T * sizeof(float);
    if (smem > smem_allowed) {
        if (cudaFuncSetAttribute(attention_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)smem) != cudaSuccess)
            tb_die("attention_decode: a context of %d tokens needs %zu bytes of shared memory, more "
                   "than this GPU gives a block; use a shorter context", max_T, smem);
        smem_allowed = smem;
    }
    LAUNCH(attention_cache_store_kernel, ceil_div((long)B * n * C, 256), 256, 0)(
        k_cache, v_cache, qkv, pos, B, n, max_T, C);
    LAUNCH_CHECK();
    LAUNCH(attention_decode_kernel, dim3(NH, n, B), 64, smem)(
        out, k_cache, v_cache, qkv, pos, n, max_T, C, NH);
    LAUNCH_CHECK();
}
