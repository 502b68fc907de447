// elementwise.c: residual adds and scaling, memory-bound loops.
#include "cpu_ops.h"

// Below this many floats a parallel region costs more than it saves.
#define PARALLEL_MIN 32768

// out = a + b (n); out may alias a or b.
void add_cpu(float *out, const float *a, const float *b, size_t n) {
    #pragma omp parallel for simd schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

// dst += src (n)
void accumulate_cpu(float *dst, const float *src, size_t n) {
    #pragma omp parallel for simd schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

// x *= s (n)
void scale_cpu(float *x, float s, size_t n) {
    #pragma omp parallel for simd schedule(static) if (n > PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}
