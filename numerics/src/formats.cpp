// Exact conversions between FP32 and the narrow formats of DeepSeek inference.
//
// Everything works on bit patterns with integer arithmetic, so the result never depends on the
// host's float->half instructions, the FPU rounding mode or compiler contraction. The contract
// (rounding, overflow policies, NaN handling) is written down in docs/numerics.md, "Formats".
#include "dssim/numerics/formats.h"

#include <array>
#include <bit>
#include <cctype>
#include <string>

#include "dssim/base/error.h"

namespace dssim::numerics {
namespace {

constexpr uint32_t kF32SignMask = 0x80000000u;
constexpr uint32_t kF32AbsMask = 0x7FFFFFFFu;
constexpr uint32_t kF32ExpMask = 0x7F800000u;
constexpr uint32_t kF32ManMask = 0x007FFFFFu;
constexpr uint32_t kF32QuietBit = 0x00400000u;

uint32_t bits_of(float x) {
    return std::bit_cast<uint32_t>(x);
}
float float_of(uint32_t bits) {
    return std::bit_cast<float>(bits);
}

bool is_nan_bits(uint32_t abs_bits) {
    return abs_bits > kF32ExpMask;
}
bool is_inf_bits(uint32_t abs_bits) {
    return abs_bits == kF32ExpMask;
}

// sig >> shift rounded to nearest, ties to even. shift may be any non-negative amount.
uint32_t shift_right_rne(uint32_t sig, int shift) {
    if (shift == 0) return sig;
    // sig < 2^24, so with shift >= 26 the value is below a quarter and rounds to 0.
    if (shift >= 26) return 0;
    const uint32_t q = sig >> shift;
    const uint32_t rem = sig & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u) != 0)) return q + 1u;
    return q;
}

// Narrow binary floating-point layout: man_bits fraction bits, exponent bias `bias`, smallest
// normal exponent 1 - bias. The exponent width only matters for overflow, handled by callers.
struct Layout {
    int man_bits;
    int bias;
};

// Rounds a finite, non-negative FP32 (given as bits without sign) to the layout with RNE and
// returns its magnitude code (exponent_field << man_bits) | fraction as if the exponent field
// were unbounded. Codes are monotone in the value, a mantissa carry moves into the exponent
// field naturally, and subnormal codes continue into normal ones, so the caller only compares
// the code with the format's largest finite code to detect overflow.
uint32_t round_magnitude(uint32_t abs_bits, Layout layout) {
    const uint32_t exp_field = abs_bits >> 23;
    const uint32_t frac = abs_bits & kF32ManMask;
    if (abs_bits == 0) return 0;
    // value = sig * 2^pow, sig an integer < 2^24; e = floor(log2(value)).
    uint32_t sig = 0;
    int pow = 0;
    int e = 0;
    if (exp_field == 0) {  // FP32 subnormal
        sig = frac;
        pow = -149;
        e = (31 - std::countl_zero(frac)) - 149;
    } else {
        sig = frac | (1u << 23);
        pow = static_cast<int>(exp_field) - 150;
        e = static_cast<int>(exp_field) - 127;
    }
    const int min_normal_exp = 1 - layout.bias;
    if (e < min_normal_exp) {
        // Subnormal range of the target: quantum 2^(min_normal_exp - man_bits); the code is the
        // number of quanta (reaching 1 << man_bits means the value rounded up to min normal).
        const int quantum_exp = min_normal_exp - layout.man_bits;
        const int shift = quantum_exp - pow;
        if (shift <= 0) return sig << -shift;  // exact: target finer than the input
        return shift_right_rne(sig, shift);
    }
    // Normal: q in [2^man_bits, 2^(man_bits+1)] counts quanta of 2^(e - man_bits).
    const int shift = (e - layout.man_bits) - pow;
    const uint32_t q = shift <= 0 ? sig << -shift : shift_right_rne(sig, shift);
    const uint32_t biased = static_cast<uint32_t>(e + layout.bias);
    return (biased << layout.man_bits) + (q - (1u << layout.man_bits));
}

