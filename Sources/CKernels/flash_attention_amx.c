// The fused attention of flash_attention.c for `--precision bf16` on AMX (Sapphire Rapids and
// later): the two products run as bf16 tile dot products (TDPBF16PS, fp32 accumulation), the
// online softmax in AVX-512 between them, 32 queries and blocks of 64 keys per step.
//
// Layouts (bf16 unless said), with queries again along the columns:
// - K: [keys rounded up to 32][d rounded up to 32], zero padded (A tiles of 16 keys x 32 channels);
// - Q^T in pairs: [d/2 rounded up to 16][32 queries][2] (B tiles of 32 channels x 16 queries);
// - S^T: [64 keys][32 queries] fp32 (C tiles stored for the softmax);
// - P^T in pairs: [32 key pairs][32 queries][2] (B tiles of 32 keys x 16 queries);
// - V^T: [d rounded up to 16][keys rounded up to 32] (A tiles of 16 channels x 32 keys);
// - O^T: [d rounded up to 16][32 queries] fp32 (C tiles, loaded and stored per block).
// Padded keys are masked like causal ones; padded queries and channels are dropped at the end.
#include "ckernels.h"

#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16")))
#define ROWS 32
#define BLOCK 64

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

int sdc_flash_attention_amx_available(void) {
    static int available = -1;
    if (available < 0) {
        // Linux hands out AMX tile state only to processes that ask (ARCH_REQ_XCOMP_PERM, XTILEDATA).
        available = __builtin_cpu_supports("amx-bf16") && __builtin_cpu_supports("amx-tile") &&
                    __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                    syscall(SYS_arch_prctl, 0x1023, 18) == 0;
    }
    return available;
}

int64_t sdc_flash_attention_amx_head_elements(int64_t keys, int64_t d) {
    const int64_t k = round_up(keys, 32) * round_up(d, 32), vt = round_up(d, 16) * round_up(keys, 32);
    return k > vt ? k : vt;
}

static inline uint16_t bf16_bits(float x) {
    union { float f; uint32_t u; } v = { x };
    return (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);
}

void sdc_flash_attention_amx_pack_head(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t keys, int64_t d,
                                       uint16_t *kp, uint16_t *vt) {
    const int64_t kpad = round_up(keys, 32), d32 = round_up(d, 32), d16 = round_up(d, 16);
    for (int64_t j = 0; j < kpad; j++)
        for (int64_t c = 0; c < d32; c++) kp[j * d32 + c] = j < keys && c < d ? bf16_bits(k[j * ldk + c]) : 0;
    for (int64_t c = 0; c < d16; c++)
        for (int64_t j = 0; j < kpad; j++) vt[c * kpad + j] = j < keys && c < d ? bf16_bits(v[j * ldv + c]) : 0;
}

int64_t sdc_flash_attention_amx_scratch_bytes(int64_t d) {
    const int64_t d32 = round_up(d, 32), d16 = round_up(d, 16);
    return 64 /* tile config */ + d32 * ROWS * 2 /* Q^T */ + BLOCK * ROWS * 4 /* S^T */ + BLOCK * ROWS * 2 /* P^T */ +
           d16 * ROWS * 4 /* O^T */ + 2 * ROWS * 4 /* max, sum */ + 64;
}

// 2^x as in flash_attention.c (clamped at -126: no subnormal results; masked keys are zeroed by the caller).
AMX static inline __m512 exp2_amx(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    static const float taylor[7] = { 1.0f, 0.693147180559945f, 0.240226506959101f, 0.0555041086648216f,
                                     0.00961812910762848f, 0.00133335581464284f, 0.000154035303933816f };
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(taylor[6]);
    for (int t = 5; t >= 0; t--) p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(taylor[t]));
    return _mm512_scalef_ps(p, n);
}

// All tiles 16 rows x 64 bytes: tmm0-1 accumulators, tmm2 A, tmm3-4 B.
AMX static void configure_tiles(uint8_t *config) {
    for (int i = 0; i < 64; i++) config[i] = 0;
    config[0] = 1;  // palette 1
    for (int t = 0; t < 5; t++) {
        config[16 + 2 * t] = 64;  // bytes per row
        config[48 + t] = 16;      // rows
    }
    _tile_loadconfig(config);
}

