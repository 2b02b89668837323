// Fused ("flash") attention for one head and a tile of up to SDC_FLASH_ROWS queries: scores,
// an online softmax and the weighted sum of values, one block of keys at a time, so the
// queries x keys score matrix is never written out (only one block of it, in L1).
//
// Everything is laid out with *queries along the vector lanes* (Q^T, S^T, P^T and O^T):
// - the head dimension d is only ever a loop count, so d = 40 (SD 1.5's 320 / 8) wastes nothing,
//   where a keys-along-lanes matmul would pad 40 to 48 or 64;
// - the row max and row sum of the softmax are lane-wise maxima and sums, no shuffles;
// - K and V are read as broadcast scalars straight from their natural [keys, d] rows.
// Scores are computed in base 2 (the caller's scale times log2(e) is folded into Q), so the
// exponential is 2^x: a rounding, a polynomial and a scalef.
//
// Each tile is computed by one call in a fixed order whatever the thread count; the AVX-512,
// AVX2 and portable paths differ in rounding only.
#include "ckernels.h"

#include <math.h>
#include <stddef.h>

#define BLOCK_KEYS 64  // keys per block: the block's S^T (64 x 48 floats) and V rows stay in L1
static const float log2_e = 1.44269504088896341f;

int64_t sdc_flash_attention_scratch_floats(int64_t d) {
    // Q^T [d][rows], S^T [block][rows], O^T [d][rows], then max, sum and rescale per query.
    return (2 * d + BLOCK_KEYS + 3) * SDC_FLASH_ROWS + 16;
}

// Keys a tile looks at: with a causal mask, none after its last query.
static int64_t keys_needed(int64_t keys, int64_t rows, int64_t causal_first) {
    if (causal_first < 0) return keys;
    const int64_t last = causal_first + rows;
    return last < keys ? last : keys;
}

// x rounded to the nearest bfloat16 (ties to even), kept as a float.
static inline float round_bf16(float x) {
    union { float f; uint32_t u; } v = { x };
    v.u = (v.u + 0x7FFFu + ((v.u >> 16) & 1u)) & 0xFFFF0000u;
    return v.f;
}

// Q^T of the tile, scaled into base 2 (and rounded to bfloat16 for `bf16`); lanes beyond `rows`
// are zero (their results are dropped).
static void pack_queries_transposed(const float *q, int64_t ldq, int64_t rows, int64_t d, float scale, int bf16,
                                    float *qt, int64_t lanes) {
    const float s = scale * log2_e;
    for (int64_t c = 0; c < d; c++)
        for (int64_t i = 0; i < lanes; i++) {
            const float x = i < rows ? q[i * ldq + c] * s : 0.0f;
            qt[c * lanes + i] = bf16 ? round_bf16(x) : x;
        }
}

// --- portable C, 16 lanes at a time (the compiler may vectorise the lane loops) ---

#define PORTABLE_LANES 16

