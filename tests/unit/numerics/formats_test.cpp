// Tests of dssim_numerics formats: exhaustive decode tables, round trips, RNE ties at every
// midpoint, overflow policies, subnormals, and a strided sweep of FP32 inputs compared with a
// slow reference encoder that shares no code with the library (it enumerates every code's value
// from the sign/exponent/mantissa formula in double and picks the nearest, ties to even).
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/numerics.h"
#include "format_reference.h"

using namespace dssim::numerics;
using namespace dssim::numerics::testref;

TEST_CASE("E4M3FN: all 256 codes decode to the formula value") {
    for (uint32_t c = 0; c < 256; ++c) {
        const uint32_t s = c >> 7, e = (c >> 3) & 0xF, m = c & 7;
        const float got = f32_from_e4m3(static_cast<uint8_t>(c));
        CAPTURE(c);
        if (e == 15 && m == 7) {
            CHECK(std::isnan(got));
            CHECK(std::signbit(got) == (s != 0));
            continue;
        }
        // Written out independently of spec_value: subnormal m * 2^-9, normal (8 + m) * 2^(e-10).
        double expect = e == 0 ? m / 512.0 : (8.0 + m) * std::pow(2.0, static_cast<int>(e) - 10);
        if (s != 0) expect = -expect;
        CHECK(static_cast<double>(got) == expect);
        CHECK(std::signbit(got) == (s != 0));
        CHECK(static_cast<double>(got) == spec_value(kE4M3Spec, c));
    }
    struct Anchor {
        uint8_t code;
        double value;
    };
    const Anchor anchors[] = {
        {0x00, 0.0},    {0x01, 0.001953125}, {0x07, 0.013671875},  {0x08, 0.015625}, {0x38, 1.0},
        {0x3C, 1.5},    {0x40, 2.0},         {0x77, 240.0},        {0x78, 256.0},    {0x7E, 448.0},
        {0xFE, -448.0}, {0xB8, -1.0},        {0x81, -0.001953125},
    };
    for (const Anchor& a : anchors) {
        CAPTURE(a.code);
        CHECK(static_cast<double>(f32_from_e4m3(a.code)) == a.value);
    }
    CHECK(std::isnan(f32_from_e4m3(0x7F)));
    CHECK(std::isnan(f32_from_e4m3(0xFF)));
    CHECK(std::signbit(f32_from_e4m3(0x80)));
    CHECK(max_finite(DType::F8E4M3) == 448.0f);
}

TEST_CASE("E5M2: all 256 codes decode to the formula value") {
    for (uint32_t c = 0; c < 256; ++c) {
        const uint32_t s = c >> 7, e = (c >> 2) & 0x1F, m = c & 3;
        const float got = f32_from_e5m2(static_cast<uint8_t>(c));
        CAPTURE(c);
        CHECK(std::signbit(got) == (s != 0));
        if (e == 31) {
            if (m == 0) {
                CHECK(std::isinf(got));
            } else {
                CHECK(std::isnan(got));
            }
            continue;
        }
        double expect = e == 0 ? m / 65536.0 : (4.0 + m) * std::pow(2.0, static_cast<int>(e) - 17);
        if (s != 0) expect = -expect;
        CHECK(static_cast<double>(got) == expect);
        CHECK(static_cast<double>(got) == spec_value(kE5M2Spec, c));
    }
    struct Anchor {
        uint8_t code;
        double value;
    };
    const Anchor anchors[] = {
        {0x01, 1.0 / 65536}, {0x03, 3.0 / 65536}, {0x04, 1.0 / 16384}, {0x3C, 1.0},
        {0x3E, 1.5},         {0x7B, 57344.0},     {0xFB, -57344.0},    {0x78, 32768.0},
    };
    for (const Anchor& a : anchors) {
        CAPTURE(a.code);
        CHECK(static_cast<double>(f32_from_e5m2(a.code)) == a.value);
    }
    CHECK(f32_from_e5m2(0x7C) == kInf);
    CHECK(f32_from_e5m2(0xFC) == -kInf);
    CHECK(std::isnan(f32_from_e5m2(0x7D)));
    CHECK(std::isnan(f32_from_e5m2(0x7F)));
    CHECK(max_finite(DType::F8E5M2) == 57344.0f);
}

