// Test-only reference model of the number formats, shared by the unit and the slow sweep tests.
// It shares no code with numerics: every code's value comes from the textbook
// sign/exponent/mantissa formula in double, and encoding picks the nearest value by
// comparing with exact midpoints (ties to the even code).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ios>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/numerics.h"

namespace dssim::numerics::testref {

inline uint32_t bits_of(float x) {
    return std::bit_cast<uint32_t>(x);
}
inline float float_of(uint32_t b) {
    return std::bit_cast<float>(b);
}
inline float next_up(float x) {
    return std::nextafter(x, std::numeric_limits<float>::infinity());
}
inline float next_down(float x) {
    return std::nextafter(x, -std::numeric_limits<float>::infinity());
}
constexpr float kInf = std::numeric_limits<float>::infinity();

// A floating format described only by its field widths; values come from the textbook formula.
struct Spec {
    const char* name;
    int exp_bits;
    int man_bits;
    int bias;
    bool ieee_specials;  // all-ones exponent = inf/NaN (false: E4M3FN, only S.1111.111 is NaN)
    int total_bits() const { return 1 + exp_bits + man_bits; }
};

constexpr Spec kBf16Spec{"bf16", 8, 7, 127, true};
constexpr Spec kF16Spec{"f16", 5, 10, 15, true};
constexpr Spec kE4M3Spec{"e4m3", 4, 3, 7, false};
constexpr Spec kE5M2Spec{"e5m2", 5, 2, 15, true};

inline bool spec_is_nan(const Spec& s, uint32_t code) {
    const uint32_t mag = code & ((1u << (s.total_bits() - 1)) - 1u);
    const uint32_t e = mag >> s.man_bits;
    const uint32_t m = mag & ((1u << s.man_bits) - 1u);
    const uint32_t e_max = (1u << s.exp_bits) - 1u;
    if (s.ieee_specials) return e == e_max && m != 0;
    return e == e_max && m == (1u << s.man_bits) - 1u;
}

// Value of a code from (-1)^s * 2^(e - bias) * (1 + m / 2^M), or 2^(1 - bias) * m / 2^M.
inline double spec_value(const Spec& s, uint32_t code) {
    const uint32_t sign = code >> (s.total_bits() - 1);
    const uint32_t mag = code & ((1u << (s.total_bits() - 1)) - 1u);
    const int e = static_cast<int>(mag >> s.man_bits);
    const int m = static_cast<int>(mag & ((1u << s.man_bits) - 1u));
    const int e_max = (1 << s.exp_bits) - 1;
    double v = 0;
    if (spec_is_nan(s, code)) return std::nan("");
    if (s.ieee_specials && e == e_max) {
        v = std::numeric_limits<double>::infinity();
    } else if (e == 0) {
        v = std::ldexp(static_cast<double>(m), 1 - s.bias - s.man_bits);
    } else {
        v = std::ldexp(static_cast<double>((1 << s.man_bits) + m), e - s.bias - s.man_bits);
    }
    return sign != 0 ? -v : v;
}

// The non-negative finite codes of a format, ascending by value, followed by one "virtual"
// entry: the value the next code would have if the format continued (2^(emax+1) for IEEE-like
// formats, 480 for E4M3FN). A value that rounds to the virtual entry overflows.
struct Table {
    Spec spec;
    std::vector<double> values;
    std::vector<uint32_t> codes;
    uint32_t max_code;
};

inline Table make_table(const Spec& s) {
    Table t{s, {}, {}, 0};
    const uint32_t n = 1u << (s.total_bits() - 1);
    for (uint32_t c = 0; c < n; ++c) {
        const double v = spec_value(s, c);
        if (std::isnan(v) || std::isinf(v)) continue;
        t.values.push_back(v);
        t.codes.push_back(c);
    }
    for (size_t i = 1; i < t.values.size(); ++i)
        REQUIRE(t.values[i] > t.values[i - 1]);
    t.max_code = t.codes.back();
    const int e_top = static_cast<int>((t.max_code >> s.man_bits)) - s.bias;
    const uint32_t m_top = t.max_code & ((1u << s.man_bits) - 1u);
    // Next value after max: one more ulp in the top binade.
    t.values.push_back(
        std::ldexp(static_cast<double>((1u << s.man_bits) + m_top + 1u), e_top - s.man_bits));
    t.codes.push_back(t.max_code + 1u);
    return t;
}

// Slow reference rounding: nearest table entry to |x| (ties to the even code). Returns the
// magnitude code and whether it is the virtual overflow entry. x must not be NaN.
struct Nearest {
    uint32_t code;
    bool overflow;
};

inline Nearest reference_nearest(const Table& t, float x) {
    const double a = std::fabs(static_cast<double>(x));
    if (std::isinf(a)) return {0, true};
    const auto it = std::upper_bound(t.values.begin(), t.values.end(), a);
    if (it == t.values.end()) return {0, true};
    const size_t hi = static_cast<size_t>(it - t.values.begin());
    const size_t lo = hi - 1;                              // values[0] == 0 <= a
    const double mid = (t.values[lo] + t.values[hi]) / 2;  // exact in double
    size_t pick = lo;
    if (a > mid) pick = hi;
    if (a == mid) pick = (t.codes[lo] & 1u) == 0 ? lo : hi;
    return {t.codes[pick], pick == t.values.size() - 1};
}

// Applies the documented overflow policy and the sign to a reference rounding.
inline uint32_t reference_apply(const Table& t, float x, Nearest n, Overflow policy) {
    const Spec& s = t.spec;
    const uint32_t sign = std::signbit(x) ? 1u << (s.total_bits() - 1) : 0u;
    const uint32_t inf_code = ((1u << s.exp_bits) - 1u) << s.man_bits;
    if (!n.overflow) return sign | n.code;
    if (policy == Overflow::SatFinite) return sign | t.max_code;
    if (!s.ieee_specials) return sign | (t.max_code + 1u);  // E4M3FN: the NaN code
    return sign | inf_code;
}

inline uint32_t reference_encode(const Table& t, float x, Overflow policy) {
    return reference_apply(t, x, reference_nearest(t, x), policy);
}

inline bool same(const Spec& a, const Spec& b) {
    return std::string_view(a.name) == b.name;
}

inline uint32_t lib_encode(const Spec& s, float x, Overflow policy) {
    if (same(s, kBf16Spec)) return bf16_from_f32(x, policy);
    if (same(s, kF16Spec)) return f16_from_f32(x, policy);
    if (same(s, kE4M3Spec)) return e4m3_from_f32(x, policy);
    return e5m2_from_f32(x, policy);
}

inline float lib_decode(const Spec& s, uint32_t code) {
    if (same(s, kBf16Spec)) return f32_from_bf16(static_cast<uint16_t>(code));
    if (same(s, kF16Spec)) return f32_from_f16(static_cast<uint16_t>(code));
    if (same(s, kE4M3Spec)) return f32_from_e4m3(static_cast<uint8_t>(code));
    return f32_from_e5m2(static_cast<uint8_t>(code));
}

inline const std::vector<Spec>& all_specs() {
    static const std::vector<Spec> specs{kBf16Spec, kF16Spec, kE4M3Spec, kE5M2Spec};
    return specs;
}

// Reference INT8: floor in double, compare the fraction with 1/2, ties to even, saturate.
inline int reference_i8(float x) {
    if (std::isnan(x)) return 0;
    const double d = static_cast<double>(x);
    if (d >= 200) return 127;
    if (d <= -200) return -128;
    double r = std::floor(d);
    const double frac = d - r;  // exact: |d| < 200
    if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0)) r += 1;
    return static_cast<int>(std::clamp(r, -128.0, 127.0));
}