static void flash_lanes_portable(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                 int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                 float *out, int64_t ldo, float *scratch) {
    enum { L = PORTABLE_LANES };
    float *qt = scratch, *s = qt + d * L, *ot = s + BLOCK_KEYS * L, *m = ot + d * L, *l = m + L, *alpha = l + L;
    pack_queries_transposed(q, ldq, rows, d, scale, bf16, qt, L);
    for (int64_t x = 0; x < d * L; x++) ot[x] = 0.0f;
    for (int i = 0; i < L; i++) { m[i] = -INFINITY; l[i] = 0.0f; }
    const int64_t end = keys_needed(keys, rows, causal_first);
    for (int64_t kb = 0; kb < end; kb += BLOCK_KEYS) {
        const int64_t nb = end - kb < BLOCK_KEYS ? end - kb : BLOCK_KEYS;
        float mnew[L];
        for (int i = 0; i < L; i++) mnew[i] = m[i];
        for (int64_t j = 0; j < nb; j++) {
            float acc[L] = { 0 };
            const float *kr = k + (kb + j) * ldk;
            for (int64_t c = 0; c < d; c++)
                for (int i = 0; i < L; i++) acc[i] += kr[c] * qt[c * L + i];
            for (int i = 0; i < L; i++) {
                if (causal_first >= 0 && kb + j > causal_first + i) acc[i] = -INFINITY;
                s[j * L + i] = acc[i];
                mnew[i] = acc[i] > mnew[i] ? acc[i] : mnew[i];
            }
        }
        for (int i = 0; i < L; i++) { alpha[i] = exp2f(m[i] - mnew[i]); m[i] = mnew[i]; l[i] *= alpha[i]; }
        for (int64_t j = 0; j < nb; j++)
            for (int i = 0; i < L; i++) {
                const float e = exp2f(s[j * L + i] - m[i]), p = bf16 ? round_bf16(e) : e;
                s[j * L + i] = p;
                l[i] += p;
            }
        for (int64_t c = 0; c < d; c++) {
            float acc[L];
            for (int i = 0; i < L; i++) acc[i] = ot[c * L + i] * alpha[i];
            for (int64_t j = 0; j < nb; j++) {
                const float vc = v[(kb + j) * ldv + c];
                for (int i = 0; i < L; i++) acc[i] += vc * s[j * L + i];
            }
            for (int i = 0; i < L; i++) ot[c * L + i] = acc[i];
        }
    }
    for (int64_t i = 0; i < rows; i++) {
        const float inv = 1.0f / l[i];
        for (int64_t c = 0; c < d; c++) out[i * ldo + c] = ot[c * L + i] * inv;
    }
}

// A tile in groups of `lanes` queries, each group by `kernel`.
typedef void (*lanes_kernel)(const float *, int64_t, const float *, int64_t, const float *, int64_t, int64_t, int64_t,
                             int64_t, float, int64_t, int, float *, int64_t, float *);

static void flash_in_groups(lanes_kernel kernel, int64_t lanes, const float *q, int64_t ldq, const float *k, int64_t ldk,
                            const float *v, int64_t ldv, int64_t rows, int64_t keys, int64_t d, float scale,
                            int64_t causal_first, int bf16, float *out, int64_t ldo, float *scratch) {
    for (int64_t r = 0; r < rows; r += lanes) {
        const int64_t n = rows - r < lanes ? rows - r : lanes;
        kernel(q + r * ldq, ldq, k, ldk, v, ldv, n, keys, d, scale, causal_first < 0 ? -1 : causal_first + r, bf16,
               out + r * ldo, ldo, scratch);
    }
}

void sdc_flash_attention_f32_portable(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                      int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                      float *out, int64_t ldo, float *scratch) {
    flash_in_groups(flash_lanes_portable, PORTABLE_LANES, q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
}

#if defined(__x86_64__)
#include <immintrin.h>

// 2^f = e^(f ln 2) for |f| <= 1/2: Taylor terms up to degree 6 (relative error about 1.2e-7).
static const float exp2_taylor[7] = { 1.0f, 0.693147180559945f, 0.240226506959101f, 0.0555041086648216f,
                                      0.00961812910762848f, 0.00133335581464284f, 0.000154035303933816f };

// --- AVX-512: 48 queries as three 16-lane vectors ---

#define AVX512 __attribute__((target("avx512f")))
#define LANES512 48

// 2^x for x <= 0. x is clamped at -126 so that no result is subnormal (a subnormal product in the
// value sum costs a microcode assist of about a hundred cycles); -infinity (a masked key) gives
// 2^-126, zeroed by the callers.
AVX512 static inline __m512 exp2_avx512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(exp2_taylor[6]);
    for (int t = 5; t >= 0; t--) p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(exp2_taylor[t]));
    return _mm512_scalef_ps(p, n);
}

