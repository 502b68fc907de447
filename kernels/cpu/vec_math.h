// vec_math.h: scalar math written so that the compiler vectorizes it.
//
// libm's expf is a function call that GCC will not vectorize without
// -ffast-math, and the selective scan spends most of its time in exp(delta*A).
// This expf is the classic Cephes reduction: exp(x) = 2^k * exp(r) with
// k = round(x / ln 2), |r| <= ln2 / 2, and a degree-6 polynomial for exp(r).
// Relative error is within 2 ulp over the clamped range; inputs below -87
// return exp(-87) (about 1.6e-38) instead of a denormal or zero, which is
// harmless where it is used (decay factors multiplying a state).
#ifndef TB_VEC_MATH_H
#define TB_VEC_MATH_H

#include <stdint.h>
#include <string.h>

static inline float vec_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    // round-to-nearest by the 1.5 * 2^23 trick (kept exact: no -ffast-math)
    float kf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - kf * 0.693359375f;    // ln 2, high part (exact product)
    r = r - kf * -2.12194440e-4f;       // ln 2, low part
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)kf + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

// 1 / (1 + exp(-x)), vectorizable.
static inline float vec_sigmoidf(float x) { return 1.0f / (1.0f + vec_expf(-x)); }

#endif
