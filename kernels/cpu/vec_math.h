// vec_math.h: scalar math written so that the compiler vectorizes it.
//
// libm's expf is a function call that GCC will not vectorize without
// -ffast-math, and the selective scan spends most of its time in exp(delta*A).
// GELU, softmax and cross-entropy use them too (tanh through exp).
// This expf is the classic Cephes reduction: exp(x) = 2^k * exp(r) with
// k = round(x / ln 2), |r| <= ln2 / 2, and a degree-6 polynomial for exp(r).
// Relative error is within 2 ulp over the clamped range; inputs below -87
// return exp(-87) (about 1.6e-38) instead of a denormal or zero, which is
// harmless where it is used (decay factors multiplying a state).
#ifndef TB_VEC_MATH_H
#define TB_VEC_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// The constants and polynomials are macros so that vec16.h computes the same
// thing, operation for operation, on whole vectors (any type with * and +).
#define TB_EXP_LO (-87.0f)
#define TB_EXP_HI 88.0f
#define TB_LOG2E 1.44269504088896341f
#define TB_ROUND_MAGIC 12582912.0f  // 1.5 * 2^23
#define TB_LN2_HI 0.693359375f      // ln 2, high part (exact products with small k)
#define TB_LN2_LO (-2.12194440e-4f) // ln 2, low part
#define TB_SQRT_HALF 0.707106781186547524f
// exp(r) = 1 + r + r^2 * TB_EXPF_POLY(r) for |r| <= ln2 / 2
#define TB_EXPF_POLY(r)                                                                   \
    (((((1.9875691500e-4f * (r) + 1.3981999507e-3f) * (r) + 8.3334519073e-3f) * (r) +     \
       4.1665795894e-2f) * (r) + 1.6666665459e-1f) * (r) + 5.0000001201e-1f)
// log(1 + m) = m - m^2 / 2 + m^3 * TB_LOGF_POLY(m) for m in [sqrt(1/2) - 1, sqrt(2) - 1)
#define TB_LOGF_POLY(m)                                                                     \
    ((((((((7.0376836292e-2f * (m) - 1.1514610310e-1f) * (m) + 1.1676998740e-1f) * (m) -    \
          1.2420140846e-1f) * (m) + 1.4249322787e-1f) * (m) - 1.6668057665e-1f) * (m) +     \
       2.0000714765e-1f) * (m) - 2.4999993993e-1f) * (m) + 3.3333331174e-1f)

#pragma omp declare simd notinbranch
static inline float vec_expf(float x) {
    x = x < TB_EXP_LO ? TB_EXP_LO : x;
    x = x > TB_EXP_HI ? TB_EXP_HI : x;
    // round-to-nearest by the magic-number trick (kept exact: no -ffast-math)
    float kf = (x * TB_LOG2E + TB_ROUND_MAGIC) - TB_ROUND_MAGIC;
    float r = x - kf * TB_LN2_HI;
    r = r - kf * TB_LN2_LO;
    float p = TB_EXPF_POLY(r);
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)kf + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

// Natural log for x > 0 (normal), the Cephes logf: x = m * 2^e with
// m in [sqrt(1/2), sqrt(2)), log(x) = e ln2 + log(m) by a polynomial.
static inline float vec_logf(float x) {
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 126;
    bits = (bits & 0x807fffff) | 0x3f000000;  // mantissa in [0.5, 1)
    float m;
    memcpy(&m, &bits, sizeof m);
    // below sqrt(1/2): use 2m and e - 1 (arithmetic select, so it vectorizes)
    float small = (float)(m < TB_SQRT_HALF);
    float ef = (float)e - small;
    m = m + small * m - 1.0f;
    float z = m * m;
    float y = TB_LOGF_POLY(m);
    y = y * m * z;
    y += ef * TB_LN2_LO;
    y += -0.5f * z;
    return m + y + ef * TB_LN2_HI;
}

// log(1 + t) for t >= 0, accurate for small t: with u = 1 + t rounded,
// log1p(t) = log(u) - ((u - 1) - t) / u corrects the rounding of u.
static inline float vec_log1pf(float t) {
    float u = 1.0f + t;
    return vec_logf(u) - ((u - 1.0f) - t) / u;
}

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|). PyTorch returns x
// itself above a threshold of 20; here the correction term is then below
// half an ulp of x, so the result is the same without a branch (a branch
// would stop the loop from vectorizing).
static inline float vec_softplusf(float x) {
    float ax = fabsf(x);
    return 0.5f * (x + ax) + vec_log1pf(vec_expf(-ax));
}

// tanh(x) = 1 - 2 / (e^{2x} + 1); absolute error about 2e-7, which is what
// GELU's 1 + tanh needs (it is never used for a relative result).
#pragma omp declare simd notinbranch
static inline float vec_tanhf(float x) {
    x = x < -9.0f ? -9.0f : (x > 9.0f ? 9.0f : x);  // tanh(9) is 1 in float
    return 1.0f - 2.0f / (vec_expf(2.0f * x) + 1.0f);
}

// 1 / (1 + exp(-x)), vectorizable.
static inline float vec_sigmoidf(float x) { return 1.0f / (1.0f + vec_expf(-x)); }

#endif