// Decodes a sign-less magnitude code of a narrow layout whose exponent field is normal or zero
// (callers handle inf/NaN codes) into FP32 bits. Exact for every layout narrower than FP32 whose
// range lies inside FP32's normal range.
uint32_t decode_magnitude(uint32_t code, Layout layout) {
    const uint32_t frac_mask = (1u << layout.man_bits) - 1u;
    const uint32_t exp_field = code >> layout.man_bits;
    uint32_t frac = code & frac_mask;
    if (exp_field == 0) {
        if (frac == 0) return 0;
        // value = frac * 2^(1 - bias - man_bits); normalise the top set bit to the implicit one.
        const int top = 31 - std::countl_zero(frac);
        const int e = top + (1 - layout.bias - layout.man_bits);
        frac &= ~(1u << top);
        return (static_cast<uint32_t>(e + 127) << 23) | (frac << (23 - top));
    }
    const int e = static_cast<int>(exp_field) - layout.bias;
    return (static_cast<uint32_t>(e + 127) << 23) | (frac << (23 - layout.man_bits));
}

constexpr Layout kBf16{7, 127};
constexpr Layout kF16{10, 15};
constexpr Layout kE4M3{3, 7};
constexpr Layout kE5M2{2, 15};

// Encodes into an IEEE-like format with an infinity (all-ones exponent): BF16, FP16, E5M2.
// `quiet_nan` is the NaN code (without sign) used when the input is NaN; payload_shift keeps
// the top payload bits for the 16-bit formats.
struct IeeeFormat {
    Layout layout;
    int total_bits;
    uint32_t inf_code;  // positive infinity, without sign
    uint32_t quiet_bit;
};

uint32_t encode_ieee(float x, Overflow policy, const IeeeFormat& f) {
    const uint32_t bits = bits_of(x);
    const uint32_t sign = (bits & kF32SignMask) >> (32 - f.total_bits);
    const uint32_t abs_bits = bits & kF32AbsMask;
    const uint32_t max_finite_code = f.inf_code - 1u;
    if (is_nan_bits(abs_bits)) {
        // Keep the sign and the top payload bits, force the quiet bit (so a payload that would
        // truncate to zero still yields a NaN, not infinity).
        const int payload_shift = 23 - f.layout.man_bits;
        return sign | f.inf_code | f.quiet_bit | ((abs_bits & kF32ManMask) >> payload_shift);
    }
    if (is_inf_bits(abs_bits)) {
        return sign | (policy == Overflow::SatFinite ? max_finite_code : f.inf_code);
    }
    const uint32_t code = round_magnitude(abs_bits, f.layout);
    if (code > max_finite_code) {
        return sign | (policy == Overflow::SatFinite ? max_finite_code : f.inf_code);
    }
    return sign | code;
}

float decode_ieee(uint32_t bits, const IeeeFormat& f) {
    const uint32_t sign_bit = 1u << (f.total_bits - 1);
    const uint32_t sign = (bits & sign_bit) != 0 ? kF32SignMask : 0u;
    const uint32_t code = bits & (sign_bit - 1u);
    if ((code & f.inf_code) == f.inf_code) {
        const uint32_t payload = code & ~f.inf_code;
        return float_of(sign | kF32ExpMask | (payload << (23 - f.layout.man_bits)));
    }
    return float_of(sign | decode_magnitude(code, f.layout));
}

constexpr IeeeFormat kF16Format{kF16, 16, 0x7C00u, 0x0200u};
constexpr IeeeFormat kE5M2Format{kE5M2, 8, 0x7Cu, 0x02u};

// E4M3FN: no infinity; the only NaN magnitude is 0x7F, the largest finite is 0x7E = 448.
constexpr uint32_t kE4M3Nan = 0x7Fu;
constexpr uint32_t kE4M3MaxFinite = 0x7Eu;
// E5M2 NaN as PyTorch (c10 fp8e5m2_from_fp32_value) produces it: all mantissa bits set.
constexpr uint32_t kE5M2Nan = 0x7Fu;

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