// S^T rows of R keys: acc[r][j] = sum_c K[r][c] Q^T[c][16 j ..], stored, and folded into the max.
#define SCORES512(R)                                                                                                   \
    AVX512 static inline void scores512_##R(const float *qt, const float *k, int64_t ldk, int64_t d, float *s,         \
                                            __m512 *vmax) {                                                            \
        __m512 acc[R][3];                                                                                              \
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();                           \
        for (int64_t c = 0; c < d; c++) {                                                                              \
            const __m512 q0 = _mm512_load_ps(qt + c * LANES512), q1 = _mm512_load_ps(qt + c * LANES512 + 16),          \
                         q2 = _mm512_load_ps(qt + c * LANES512 + 32);                                                  \
            for (int r = 0; r < R; r++) {                                                                              \
                const __m512 b = _mm512_set1_ps(k[r * ldk + c]);                                                       \
                acc[r][0] = _mm512_fmadd_ps(b, q0, acc[r][0]);                                                         \
                acc[r][1] = _mm512_fmadd_ps(b, q1, acc[r][1]);                                                         \
                acc[r][2] = _mm512_fmadd_ps(b, q2, acc[r][2]);                                                         \
            }                                                                                                          \
        }                                                                                                              \
        for (int r = 0; r < R; r++)                                                                                    \
            for (int j = 0; j < 3; j++) {                                                                              \
                _mm512_store_ps(s + r * LANES512 + 16 * j, acc[r][j]);                                                 \
                vmax[j] = _mm512_max_ps(vmax[j], acc[r][j]);                                                           \
            }                                                                                                          \
    }
SCORES512(8)
SCORES512(1)

// O^T rows of CH channels: rescaled by alpha, then += sum_j V[j][c] P^T[j][..] over the block.
#define VALUES512(CH)                                                                                                  \
    AVX512 static inline void values512_##CH(const float *p, int64_t nb, const float *v, int64_t ldv, float *ot,        \
                                             const __m512 *alpha) {                                                    \
        __m512 acc[CH][3];                                                                                             \
        for (int c = 0; c < CH; c++)                                                                                   \
            for (int j = 0; j < 3; j++) acc[c][j] = _mm512_mul_ps(_mm512_load_ps(ot + c * LANES512 + 16 * j), alpha[j]); \
        for (int64_t t = 0; t < nb; t++) {                                                                             \
            const __m512 p0 = _mm512_load_ps(p + t * LANES512), p1 = _mm512_load_ps(p + t * LANES512 + 16),            \
                         p2 = _mm512_load_ps(p + t * LANES512 + 32);                                                   \
            for (int c = 0; c < CH; c++) {                                                                             \
                const __m512 b = _mm512_set1_ps(v[t * ldv + c]);                                                       \
                acc[c][0] = _mm512_fmadd_ps(b, p0, acc[c][0]);                                                         \
                acc[c][1] = _mm512_fmadd_ps(b, p1, acc[c][1]);                                                         \
                acc[c][2] = _mm512_fmadd_ps(b, p2, acc[c][2]);                                                         \
            }                                                                                                          \
        }                                                                                                              \
        for (int c = 0; c < CH; c++)                                                                                   \
            for (int j = 0; j < 3; j++) _mm512_store_ps(ot + c * LANES512 + 16 * j, acc[c][j]);                        \
    }
VALUES512(8)
VALUES512(1)

// Scores of masked keys (after query causal_first + lane) become -infinity; the block max is redone.
AVX512 static void mask_future512(float *s, int64_t kb, int64_t nb, int64_t causal_first, const float *m, __m512 *vmax) {
    for (int j = 0; j < 3; j++) vmax[j] = _mm512_load_ps(m + 16 * j);
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int64_t t = 0; t < nb; t++)
        for (int j = 0; j < 3; j++) {
            const __m512i query = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(causal_first + 16 * j)));
            const __mmask16 future = _mm512_cmp_epi32_mask(query, _mm512_set1_epi32((int)(kb + t)), _MM_CMPINT_LT);
            float *row = s + t * LANES512 + 16 * j;
            const __m512 x = _mm512_mask_mov_ps(_mm512_load_ps(row), future, _mm512_set1_ps(-INFINITY));
            _mm512_store_ps(row, x);
            vmax[j] = _mm512_max_ps(vmax[j], x);
        }
}

AVX512 static inline __m512 round_bf16_avx512(__m512 x) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF)));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xFFFF0000u)));
}

