// vec16.h: 16 floats as one value, for the selective scan and SiLU.
//
// GCC's and Clang's vector extension: a vec16 is one AVX-512 register (two
// AVX2 ones, four SSE ones; plain scalars elsewhere), and the compiler keeps
// it in registers across loops. Written instead as float[16] arrays under
// `omp simd`, the scan's sums over the state dimension were kept in memory
// (every step waiting on a store and a reload), and whether softplus or
// sigmoid vectorised at all depended on what else shared their loop.
// Auto-vectorised, x * vec_sigmoidf(x) also went wrong: GCC if-converts the
// clamps of vec_expf into x * (a constant near 1e-38) computed on every lane,
// and those denormal products take a microcode assist each (SiLU 7x slower).
// Here every select is an explicit bitwise blend of already-safe values.
//
// The math below is vec_math.h's, operation for operation, on whole vectors,
// with its constants and polynomials (vec_expf: Cephes reduction and degree-6
// polynomial; vec_logf: mantissa and exponent split, degree-8 polynomial), so
// a vec16 lane gives what vec_expf and friends give for the same input under
// the same contraction.
#ifndef TB_VEC16_H
#define TB_VEC16_H

#include <stdint.h>
#include <string.h>

#include "vec_math.h"

#define VEC16_LANES 16

typedef float vec16 __attribute__((vector_size(VEC16_LANES * sizeof(float))));
// The same, for pointers into buffers that may be only float-aligned.
typedef vec16 vec16_u __attribute__((aligned(sizeof(float))));
typedef int32_t ivec16 __attribute__((vector_size(VEC16_LANES * sizeof(int32_t))));

static inline vec16 vload(const float *x) {
    vec16 v;
    memcpy(&v, x, sizeof v);
    return v;
}
static inline void vstore(float *x, vec16 v) { memcpy(x, &v, sizeof v); }
static inline vec16 vsplat(float x) { return (vec16){0} + x; }
// mask lanes (-1 or 0, as vector comparisons give) pick a, others b
static inline vec16 vselect(ivec16 mask, vec16 a, vec16 b) {
    return (vec16)(((ivec16)a & mask) | ((ivec16)b & ~mask));
}

static inline vec16 vexp(vec16 x) {
    x = vselect(x < vsplat(TB_EXP_LO), vsplat(TB_EXP_LO), x);
    x = vselect(x > vsplat(TB_EXP_HI), vsplat(TB_EXP_HI), x);
    vec16 kf = (x * TB_LOG2E + TB_ROUND_MAGIC) - TB_ROUND_MAGIC;
    vec16 r = x - kf * TB_LN2_HI;
    r = r - kf * TB_LN2_LO;
    vec16 p = TB_EXPF_POLY(r);
    vec16 y = p * r * r + r + 1.0f;
    ivec16 bits = (__builtin_convertvector(kf, ivec16) + 127) << 23;
    return y * (vec16)bits;
}

static inline vec16 vlog(vec16 x) {
    ivec16 bits = (ivec16)x;
    ivec16 e = ((bits >> 23) & 0xff) - 126;
    bits = (bits & 0x807fffff) | 0x3f000000;
    vec16 m = (vec16)bits;
    vec16 small = (vec16)((m < vsplat(TB_SQRT_HALF)) & (ivec16)vsplat(1.0f));
    vec16 ef = __builtin_convertvector(e, vec16) - small;
    m = m + small * m - 1.0f;
    vec16 z = m * m;
    vec16 y = TB_LOGF_POLY(m);
    y = y * m * z;
    y += ef * TB_LN2_LO;
    y += -0.5f * z;
    return m + y + ef * TB_LN2_HI;
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), as vec_softplusf
static inline vec16 vsoftplus(vec16 x) {
    vec16 ax = (vec16)((ivec16)x & 0x7fffffff);
    vec16 t = vexp(-ax), u = 1.0f + t;
    return 0.5f * (x + ax) + (vlog(u) - ((u - 1.0f) - t) / u);
}

static inline vec16 vsigmoid(vec16 x) { return 1.0f / (1.0f + vexp(-x)); }

// out[i] = the sum of v[i]'s lanes, for 16 vectors at once: four rounds of
// pairwise shuffles and adds (15 adds) instead of 16 separate horizontal sums
// (64). The order of the additions is fixed.
#if VEC16_LANES == 16 && (defined(__clang__) || __GNUC__ >= 12)
#define VEC16_HAVE_SUM16 1
static inline vec16 vsum16(const vec16 v[16]) {
    vec16 r1[8], r2[4], r3[2];
    for (int k = 0; k < 8; k++)  // lanes 0-7: v[2k]'s halves added, 8-15: v[2k+1]'s
        r1[k] = __builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17,
                                        18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(v[2 * k], v[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24,
                                        25, 26, 27, 28, 29, 30, 31);
    for (int k = 0; k < 4; k++)  // 4 lanes for each of v[4k .. 4k+3]
        r2[k] = __builtin_shufflevector(r1[2 * k], r1[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16,
                                        17, 18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(r1[2 * k], r1[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20,
                                        21, 22, 23, 28, 29, 30, 31);
    for (int k = 0; k < 2; k++)  // 2 lanes for each of v[8k .. 8k+7]
        r3[k] = __builtin_shufflevector(r2[2 * k], r2[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16,
                                        17, 20, 21, 24, 25, 28, 29) +
                __builtin_shufflevector(r2[2 * k], r2[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18,
                                        19, 22, 23, 26, 27, 30, 31);
    return __builtin_shufflevector(r3[0], r3[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                   26, 28, 30) +
           __builtin_shufflevector(r3[0], r3[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25,
                                   27, 29, 31);
}
#else
#define VEC16_HAVE_SUM16 0
#endif

// The sum of one vector's lanes, in a fixed order.
static inline float vsum(vec16 v) {
    float x[VEC16_LANES], s = 0.0f;
    vstore(x, v);
    for (int j = 0; j < VEC16_LANES; j++) s += x[j];
    return s;
}

#endif
