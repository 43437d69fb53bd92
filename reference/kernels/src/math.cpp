// Deterministic exp, sin, cos, pow (see dssim/kernels/math.h). Range reduction with split
// constants whose high parts have trailing zero bits, so n * C_hi is exact; then a Taylor
// polynomial evaluated by Horner in double. Only +, -, *, / and exact bit operations are used.
#include "dssim/kernels/math.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "exp_constants.h"
#include "gemm_microkernel.h"

namespace dssim::kernels {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using detail::kInvLn2;
using detail::kLn2Hi;
using detail::kLn2Lo;
// pi/2 in three parts of 33 bits each; n * part is exact for |n| < 2^20.
constexpr double kPio2A = 0x1.921fb544p+0;
constexpr double kPio2B = 0x1.0b4611a6p-34;
constexpr double kPio2C = 0x1.3198a2e037073p-69;
constexpr double kTwoOverPi = 0x1.45f306dc9c883p-1;
// Beyond this the quadrant no longer fits the reduction; such angles give NaN.
constexpr float kTrigLimit = 0x1p30f;

// Nearest integer (ties away from zero) for |v| < 2^52, exactly, without libm.
double round_nearest(double v) {
    double a = v < 0 ? -v : v;
    double r = static_cast<double>(static_cast<int64_t>(a + 0.5));
    return v < 0 ? -r : r;
}

// 2^k as a double for -1074 <= k <= 1023, by bits (exact).
double pow2(int k) {
    if (k >= -1022) return std::bit_cast<double>(static_cast<uint64_t>(k + 1023) << 52);
    return std::bit_cast<double>(uint64_t{1} << (k + 1074));
}

// e^r for |r| <= 0.35: Taylor to degree 14 by Horner (exp_constants.h).
double exp_poly(double r) {
    double p = detail::kExpPoly[0];
    for (size_t i = 1; i < detail::kExpPolyTerms; ++i)
        p = p * r + detail::kExpPoly[i];
    return p;
}

// sin r and cos r for |r| <= pi/4 (remainders < (pi/4)^18/18! ~ 1e-17).
double sin_poly(double r) {
    const double r2 = r * r;
    double p = -1.0 / 1307674368000.0;  // -1/15!
    const double c[] = {1.0 / 6227020800.0, -1.0 / 39916800.0, 1.0 / 362880.0,
                        -1.0 / 5040.0,      1.0 / 120.0,       -1.0 / 6.0};
    for (double v : c)
        p = p * r2 + v;
    return r + r * r2 * p;
}

double cos_poly(double r) {
    const double r2 = r * r;
    double p = 1.0 / 20922789888000.0;  // 1/16!
    const double c[] = {-1.0 / 87178291200.0,
                        1.0 / 479001600.0,
                        -1.0 / 3628800.0,
                        1.0 / 40320.0,
                        -1.0 / 720.0,
                        1.0 / 24.0,
                        -0.5};
    for (double v : c)
        p = p * r2 + v;
    return 1.0 + r2 * p;
}

// Quadrant n (mod 4) and reduced argument r = x - n*pi/2, for |x| < 2^30.
double reduce_pio2(double x, int64_t& n) {
    const double k = round_nearest(x * kTwoOverPi);
    n = static_cast<int64_t>(k);
    return ((x - k * kPio2A) - k * kPio2B) - k * kPio2C;
}

}  // namespace

double exp_f64(double x) {
    if (x != x) return x;
    if (x > 709.7) return kInf;
    if (x < -745.2) return 0.0;
    const double k = round_nearest(x * kInvLn2);
    const double r = (x - k * kLn2Hi) - k * kLn2Lo;
    const int ki = static_cast<int>(k);
    // Split the power of two so neither factor under- or overflows.
    const int k1 = ki / 2;
    return exp_poly(r) * pow2(k1) * pow2(ki - k1);
}

double log_f64(double x) {
    if (!(x > 0.0) || x == kInf) return x == kInf ? kInf : kNan;
    // x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
    int e = 0;
    uint64_t bits = std::bit_cast<uint64_t>(x);
    if ((bits >> 52) == 0) {  // subnormal: scale up exactly
        x = x * 0x1p54;
        bits = std::bit_cast<uint64_t>(x);
        e = -54;
    }
    e += static_cast<int>(bits >> 52) - 1023;
    double m = std::bit_cast<double>((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    if (m > 1.4142135623730951) {
        m = m * 0.5;
        e += 1;
    }
    // ln m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: series to s^25 (rest < 1e-20).
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    double p = 1.0 / 25.0;
    for (int d = 23; d >= 1; d -= 2)
        p = p * s2 + 1.0 / d;
    const double ln_m = 2.0 * s * p;
    return static_cast<double>(e) * kLn2Hi + (static_cast<double>(e) * kLn2Lo + ln_m);
}

float exp_f32(float x) {
    if (x != x) return x;
    if (x > 89.0f) return std::numeric_limits<float>::infinity();
    if (x < -104.0f) return 0.0f;
    return static_cast<float>(exp_f64(static_cast<double>(x)));
}

float sin_f32(float x) {
    if (!(std::fabs(x) < kTrigLimit)) return std::numeric_limits<float>::quiet_NaN();
    int64_t n = 0;
    const double r = reduce_pio2(static_cast<double>(x), n);
    double v = 0;
    switch (n & 3) {
        case 0:
            v = sin_poly(r);
            break;
        case 1:
            v = cos_poly(r);
            break;
        case 2:
            v = -sin_poly(r);
            break;
        default:
            v = -cos_poly(r);
            break;
    }
    return static_cast<float>(v);
}

float cos_f32(float x) {
    if (!(std::fabs(x) < kTrigLimit)) return std::numeric_limits<float>::quiet_NaN();
    int64_t n = 0;
    const double r = reduce_pio2(static_cast<double>(x), n);
    double v = 0;
    switch (n & 3) {
        case 0:
            v = cos_poly(r);
            break;
        case 1:
            v = -sin_poly(r);
            break;
        case 2:
            v = -cos_poly(r);
            break;
        default:
            v = sin_poly(r);
            break;
    }
    return static_cast<float>(v);
}

float pow_f32(float base, float e) {
    if (!(base > 0.0f) || e != e) return std::numeric_limits<float>::quiet_NaN();
    const double y = static_cast<double>(e) * log_f64(static_cast<double>(base));
    if (y > 709.0) return std::numeric_limits<float>::infinity();
    if (y < -745.0) return 0.0f;
    return static_cast<float>(exp_f64(y));
}

namespace {

void exp_f32_loop(const float* x, float* y, size_t n) {
    for (size_t i = 0; i < n; ++i)
        y[i] = exp_f32(x[i]);
}

}  // namespace

detail::ExpF32BatchFn detail::select_exp_batch() {
    static const ExpF32BatchFn avx512 = exp_f32_batch_avx512();
    return avx512_active() ? avx512 : &exp_f32_loop;
}

void exp_f32_n(const float* x, float* y, size_t n) {
    detail::select_exp_batch()(x, y, n);
}

}  // namespace dssim::kernels
