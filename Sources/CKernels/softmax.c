// Softmax over attention scores. oneDNN 2.6's softmax ran at about one element per three
// cycles here, as slow as the score matmul it follows; this one keeps each row in registers
// and L1 (max, exp+sum, scale) and uses AVX-512 or AVX2 where the CPU has them, chosen at run
// time so the binary still runs on any x86-64 CPU.
#include "ckernels.h"

#include <math.h>
#include <stddef.h>

static inline uint16_t to_bf16(float x) {
    union { float f; uint32_t u; } v = { x };
    return (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);
}

static void softmax_rows_generic(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = scores + r * length;
        float m = -INFINITY;
        for (int64_t j = 0; j < length; j++) m = row[j] > m ? row[j] : m;
        float *dst = out_f32 ? out_f32 + r * length : row;
        double sum = 0;
        for (int64_t j = 0; j < length; j++) {
            float e = row[j] == -INFINITY ? 0.0f : expf(row[j] - m);
            row[j] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        if (out_bf16) {
            for (int64_t j = 0; j < length; j++) out_bf16[r * length + j] = to_bf16(row[j] * inv);
        } else {
            for (int64_t j = 0; j < length; j++) dst[j] = row[j] * inv;
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

// e^x for x <= 0, in both vector widths: x = n ln2 + r with |r| <= ln2/2 (ln2 split in a high
// and a low part), e^r = 1 + r + r^2 (1/2 + r/6 + ... + r^4/720) by Horner's rule (relative
// error about 2e-7), then scaled by 2^n. x is clamped at -87 (2^n stays normal); -infinity (a
// masked key) gives exactly 0.
static const float exp_log2e = 1.44269504088896341f, exp_ln2_high = 0.693359375f, exp_ln2_low = -2.12194440e-4f;
static const float exp_taylor[5] = { 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f };

AVX512 static inline __m512 exp_nonpositive(__m512 x) {
    const __mmask16 masked = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(exp_log2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(exp_ln2_low), _mm512_fnmadd_ps(n, _mm512_set1_ps(exp_ln2_high), x));
    __m512 p = _mm512_set1_ps(exp_taylor[0]);
    for (int k = 1; k < 5; k++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(exp_taylor[k]));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps((__mmask16)~masked, _mm512_scalef_ps(p, n));
}

AVX512 static inline __m256i to_bf16_x16(__m512 x) {
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16));
}

AVX512 static void softmax_rows_avx512(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = scores + r * length;
        const int64_t full = length & ~(int64_t)15;
        const __mmask16 tail = (__mmask16)((1u << (length - full)) - 1u);
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (int64_t j = 0; j < full; j += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(row + j));
        if (tail) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, row + full));
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 vsum = _mm512_setzero_ps();
        for (int64_t j = 0; j < full; j += 16) {
            const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + j), m));
            _mm512_storeu_ps(row + j, e);
            vsum = _mm512_add_ps(vsum, e);
        }
        if (tail) {
            const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail, row + full), m));
            _mm512_mask_storeu_ps(row + full, tail, e);
            vsum = _mm512_add_ps(vsum, e);
        }
        const float inv_scalar = 1.0f / _mm512_reduce_add_ps(vsum);
        const __m512 inv = _mm512_set1_ps(inv_scalar);
        if (out_bf16) {
            uint16_t *dst = out_bf16 + r * length;
            for (int64_t j = 0; j < full; j += 16)
                _mm256_storeu_si256((__m256i *)(dst + j), to_bf16_x16(_mm512_mul_ps(_mm512_loadu_ps(row + j), inv)));
            for (int64_t j = full; j < length; j++) dst[j] = to_bf16(row[j] * inv_scalar);
        } else {
            float *dst = out_f32 ? out_f32 + r * length : row;
            for (int64_t j = 0; j < full; j += 16) _mm512_storeu_ps(dst + j, _mm512_mul_ps(_mm512_loadu_ps(row + j), inv));
            if (tail) _mm512_mask_storeu_ps(dst + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, row + full), inv));
        }
    }
}

#define AVX2 __attribute__((target("avx2,fma")))

