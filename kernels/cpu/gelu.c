// gelu.c: GELU with the tanh approximation (Hugging Face "gelu_new"):
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#include "cpu_ops.h"
#include "vec_math.h"

#define GELU_SCALE 0.7978845608028654f  // sqrt(2/pi)

// out, inp (n)
void gelu_forward_cpu(float *out, const float *inp, size_t n) {
    #pragma omp parallel for simd schedule(static) if (n > 8192)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + vec_tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

// dinp (n) = dout * gelu'(inp)   (written; dinp may alias dout)
//   gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2),
//   t = tanh(sqrt(2/pi) (x + 0.044715 x^3))
void gelu_backward_cpu(float *dinp, const float *inp, const float *dout, size_t n) {
    #pragma omp parallel for simd schedule(static) if (n > 8192)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = vec_tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
        float dt = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        float grad = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dt;
        dinp[i] = dout[i] * grad;
    }
}
