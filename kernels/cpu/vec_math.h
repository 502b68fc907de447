// vec_math.h: exp and tanh that the compiler can vectorise.
//
// glibc's expf and tanhf are scalar calls (without -ffast-math), and in the
// GELU, softmax and cross-entropy loops they cost more than the memory
// traffic. These inline versions use only arithmetic and bit operations, so
// `#pragma omp simd` loops become AVX-512 code.
//   vexpf:  x = n ln2 + r, |r| <= ln2/2; e^r by its Taylor series to r^7
//           (truncation 5e-9 relative), then scaled by 2^n through the
//           exponent bits. Relative error about 2e-7 over the float range;
//           inputs below -87.3 give ~1e-38 rather than 0 (harmless where
//           it is added to a sum of positive terms).
//   vtanhf: 1 - 2 / (e^{2x} + 1); absolute error about 2e-7, which is what
//           GELU's 1 + tanh needs (it is never used for a relative result).
#ifndef TB_VEC_MATH_H
#define TB_VEC_MATH_H

#include <stdint.h>
#include <string.h>

#pragma omp declare simd notinbranch
static inline float vexpf(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
    const float shifter = 12582912.0f;  // 1.5 * 2^23: rounds to an integer
    float n = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - n * 0.693145751953125f;  // ln2 split in two for exactness
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#pragma omp declare simd notinbranch
static inline float vtanhf(float x) {
    x = x < -9.0f ? -9.0f : (x > 9.0f ? 9.0f : x);  // tanh(9) is 1 in float
    return 1.0f - 2.0f / (vexpf(2.0f * x) + 1.0f);
}

#endif
