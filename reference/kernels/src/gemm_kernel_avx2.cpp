// AVX2 GEMM kernels (compiled with -mavx2, no -mfma), selected at run time only on CPUs that
// report AVX2: the 4 x 16 register-tile micro-kernel of the blocked path, and the small-M
// kernels that stream W rows directly (8 x 8 in-register transposes, one output per lane).
// Only intrinsics and builtins are used here: inline code from a shared header compiled with
// AVX2 could be picked by the linker for baseline callers.
#include <immintrin.h>

#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

typedef float V8 __attribute__((vector_size(32)));

#include "gemm_microkernel.inc"
#include "gemv_scalar.inc"

constexpr int kMr = 4;
constexpr int kNv = 2;

void kernel(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
    micro_kernel_tile<kMr, kNv, V8>(kc, a, b, c, ldc, accumulate);
}

// Accumulator layout of the small-M kernels: lo = rows [0..3 | 8..11], hi = rows [4..7 | 12..15]
// (the natural result of a lane-wise 16-bit transpose); converted to and from acc[16] here.
inline void load_acc_split(const float* acc, __m256& lo, __m256& hi) {
    const __m256 r0 = _mm256_loadu_ps(acc);
    const __m256 r1 = _mm256_loadu_ps(acc + 8);
    lo = _mm256_permute2f128_ps(r0, r1, 0x20);
    hi = _mm256_permute2f128_ps(r0, r1, 0x31);
}

inline void store_acc_split(float* acc, __m256 lo, __m256 hi) {
    _mm256_storeu_ps(acc, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(acc + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

inline __m256i load_rows(const uint16_t* lo_row, const uint16_t* hi_row) {
    return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(hi_row),
                               reinterpret_cast<const __m128i*>(lo_row));
}

// BF16 weights, NH blocks of 16 rows at once: per 8 columns of K, rows j and j+8 of a block
// share a register (one per 128-bit lane); two unpack stages give, per k, the BF16 bits of rows
// 0..3 and 4..7 (lane 0) / 8..15 (lane 1), which widen to FP32 by one more unpack against zero.
// acc rows have stride kGemvRows.
template <int MR, int NH>
void gemv_bf16_blocks(const uint16_t* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    __m256 alo[NH][MR], ahi[NH][MR];
    for (int h = 0; h < NH; ++h) {
        for (int i = 0; i < MR; ++i)
            load_acc_split(acc + i * kGemvRows + 16 * h, alo[h][i], ahi[h][i]);
    }
    const __m256i zero = _mm256_setzero_si256();
    size_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int h = 0; h < NH; ++h) {
            const uint16_t* const* wb = w + 16 * h;
            const __m256i r0 = load_rows(wb[0] + p, wb[8] + p);
            const __m256i r1 = load_rows(wb[1] + p, wb[9] + p);
            const __m256i r2 = load_rows(wb[2] + p, wb[10] + p);
            const __m256i r3 = load_rows(wb[3] + p, wb[11] + p);
            const __m256i r4 = load_rows(wb[4] + p, wb[12] + p);
            const __m256i r5 = load_rows(wb[5] + p, wb[13] + p);
            const __m256i r6 = load_rows(wb[6] + p, wb[14] + p);
            const __m256i r7 = load_rows(wb[7] + p, wb[15] + p);
            const __m256i s0 = _mm256_unpacklo_epi16(r0, r1);  // k0..3 of rows 0,1
            const __m256i s1 = _mm256_unpackhi_epi16(r0, r1);  // k4..7
            const __m256i s2 = _mm256_unpacklo_epi16(r2, r3);
            const __m256i s3 = _mm256_unpackhi_epi16(r2, r3);
            const __m256i s4 = _mm256_unpacklo_epi16(r4, r5);
            const __m256i s5 = _mm256_unpackhi_epi16(r4, r5);
            const __m256i s6 = _mm256_unpacklo_epi16(r6, r7);
            const __m256i s7 = _mm256_unpackhi_epi16(r6, r7);
            // u[c]: k = 2c (low half) and 2c + 1 (high half) of rows 0..3; v the same of 4..7.
            const __m256i u[4] = {_mm256_unpacklo_epi32(s0, s2), _mm256_unpackhi_epi32(s0, s2),
                                  _mm256_unpacklo_epi32(s1, s3), _mm256_unpackhi_epi32(s1, s3)};
            const __m256i v[4] = {_mm256_unpacklo_epi32(s4, s6), _mm256_unpackhi_epi32(s4, s6),
                                  _mm256_unpacklo_epi32(s5, s7), _mm256_unpackhi_epi32(s5, s7)};
            for (int c = 0; c < 4; ++c) {
                for (int e = 0; e < 2; ++e) {
                    const __m256 wl =
                        _mm256_castsi256_ps(e == 0 ? _mm256_unpacklo_epi16(zero, u[c])
                                                   : _mm256_unpackhi_epi16(zero, u[c]));
                    const __m256 wh =
                        _mm256_castsi256_ps(e == 0 ? _mm256_unpacklo_epi16(zero, v[c])
                                                   : _mm256_unpackhi_epi16(zero, v[c]));
                    const size_t kk = p + static_cast<size_t>(2 * c + e);
                    for (int i = 0; i < MR; ++i) {
                        const __m256 xb = _mm256_broadcast_ss(x + i * ldx + kk);
                        alo[h][i] = _mm256_add_ps(alo[h][i], _mm256_mul_ps(wl, xb));
                        ahi[h][i] = _mm256_add_ps(ahi[h][i], _mm256_mul_ps(wh, xb));
                    }
                }
            }
        }
    }
    for (int h = 0; h < NH; ++h) {
        for (int i = 0; i < MR; ++i)
            store_acc_split(acc + i * kGemvRows + 16 * h, alo[h][i], ahi[h][i]);
    }
    for (; p < kc; ++p) {
        for (int i = 0; i < MR; ++i) {
            const float xv = x[i * ldx + p];
            for (int j = 0; j < 16 * NH; ++j)
                acc[i * kGemvRows + j] = acc[i * kGemvRows + j] + xv * widen(w[j][p]);
        }
    }
}

