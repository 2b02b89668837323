// Hand-written CPU kernels that oneDNN does not offer fast enough (see softmax.c).
#ifndef SDCLUSTER_CKERNELS_H
#define SDCLUSTER_CKERNELS_H

#include <stdint.h>

/// Row-wise softmax of `rows` rows of `length` floats at `scores` (row stride `length`).
/// The probabilities go to `out_f32` (may equal `scores`) or, when `out_bf16` is not NULL,
/// to `out_bf16` as bfloat16 (rounded to nearest even) instead. A score of -infinity (a
/// masked key) gets probability exactly 0.
void sdc_softmax_rows(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16);

/// The same in plain C, whatever the CPU: what `sdc_softmax_rows` runs without AVX-512
/// (exported so that the tests check it on any machine).
void sdc_softmax_rows_portable(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16);

/// 1 when the AVX-512 code path is in use: the CPU has it and it is allowed.
int sdc_softmax_uses_avx512(void);

/// Allows (1, the default where the CPU has AVX-512) or forbids (0) the AVX-512 code paths. The
/// engine forbids them when oneDNN's ISA is capped below AVX-512 (`--max-isa avx2`).
void sdc_kernels_allow_avx512(int allowed);

#endif