TEST_CASE("UE8M0: all 256 codes are powers of two, 0xFF is NaN") {
    for (uint32_t c = 0; c < 255; ++c) {
        CAPTURE(c);
        CHECK(static_cast<double>(f32_from_ue8m0(static_cast<uint8_t>(c))) ==
              std::ldexp(1.0, static_cast<int>(c) - 127));
        CHECK(ue8m0_from_f32(f32_from_ue8m0(static_cast<uint8_t>(c))) == c);
    }
    CHECK(std::isnan(f32_from_ue8m0(0xFF)));
    CHECK(f32_from_ue8m0(127) == 1.0f);
    CHECK(f32_from_ue8m0(0) == std::ldexp(1.0f, -127));
    CHECK(max_finite(DType::UE8M0) == std::ldexp(1.0f, 127));
}

TEST_CASE("FP16 and BF16: every bit pattern round-trips through FP32") {
    for (const Spec& s : {kBf16Spec, kF16Spec}) {
        CAPTURE(s.name);
        const uint32_t inf_code = ((1u << s.exp_bits) - 1u) << s.man_bits;
        const uint32_t sign_bit = 1u << 15;
        for (uint32_t c = 0; c < 65536; ++c) {
            CAPTURE(c);
            const float v = lib_decode(s, c);
            const double expect = spec_value(s, c);
            const uint32_t mag = c & (sign_bit - 1u);
            if (spec_is_nan(s, c)) {
                REQUIRE(std::isnan(v));
                REQUIRE(std::signbit(v) == ((c & sign_bit) != 0));
                for (Overflow p : {Overflow::Torch, Overflow::SatFinite}) {
                    const uint32_t back = lib_encode(s, v, p);
                    REQUIRE(spec_is_nan(s, back));
                    REQUIRE((back & sign_bit) == (c & sign_bit));
                    // Quiet NaNs keep their payload exactly.
                    if ((mag & (1u << (s.man_bits - 1))) != 0) REQUIRE(back == c);
                }
                continue;
            }
            REQUIRE(static_cast<double>(v) == expect);
            REQUIRE(std::signbit(v) == ((c & sign_bit) != 0));
            REQUIRE(lib_encode(s, v, Overflow::Torch) == c);
            if (mag == inf_code) {
                REQUIRE(lib_encode(s, v, Overflow::SatFinite) == ((c & sign_bit) | (inf_code - 1)));
            } else {
                REQUIRE(lib_encode(s, v, Overflow::SatFinite) == c);
            }
        }
    }
    CHECK(max_finite(DType::F16) == 65504.0f);
    CHECK(max_finite(DType::BF16) == float_of(0x7F7F0000u));
}

TEST_CASE("FP8: every finite code round-trips through FP32 under both policies") {
    for (const Spec& s : {kE4M3Spec, kE5M2Spec}) {
        for (uint32_t c = 0; c < 256; ++c) {
            CAPTURE(s.name);
            CAPTURE(c);
            const float v = lib_decode(s, c);
            if (std::isnan(v)) {
                CHECK(spec_is_nan(s, lib_encode(s, v, Overflow::Torch)));
                CHECK(spec_is_nan(s, lib_encode(s, v, Overflow::SatFinite)));
            } else if (!std::isinf(v)) {
                CHECK(lib_encode(s, v, Overflow::Torch) == c);
                CHECK(lib_encode(s, v, Overflow::SatFinite) == c);
            }
        }
    }
}