// All kGemvRows (32) rows for W rows in an L1-resident buffer (decoded E4M3): both 16-row blocks
// in one pass when that fits the 16 registers (four or more independent accumulator chains hide
// the FP add latency), else one block after the other.
template <int MR>
void gemv_bf16_l1(const uint16_t* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    if constexpr (MR <= 2) {
        gemv_bf16_blocks<MR, 2>(w, x, ldx, kc, acc);
    } else {
        gemv_bf16_blocks<MR, 1>(w, x, ldx, kc, acc);
        gemv_bf16_blocks<MR, 1>(w + 16, x, ldx, kc, acc + 16);
    }
}

// All kGemvRows rows streamed from memory: one 16-row block after the other (32 interleaved
// streams measured 1.8x slower than 16: prefetcher and L1-set limits).
template <int MR>
void gemv_bf16(const uint16_t* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    for (size_t b = 0; b < kGemvRows; b += 16)
        gemv_bf16_blocks<MR, 1>(w + b, x, ldx, kc, acc + b);
}

inline __m256 load_rows_ps(const float* lo_row, const float* hi_row) {
    return _mm256_loadu2_m128(hi_row, lo_row);
}

// FP32 weights, one block of 16 rows: per 4 columns of K, rows j and j+4 share a register; a
// 4 x 4 transpose inside each 128-bit lane gives, per k, rows 0..7 in order (acc rows have
// stride kGemvRows).
template <int MR>
void gemv_f32_block(const float* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    __m256 a[MR][2];
    for (int i = 0; i < MR; ++i) {
        for (int g = 0; g < 2; ++g)
            a[i][g] = _mm256_loadu_ps(acc + i * kGemvRows + 8 * g);
    }
    size_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        for (int g = 0; g < 2; ++g) {
            const float* const* wr = w + 8 * g;
            const __m256 r0 = load_rows_ps(wr[0] + p, wr[4] + p);
            const __m256 r1 = load_rows_ps(wr[1] + p, wr[5] + p);
            const __m256 r2 = load_rows_ps(wr[2] + p, wr[6] + p);
            const __m256 r3 = load_rows_ps(wr[3] + p, wr[7] + p);
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1);
            const __m256 t1 = _mm256_unpackhi_ps(r0, r1);
            const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
            const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
            const __m256 kv[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                                  _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
            for (int c = 0; c < 4; ++c) {
                for (int i = 0; i < MR; ++i) {
                    const __m256 xb = _mm256_broadcast_ss(x + i * ldx + p + c);
                    a[i][g] = _mm256_add_ps(a[i][g], _mm256_mul_ps(kv[c], xb));
                }
            }
        }
    }
    for (int i = 0; i < MR; ++i) {
        for (int g = 0; g < 2; ++g)
            _mm256_storeu_ps(acc + i * kGemvRows + 8 * g, a[i][g]);
    }
    gemv_block_tail(w, x, ldx, p, kc, MR, acc);
}