// The same e^x in 8 lanes; 2^n is built in the exponent bits (AVX2 has no scalef).
AVX2 static inline __m256 exp_nonpositive_avx2(__m256 x) {
    const __m256 masked = _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(exp_log2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(exp_ln2_low), _mm256_fnmadd_ps(n, _mm256_set1_ps(exp_ln2_high), x));
    __m256 p = _mm256_set1_ps(exp_taylor[0]);
    for (int k = 1; k < 5; k++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_taylor[k]));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // n >= -126 here (x >= -87), so 2^n is a normal float: (n + 127) << 23.
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(masked, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

AVX2 static inline float hmax_avx2(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

AVX2 static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// Rows in 8-lane blocks; the tail of a row (length % 8) in scalar code with the same exp.
AVX2 static void softmax_rows_avx2(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = scores + r * length;
        const int64_t full = length & ~(int64_t)7;
        __m256 vmax = _mm256_set1_ps(-INFINITY);
        for (int64_t j = 0; j < full; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(row + j));
        float m = hmax_avx2(vmax);
        for (int64_t j = full; j < length; j++) m = row[j] > m ? row[j] : m;
        const __m256 vm = _mm256_set1_ps(m);
        __m256 vsum = _mm256_setzero_ps();
        for (int64_t j = 0; j < full; j += 8) {
            const __m256 e = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm));
            _mm256_storeu_ps(row + j, e);
            vsum = _mm256_add_ps(vsum, e);
        }
        float sum = hsum_avx2(vsum);
        if (full < length) {
            float tail[8];
            for (int64_t j = 0; j < 8; j++) tail[j] = full + j < length ? row[full + j] - m : -INFINITY;
            _mm256_storeu_ps(tail, exp_nonpositive_avx2(_mm256_loadu_ps(tail)));
            for (int64_t j = full; j < length; j++) { row[j] = tail[j - full]; sum += tail[j - full]; }
        }
        const float inv_scalar = 1.0f / sum;
        const __m256 inv = _mm256_set1_ps(inv_scalar);
        if (out_bf16) {
            uint16_t *dst = out_bf16 + r * length;
            for (int64_t j = 0; j < length; j++) dst[j] = to_bf16(row[j] * inv_scalar);
        } else {
            float *dst = out_f32 ? out_f32 + r * length : row;
            for (int64_t j = 0; j < full; j += 8) _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
            for (int64_t j = full; j < length; j++) dst[j] = row[j] * inv_scalar;
        }
    }
}

// The best code path the CPU has (2 AVX-512, 1 AVX2 with FMA, 0 plain C), and the highest one
// allowed: the engine lowers it to follow oneDNN's ISA cap, so that every machine of a capped
// class computes the same bits.
static int cpu_level(void) {
    static int level = -1;
    if (level < 0) level = __builtin_cpu_supports("avx512f") ? 2 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    return level;
}
static int max_level = 2;

void sdc_kernels_set_max_level(int level) { max_level = level; }

int sdc_kernels_level(void) { return cpu_level() < max_level ? cpu_level() : max_level; }

void sdc_softmax_rows_avx2(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
    if (cpu_level() >= 1) softmax_rows_avx2(scores, rows, length, out_f32, out_bf16);
    else softmax_rows_generic(scores, rows, length, out_f32, out_bf16);
}
#else
void sdc_kernels_set_max_level(int level) { (void)level; }
int sdc_kernels_level(void) { return 0; }
void sdc_softmax_rows_avx2(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
    softmax_rows_generic(scores, rows, length, out_f32, out_bf16);
}
#endif

void sdc_softmax_rows_portable(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
    softmax_rows_generic(scores, rows, length, out_f32, out_bf16);
}

void sdc_softmax_rows(float *scores, int64_t rows, int64_t length, float *out_f32, uint16_t *out_bf16) {
#if defined(__x86_64__)
    switch (sdc_kernels_level()) {
    case 2: softmax_rows_avx512(scores, rows, length, out_f32, out_bf16); return;
    case 1: softmax_rows_avx2(scores, rows, length, out_f32, out_bf16); return;
    default: break;
    }
#endif
    softmax_rows_generic(scores, rows, length, out_f32, out_bf16);
}
