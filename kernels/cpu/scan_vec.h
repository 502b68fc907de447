// scan_vec.h: one block of SCAN_CB floats as one value, for the selective scan.
//
// GCC's and Clang's vector extension: a scan_vec is one AVX-512 register (two
// AVX2 ones, four SSE ones; plain scalars elsewhere), and the compiler keeps
// it in registers across loops. Written instead as float[16] arrays under
// `omp simd`, the scan's sums over the state dimension were kept in memory
// (every step waiting on a store and a reload), and whether softplus or
// sigmoid vectorised at all depended on what else shared their loop.
//
// The math below is vec_math.h's, operation for operation, on whole vectors
// (vec_expf: Cephes reduction and degree-6 polynomial; vec_logf: mantissa and
// exponent split, degree-8 polynomial), so a scan_vec lane gives what
// vec_expf and friends give for the same input under the same contraction.
#ifndef TB_SCAN_VEC_H
#define TB_SCAN_VEC_H

#include <stdint.h>
#include <string.h>

#define SCAN_CB 16  // channels per block: SIMD lanes across channels

typedef float scan_vec __attribute__((vector_size(SCAN_CB * sizeof(float))));
// The same, for pointers into buffers that may be only float-aligned.
typedef scan_vec scan_vec_u __attribute__((aligned(sizeof(float))));
typedef int32_t scan_ivec __attribute__((vector_size(SCAN_CB * sizeof(int32_t))));

static inline scan_vec vload(const float *x) {
    scan_vec v;
    memcpy(&v, x, sizeof v);
    return v;
}
static inline void vstore(float *x, scan_vec v) { memcpy(x, &v, sizeof v); }
static inline scan_vec vsplat(float x) { return (scan_vec){0} + x; }
// mask lanes (-1 or 0, as vector comparisons give) pick a, others b
static inline scan_vec vselect(scan_ivec mask, scan_vec a, scan_vec b) {
    return (scan_vec)(((scan_ivec)a & mask) | ((scan_ivec)b & ~mask));
}

static inline scan_vec vexp(scan_vec x) {
    x = vselect(x < vsplat(-87.0f), vsplat(-87.0f), x);
    x = vselect(x > vsplat(88.0f), vsplat(88.0f), x);
    scan_vec kf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    scan_vec r = x - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    scan_vec p = vsplat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    scan_vec y = p * r * r + r + 1.0f;
    scan_ivec bits = (__builtin_convertvector(kf, scan_ivec) + 127) << 23;
    return y * (scan_vec)bits;
}

static inline scan_vec vlog(scan_vec x) {
    scan_ivec bits = (scan_ivec)x;
    scan_ivec e = ((bits >> 23) & 0xff) - 126;
    bits = (bits & 0x807fffff) | 0x3f000000;
    scan_vec m = (scan_vec)bits;
    scan_vec small = (scan_vec)((m < vsplat(0.707106781186547524f)) & (scan_ivec)vsplat(1.0f));
    scan_vec ef = __builtin_convertvector(e, scan_vec) - small;
    m = m + small * m - 1.0f;
    scan_vec z = m * m;
    scan_vec y = vsplat(7.0376836292e-2f);
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += ef * -2.12194440e-4f;
    y += -0.5f * z;
    return m + y + ef * 0.693359375f;
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), as vec_softplusf
static inline scan_vec vsoftplus(scan_vec x) {
    scan_vec ax = (scan_vec)((scan_ivec)x & 0x7fffffff);
    scan_vec t = vexp(-ax), u = 1.0f + t;
    return 0.5f * (x + ax) + (vlog(u) - ((u - 1.0f) - t) / u);
}

static inline scan_vec vsigmoid(scan_vec x) { return 1.0f / (1.0f + vexp(-x)); }

// out[i] = the sum of v[i]'s lanes, for 16 vectors at once: four rounds of
// pairwise shuffles and adds (15 adds) instead of 16 separate horizontal sums
// (64). The order of the additions is fixed.
#if SCAN_CB == 16 && (defined(__clang__) || __GNUC__ >= 12)
#define SCAN_HAVE_SUM16 1
static inline scan_vec vsum16(const scan_vec v[16]) {
    scan_vec r1[8], r2[4], r3[2];
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
#define SCAN_HAVE_SUM16 0
#endif

// The sum of one vector's lanes, in a fixed order.
static inline float vsum(scan_vec v) {
    float x[SCAN_CB], s = 0.0f;
    vstore(x, v);
    for (int j = 0; j < SCAN_CB; j++) s += x[j];
    return s;
}

#endif