// P^T = 2^(S^T - m) in place (rounded to bfloat16 for `bf16`), summed into l; masked keys
// (-infinity) give exactly 0.
AVX512 static inline void exponentiate512(float *s, int64_t nb, const __m512 *m, float *l, int masked, int bf16) {
    __m512 sum[3] = { _mm512_load_ps(l), _mm512_load_ps(l + 16), _mm512_load_ps(l + 32) };
    for (int64_t t = 0; t < nb; t++)
        for (int j = 0; j < 3; j++) {
            float *row = s + t * LANES512 + 16 * j;
            const __m512 x = _mm512_load_ps(row);
            __m512 p = exp2_avx512(_mm512_sub_ps(x, m[j]));
            if (masked) p = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), p);
            if (bf16) p = round_bf16_avx512(p);
            _mm512_store_ps(row, p);
            sum[j] = _mm512_add_ps(sum[j], p);
        }
    for (int j = 0; j < 3; j++) _mm512_store_ps(l + 16 * j, sum[j]);
}

AVX512 static void flash_lanes_avx512(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                      int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                      float *out, int64_t ldo, float *scratch) {
    enum { L = LANES512 };
    // 64-byte aligned parts (the caller's scratch is 64-byte aligned; every part is a multiple of 48 floats).
    float *qt = scratch, *s = qt + d * L, *ot = s + BLOCK_KEYS * L, *m = ot + d * L, *l = m + L;
    pack_queries_transposed(q, ldq, rows, d, scale, bf16, qt, L);
    for (int64_t x = 0; x < d * L; x += 16) _mm512_store_ps(ot + x, _mm512_setzero_ps());
    for (int j = 0; j < 3; j++) {
        _mm512_store_ps(m + 16 * j, _mm512_set1_ps(-INFINITY));
        _mm512_store_ps(l + 16 * j, _mm512_setzero_ps());
    }
    const int64_t end = keys_needed(keys, rows, causal_first);
    for (int64_t kb = 0; kb < end; kb += BLOCK_KEYS) {
        const int64_t nb = end - kb < BLOCK_KEYS ? end - kb : BLOCK_KEYS;
        __m512 vmax[3] = { _mm512_load_ps(m), _mm512_load_ps(m + 16), _mm512_load_ps(m + 32) };
        int64_t t = 0;
        for (; t + 8 <= nb; t += 8) scores512_8(qt, k + (kb + t) * ldk, ldk, d, s + t * L, vmax);
        for (; t < nb; t++) scores512_1(qt, k + (kb + t) * ldk, ldk, d, s + t * L, vmax);
        if (causal_first >= 0) mask_future512(s, kb, nb, causal_first, m, vmax);
        __m512 alpha[3];
        for (int j = 0; j < 3; j++) {
            // The first block's alpha multiplies zeros (m = -infinity gives 2^-126).
            alpha[j] = exp2_avx512(_mm512_sub_ps(_mm512_load_ps(m + 16 * j), vmax[j]));
            _mm512_store_ps(m + 16 * j, vmax[j]);
            _mm512_store_ps(l + 16 * j, _mm512_mul_ps(_mm512_load_ps(l + 16 * j), alpha[j]));
        }
        // Four copies of the loop, each without the tests it does not need.
        if (causal_first >= 0) {
            if (bf16) exponentiate512(s, nb, vmax, l, 1, 1);
            else exponentiate512(s, nb, vmax, l, 1, 0);
        } else {
            if (bf16) exponentiate512(s, nb, vmax, l, 0, 1);
            else exponentiate512(s, nb, vmax, l, 0, 0);
        }
        int64_t c = 0;
        for (; c + 8 <= d; c += 8) values512_8(s, nb, v + kb * ldv + c, ldv, ot + c * L, alpha);
        for (; c < d; c++) values512_1(s, nb, v + kb * ldv + c, ldv, ot + c * L, alpha);
    }
    for (int64_t i = 0; i < rows; i++) {
        const float inv = 1.0f / l[i];
        for (int64_t c = 0; c < d; c++) out[i * ldo + c] = ot[c * L + i] * inv;
    }
}

// --- AVX2 + FMA: 16 queries as two 8-lane vectors (16 registers: 12 accumulators) ---

