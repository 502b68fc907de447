// embedding.c: token (+ position) embeddings.
#include "cpu_ops.h"

// out (B*T, C) = wte[tokens] + wpe[t]; tokens (B*T), wte (V, C), wpe (T, C) or NULL.
void embedding_forward_cpu(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                       int B, int T, int C) {
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > 65536)
    for (int bt = 0; bt < B * T; bt++) {
        float *o = out + (size_t)bt * C;
        const float *e = wte + (size_t)tokens[bt] * C;
        if (wpe) {
            const float *p = wpe + (size_t)(bt % T) * C;
            for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
        } else {
            for (int c = 0; c < C; c++) o[c] = e[c];
        }
    }
}

// dwte (V, C) += scatter of dout rows by token; dwpe (T, C) += sum over b.
// Parallel over channels: each channel is summed over positions in order, so
// the result is the same for any thread count even when tokens repeat.
void embedding_backward_cpu(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                        int B, int T, int C) {
    enum { BLOCK = 16 };
    int nblocks = (C + BLOCK - 1) / BLOCK;
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > 65536)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * BLOCK, c1 = c0 + BLOCK < C ? c0 + BLOCK : C;
        for (int bt = 0; bt < B * T; bt++) {
            const float *d = dout + (size_t)bt * C;
            float *w = dwte + (size_t)tokens[bt] * C;
            for (int c = c0; c < c1; c++) w[c] += d[c];
        }
    }
    if (!dwpe) return;
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > 65536)
    for (int t = 0; t < T; t++) {
        float *p = dwpe + (size_t)t * C;
        for (int b = 0; b < B; b++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) p[c] += d[c];
        }
    }
}