TEST_CASE("RNE: every midpoint ties to even; one FP32 ulp either side goes to the nearer") {
    for (const Spec& s : all_specs()) {
        CAPTURE(s.name);
        const Table t = make_table(s);
        const uint32_t sign_bit = 1u << (s.total_bits() - 1);
        size_t checked = 0;
        for (size_t i = 0; i + 1 < t.values.size(); ++i) {
            const double lo = t.values[i], hi = t.values[i + 1];
            const float mid = static_cast<float>((lo + hi) / 2);
            REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);  // midpoints are FP32 values
            const bool top = i + 2 == t.values.size();  // hi is the overflow (virtual) entry
            const uint32_t lo_code = t.codes[i], hi_code = t.codes[i + 1];
            const uint32_t even = (lo_code & 1u) == 0 ? lo_code : hi_code;
            for (Overflow p : {Overflow::Torch, Overflow::SatFinite}) {
                CAPTURE(i);
                CAPTURE(overflow_name(p));
                // Overflow resolution of the virtual code is checked in its own test case; here
                // the virtual code stands for "overflowed".
                auto expect = [&](uint32_t code) {
                    if (!top || code != hi_code) return code;
                    return reference_encode(t, kInf, p);
                };
                REQUIRE(lib_encode(s, mid, p) == expect(even));
                REQUIRE(lib_encode(s, next_up(mid), p) == expect(hi_code));
                REQUIRE(lib_encode(s, next_down(mid), p) == expect(lo_code));
                REQUIRE(lib_encode(s, -mid, p) == (sign_bit | expect(even)));
                REQUIRE(lib_encode(s, -next_up(mid), p) == (sign_bit | expect(hi_code)));
                REQUIRE(lib_encode(s, -next_down(mid), p) == (sign_bit | expect(lo_code)));
                // The representable values themselves are fixed points.
                REQUIRE(lib_encode(s, static_cast<float>(lo), p) == lo_code);
                ++checked;
            }
        }
        CHECK(checked == 2 * (t.values.size() - 1));
    }
}

TEST_CASE("RNE ties for INT8 and exact UE8M0 boundaries") {
    const std::pair<float, int> ties[] = {
        {0.5f, 0},        {1.5f, 2},        {2.5f, 2},       {-0.5f, 0},      {-1.5f, -2},
        {-2.5f, -2},      {126.5f, 126},    {127.5f, 127},   {-127.5f, -128}, {-128.5f, -128},
        {0.49999997f, 0}, {0.50000006f, 1}, {3.4999998f, 3}, {3.5f, 4},       {1e10f, 127},
        {-1e10f, -128},   {kInf, 127},      {-kInf, -128},   {200.f, 127},    {-129.f, -128},
    };
    for (auto [x, expect] : ties) {
        CAPTURE(x);
        CHECK(i8_from_f32(x) == expect);
        CHECK(i8_from_f32(x, Overflow::Torch) == expect);
    }
    CHECK(i8_from_f32(std::nanf("")) == 0);
    CHECK(i8_from_f32(-std::nanf("")) == 0);
    // Every half-integer and its FP32 neighbours in the INT8 range and a bit beyond.
    for (int k = -140; k <= 140; ++k) {
        const float h = static_cast<float>(k) + 0.5f;
        CAPTURE(h);
        CHECK(i8_from_f32(h) == reference_i8(h));
        CHECK(i8_from_f32(next_up(h)) == std::clamp(k + 1, -128, 127));
        CHECK(i8_from_f32(next_down(h)) == std::clamp(k, -128, 127));
    }
    // UE8M0: 2^e -> e, one FP32 ulp above -> e + 1; one ulp below -> e.
    for (int e = -126; e <= 126; ++e) {
        const float p = std::ldexp(1.0f, e);
        CAPTURE(e);
        CHECK(ue8m0_from_f32(p) == e + 127);
        CHECK(ue8m0_from_f32(next_up(p)) == e + 128);
        CHECK(ue8m0_from_f32(next_down(p)) == e + 127);
        CHECK(pow2_ceil(p) == p);
        CHECK(pow2_ceil(next_up(p)) == 2 * p);
        CHECK(pow2_ceil(next_down(p)) == p);
    }
}