[[noreturn]] void unsupported(std::string_view what, DType type) {
    throw_input_error(
        "", "dtype",
        std::string(what) + ": format " + std::string(dtype_name(type)) + " is not supported");
}

}  // namespace

std::string_view dtype_name(DType type) {
    switch (type) {
        case DType::F32:
            return "f32";
        case DType::F16:
            return "f16";
        case DType::BF16:
            return "bf16";
        case DType::F8E4M3:
            return "e4m3";
        case DType::F8E5M2:
            return "e5m2";
        case DType::UE8M0:
            return "ue8m0";
        case DType::I8:
            return "i8";
        case DType::I32:
            return "i32";
        case DType::I64:
            return "i64";
        case DType::U8:
            return "u8";
    }
    return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
    struct Alias {
        std::string_view name;
        DType type;
    };
    static constexpr std::array<Alias, 32> kAliases{{
        {"f32", DType::F32},
        {"fp32", DType::F32},
        {"float32", DType::F32},
        {"float", DType::F32},
        {"f16", DType::F16},
        {"fp16", DType::F16},
        {"float16", DType::F16},
        {"half", DType::F16},
        {"bf16", DType::BF16},
        {"bfloat16", DType::BF16},
        {"e4m3", DType::F8E4M3},
        {"e4m3fn", DType::F8E4M3},
        {"fp8", DType::F8E4M3},
        {"fp8_e4m3", DType::F8E4M3},
        {"f8e4m3", DType::F8E4M3},
        {"float8_e4m3fn", DType::F8E4M3},
        {"e5m2", DType::F8E5M2},
        {"fp8_e5m2", DType::F8E5M2},
        {"f8e5m2", DType::F8E5M2},
        {"float8_e5m2", DType::F8E5M2},
        {"ue8m0", DType::UE8M0},
        {"e8m0", DType::UE8M0},
        {"float8_e8m0fnu", DType::UE8M0},
        {"i8", DType::I8},
        {"int8", DType::I8},
        {"i32", DType::I32},
        {"int32", DType::I32},
        {"i64", DType::I64},
        {"int64", DType::I64},
        {"u8", DType::U8},
        {"uint8", DType::U8},
        {"s8", DType::I8},
    }};
    const std::string key = lower(name);
    for (const Alias& a : kAliases) {
        if (a.name == key) return a.type;
    }
    return std::nullopt;
}

size_t dtype_size(DType type) {
    switch (type) {
        case DType::F32:
            return 4;
        case DType::F16:
            return 2;
        case DType::BF16:
            return 2;
        case DType::F8E4M3:
            return 1;
        case DType::F8E5M2:
            return 1;
        case DType::UE8M0:
            return 1;
        case DType::I8:
            return 1;
        case DType::I32:
            return 4;
        case DType::I64:
            return 8;
        case DType::U8:
            return 1;
    }
    return 0;
}

std::string_view overflow_name(Overflow policy) {
    return policy == Overflow::SatFinite ? "satfinite" : "torch";
}

std::optional<Overflow> parse_overflow(std::string_view name) {
    const std::string key = lower(name);
    if (key == "satfinite") return Overflow::SatFinite;
    if (key == "torch") return Overflow::Torch;
    return std::nullopt;
}

// BF16 shares FP32's exponent, so the generic rounding path applies with bias 127; its
// "subnormal" branch handles FP32 subnormal inputs.
uint16_t bf16_from_f32(float x, Overflow policy) {
    static constexpr IeeeFormat kBf16Format{kBf16, 16, 0x7F80u, 0x0040u};
    return static_cast<uint16_t>(encode_ieee(x, policy, kBf16Format));
}

uint16_t f16_from_f32(float x, Overflow policy) {
    return static_cast<uint16_t>(encode_ieee(x, policy, kF16Format));
}

