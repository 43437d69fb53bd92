// Constants of exp_f32 shared by the scalar definition (math.cpp) and its AVX-512 batch form
// (math_avx512.cpp), so the two evaluate the same doubles. Data only: no inline functions, which
// the AVX-512 translation unit could otherwise hand to baseline callers.
#pragma once

#include <cstddef>

namespace dssim::kernels::detail {

// ln 2 split: the high part has 32 significant bits, so k * kLn2Hi is exact for |k| < 2^21.
inline constexpr double kLn2Hi = 0x1.62e42feep-1;
inline constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
inline constexpr double kInvLn2 = 0x1.71547652b82fep+0;

// Taylor coefficients of e^r for |r| <= 0.35, highest degree first: 1/14!, 1/13!, ..., 1/1!,
// 1/0!. Horner: p = kExpPoly[0]; then p = p * r + kExpPoly[i] for i = 1 .. 14 (remainder
// < 0.35^15/15! ~ 1e-19).
inline constexpr double kExpPoly[] = {1.0 / 87178291200.0,
                                      1.0 / 6227020800.0,
                                      1.0 / 479001600.0,
                                      1.0 / 39916800.0,
                                      1.0 / 3628800.0,
                                      1.0 / 362880.0,
                                      1.0 / 40320.0,
                                      1.0 / 5040.0,
                                      1.0 / 720.0,
                                      1.0 / 120.0,
                                      1.0 / 24.0,
                                      1.0 / 6.0,
                                      0.5,
                                      1.0,
                                      1.0};
inline constexpr size_t kExpPolyTerms = sizeof(kExpPoly) / sizeof(kExpPoly[0]);

}  // namespace dssim::kernels::detail
