// silu.c: SiLU(x) = x * sigmoid(x), over strided rows (views into xz etc.).
//
//   d silu / dx = s * (1 + x * (1 - s)),  s = sigmoid(x)
//
// Whole vec16 vectors (vec16.h) with a scalar tail: auto-vectorised, the
// forward's x * sigmoid(x) ran into denormal assists (see vec16.h).
#include "cpu_ops.h"
#include "vec16.h"
#include "vec_math.h"

// Below this many elements (a decode step's single row) a parallel region
// costs more than it saves.
#define SILU_PARALLEL_MIN 16384

void silu_forward_cpu(float *out, int out_stride, const float *inp, int inp_stride, int n_rows,
                  int cols) {
#pragma omp parallel for schedule(static) if ((size_t)n_rows * cols >= SILU_PARALLEL_MIN)
    for (int i = 0; i < n_rows; i++) {
        const float *x = inp + (size_t)i * inp_stride;
        float *o = out + (size_t)i * out_stride;
        int c = 0;
        for (; c + VEC16_LANES <= cols; c += VEC16_LANES) {
            vec16 v = vload(x + c);
            vstore(o + c, v * vsigmoid(v));
        }
        for (; c < cols; c++) o[c] = x[c] * vec_sigmoidf(x[c]);
    }
}

// dinp written (it may alias dout: each element is read before it is written).
void silu_backward_cpu(float *dinp, int dinp_stride, const float *inp, int inp_stride,
                   const float *dout, int n_rows, int cols) {
#pragma omp parallel for schedule(static) if ((size_t)n_rows * cols >= SILU_PARALLEL_MIN)
    for (int i = 0; i < n_rows; i++) {
        const float *x = inp + (size_t)i * inp_stride;
        const float *g = dout + (size_t)i * cols;
        float *dx = dinp + (size_t)i * dinp_stride;
        int c = 0;
        for (; c + VEC16_LANES <= cols; c += VEC16_LANES) {
            vec16 v = vload(x + c), s = vsigmoid(v);
            vstore(dx + c, vload(g + c) * s * (1.0f + v * (1.0f - s)));
        }
        for (; c < cols; c++) {
            float s = vec_sigmoidf(x[c]);
            dx[c] = g[c] * s * (1.0f + x[c] * (1.0f - s));
        }
    }
}