#define AVX2 __attribute__((target("avx2,fma")))
#define LANES256 16

AVX2 static inline __m256 round_bf16_avx2(__m256 x) {
    const __m256i u = _mm256_castps_si256(x);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF)));
    return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32((int)0xFFFF0000u)));
}

// 2^x for x <= 0; x below -126 (and -infinity) clamps to 2^-126, masked keys are zeroed by the caller.
AVX2 static inline __m256 exp2_avx2(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-126.0f));
    const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_sub_ps(x, n);
    __m256 p = _mm256_set1_ps(exp2_taylor[6]);
    for (int t = 5; t >= 0; t--) p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(exp2_taylor[t]));
    // n >= -126: 2^n is the normal float (n + 127) << 23.
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

#define SCORES256(R)                                                                                                   \
    AVX2 static inline void scores256_##R(const float *qt, const float *k, int64_t ldk, int64_t d, float *s,           \
                                          __m256 *vmax) {                                                              \
        __m256 acc[R][2];                                                                                              \
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();                                       \
        for (int64_t c = 0; c < d; c++) {                                                                              \
            const __m256 q0 = _mm256_load_ps(qt + c * LANES256), q1 = _mm256_load_ps(qt + c * LANES256 + 8);           \
            for (int r = 0; r < R; r++) {                                                                              \
                const __m256 b = _mm256_broadcast_ss(k + r * ldk + c);                                                 \
                acc[r][0] = _mm256_fmadd_ps(b, q0, acc[r][0]);                                                         \
                acc[r][1] = _mm256_fmadd_ps(b, q1, acc[r][1]);                                                         \
            }                                                                                                          \
        }                                                                                                              \
        for (int r = 0; r < R; r++)                                                                                    \
            for (int j = 0; j < 2; j++) {                                                                              \
                _mm256_store_ps(s + r * LANES256 + 8 * j, acc[r][j]);                                                  \
                vmax[j] = _mm256_max_ps(vmax[j], acc[r][j]);                                                           \
            }                                                                                                          \
    }
SCORES256(6)
SCORES256(1)

#define VALUES256(CH)                                                                                                  \
    AVX2 static inline void values256_##CH(const float *p, int64_t nb, const float *v, int64_t ldv, float *ot,          \
                                           const __m256 *alpha) {                                                      \
        __m256 acc[CH][2];                                                                                             \
        for (int c = 0; c < CH; c++)                                                                                   \
            for (int j = 0; j < 2; j++) acc[c][j] = _mm256_mul_ps(_mm256_load_ps(ot + c * LANES256 + 8 * j), alpha[j]); \
        for (int64_t t = 0; t < nb; t++) {                                                                             \
            const __m256 p0 = _mm256_load_ps(p + t * LANES256), p1 = _mm256_load_ps(p + t * LANES256 + 8);             \
            for (int c = 0; c < CH; c++) {                                                                             \
                const __m256 b = _mm256_broadcast_ss(v + t * ldv + c);                                                 \
                acc[c][0] = _mm256_fmadd_ps(b, p0, acc[c][0]);                                                         \
                acc[c][1] = _mm256_fmadd_ps(b, p1, acc[c][1]);                                                         \
            }                                                                                                          \
        }                                                                                                              \
        for (int c = 0; c < CH; c++)                                                                                   \
            for (int j = 0; j < 2; j++) _mm256_store_ps(ot + c * LANES256 + 8 * j, acc[c][j]);                         \
    }
VALUES256(5)
VALUES256(1)

