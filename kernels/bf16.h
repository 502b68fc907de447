// bf16.h: fp32 <-> bfloat16, the conversion both backends' bf16 GEMMs use on
// the host: the CPU backend's operands (kernels/cpu/blas.c) and the SIMT
// emulation's __float2bfloat16 (emu/simt_emu.h), so that the emulated CUDA
// path rounds exactly as a GPU's cvt.rn.bf16.f32 does and exactly as the CPU
// reference does. Plain C, also compiled as C++.
//
// bfloat16 is the top 16 bits of an fp32: sign, the 8-bit exponent, 7
// mantissa bits. Rounding to nearest, ties to even: add 0x7fff plus the
// lowest kept bit, then truncate. Correct for every finite input, subnormals
// included (they round like any other mantissa), and an overflow past the
// largest bf16 becomes infinity, as IEEE rounding does. NaN would round into
// infinity that way, so it is kept a (quiet) NaN instead.
#ifndef TB_BF16_H
#define TB_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);  // NaN, quieted
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#endif