// Keys of the block that query `first + lane` may not see: padding (>= keys) or, causally, later ones.
AMX static void mask_block(float *s, int64_t kb, int64_t nbp, int64_t keys, int64_t causal_first) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int64_t t = 0; t < nbp; t++)
        for (int j = 0; j < 2; j++) {
            __mmask16 hidden = kb + t >= keys ? (__mmask16)0xFFFF : 0;
            if (causal_first >= 0) {
                const __m512i query = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(causal_first + 16 * j)));
                hidden |= _mm512_cmp_epi32_mask(query, _mm512_set1_epi32((int)(kb + t)), _MM_CMPINT_LT);
            }
            float *row = s + t * ROWS + 16 * j;
            _mm512_store_ps(row, _mm512_mask_mov_ps(_mm512_load_ps(row), hidden, _mm512_set1_ps(-INFINITY)));
        }
}

// The online softmax step of one block: new max, rescale of sum and O^T, P^T in bf16 pairs.
AMX static void softmax_block(const float *s, int64_t nbp, int masked, float *m, float *l, float *ot, int64_t d16, uint16_t *p) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int j = 0; j < 2; j++) {
        const __m512 old = _mm512_load_ps(m + 16 * j);
        __m512 mx = old;
        for (int64_t t = 0; t < nbp; t++) mx = _mm512_max_ps(mx, _mm512_load_ps(s + t * ROWS + 16 * j));
        // The first block's alpha multiplies zeros (m = -infinity gives 2^-126).
        const __m512 alpha = exp2_amx(_mm512_sub_ps(old, mx));
        _mm512_store_ps(m + 16 * j, mx);
        __m512 sum = _mm512_mul_ps(_mm512_load_ps(l + 16 * j), alpha);
        for (int64_t c = 0; c < d16; c++) {
            float *o = ot + c * ROWS + 16 * j;
            _mm512_store_ps(o, _mm512_mul_ps(_mm512_load_ps(o), alpha));
        }
        for (int64_t t = 0; t < nbp; t += 2) {
            const __m512 xa = _mm512_load_ps(s + t * ROWS + 16 * j), xb = _mm512_load_ps(s + (t + 1) * ROWS + 16 * j);
            __m512 pa = exp2_amx(_mm512_sub_ps(xa, mx)), pb = exp2_amx(_mm512_sub_ps(xb, mx));
            if (masked) {
                pa = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(xa, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), pa);
                pb = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(xb, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), pb);
            }
            // Both rounded to bf16 (nearest even), then interleaved into (key t, key t + 1) pairs.
            const __m512i pair = _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(pb, pa));
            _mm512_store_si512((__m512i *)(p + t * ROWS + 32 * j), pair);
            // The sum of the rounded weights, so that they are normalised exactly.
            const __m512i bits = pair;
            const __m512 ra = _mm512_castsi512_ps(_mm512_slli_epi32(bits, 16));
            const __m512 rb = _mm512_castsi512_ps(_mm512_and_si512(bits, _mm512_set1_epi32((int)0xFFFF0000u)));
            sum = _mm512_add_ps(sum, _mm512_add_ps(ra, rb));
        }
        _mm512_store_ps(l + 16 * j, sum);
    }
}