AVX2 static void flash_lanes_avx2(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                  int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                  float *out, int64_t ldo, float *scratch) {
    enum { L = LANES256 };
    float *qt = scratch, *s = qt + d * L, *ot = s + BLOCK_KEYS * L, *m = ot + d * L, *l = m + L;
    pack_queries_transposed(q, ldq, rows, d, scale, bf16, qt, L);
    for (int64_t x = 0; x < d * L; x += 8) _mm256_store_ps(ot + x, _mm256_setzero_ps());
    for (int i = 0; i < L; i++) { m[i] = -INFINITY; l[i] = 0.0f; }
    const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    const int64_t end = keys_needed(keys, rows, causal_first);
    for (int64_t kb = 0; kb < end; kb += BLOCK_KEYS) {
        const int64_t nb = end - kb < BLOCK_KEYS ? end - kb : BLOCK_KEYS;
        __m256 vmax[2] = { _mm256_load_ps(m), _mm256_load_ps(m + 8) };
        int64_t t = 0;
        for (; t + 6 <= nb; t += 6) scores256_6(qt, k + (kb + t) * ldk, ldk, d, s + t * L, vmax);
        for (; t < nb; t++) scores256_1(qt, k + (kb + t) * ldk, ldk, d, s + t * L, vmax);
        if (causal_first >= 0) {
            vmax[0] = _mm256_load_ps(m);
            vmax[1] = _mm256_load_ps(m + 8);
            for (int64_t u = 0; u < nb; u++)
                for (int j = 0; j < 2; j++) {
                    const __m256i query = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(causal_first + 8 * j)));
                    const __m256 future = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(kb + u)), query));
                    float *row = s + u * L + 8 * j;
                    const __m256 x = _mm256_blendv_ps(_mm256_load_ps(row), _mm256_set1_ps(-INFINITY), future);
                    _mm256_store_ps(row, x);
                    vmax[j] = _mm256_max_ps(vmax[j], x);
                }
        }
        __m256 alpha[2], sum[2];
        for (int j = 0; j < 2; j++) {
            alpha[j] = exp2_avx2(_mm256_sub_ps(_mm256_load_ps(m + 8 * j), vmax[j]));
            _mm256_store_ps(m + 8 * j, vmax[j]);
            sum[j] = _mm256_mul_ps(_mm256_load_ps(l + 8 * j), alpha[j]);
        }
        for (int64_t u = 0; u < nb; u++)
            for (int j = 0; j < 2; j++) {
                float *row = s + u * L + 8 * j;
                const __m256 x = _mm256_load_ps(row);
                __m256 p = exp2_avx2(_mm256_sub_ps(x, vmax[j]));
                if (causal_first >= 0) p = _mm256_and_ps(p, _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
                if (bf16) p = round_bf16_avx2(p);
                _mm256_store_ps(row, p);
                sum[j] = _mm256_add_ps(sum[j], p);
            }
        for (int j = 0; j < 2; j++) _mm256_store_ps(l + 8 * j, sum[j]);
        int64_t c = 0;
        for (; c + 5 <= d; c += 5) values256_5(s, nb, v + kb * ldv + c, ldv, ot + c * L, alpha);
        for (; c < d; c++) values256_1(s, nb, v + kb * ldv + c, ldv, ot + c * L, alpha);
    }
    for (int64_t i = 0; i < rows; i++) {
        const float inv = 1.0f / l[i];
        for (int64_t c = 0; c < d; c++) out[i * ldo + c] = ot[c * L + i] * inv;
    }
}

void sdc_flash_attention_f32_avx2(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                  int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                  float *out, int64_t ldo, float *scratch) {
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        flash_in_groups(flash_lanes_avx2, LANES256, q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
    else
        sdc_flash_attention_f32_portable(q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
}
#else
void sdc_flash_attention_f32_avx2(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                  int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                                  float *out, int64_t ldo, float *scratch) {
    sdc_flash_attention_f32_portable(q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
}
#endif

void sdc_flash_attention_f32(const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                             int64_t rows, int64_t keys, int64_t d, float scale, int64_t causal_first, int bf16,
                             float *out, int64_t ldo, float *scratch) {
#if defined(__x86_64__)
    switch (sdc_kernels_level()) {
    case 2:
        flash_in_groups(flash_lanes_avx512, LANES512, q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
        return;
    case 1:
        flash_in_groups(flash_lanes_avx2, LANES256, q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
        return;
    default: break;
    }
#endif
    sdc_flash_attention_f32_portable(q, ldq, k, ldk, v, ldv, rows, keys, d, scale, causal_first, bf16, out, ldo, scratch);
}