float f32_from_f16(uint16_t bits) {
    return decode_ieee(bits, kF16Format);
}

uint8_t e4m3_from_f32(float x, Overflow policy) {
    const uint32_t bits = bits_of(x);
    const uint32_t sign = (bits & kF32SignMask) >> 24;
    const uint32_t abs_bits = bits & kF32AbsMask;
    if (is_nan_bits(abs_bits)) return static_cast<uint8_t>(sign | kE4M3Nan);
    if (is_inf_bits(abs_bits)) {
        return static_cast<uint8_t>(sign |
                                    (policy == Overflow::SatFinite ? kE4M3MaxFinite : kE4M3Nan));
    }
    const uint32_t code = round_magnitude(abs_bits, kE4M3);
    if (code > kE4M3MaxFinite) {
        // Torch: anything that rounds past 448 (|x| > 464; 464 ties down to 448) is NaN, which
        // matches c10's fp8e4m3fn_from_fp32_value bit for bit.
        return static_cast<uint8_t>(sign |
                                    (policy == Overflow::SatFinite ? kE4M3MaxFinite : kE4M3Nan));
    }
    return static_cast<uint8_t>(sign | code);
}

float f32_from_e4m3(uint8_t bits) {
    const uint32_t sign = (bits & 0x80u) != 0 ? kF32SignMask : 0u;
    const uint32_t code = bits & 0x7Fu;
    if (code == kE4M3Nan) return float_of(sign | kF32ExpMask | kF32QuietBit);
    return float_of(sign | decode_magnitude(code, kE4M3));
}

uint8_t e5m2_from_f32(float x, Overflow policy) {
    const uint32_t bits = bits_of(x);
    if (is_nan_bits(bits & kF32AbsMask)) {
        return static_cast<uint8_t>(((bits & kF32SignMask) >> 24) | kE5M2Nan);
    }
    return static_cast<uint8_t>(encode_ieee(x, policy, kE5M2Format));
}

float f32_from_e5m2(uint8_t bits) {
    return decode_ieee(bits, kE5M2Format);
}

float pow2_ceil(float x) {
    const uint32_t bits = bits_of(x);
    if ((bits & kF32SignMask) != 0 || bits == 0 || is_nan_bits(bits)) {
        return float_of(kF32ExpMask | kF32QuietBit);
    }
    if (is_inf_bits(bits)) return x;
    const uint32_t exp_field = bits >> 23;
    const uint32_t frac = bits & kF32ManMask;
    if (exp_field == 0) {
        // x = frac * 2^-149, so the answer is 2^(p - 149) with p = ceil(log2(frac)) <= 23,
        // whose FP32 bits are 1 << p (p = 23 gives the smallest normal, 2^-126).
        const int top = 31 - std::countl_zero(frac);
        const bool exact = (frac & (frac - 1u)) == 0;
        return float_of(1u << (exact ? top : top + 1));
    }
    if (frac == 0) return x;
    if (exp_field == 254) return float_of(kF32ExpMask);  // above 2^127: next power is 2^128
    return float_of((exp_field + 1u) << 23);
}

uint8_t ue8m0_from_f32(float x) {
    const uint32_t bits = bits_of(x);
    if ((bits & kF32SignMask) != 0 || bits == 0 || is_nan_bits(bits) || is_inf_bits(bits)) {
        return 0xFF;
    }
    const uint32_t exp_field = bits >> 23;
    const uint32_t frac = bits & kF32ManMask;
    int e = 0;  // ceil(log2(x))
    if (exp_field == 0) {
        const int top = 31 - std::countl_zero(frac);
        const bool exact = (frac & (frac - 1u)) == 0;
        e = (exact ? top : top + 1) - 149;
    } else {
        e = static_cast<int>(exp_field) - 127 + (frac != 0 ? 1 : 0);
    }
    if (e < -127) e = -127;
    if (e > 127) e = 127;
    return static_cast<uint8_t>(e + 127);
}

