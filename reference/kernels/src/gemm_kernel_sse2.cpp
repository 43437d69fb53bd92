// Baseline (x86-64 SSE2) GEMM kernels: the 4 x 8 micro-kernel of the blocked path and the small-M
// kernels (4 x 4 / 8 x 8 in-register transposes, one output per lane). E4M3 weights are decoded
// by the scalar formula (byte shuffles need SSSE3).
#include <emmintrin.h>

#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

typedef float V4 __attribute__((vector_size(16)));

#include "gemm_microkernel.inc"
#include "gemv_scalar.inc"

constexpr int kMr = 4;
constexpr int kNv = 2;

void kernel(size_t kc, const float* a, const float* b, float* c, size_t ldc, bool accumulate) {
    micro_kernel_tile<kMr, kNv, V4>(kc, a, b, c, ldc, accumulate);
}

// One block of 16 rows (acc rows have stride kGemvRows).
// BF16 weights: an 8 x 8 16-bit transpose per group of 8 rows (two unpack stages; the widening
// unpack against zero completes it), accumulators a[i][q] = rows 4q..4q+3.
template <int MR>
void gemv_bf16_block(const uint16_t* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    __m128 a[MR][4];
    for (int i = 0; i < MR; ++i) {
        for (int q = 0; q < 4; ++q)
            a[i][q] = _mm_loadu_ps(acc + i * kGemvRows + 4 * q);
    }
    const __m128i zero = _mm_setzero_si128();
    size_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int g = 0; g < 2; ++g) {
            const uint16_t* const* wr = w + 8 * g;
            __m128i r[8];
            for (int j = 0; j < 8; ++j)
                r[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wr[j] + p));
            const __m128i s0 = _mm_unpacklo_epi16(r[0], r[1]);
            const __m128i s1 = _mm_unpackhi_epi16(r[0], r[1]);
            const __m128i s2 = _mm_unpacklo_epi16(r[2], r[3]);
            const __m128i s3 = _mm_unpackhi_epi16(r[2], r[3]);
            const __m128i s4 = _mm_unpacklo_epi16(r[4], r[5]);
            const __m128i s5 = _mm_unpackhi_epi16(r[4], r[5]);
            const __m128i s6 = _mm_unpacklo_epi16(r[6], r[7]);
            const __m128i s7 = _mm_unpackhi_epi16(r[6], r[7]);
            const __m128i u[4] = {_mm_unpacklo_epi32(s0, s2), _mm_unpackhi_epi32(s0, s2),
                                  _mm_unpacklo_epi32(s1, s3), _mm_unpackhi_epi32(s1, s3)};
            const __m128i v[4] = {_mm_unpacklo_epi32(s4, s6), _mm_unpackhi_epi32(s4, s6),
                                  _mm_unpacklo_epi32(s5, s7), _mm_unpackhi_epi32(s5, s7)};
            for (int c = 0; c < 4; ++c) {
                for (int h = 0; h < 2; ++h) {
                    const __m128 wl = _mm_castsi128_ps(h == 0 ? _mm_unpacklo_epi16(zero, u[c])
                                                              : _mm_unpackhi_epi16(zero, u[c]));
                    const __m128 wh = _mm_castsi128_ps(h == 0 ? _mm_unpacklo_epi16(zero, v[c])
                                                              : _mm_unpackhi_epi16(zero, v[c]));
                    const size_t kk = p + static_cast<size_t>(2 * c + h);
                    for (int i = 0; i < MR; ++i) {
                        const __m128 xb = _mm_set1_ps(x[i * ldx + kk]);
                        a[i][2 * g] = _mm_add_ps(a[i][2 * g], _mm_mul_ps(wl, xb));
                        a[i][2 * g + 1] = _mm_add_ps(a[i][2 * g + 1], _mm_mul_ps(wh, xb));
                    }
                }
            }
        }
    }
    for (int i = 0; i < MR; ++i) {
        for (int q = 0; q < 4; ++q)
            _mm_storeu_ps(acc + i * kGemvRows + 4 * q, a[i][q]);
    }
    gemv_block_tail(w, x, ldx, p, kc, MR, acc);
}