TEST_CASE("overflow thresholds under both policies") {
    const auto sat = Overflow::SatFinite;
    const auto torch = Overflow::Torch;
    // E4M3FN: 448 max; 464 is the midpoint to the (NaN) code above and ties down to 448.
    CHECK(e4m3_from_f32(448.f, torch) == 0x7E);
    CHECK(e4m3_from_f32(464.f, torch) == 0x7E);
    CHECK(e4m3_from_f32(464.f, sat) == 0x7E);
    CHECK(e4m3_from_f32(next_down(464.f), torch) == 0x7E);
    CHECK(e4m3_from_f32(next_up(464.f), torch) == 0x7F);
    CHECK(e4m3_from_f32(next_up(464.f), sat) == 0x7E);
    CHECK(e4m3_from_f32(next_down(480.f), torch) == 0x7F);
    CHECK(e4m3_from_f32(480.f, torch) == 0x7F);
    CHECK(e4m3_from_f32(500.f, torch) == 0x7F);
    CHECK(e4m3_from_f32(500.f, sat) == 0x7E);
    CHECK(e4m3_from_f32(-500.f, torch) == 0xFF);
    CHECK(e4m3_from_f32(-500.f, sat) == 0xFE);
    CHECK(e4m3_from_f32(3e38f, sat) == 0x7E);
    CHECK(e4m3_from_f32(kInf, torch) == 0x7F);
    CHECK(e4m3_from_f32(kInf, sat) == 0x7E);
    CHECK(e4m3_from_f32(-kInf, sat) == 0xFE);
    CHECK(e4m3_from_f32(std::nanf(""), sat) == 0x7F);
    CHECK(e4m3_from_f32(-std::nanf(""), sat) == 0xFF);
    CHECK(e4m3_from_f32(std::nanf(""), torch) == 0x7F);
    // E5M2: max 57344 = 0x7B (odd), so the midpoint 61440 ties UP into overflow.
    CHECK(e5m2_from_f32(57344.f, torch) == 0x7B);
    CHECK(e5m2_from_f32(next_down(61440.f), torch) == 0x7B);
    CHECK(e5m2_from_f32(61440.f, torch) == 0x7C);
    CHECK(e5m2_from_f32(61440.f, sat) == 0x7B);
    CHECK(e5m2_from_f32(65536.f, torch) == 0x7C);
    CHECK(e5m2_from_f32(-65536.f, torch) == 0xFC);
    CHECK(e5m2_from_f32(-65536.f, sat) == 0xFB);
    CHECK(e5m2_from_f32(kInf, sat) == 0x7B);
    CHECK(e5m2_from_f32(kInf, torch) == 0x7C);
    CHECK(e5m2_from_f32(std::nanf(""), torch) == 0x7F);
    CHECK(e5m2_from_f32(-std::nanf(""), sat) == 0xFF);
    // FP16: max 65504; midpoint 65520 ties up to inf.
    CHECK(f16_from_f32(65504.f, torch) == 0x7BFF);
    CHECK(f16_from_f32(next_down(65520.f), torch) == 0x7BFF);
    CHECK(f16_from_f32(65520.f, torch) == 0x7C00);
    CHECK(f16_from_f32(65520.f, sat) == 0x7BFF);
    CHECK(f16_from_f32(-1e6f, torch) == 0xFC00);
    CHECK(f16_from_f32(-1e6f, sat) == 0xFBFF);
    CHECK(f16_from_f32(kInf, sat) == 0x7BFF);
    CHECK(f16_from_f32(std::nanf(""), torch) == 0x7E00);
    CHECK(f16_from_f32(-std::nanf(""), torch) == 0xFE00);
    // BF16: FLT_MAX rounds up past the largest BF16 (0x7F7F).
    const float bf16_max = float_of(0x7F7F0000u);
    const float bf16_mid = float_of(0x7F7F8000u);
    CHECK(bf16_from_f32(bf16_max, torch) == 0x7F7F);
    CHECK(bf16_from_f32(next_down(bf16_mid), torch) == 0x7F7F);
    CHECK(bf16_from_f32(bf16_mid, torch) == 0x7F80);
    CHECK(bf16_from_f32(bf16_mid, sat) == 0x7F7F);
    CHECK(bf16_from_f32(std::numeric_limits<float>::max(), torch) == 0x7F80);
    CHECK(bf16_from_f32(-std::numeric_limits<float>::max(), sat) == 0xFF7F);
    CHECK(bf16_from_f32(kInf, torch) == 0x7F80);
    CHECK(bf16_from_f32(kInf, sat) == 0x7F7F);
    // NaN payload: top bits kept, quiet bit forced, sign kept.
    CHECK(bf16_from_f32(float_of(0x7FC12345u)) == 0x7FC1);
    CHECK(bf16_from_f32(float_of(0xFF800001u)) == 0xFFC0);  // signalling, payload below BF16
    CHECK(f16_from_f32(float_of(0x7F800001u)) == 0x7E00);
    // UE8M0 clamps out-of-range finite values; non-positive, inf and NaN have no UE8M0 value.
    CHECK(ue8m0_from_f32(std::numeric_limits<float>::max()) == 0xFE);
    CHECK(ue8m0_from_f32(std::ldexp(1.0f, 127)) == 0xFE);
    CHECK(ue8m0_from_f32(next_up(std::ldexp(1.0f, 127))) == 0xFE);
    CHECK(ue8m0_from_f32(kInf) == 0xFF);
    CHECK(ue8m0_from_f32(0.0f) == 0xFF);
    CHECK(ue8m0_from_f32(-0.0f) == 0xFF);
    CHECK(ue8m0_from_f32(-1.0f) == 0xFF);
    CHECK(ue8m0_from_f32(std::nanf("")) == 0xFF);
    CHECK(pow2_ceil(next_up(std::ldexp(1.0f, 127))) == kInf);
    CHECK(std::isnan(pow2_ceil(0.0f)));
    CHECK(std::isnan(pow2_ceil(-2.0f)));
    CHECK(pow2_ceil(kInf) == kInf);
}

