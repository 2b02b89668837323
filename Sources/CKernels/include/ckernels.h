// Hand-written CPU kernels that oneDNN does not offer fast enough (see softmax.c).
#ifndef SDCLUSTER_CKERNELS_H
#define SDCLUSTER_CKERNELS_H

#include <stdint.h>

/// Row-wise softmax of `rows` rows of `length` floats at `scores` (row stride `length`).
/// The probabilities go to `out_f32` (may equal `scores`) or, when `out_bf16` is not NULL,
/// to `out_bf16` as bfloat16 (rounded to nearest even) instead. A score of -infinity (a
/// masked key) gets probability exactly 0.
void sdc_softmax_rows(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16);

/// The same in plain C, whatever the CPU: what `sdc_softmax_rows` runs without AVX2 (exported
/// so that the tests check it on any machine).
void sdc_softmax_rows_portable(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16);

/// The AVX2 + FMA code path (the portable one on CPUs without AVX2), exported for the tests.
void sdc_softmax_rows_avx2(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16);

/// The code path `sdc_softmax_rows` takes: 2 AVX-512, 1 AVX2, 0 plain C (the best the CPU has,
/// at most the allowed level).
int sdc_kernels_level(void);

/// Caps the code paths at `level` (2 AVX-512 (default), 1 AVX2, 0 plain C). The engine caps them
/// where oneDNN's ISA is capped (`--max-isa avx2`), so that a capped class computes the same bits.
void sdc_kernels_set_max_level(int level);

#endif