// FP32 weights: a 4 x 4 transpose per group of 4 rows.
template <int MR>
void gemv_f32_block(const float* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    __m128 a[MR][4];
    for (int i = 0; i < MR; ++i) {
        for (int q = 0; q < 4; ++q)
            a[i][q] = _mm_loadu_ps(acc + i * kGemvRows + 4 * q);
    }
    size_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        for (int g = 0; g < 4; ++g) {
            const float* const* wr = w + 4 * g;
            const __m128 r0 = _mm_loadu_ps(wr[0] + p);
            const __m128 r1 = _mm_loadu_ps(wr[1] + p);
            const __m128 r2 = _mm_loadu_ps(wr[2] + p);
            const __m128 r3 = _mm_loadu_ps(wr[3] + p);
            const __m128 t0 = _mm_unpacklo_ps(r0, r1);
            const __m128 t1 = _mm_unpackhi_ps(r0, r1);
            const __m128 t2 = _mm_unpacklo_ps(r2, r3);
            const __m128 t3 = _mm_unpackhi_ps(r2, r3);
            const __m128 kv[4] = {_mm_movelh_ps(t0, t2), _mm_movehl_ps(t2, t0),
                                  _mm_movelh_ps(t1, t3), _mm_movehl_ps(t3, t1)};
            for (int c = 0; c < 4; ++c) {
                for (int i = 0; i < MR; ++i) {
                    const __m128 xb = _mm_set1_ps(x[i * ldx + p + static_cast<size_t>(c)]);
                    a[i][g] = _mm_add_ps(a[i][g], _mm_mul_ps(kv[c], xb));
                }
            }
        }
    }
    for (int i = 0; i < MR; ++i) {
        for (int q = 0; q < 4; ++q)
            _mm_storeu_ps(acc + i * kGemvRows + 4 * q, a[i][q]);
    }
    gemv_block_tail(w, x, ldx, p, kc, MR, acc);
}

// E4M3 decoding by the scalar formula, one decoder per 128-code block.
void decode_e4m3_blocks_scalar(
    const uint8_t* q, size_t len, const E4m3Decoder* d, size_t d_step, uint16_t* out) {
    for (size_t b = 0; b * kDecodeBlock < len; ++b) {
        const size_t i0 = b * kDecodeBlock;
        const size_t n = len - i0 < kDecodeBlock ? len - i0 : kDecodeBlock;
        decode_e4m3_scalar(q + i0, n, d[b * d_step], out + i0);
    }
}

// kGemvRows rows as blocks of 16, one after another (each output's sum is unaffected).
template <int MR>
void gemv_bf16(const uint16_t* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    for (size_t b = 0; b < kGemvRows; b += 16)
        gemv_bf16_block<MR>(w + b, x, ldx, kc, acc + b);
}

template <int MR>
void gemv_f32(const float* const* w, const float* x, size_t ldx, size_t kc, float* acc) {
    for (size_t b = 0; b < kGemvRows; b += 16)
        gemv_f32_block<MR>(w + b, x, ldx, kc, acc + b);
}

}  // namespace

MicroKernel microkernel_baseline() {
    return {kMr, kNv * 4, &kernel, "sse2"};
}

GemvKernels gemv_kernels_baseline() {
    return {{&gemv_f32<1>, &gemv_f32<2>, &gemv_f32<3>, &gemv_f32<4>},
            {&gemv_bf16<1>, &gemv_bf16<2>, &gemv_bf16<3>, &gemv_bf16<4>},
            {&gemv_bf16<1>, &gemv_bf16<2>, &gemv_bf16<3>, &gemv_bf16<4>},
            &decode_e4m3_blocks_scalar,
            "sse2"};
}

}  // namespace dssim::kernels::detail
