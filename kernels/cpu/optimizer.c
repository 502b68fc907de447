// optimizer.c: AdamW and the gradient norm's sum of squares on the CPU.
#include "cpu_ops.h"

#include "../adamw.h"

#include <math.h>

// The sum of squares is split into at most SUMSQ_MAX_BLOCKS blocks of at least
// SUMSQ_MIN_BLOCK floats. The block boundaries depend only on n, each block is
// summed in one fixed order, and the block sums are added in index order, so
// the result is the same whatever the thread count. Eight double lanes per
// block let the compiler vectorise without reassociating anything.
#define SUMSQ_MAX_BLOCKS 256
#define SUMSQ_MIN_BLOCK 8192

static double sum_squares_block(const float *g, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < n; i++) lane[i % 8] += (double)g[i] * (double)g[i];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// sum(g[i]^2) over n floats, accumulated in double in a fixed order that does
// not depend on the thread count: the same bits on 1 thread or 16.
double sum_squares_cpu(const float *g, size_t n) {
    size_t block = (n + SUMSQ_MAX_BLOCKS - 1) / SUMSQ_MAX_BLOCKS;
    if (block < SUMSQ_MIN_BLOCK) block = SUMSQ_MIN_BLOCK;
    int nblocks = (int)((n + block - 1) / block);
    double partial[SUMSQ_MAX_BLOCKS];
#pragma omp parallel for schedule(static) if (nblocks > 1)
    for (int b = 0; b < nblocks; b++) {
        size_t start = (size_t)b * block;
        size_t len = n - start < block ? n - start : block;
        partial[b] = sum_squares_block(g + start, len);
    }
    double total = 0.0;
    for (int b = 0; b < nblocks; b++) total += partial[b];
    return total;
}

// AdamW over the whole buffer (the formula is in kernels/adamw.h). The
// buffer is cut into fixed chunks, whatever the thread count, and each chunk
// walks the decay spans that cross it, so every element gets the arithmetic
// of one tensor's loop with its tensor's decay: the same bits as one call per
// tensor, on any number of threads.
#define ADAMW_CHUNK 16384

void adamw_update_cpu(float *param, const float *grad, float *m, float *v, size_t n,
                      const size_t *decay_spans, int num_spans, float lr, float beta1, float beta2,
                      float eps, float weight_decay, float grad_scale, int t) {
    const AdamwScalars s = adamw_scalars(lr, beta1, beta2, eps, weight_decay, grad_scale, t);
    long long nchunks = (long long)((n + ADAMW_CHUNK - 1) / ADAMW_CHUNK);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long long c = 0; c < nchunks; c++) {
        size_t i = (size_t)c * ADAMW_CHUNK, end = n - i < ADAMW_CHUNK ? n : i + ADAMW_CHUNK;
        int k = adamw_span_after(decay_spans, num_spans, i);
        while (i < end) {
            // [i, stop) lies inside span k (decayed) or before it (not).
            int inside = k < num_spans && decay_spans[2 * k] <= i;
            size_t stop = inside ? decay_spans[2 * k + 1] : k < num_spans ? decay_spans[2 * k] : end;
            if (stop > end) stop = end;
            float decay = inside ? s.decay : 1.0f;
            for (size_t j = i; j < stop; j++) adamw_element(param, grad, m, v, j, decay, s);
            if (inside && stop == decay_spans[2 * k + 1]) k++;
            i = stop;
        }
    }
}
