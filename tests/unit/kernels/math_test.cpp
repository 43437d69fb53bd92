// Deterministic exp/sin/cos/pow: checked against long-double references (error within half an
// ULP plus the documented double slack) and against glibc (at most 1 ULP apart); the batch exp
// (AVX-512 and scalar) against exp_f32 bit for bit.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dssim/kernels/gemm.h"
#include "dssim/kernels/math.h"
#include "test_util.h"

namespace dssim::kernels {
namespace {

// Distance in ULPs between two finite floats of the same sign class.
int64_t ulps(float a, float b) {
    auto key = [](float v) {
        int32_t i = std::bit_cast<int32_t>(v);
        return i < 0 ? int64_t{INT32_MIN} - i : int64_t{i};
    };
    int64_t d = key(a) - key(b);
    return d < 0 ? -d : d;
}

// |got - exact| measured in ULPs of the float result, from a long double reference.
double ulp_error(float got, long double exact) {
    const float rounded = static_cast<float>(exact);
    const long double ulp =
        std::fabs(static_cast<long double>(std::nextafter(rounded, INFINITY)) - rounded);
    return static_cast<double>(std::fabs(static_cast<long double>(got) - exact) / ulp);
}

TEST_CASE("exp_f32 is within half an ULP (+slack) of the exact value") {
    test::Rng rng(1);
    double worst = 0;
    int64_t worst_glibc = 0;
    for (int i = 0; i < 200000; ++i) {
        const float x = static_cast<float>(
            static_cast<double>(rng.next() >> 11) / 9007199254740992.0 * 190.0 - 102.0);
        const float got = exp_f32(x);
        if (std::fpclassify(got) == FP_SUBNORMAL) continue;
        worst = std::max(worst, ulp_error(got, std::exp(static_cast<long double>(x))));
        worst_glibc = std::max(worst_glibc, ulps(got, std::exp(x)));
    }
    CHECK(worst < 0.5001);
    CHECK(worst_glibc <= 1);
    CHECK(exp_f32(0.0f) == 1.0f);
    CHECK(exp_f32(-INFINITY) == 0.0f);
    CHECK(exp_f32(100.0f) == INFINITY);
    CHECK(std::isnan(exp_f32(NAN)));
    CHECK(exp_f32(-200.0f) == 0.0f);
}

TEST_CASE("exp_f32_n has exp_f32's bits on every SIMD path") {
    // Every 4099th FP32 pattern (both signs, all exponents, NaN payloads), the range limits and
    // their neighbours, and small lengths for the masked tail; in place as well.
    std::vector<float> x;
    for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 4099)
        x.push_back(std::bit_cast<float>(static_cast<uint32_t>(b)));
    for (float v : {89.0f, -104.0f, 0.0f, -0.0f, 1.0f, -1.0f, 0.5f, -0.5f, 88.72f, -87.33f,
                    -103.97f, INFINITY, -INFINITY, std::bit_cast<float>(0x7FC00001u),
                    std::bit_cast<float>(0xFF800123u), std::bit_cast<float>(0x00000001u)}) {
        x.push_back(v);
        x.push_back(std::nextafter(v, INFINITY));
        x.push_back(std::nextafter(v, -INFINITY));
    }
    std::vector<float> expect(x.size());
    for (size_t i = 0; i < x.size(); ++i)
        expect[i] = exp_f32(x[i]);
    for (SimdPath path : {SimdPath::Avx512, SimdPath::Baseline}) {
        const SimdPath old = set_simd_path(path);
        INFO("path ", active_simd_path_name());
        std::vector<float> got(x.size(), 7.0f);
        exp_f32_n(x.data(), got.data(), x.size());
        CHECK(test::same_bytes(got, expect));
        for (size_t n = 0; n <= 33; ++n) {
            // In place, n of the last 40 values; n = 0 must touch nothing (a one-element buffer
            // keeps the pointers non-null).
            std::vector<float> in(x.end() - 40, x.end() - 40 + static_cast<ptrdiff_t>(n + 1));
            const float sentinel = in[n];
            exp_f32_n(in.data(), in.data(), n);
            CHECK(std::memcmp(in.data(), expect.data() + expect.size() - 40, n * sizeof(float)) ==
                  0);
            CHECK(std::bit_cast<uint32_t>(in[n]) == std::bit_cast<uint32_t>(sentinel));
        }
        set_simd_path(old);
    }
}

TEST_CASE("sin_f32 and cos_f32 are within half an ULP (+slack) over RoPE's angle range") {
    test::Rng rng(2);
    double worst = 0;
    int64_t worst_glibc = 0;
    for (int i = 0; i < 200000; ++i) {
        const float x = static_cast<float>(
            static_cast<double>(rng.next() >> 11) / 9007199254740992.0 * 40000.0 - 20000.0);
        const long double xl = x;
        const float s = sin_f32(x);
        const float c = cos_f32(x);
        // Skip results near zero, where an ULP is tiny and long double sinl itself is the limit.
        if (std::fabs(s) > 1e-3f) worst = std::max(worst, ulp_error(s, std::sin(xl)));
        if (std::fabs(c) > 1e-3f) worst = std::max(worst, ulp_error(c, std::cos(xl)));
        if (std::fabs(s) > 1e-3f) worst_glibc = std::max(worst_glibc, ulps(s, std::sin(x)));
        if (std::fabs(c) > 1e-3f) worst_glibc = std::max(worst_glibc, ulps(c, std::cos(x)));
    }
    CHECK(worst < 0.5001);
    CHECK(worst_glibc <= 1);
    CHECK(sin_f32(0.0f) == 0.0f);
    CHECK(cos_f32(0.0f) == 1.0f);
    CHECK(std::isnan(sin_f32(INFINITY)));
    CHECK(std::isnan(cos_f32(0x1p31f)));
}

TEST_CASE("pow_f32 and log_f64 on RoPE's inputs") {
    for (int i = 0; i < 64; ++i) {
        const float e = static_cast<float>(2 * i) / 128.0f;
        const float got = pow_f32(10000.0f, e);
        CHECK(ulp_error(got, std::pow(10000.0L, static_cast<long double>(e))) < 0.5001);
        CHECK(ulps(got, std::pow(10000.0f, e)) <= 1);
    }
    CHECK(pow_f32(10000.0f, 0.0f) == 1.0f);
    CHECK(std::isnan(pow_f32(-2.0f, 0.5f)));
    for (double x : {1e-300, 0.3, 1.0, 2.0, 40.0, 10000.0, 1e300}) {
        CHECK(log_f64(x) == doctest::Approx(std::log(x)).epsilon(1e-15));
    }
    CHECK(log_f64(1.0) == 0.0);
    CHECK(exp_f64(1.0) == doctest::Approx(std::exp(1.0)).epsilon(1e-15));
}

}  // namespace
}  // namespace dssim::kernels
