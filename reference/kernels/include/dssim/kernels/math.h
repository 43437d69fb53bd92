// Deterministic elementary functions for the reference kernels. Each is evaluated in double
// with a fixed polynomial and basic IEEE operations only (no libm, no FMA), then rounded once to
// float, so the bits are the same on every machine, compiler and C library. glibc's expf/sinf
// would not give that: it selects FMA variants at run time, which may differ in the last bit.
// Accuracy: the double evaluation errs by < 1e-15 relative, so the float result is the correctly
// rounded one except when the exact value lies within ~1e-15 of a rounding midpoint.
#pragma once

#include <cstddef>

namespace dssim::kernels {

// e^x. exp_f32(-inf) = 0, overflow -> +inf, NaN -> NaN.
float exp_f32(float x);
// y[i] = exp_f32(x[i]) for i < n, the same bits; vectorised (eight doubles per instruction) when
// the SimdPath setting of the calling thread resolves to AVX-512. y may alias x.
void exp_f32_n(const float* x, float* y, size_t n);
// sin x and cos x. Full accuracy for |x| < 2^20 (RoPE angles are < 2^15); up to 2^30 the
// argument reduction loses bits (still deterministic); |x| >= 2^30, inf and NaN -> NaN.
float sin_f32(float x);
float cos_f32(float x);
// base^e for base > 0 (what RoPE needs: theta^(2i/d)), as exp(e * ln base) in double.
// base <= 0 or NaN -> NaN.
float pow_f32(float base, float e);

// Double-precision building blocks, exposed for tests.
double exp_f64(double x);  // |x| < 709, relative error < 1e-15
double log_f64(double x);  // x > 0, finite

}  // namespace dssim::kernels
