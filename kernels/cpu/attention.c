// attention.c: causal multi-head self-attention over a fused qkv.
//
// qkv (B, T, 3C) holds [q | k | v] per position, each split into NH heads of
// hs = C/NH contiguous floats, as GPT-2's c_attn output is. For each (b, head)
// the attention is three matmuls on strided views of qkv (no copies):
//   S = q k^T / sqrt(hs)   (T, T), causal: only j <= i
//   P = softmax_rows(S)    kept in att (B, NH, T, T) for the backward
//   y = P v                (T, hs), written into out (B, T, C) at the head's columns
// The matmuls go through cblas_sgemm, one (b, head) per OpenMP iteration with
// OpenBLAS single-threaded inside. Rows are processed in blocks of ATT_BLOCK
// and a block only touches the columns up to its last row, which skips most
// of the masked upper triangle (about 40% of the flops at T = 256).
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cpu_ops.h"
#include "vec_math.h"

#define ATT_BLOCK 64

void attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
        float *a = att + (size_t)bh * T * T;
        float *y = out + (size_t)b * T * C + h * hs;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // S[r0:r1, 0:r1] = q[r0:r1] k[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                        q + (size_t)r0 * C3, C3, k, C3, 0.0f, a + (size_t)r0 * T, T);
            for (int i = r0; i < r1; i++) {
                float *row = a + (size_t)i * T;
                float maxv = -INFINITY;
                for (int j = 0; j <= i; j++) {
                    row[j] *= scale;
                    if (row[j] > maxv) maxv = row[j];
                }
                float sum = 0.0f;
                #pragma omp simd reduction(+ : sum)
                for (int j = 0; j <= i; j++) {
                    row[j] = vec_expf(row[j] - maxv);
                    sum += row[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j <= i; j++) row[j] *= inv;
                memset(row + i + 1, 0, (size_t)(T - i - 1) * sizeof(float));
            }
            // y[r0:r1] = P[r0:r1, 0:r1] v[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                        a + (size_t)r0 * T, T, v, C3, 0.0f, y + (size_t)r0 * C, C);
        }
    }
}

// With dP = dy v^T and dS = P * (dP - rowsum(P * dP)) (the softmax backward):
//   dq = dS k / sqrt(hs),  dk = dS^T q / sqrt(hs),  dv = P^T dy
// dqkv (B, T, 3C) written; scratch (B, NH, T, T) holds dP, then dS.
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = qkv + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
        const float *a = att + (size_t)bh * T * T;
        const float *dy = dout + (size_t)b * T * C + h * hs;
        float *ds = scratch + (size_t)bh * T * T;
        float *dq = dqkv + (size_t)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // dP[r0:r1, 0:r1] = dy[r0:r1] v[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                        dy + (size_t)r0 * C, C, v, C3, 0.0f, ds + (size_t)r0 * T, T);
            // dS over the same columns; P is zero above the diagonal, so dS is too.
            for (int i = r0; i < r1; i++) {
                const float *p = a + (size_t)i * T;
                float *d = ds + (size_t)i * T;
                float dot = 0.0f;
                for (int j = 0; j <= i; j++) dot += p[j] * d[j];
                for (int j = 0; j < r1; j++) d[j] = p[j] * (d[j] - dot) * scale;
            }
        }
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // dq[r0:r1] = dS[r0:r1, 0:r1] k[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                        ds + (size_t)r0 * T, T, k, C3, 0.0f, dq + (size_t)r0 * C3, C3);
            // Column block c = [r0, r1) of keys is attended by rows r0..T-1:
            // dk[c] = dS[r0:T, c]^T q[r0:T],  dv[c] = P[r0:T, c]^T dy[r0:T]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, 1.0f,
                        ds + (size_t)r0 * T + r0, T, q + (size_t)r0 * C3, C3, 0.0f,
                        dk + (size_t)r0 * C3, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, 1.0f,
                        a + (size_t)r0 * T + r0, T, dy + (size_t)r0 * C, C, 0.0f,
                        dv + (size_t)r0 * C3, C3);
        }
    }
}

// One decode step at position pos, batch 1. qkv (3C); caches (NH, max_T, hs);
// out (C). Heads in parallel; each is small enough for plain loops.
void attention_decode(float *out, float *k_cache, float *v_cache, const float *qkv, int pos,
                      int max_T, int C, int NH) {
    const int hs = C / NH;
    const float scale = 1.0f / sqrtf((float)hs);
    #pragma omp parallel for schedule(static) if ((size_t)NH * (pos + 1) * hs > 32768)
    for (int h = 0; h < NH; h++) {
        const float *q = qkv + h * hs;
        float *kc = k_cache + (size_t)h * max_T * hs, *vc = v_cache + (size_t)h * max_T * hs;
        memcpy(kc + (size_t)pos * hs, qkv + C + h * hs, (size_t)hs * sizeof(float));
        memcpy(vc + (size_t)pos * hs, qkv + 2 * C + h * hs, (size_t)hs * sizeof(float));
        float scores[pos + 1];
        float maxv = -INFINITY;
        for (int j = 0; j <= pos; j++) {
            const float *kj = kc + (size_t)j * hs;
            float s = 0.0f;
            for (int d = 0; d < hs; d++) s += q[d] * kj[d];
            scores[j] = s * scale;
            if (scores[j] > maxv) maxv = scores[j];
        }
        float sum = 0.0f;
        for (int j = 0; j <= pos; j++) {
            scores[j] = vec_expf(scores[j] - maxv);
            sum += scores[j];
        }
        float inv = 1.0f / sum;
        float *y = out + h * hs;
        for (int d = 0; d < hs; d++) y[d] = 0.0f;
        for (int j = 0; j <= pos; j++) {
            const float *vj = vc + (size_t)j * hs;
            float p = scores[j] * inv;
            for (int d = 0; d < hs; d++) y[d] += p * vj[d];
        }
    }
}