TEST_CASE("FP32 subnormal inputs and signed zeros") {
    const float tiny = float_of(0x00000001u);  // 2^-149
    // BF16 keeps FP32's exponent range: its subnormal quantum is 2^-133 = FP32 bits 0x10000.
    CHECK(bf16_from_f32(tiny) == 0x0000);
    CHECK(bf16_from_f32(-tiny) == 0x8000);
    CHECK(bf16_from_f32(float_of(0x00008000u)) == 0x0000);  // tie -> even 0
    CHECK(bf16_from_f32(float_of(0x00008001u)) == 0x0001);
    CHECK(bf16_from_f32(float_of(0x00018000u)) == 0x0002);  // tie -> even 2
    CHECK(bf16_from_f32(float_of(0x00028000u)) == 0x0002);  // tie -> even 2
    CHECK(bf16_from_f32(float_of(0x007FFFFFu)) == 0x0080);  // rounds up to min normal
    CHECK(f32_from_bf16(0x0001) == float_of(0x00010000u));
    for (uint32_t b : {0x00000001u, 0x00012345u, 0x007FFFFFu}) {
        const float x = float_of(b);
        CHECK(f16_from_f32(x) == 0x0000);
        CHECK(f16_from_f32(-x) == 0x8000);
        CHECK(e4m3_from_f32(x) == 0x00);
        CHECK(e4m3_from_f32(-x) == 0x80);
        CHECK(e5m2_from_f32(-x, Overflow::Torch) == 0x80);
        CHECK(i8_from_f32(x) == 0);
    }
    CHECK(ue8m0_from_f32(tiny) == 0x00);                   // 2^-149 clamps to 2^-127
    CHECK(ue8m0_from_f32(float_of(0x00200000u)) == 0x00);  // 2^-128 clamps to 2^-127
    CHECK(ue8m0_from_f32(float_of(0x00400000u)) == 0x00);  // 2^-127 exactly
    CHECK(ue8m0_from_f32(float_of(0x00400001u)) == 0x01);  // just above: 2^-126
    CHECK(ue8m0_from_f32(float_of(0x00800000u)) == 0x01);  // 2^-126 (smallest normal)
    CHECK(pow2_ceil(tiny) == tiny);
    CHECK(pow2_ceil(float_of(0x00000003u)) == float_of(0x00000004u));
    CHECK(pow2_ceil(float_of(0x00400001u)) == float_of(0x00800000u));
    CHECK(bits_of(f32_from_f16(0x8000)) == 0x80000000u);
    CHECK(bits_of(f32_from_e4m3(0x80)) == 0x80000000u);
    CHECK(bits_of(f32_from_e5m2(0x80)) == 0x80000000u);
    // FP16/FP8 smallest subnormals and half of them (ties to even 0).
    CHECK(f16_from_f32(std::ldexp(1.0f, -24)) == 0x0001);
    CHECK(f16_from_f32(std::ldexp(1.0f, -25)) == 0x0000);
    CHECK(f16_from_f32(next_up(std::ldexp(1.0f, -25))) == 0x0001);
    CHECK(e4m3_from_f32(std::ldexp(1.0f, -10)) == 0x00);
    CHECK(e4m3_from_f32(std::ldexp(3.0f, -10)) == 0x02);  // 1.5 quanta of 2^-9 -> even 2
    CHECK(e4m3_from_f32(std::ldexp(5.0f, -10)) == 0x02);  // 2.5 quanta -> even 2
    CHECK(e4m3_from_f32(std::ldexp(3.0f, -11)) == 0x01);  // 0.75 quanta -> 1
    CHECK(e5m2_from_f32(std::ldexp(1.0f, -17)) == 0x00);
}