float f32_from_ue8m0(uint8_t bits) {
    if (bits == 0xFF) return float_of(kF32ExpMask | kF32QuietBit);
    if (bits == 0) return float_of(1u << 22);  // 2^-127 is an FP32 subnormal
    return float_of(static_cast<uint32_t>(bits) << 23);
}

int8_t i8_from_f32(float x, Overflow /*policy*/) {
    const uint32_t bits = bits_of(x);
    const bool negative = (bits & kF32SignMask) != 0;
    const uint32_t abs_bits = bits & kF32AbsMask;
    if (is_nan_bits(abs_bits)) return 0;
    // |x| >= 2^8 saturates whatever the rounding; this also covers infinity.
    int32_t magnitude = 0;
    const uint32_t exp_field = abs_bits >> 23;
    if (exp_field >= 127 + 8) {
        magnitude = 256;
    } else if (exp_field != 0) {
        const uint32_t sig = (abs_bits & kF32ManMask) | (1u << 23);
        // value = sig * 2^(exp_field - 150); exp_field - 150 < 0 here.
        magnitude = static_cast<int32_t>(shift_right_rne(sig, 150 - static_cast<int>(exp_field)));
    }  // FP32 subnormals round to 0
    int32_t v = negative ? -magnitude : magnitude;
    if (v > 127) v = 127;
    if (v < -128) v = -128;
    return static_cast<int8_t>(v);
}

float decode_to_f32(DType type, uint32_t bits) {
    switch (type) {
        case DType::F32:
            return float_of(bits);
        case DType::F16:
            return f32_from_f16(static_cast<uint16_t>(bits));
        case DType::BF16:
            return f32_from_bf16(static_cast<uint16_t>(bits));
        case DType::F8E4M3:
            return f32_from_e4m3(static_cast<uint8_t>(bits));
        case DType::F8E5M2:
            return f32_from_e5m2(static_cast<uint8_t>(bits));
        case DType::UE8M0:
            return f32_from_ue8m0(static_cast<uint8_t>(bits));
        case DType::I8:
            return static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(bits)));
        default:
            unsupported("decode_to_f32", type);
    }
}

uint32_t encode_from_f32(DType type, float x, Overflow policy) {
    switch (type) {
        case DType::F32:
            return bits_of(x);
        case DType::F16:
            return f16_from_f32(x, policy);
        case DType::BF16:
            return bf16_from_f32(x, policy);
        case DType::F8E4M3:
            return e4m3_from_f32(x, policy);
        case DType::F8E5M2:
            return e5m2_from_f32(x, policy);
        case DType::UE8M0:
            return ue8m0_from_f32(x);
        case DType::I8:
            return static_cast<uint8_t>(i8_from_f32(x, policy));
        default:
            unsupported("encode_from_f32", type);
    }
}

float max_finite(DType type) {
    switch (type) {
        case DType::F32:
            return float_of(0x7F7FFFFFu);
        case DType::F16:
            return f32_from_f16(0x7BFF);
        case DType::BF16:
            return f32_from_bf16(0x7F7F);
        case DType::F8E4M3:
            return f32_from_e4m3(static_cast<uint8_t>(kE4M3MaxFinite));
        case DType::F8E5M2:
            return f32_from_e5m2(0x7B);
        case DType::UE8M0:
            return f32_from_ue8m0(0xFE);
        default:
            unsupported("max_finite", type);
    }
}

float min_normal(DType type) {
    switch (type) {
        case DType::F32:
            return float_of(0x00800000u);
        case DType::F16:
            return f32_from_f16(0x0400);
        case DType::BF16:
            return f32_from_bf16(0x0080);
        case DType::F8E4M3:
            return f32_from_e4m3(0x08);
        case DType::F8E5M2:
            return f32_from_e5m2(0x04);
        case DType::UE8M0:
            return f32_from_ue8m0(0x00);
        default:
            unsupported("min_normal", type);
    }
}

}  // namespace dssim::numerics
