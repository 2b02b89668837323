// Float to bfloat16 rounding (nearest, ties to even; NaN stays NaN) for whole arrays: every bf16
// layer's input is rounded this way before oneDNN sees it. Integer arithmetic only, so every
// code path gives the same bits as the scalar `BFloat16.bits` in Swift; the paths differ in
// vector width alone (the compiler vectorises the one branch-free loop for each target).
#include "ckernels.h"

#include <string.h>

static inline uint16_t bf16_of(uint32_t b) {
    const uint32_t rounded = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (b >> 16) | 0x40u;
    return (uint16_t)((b & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}

#define CONVERT_LOOP                                   \
    for (int64_t i = 0; i < n; i++) {                  \
        uint32_t b;                                    \
        memcpy(&b, src + i, sizeof b);                 \
        dst[i] = bf16_of(b);                           \
    }

void sdc_float_to_bf16_portable(const float *src, uint16_t *dst, int64_t n) { CONVERT_LOOP }

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void convert_avx512(const float *src, uint16_t *dst, int64_t n) { CONVERT_LOOP }
__attribute__((target("avx2"))) static void convert_avx2(const float *src, uint16_t *dst, int64_t n) { CONVERT_LOOP }

void sdc_float_to_bf16(const float *src, uint16_t *dst, int64_t n) {
    switch (sdc_kernels_level()) {
    case 2: convert_avx512(src, dst, n); break;
    case 1: convert_avx2(src, dst, n); break;
    default: sdc_float_to_bf16_portable(src, dst, n);
    }
}
#else
void sdc_float_to_bf16(const float *src, uint16_t *dst, int64_t n) { sdc_float_to_bf16_portable(src, dst, n); }
#endif