// Reference UE8M0: ceil(log2(x)) from frexp (x = f * 2^k, f in [0.5, 1)), clamped; 0xFF for
// values UE8M0 cannot hold.
inline int reference_ue8m0(float x) {
    if (!(x > 0) || std::isinf(x)) return 0xFF;
    int k = 0;
    const double f = std::frexp(static_cast<double>(x), &k);
    const int e = f == 0.5 ? k - 1 : k;
    return std::clamp(e, -127, 127) + 127;
}

// Emulation of PyTorch's c10 fp8e4m3fn_from_fp32_value / fp8e5m2_from_fp32_value (public
// source, c10/util/Float8_e4m3fn.h and Float8_e5m2.h): integer rounding-bias tricks for
// normals, an FP32 addition of a magic constant for subnormals. A second, structurally different
// twin for the Torch policy.
inline uint8_t c10_e4m3fn(float f) {
    uint32_t b = bits_of(f);
    const uint32_t sign = b & 0x80000000u;
    b ^= sign;
    uint8_t result = 0;
    if (b >= (1087u << 20)) {  // 480.0f and above, inf, NaN
        result = 0x7F;
    } else if (b < (121u << 23)) {  // below 2^-6: subnormal via FP32 addition
        const uint32_t denorm = 141u << 23;
        const uint32_t sum = bits_of(float_of(b) + float_of(denorm));
        result = static_cast<uint8_t>(sum - denorm);
    } else {
        const uint32_t odd = (b >> 20) & 1u;
        b += (static_cast<uint32_t>(7 - 127) << 23) + 0x7FFFFu;
        b += odd;
        result = static_cast<uint8_t>(b >> 20);
    }
    return static_cast<uint8_t>(result | (sign >> 24));
}

