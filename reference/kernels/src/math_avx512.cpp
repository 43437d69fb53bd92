// AVX-512 batch form of exp_f32 (math.cpp), selected at run time only on CPUs with AVX-512 F.
// Each lane performs exactly the scalar function's double operations in the same order (range
// reduction with the split ln 2, the degree-14 Horner polynomial, the two power-of-two factors,
// one final rounding to float), and IEEE double arithmetic is the same in a vector lane as in a
// scalar register, so every result has the scalar function's bits. Compiled with -mno-fma and
// -ffp-contract=off like the rest of the kernels: no fused multiply-add anywhere.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

// GCC 12's AVX-512 intrinsics initialise their "undefined" operands from themselves, which
// -Wmaybe-uninitialized reports at every use (a known false positive of those headers).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "exp_constants.h"
#include "gemm_microkernel.h"

namespace dssim::kernels::detail {
namespace {

using detail::kExpPoly;
using detail::kExpPolyTerms;
using detail::kInvLn2;
using detail::kLn2Hi;
using detail::kLn2Lo;

// exp_f64 for eight doubles known to lie in [-104, 89] (exp_f32's finite range): no overflow
// branch is taken and both power-of-two factors are normal numbers.
inline __m256 exp8(__m256 xf) {
    const __m512d x = _mm512_cvtps_pd(xf);
    // round_nearest(x * kInvLn2): a = |v|, r = trunc(a + 0.5), the sign of v put back (-r).
    const __m512d v = _mm512_mul_pd(x, _mm512_set1_pd(kInvLn2));
    const __m512i sign_bit = _mm512_set1_epi64(static_cast<int64_t>(0x8000000000000000ull));
    const __m512d a = _mm512_castsi512_pd(_mm512_andnot_si512(sign_bit, _mm512_castpd_si512(v)));
    const __m512d r = _mm512_roundscale_pd(_mm512_add_pd(a, _mm512_set1_pd(0.5)),
                                           _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask8 negative = _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_LT_OQ);
    const __m512d k = _mm512_castsi512_pd(
        _mm512_mask_xor_epi64(_mm512_castpd_si512(r), negative, _mm512_castpd_si512(r), sign_bit));
    // r = (x - k * kLn2Hi) - k * kLn2Lo
    const __m512d red = _mm512_sub_pd(_mm512_sub_pd(x, _mm512_mul_pd(k, _mm512_set1_pd(kLn2Hi))),
                                      _mm512_mul_pd(k, _mm512_set1_pd(kLn2Lo)));
    __m512d p = _mm512_set1_pd(kExpPoly[0]);
    for (size_t i = 1; i < kExpPolyTerms; ++i)
        p = _mm512_add_pd(_mm512_mul_pd(p, red), _mm512_set1_pd(kExpPoly[i]));
    // ki = int(k); k1 = ki / 2 (towards zero); factors 2^k1 and 2^(ki - k1) by their bits.
    const __m256i ki = _mm512_cvttpd_epi32(k);
    const __m256i k1 = _mm256_srai_epi32(_mm256_add_epi32(ki, _mm256_srli_epi32(ki, 31)), 1);
    const __m256i k2 = _mm256_sub_epi32(ki, k1);
    const __m512i bias = _mm512_set1_epi64(1023);
    const __m512d f1 = _mm512_castsi512_pd(
        _mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(k1), bias), 52));
    const __m512d f2 = _mm512_castsi512_pd(
        _mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtepi32_epi64(k2), bias), 52));
    return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(p, f1), f2));
}

// exp_f32 on 16 floats: NaN passes through with its bits, x > 89 gives +inf, x < -104 gives 0,
// the rest exp8 (evaluated on a clamped copy so that no lane leaves the safe range).
inline __m512 exp16(__m512 x) {
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    const __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(89.0f), _CMP_GT_OQ);
    const __mmask16 small = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-104.0f), _CMP_LT_OQ);
    const __m512 safe =
        _mm512_mask_blend_ps(static_cast<__mmask16>(nan | big | small), x, _mm512_setzero_ps());
    const __m256 lo = exp8(_mm512_castps512_ps256(safe));
    const __m256 hi = exp8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(safe), 1)));
    __m512 y = _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
    y = _mm512_mask_blend_ps(big, y, _mm512_set1_ps(__builtin_inff()));
    y = _mm512_mask_blend_ps(small, y, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(nan, y, x);
}

void exp_f32_batch(const float* x, float* y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const auto mask = static_cast<__mmask16>((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, mask, exp16(_mm512_maskz_loadu_ps(mask, x + i)));
    }
}

}  // namespace

ExpF32BatchFn exp_f32_batch_avx512() {
    return &exp_f32_batch;
}

}  // namespace dssim::kernels::detail