TEST_CASE("reference twin: strided sweep of FP32 patterns against the slow encoder") {
    // About 4.4 million patterns; tests/unit/numerics/sweep_test.cpp (label slow) runs a
    // denser sweep with the same checks.
    CHECK(sweep_fp32(997, 61) > (1u << 22));
}

TEST_CASE("round_to_bf16 and the generic dispatch agree with the typed functions") {
    CHECK(round_to_bf16(1.0f) == 1.0f);
    CHECK(round_to_bf16(float_of(0x3F808000u)) == 1.0f);  // tie -> even
    CHECK(round_to_bf16(float_of(0x3F818000u)) == float_of(0x3F820000u));
    CHECK(round_to_bf16(0.1f) == float_of(0x3DCD0000u));
    for (float x : {0.1f, -1e-3f, 448.f, 500.f, 1e-7f, -65519.f, 3e38f}) {
        CAPTURE(x);
        for (Overflow p : {Overflow::Torch, Overflow::SatFinite}) {
            CHECK(encode_from_f32(DType::BF16, x, p) == bf16_from_f32(x, p));
            CHECK(encode_from_f32(DType::F16, x, p) == f16_from_f32(x, p));
            CHECK(encode_from_f32(DType::F8E4M3, x, p) == e4m3_from_f32(x, p));
            CHECK(encode_from_f32(DType::F8E5M2, x, p) == e5m2_from_f32(x, p));
            CHECK(encode_from_f32(DType::UE8M0, x, p) == ue8m0_from_f32(x));
            CHECK(encode_from_f32(DType::I8, x, p) == static_cast<uint8_t>(i8_from_f32(x, p)));
            CHECK(encode_from_f32(DType::F32, x, p) == bits_of(x));
        }
    }
    CHECK(decode_to_f32(DType::F8E4M3, 0x7E) == 448.f);
    CHECK(decode_to_f32(DType::I8, 0x80) == -128.f);
    CHECK(decode_to_f32(DType::I8, 0x7F) == 127.f);
    CHECK(decode_to_f32(DType::F32, 0x3F800000u) == 1.0f);
    CHECK(decode_to_f32(DType::UE8M0, 0x7F) == 1.0f);
    CHECK_THROWS_AS(encode_from_f32(DType::I32, 1.0f, Overflow::Torch), dssim::InputError);
    CHECK_THROWS_AS(decode_to_f32(DType::U8, 1), dssim::InputError);
    CHECK_THROWS_AS(max_finite(DType::I64), dssim::InputError);
    CHECK(min_normal(DType::F8E4M3) == std::ldexp(1.0f, -6));
    CHECK(min_normal(DType::F8E5M2) == std::ldexp(1.0f, -14));
    CHECK(min_normal(DType::F16) == std::ldexp(1.0f, -14));
    CHECK(min_normal(DType::BF16) == std::ldexp(1.0f, -126));
    CHECK(min_normal(DType::F32) == std::ldexp(1.0f, -126));
    CHECK(min_normal(DType::UE8M0) == std::ldexp(1.0f, -127));
    CHECK_THROWS_AS(min_normal(DType::I8), dssim::InputError);
}