inline uint8_t c10_e5m2(float f) {
    uint32_t b = bits_of(f);
    const uint32_t sign = b & 0x80000000u;
    b ^= sign;
    uint8_t result = 0;
    if (b >= (143u << 23)) {  // 65536.0f and above
        result = b > 0x7F800000u ? 0x7F : 0x7C;
    } else if (b < (113u << 23)) {  // below 2^-14
        const uint32_t denorm = 134u << 23;
        const uint32_t sum = bits_of(float_of(b) + float_of(denorm));
        result = static_cast<uint8_t>(sum - denorm);
    } else {
        const uint32_t odd = (b >> 21) & 1u;
        b += (static_cast<uint32_t>(15 - 127) << 23) + 0xFFFFFu;
        b += odd;
        result = static_cast<uint8_t>(b >> 21);
    }
    return static_cast<uint8_t>(result | (sign >> 24));
}

// Compares every encoder with the reference on FP32 patterns 0, stride, 2*stride, ... (all 2^32
// patterns when stride is 1) plus every subnormal_stride-th FP32 subnormal, and checks UE8M0,
// INT8 and pow2_ceil against their references. Returns the number of patterns checked.
inline uint64_t sweep_fp32(uint64_t stride, uint32_t subnormal_stride) {
    struct Encoder {
        Table table;
        uint32_t (*encode)(float, Overflow);
    };
    const Encoder encoders[] = {
        {make_table(kBf16Spec),
         [](float x, Overflow p) -> uint32_t { return bf16_from_f32(x, p); }},
        {make_table(kF16Spec), [](float x, Overflow p) -> uint32_t { return f16_from_f32(x, p); }},
        {make_table(kE4M3Spec),
         [](float x, Overflow p) -> uint32_t { return e4m3_from_f32(x, p); }},
        {make_table(kE5M2Spec),
         [](float x, Overflow p) -> uint32_t { return e5m2_from_f32(x, p); }},
    };
    const float pow2_127 = std::ldexp(1.0f, 127);
    uint64_t count = 0;
    uint64_t failures = 0;
    auto fail = [&](const char* what, uint32_t b, uint32_t got, uint32_t want) {
        // Report the first few in full; the final CHECK counts the rest.
        if (++failures <= 10) {
            char msg[160];
            std::snprintf(msg, sizeof msg, "%s: x bits 0x%08x: got 0x%x, reference 0x%x", what, b,
                          got, want);
            FAIL_CHECK(std::string(msg));
        }
    };
    auto check_one = [&](uint32_t b) {
        const float x = float_of(b);
        const bool nan = std::isnan(x);
        for (const Encoder& e : encoders) {
            const Nearest n = nan ? Nearest{0, false} : reference_nearest(e.table, x);
            for (Overflow p : {Overflow::Torch, Overflow::SatFinite}) {
                const uint32_t got = e.encode(x, p);
                if (nan) {
                    if (!spec_is_nan(e.table.spec, got)) fail(e.table.spec.name, b, got, 0);
                    continue;
                }
                const uint32_t want = reference_apply(e.table, x, n, p);
                if (got != want) fail(e.table.spec.name, b, got, want);
            }
        }
        const int i8 = i8_from_f32(x);
        if (i8 != reference_i8(x)) fail("i8", b, static_cast<uint32_t>(i8), 0);
        const int ue = ue8m0_from_f32(x);
        if (ue != reference_ue8m0(x)) fail("ue8m0", b, static_cast<uint32_t>(ue), 0);
        // pow2_ceil equals DeepSeek V3.2's fast_pow2(fast_log2_ceil(x)) for positive normals
        // whose result is finite, and is what a UE8M0 scale decodes to inside its range.
        const uint32_t exp_field = (b >> 23) & 0xFFu;
        if (b < 0x7F000000u && exp_field != 0) {
            const int e = static_cast<int>(exp_field) - 127 + ((b & 0x7FFFFFu) != 0 ? 1 : 0);
            const uint32_t want = static_cast<uint32_t>(e + 127) << 23;
            if (bits_of(pow2_ceil(x)) != want) fail("pow2_ceil", b, bits_of(pow2_ceil(x)), want);
        }
        if (x > 0 && x <= pow2_127 && b >= 0x00400000u &&
            f32_from_ue8m0(static_cast<uint8_t>(ue)) != pow2_ceil(x)) {
            fail("ue8m0 vs pow2_ceil", b, static_cast<uint32_t>(ue), bits_of(pow2_ceil(x)));
        }
        ++count;
    };
    for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += stride)
        check_one(static_cast<uint32_t>(b));
    for (uint32_t b = 0; b < 0x00800000u; b += subnormal_stride)
        check_one(b);
    CHECK(failures == 0);
    return count;
}

}  // namespace dssim::numerics::testref