AMX static void flash_amx(const float *q, int64_t ldq, const uint16_t *kp, const uint16_t *vt, int64_t rows, int64_t keys,
                          int64_t d, float scale, int64_t causal_first, float *out, int64_t ldo, uint8_t *scratch) {
    const int64_t d32 = round_up(d, 32), d16 = round_up(d, 16), kpad = round_up(keys, 32);
    uint8_t *config = scratch;
    uint16_t *qv = (uint16_t *)(scratch + 64);
    float *s = (float *)(qv + d32 * ROWS);
    uint16_t *p = (uint16_t *)(s + BLOCK * ROWS);
    float *ot = (float *)(p + BLOCK * ROWS);
    float *m = ot + d16 * ROWS, *l = m + ROWS;
    configure_tiles(config);
    // Q^T in channel pairs, scaled into base 2 and rounded; padded queries and channels are zero.
    const float qs = scale * 1.44269504088896341f;
    for (int64_t c = 0; c < d32; c++)
        for (int64_t i = 0; i < ROWS; i++)
            qv[((c >> 1) * ROWS + i) * 2 + (c & 1)] = i < rows && c < d ? bf16_bits(q[i * ldq + c] * qs) : 0;
    for (int64_t x = 0; x < d16 * ROWS; x += 16) _mm512_store_ps(ot + x, _mm512_setzero_ps());
    for (int j = 0; j < ROWS; j += 16) {
        _mm512_store_ps(m + j, _mm512_set1_ps(-INFINITY));
        _mm512_store_ps(l + j, _mm512_setzero_ps());
    }
    int64_t end = keys;
    if (causal_first >= 0 && causal_first + rows < end) end = causal_first + rows;
    for (int64_t kb = 0; kb < end; kb += BLOCK) {
        const int64_t nb = end - kb < BLOCK ? end - kb : BLOCK, nbp = round_up(nb, 32);
        // S^T = K Q^T, 16 keys at a time, both query halves.
        for (int64_t t = 0; t < nbp; t += 16) {
            _tile_zero(0);
            _tile_zero(1);
            for (int64_t c = 0; c < d32; c += 32) {
                _tile_loadd(2, kp + (kb + t) * d32 + c, d32 * 2);
                _tile_loadd(3, qv + (c / 2) * ROWS * 2, ROWS * 4);
                _tile_loadd(4, qv + (c / 2) * ROWS * 2 + 32, ROWS * 4);
                _tile_dpbf16ps(0, 2, 3);
                _tile_dpbf16ps(1, 2, 4);
            }
            _tile_stored(0, s + t * ROWS, ROWS * 4);
            _tile_stored(1, s + t * ROWS + 16, ROWS * 4);
        }
        const int masked = causal_first >= 0 || kb + nbp > keys;
        if (masked) mask_block(s, kb, nbp, keys, causal_first);
        softmax_block(s, nbp, masked, m, l, ot, d16, p);
        // O^T += V^T P^T, 16 channels at a time, both query halves.
        for (int64_t c = 0; c < d16; c += 16) {
            _tile_loadd(0, ot + c * ROWS, ROWS * 4);
            _tile_loadd(1, ot + c * ROWS + 16, ROWS * 4);
            for (int64_t t = 0; t < nbp; t += 32) {
                _tile_loadd(2, vt + c * kpad + kb + t, kpad * 2);
                _tile_loadd(3, p + (t / 2) * ROWS * 2, ROWS * 4);
                _tile_loadd(4, p + (t / 2) * ROWS * 2 + 32, ROWS * 4);
                _tile_dpbf16ps(0, 2, 3);
                _tile_dpbf16ps(1, 2, 4);
            }
            _tile_stored(0, ot + c * ROWS, ROWS * 4);
            _tile_stored(1, ot + c * ROWS + 16, ROWS * 4);
        }
    }
    _tile_release();
    for (int64_t i = 0; i < rows; i++) {
        const float inv = 1.0f / l[i];
        for (int64_t c = 0; c < d; c++) out[i * ldo + c] = ot[c * ROWS + i] * inv;
    }
}

void sdc_flash_attention_bf16_amx(const float *q, int64_t ldq, const uint16_t *kp, const uint16_t *vt, int64_t rows,
                                  int64_t keys, int64_t d, float scale, int64_t causal_first, float *out, int64_t ldo,
                                  void *scratch) {
    uint8_t *aligned = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    flash_amx(q, ldq, kp, vt, rows, keys, d, scale, causal_first, out, ldo, aligned);
}
#else
int sdc_flash_attention_amx_available(void) { return 0; }
int64_t sdc_flash_attention_amx_head_elements(int64_t keys, int64_t d) { (void)keys; (void)d; return 0; }
void sdc_flash_attention_amx_pack_head(const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t keys, int64_t d,
                                       uint16_t *kp, uint16_t *vt) {
    (void)k; (void)ldk; (void)v; (void)ldv; (void)keys; (void)d; (void)kp; (void)vt;
}
int64_t sdc_flash_attention_amx_scratch_bytes(int64_t d) { (void)d; return 64; }
void sdc_flash_attention_bf16_amx(const float *q, int64_t ldq, const uint16_t *kp, const uint16_t *vt, int64_t rows,
                                  int64_t keys, int64_t d, float scale, int64_t causal_first, float *out, int64_t ldo,
                                  void *scratch) {
    (void)q; (void)ldq; (void)kp; (void)vt; (void)rows; (void)keys; (void)d; (void)scale; (void)causal_first;
    (void)out; (void)ldo; (void)scratch;
}
#endif