TEST_CASE("the inlined BF16 conversion equals the library on every rounding case") {
    // Every upper half (sign, exponent, 7 mantissa bits: all BF16 neighbourhoods, inf and NaN)
    // with the lower halves that decide rounding: exact, just above, just below and at the tie,
    // the carry into the next binade (0xFFFF), and a few others.
    const uint32_t lows[] = {0x0000u, 0x0001u, 0x4000u, 0x7FFFu, 0x8000u,
                             0x8001u, 0xC000u, 0xFFFFu, 0x1234u, 0xABCDu};
    size_t mismatches = 0;
    for (uint32_t hi = 0; hi < 0x10000u; ++hi) {
        for (uint32_t lo : lows) {
            const float x = float_of((hi << 16) | lo);
            const uint16_t expect = bf16_from_f32(x, Overflow::Torch);
            if (bf16_from_f32_fast(x) != expect ||
                bits_of(round_to_bf16_fast(x)) != bits_of(round_to_bf16(x))) {
                ++mismatches;
            }
        }
    }
    CHECK(mismatches == 0);
}

TEST_CASE("dtype and overflow names") {
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::F8E5M2, DType::UE8M0,
                    DType::I8, DType::I32, DType::I64, DType::U8}) {
        CAPTURE(dtype_name(t));
        REQUIRE(parse_dtype(dtype_name(t)).has_value());
        CHECK(*parse_dtype(dtype_name(t)) == t);
    }
    CHECK(parse_dtype("float8_e4m3fn") == DType::F8E4M3);
    CHECK(parse_dtype("BFloat16") == DType::BF16);
    CHECK(parse_dtype("int8") == DType::I8);
    CHECK_FALSE(parse_dtype("e4m4").has_value());
    CHECK_FALSE(parse_dtype("").has_value());
    CHECK(dtype_size(DType::F32) == 4);
    CHECK(dtype_size(DType::BF16) == 2);
    CHECK(dtype_size(DType::F8E4M3) == 1);
    CHECK(dtype_size(DType::UE8M0) == 1);
    CHECK(dtype_size(DType::I64) == 8);
    CHECK(parse_overflow("satfinite") == Overflow::SatFinite);
    CHECK(parse_overflow("torch") == Overflow::Torch);
    CHECK_FALSE(parse_overflow("wrap").has_value());
    CHECK(overflow_name(Overflow::Torch) == "torch");
}

TEST_CASE("Torch policy matches an emulation of PyTorch's c10 FP8 converters") {
    // Every FP32 pattern whose low 12 bits are 0 (2^20 patterns, all binades, both signs) plus
    // each of them with the low bits set, which exercises the sticky part of the rounding.
    uint64_t mismatches = 0;
    for (uint32_t hi = 0; hi < (1u << 20); ++hi) {
        for (uint32_t low : {0x000u, 0x001u, 0xFFFu}) {
            const uint32_t b = (hi << 12) | low;
            const float x = float_of(b);
            if (e4m3_from_f32(x, Overflow::Torch) != c10_e4m3fn(x)) ++mismatches;
            if (e5m2_from_f32(x, Overflow::Torch) != c10_e5m2(x)) ++mismatches;
        }
    }
    CHECK(mismatches == 0);
    CHECK(c10_e4m3fn(464.f) == 0x7E);  // the emulation itself agrees with the documented anchors
    CHECK(c10_e4m3fn(470.f) == 0x7F);
}