template <int MR>
void gemv_f32(const float* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    for (size_t b = 0; b < kGemvRows; b += 16)
        gemv_f32_block<MR>(w + b, x, ldx, kc, acc + b);
}

// E4M3 -> BF16 bits, 32 codes per step with two byte shuffles (E4m3Decoder's fast path); a
// step containing a zero, subnormal or NaN code is done by the scalar formula.
void decode_e4m3(
    const uint8_t* q, size_t len, const E4m3Decoder* ds, size_t d_step, uint16_t* out) {
    const __m256i m0f = _mm256_set1_epi8(0x0F);
    const __m256i m07 = _mm256_set1_epi8(0x07);
    const __m256i m7f = _mm256_set1_epi8(0x7F);
    const __m256i m80 = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i one = _mm256_set1_epi8(1);
    const __m256i nine = _mm256_set1_epi8(9);
    for (size_t b0 = 0; b0 < len; b0 += kDecodeBlock) {
        const E4m3Decoder& d = ds[(b0 / kDecodeBlock) * d_step];
        const size_t end = len - b0 < kDecodeBlock ? len : b0 + kDecodeBlock;
        size_t i = b0;
        if (d.fast) {
            const __m256i lut_lo = _mm256_broadcastsi128_si256(
                _mm_load_si128(reinterpret_cast<const __m128i*>(d.lut_lo)));
            const __m256i lut_hi = _mm256_broadcastsi128_si256(
                _mm_load_si128(reinterpret_cast<const __m128i*>(d.lut_hi)));
            for (; i + 32 <= end; i += 32) {
                const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
                // Zero, subnormal or NaN: (q & 0x7F) in 0..7 or 0x7F, i.e. the signed byte
                // (q & 0x7F) + 1 is below 9 (0x7F + 1 wraps to -128).
                const __m256i special =
                    _mm256_cmpgt_epi8(nine, _mm256_add_epi8(_mm256_and_si256(v, m7f), one));
                if (!_mm256_testz_si256(special, special)) {
                    decode_e4m3_scalar(q + i, 32, d, out + i);
                    continue;
                }
                const __m256i idx = _mm256_and_si256(v, m0f);  // e0 | m
                const __m256i eh = _mm256_and_si256(_mm256_srli_epi16(v, 4), m07);
                const __m256i lo = _mm256_shuffle_epi8(lut_lo, idx);
                const __m256i hi =
                    _mm256_xor_si256(_mm256_add_epi8(_mm256_shuffle_epi8(lut_hi, idx), eh),
                                     _mm256_and_si256(v, m80));
                // 16-bit results of codes [0..7 | 16..23] and [8..15 | 24..31].
                const __m256i r0 = _mm256_unpacklo_epi8(lo, hi);
                const __m256i r1 = _mm256_unpackhi_epi8(lo, hi);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                                    _mm256_permute2x128_si256(r0, r1, 0x20));
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i + 16),
                                    _mm256_permute2x128_si256(r0, r1, 0x31));
            }
        }
        decode_e4m3_scalar(q + i, end - i, d, out + i);
    }
}

}  // namespace

MicroKernel microkernel_avx2() {
    return {kMr, kNv * 8, &kernel, "avx2"};
}

GemvKernels gemv_kernels_avx2() {
    return {{&gemv_f32<1>, &gemv_f32<2>, &gemv_f32<3>, &gemv_f32<4>},
            {&gemv_bf16<1>, &gemv_bf16<2>, &gemv_bf16<3>, &gemv_bf16<4>},
            {&gemv_bf16_l1<1>, &gemv_bf16_l1<2>, &gemv_bf16_l1<3>, &gemv_bf16_l1<4>},
            &decode_e4m3,
            "avx2"};
}

}  // namespace dssim::kernels::detail
