// Hand-written CPU kernels that oneDNN does not offer fast enough (softmax.c, flash_attention.c).
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

/// Queries per call of `sdc_flash_attention_f32` at most (a tile).
#define SDC_FLASH_ROWS 48

/// Floats of 64-byte-aligned scratch one `sdc_flash_attention_f32` call needs for head size `d`.
int64_t sdc_flash_attention_scratch_floats(int64_t d);

/// Fused attention of one head for `rows` (1...SDC_FLASH_ROWS) queries: out = softmax(scale Q K^T) V
/// over `keys` keys, without materialising the scores (see flash_attention.c). Q, K, V and out are
/// row-major [rows | keys, d] with row strides ldq, ldk, ldv, ldo. `causal_first` >= 0 masks the
/// keys after each query, the tile's first query being number `causal_first`; -1: no mask.
/// `bf16` != 0 rounds the scaled queries and the probabilities to bfloat16 (the caller rounds K
/// and V), products and sums staying fp32: `--precision bf16`'s rounding points. The code path
/// follows `sdc_kernels_level()`.
void sdc_flash_attention_f32(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                             int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                             float *out, int64_t ldo, float *scratch);

/// The same in plain C whatever the CPU, and the AVX2 + FMA path (portable without AVX2), for the tests.
void sdc_flash_attention_f32_portable(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                      int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                      float *out, int64_t ldo, float *scratch);
void sdc_flash_attention_f32_avx2(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                  int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                  float *out, int64_t ldo, float *scratch);

/// AMX (bf16 tiles) path of the fused attention for `--precision bf16` (flash_attention_amx.c):
/// whether this CPU and process may use it (asks Linux for the tile state once).
int sdc_flash_attention_amx_available(void);

/// bfloat16 elements of each of the two blocks `sdc_flash_attention_amx_pack_head` writes.
int64_t sdc_flash_attention_amx_head_elements(int64_t keys, int64_t d);

/// One head's K ([keys, d], row stride ldk) and V as the AMX path reads them: K rounded to
/// bfloat16 and zero padded, V transposed (see flash_attention_amx.c).
void sdc_flash_attention_amx_pack_head(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t keys, int64_t d,
                                       uint16_t *kp, uint16_t *vt);

/// Bytes of scratch one `sdc_flash_attention_bf16_amx` call needs (any alignment).
int64_t sdc_flash_attention_amx_scratch_bytes(int64_t d);

/// Queries per call of `sdc_flash_attention_bf16_amx` at most.
#define SDC_FLASH_AMX_ROWS 32

/// `sdc_flash_attention_f32` with `bf16` set, on AMX, over a head packed by
/// `sdc_flash_attention_amx_pack_head`: Q and the probabilities are rounded to bfloat16, the
/// products accumulate in fp32. Only when `sdc_flash_attention_amx_available()`.
void sdc_flash_attention_bf16_amx(const float *q, int64_t ldq, const uint16_t *kp, const uint16_t *vt, int64_t rows,
                                  int64_t keys, int64_t d, float scale, int64_t causal_first, float *out, int64_t ldo,
                                  void *scratch);

/// `n` floats rounded to bfloat16 (nearest, ties to even; NaN stays a quiet NaN) into `dst`:
/// the same bits on every code path (bfloat16.c), the widest vectors `sdc_kernels_level()` allows.
void sdc_float_to_bf16(const float *src, uint16_t *dst, int64_t n);

/// The same in plain C whatever the CPU, for the tests.
void sdc_float_to_bf16_portable(const float *src, uint16_t *dst, int64_t n);

#endif
