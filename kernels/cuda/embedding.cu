// embedding.cu: token (+ position) embedding, forward and backward.
//
// The backward must add many rows of dout into the same dwte row when a token
// repeats, and must do it deterministically. Float atomics would make the
// order (and the bits) vary, so the tokens are grouped on the host: a
// counting sort by token id gives, for each distinct token, its positions in
// increasing order; then one block column per distinct token adds its rows in
// that order. The sort costs one small copy of the (B*T) token ids per step,
// and a wait for the stream to reach it.
#include "ops_cuda.cuh"

#include <stdlib.h>

// out (B*T, C) = wte[tokens] (+ wpe[t]).
__global__ void embedding_forward_kernel(float *out, const int32_t *tokens, const float *wte,
                                         const float *wpe, int T, int C) {
    int row = blockIdx.x;  // b * T + t
    const float *w = wte + (size_t)tokens[row] * C;
    const float *p = wpe ? wpe + (size_t)(row % T) * C : NULL;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        out[(size_t)row * C + c] = w[c] + (p ? p[c] : 0.0f);
}

void embedding_forward_cuda(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                            int B, int T, int C) {
    if (B * T == 0) return;
    LAUNCH(embedding_forward_kernel, B * T, 128, 0)(out, tokens, wte, wpe, T, C);
    LAUNCH_CHECK();
}

// dwte[token of group g] += sum of dout rows of the group, in position order.
// group_start (ngroups + 1) indexes into positions (B*T).
__global__ void embedding_backward_wte_kernel(float *dwte, const float *dout,
                                              const int32_t *group_token,
                                              const int32_t *group_start,
                                              const int32_t *positions, int C) {
    int g = blockIdx.x;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sum = 0.0f;
    for (int i = group_start[g]; i < group_start[g + 1]; i++)
        sum += dout[(size_t)positions[i] * C + c];
    dwte[(size_t)group_token[g] * C + c] += sum;
}

// dwpe[t] += sum over b of dout[b, t], b in order.
__global__ void embedding_backward_wpe_kernel(float *dwpe, const float *dout, int B, int T, int C) {
    int t = blockIdx.x;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float sum = 0.0f;
        for (int b = 0; b < B; b++) sum += dout[((size_t)b * T + t) * C + c];
        dwpe[(size_t)t * C + c] += sum;
    }
}

void embedding_backward_cuda(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                             int B, int T, int C) {
    int n = B * T;
    if (n == 0) return;
    // Host side: a sort of positions by token id, in the reserved host arrays
    // [tokens (n) | sorted (3n + 1)].
    int32_t *host_tokens = cuda_host_scratch(4 * (size_t)n + 1, "embedding_backward");
    int32_t *host_sorted = host_tokens + n;
    CUDA_CHECK(cudaMemcpyAsync(host_tokens, tokens, sizeof(int32_t) * n, cudaMemcpyDeviceToHost,
                               cuda_stream()));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));  // the host reads them next
    // host_sorted = [positions (n) | group_token (ngroups) | group_start (ngroups + 1)]
    int32_t *positions = host_sorted;
    for (int i = 0; i < n; i++) positions[i] = i;
    // A stable sort by token keeps positions increasing within a token.
    // Insertion into runs would be O(n^2); a merge sort on (token, pos) keys:
    int32_t *tmp = host_sorted + n;  // n scratch ints, reused as the group arrays below
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = host_tokens[positions[j]] < host_tokens[positions[i]] ? positions[j++] : positions[i++];
            while (i < mid) tmp[k++] = positions[i++];
            while (j < hi) tmp[k++] = positions[j++];
        }
        memcpy(positions, tmp, sizeof(int32_t) * n);
    }
    int32_t *group_token = host_sorted + n, *group_start;
    int ngroups = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || host_tokens[positions[i]] != host_tokens[positions[i - 1]])
            group_token[ngroups++] = host_tokens[positions[i]];
    group_start = group_token + ngroups;
    ngroups = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || host_tokens[positions[i]] != host_tokens[positions[i - 1]]) group_start[ngroups++] = i;
    group_start[ngroups] = n;
    size_t ints = (size_t)n + 2 * (size_t)ngroups + 1;
    int32_t *dev = (int32_t *)cuda_scratch(SCRATCH_EMBEDDING, sizeof(int32_t) * ints,
                                           "embedding_backward");
    // From pageable memory: staged before the call returns, so the host
    // arrays may be reused at once.
    CUDA_CHECK(cudaMemcpyAsync(dev, host_sorted, sizeof(int32_t) * ints, cudaMemcpyHostToDevice,
                               cuda_stream()));
    LAUNCH(embedding_backward_wte_kernel, dim3(ngroups, ceil_div(C, 128)), 128, 0)(
        dwte, dout, dev + n, dev + n + ngroups, dev, C);
    LAUNCH_CHECK();
    if (dwpe) {
        LAUNCH(embedding_backward_wpe_kernel, T, 128, 0)(dwpe, dout, B, T, C);
        LAUNCH_CHECK();
    }
}
