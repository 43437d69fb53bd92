// Number formats of DeepSeek inference and their exact conversions from FP32.
//
// Every conversion from FP32 rounds to nearest, ties to even (RNE), and has a documented
// overflow policy (docs/numerics.md, "Formats"):
//   Overflow::SatFinite  clamp to the largest finite value of the format, as hardware
//                        `cvt ... .satfinite` does (NaN stays NaN);
//   Overflow::Torch      what PyTorch's conversion does: for E4M3FN any |x| that rounds
//                        above 448 (|x| > 464, and +-inf) becomes NaN (c10 Float8_e4m3fn.h);
//                        for formats with an infinity (FP16, E5M2, BF16) overflow becomes +-inf.
// SatFinite also maps +-inf to +-max finite. A NaN input gives a quiet NaN with the input's
// sign under both policies (BF16/FP16 keep the top payload bits; FP8 use S.1111.111).
// Decoding (bits -> FP32) is exact for every format.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dssim::numerics {

enum class DType : uint8_t {
    F32,
    F16,
    BF16,
    F8E4M3,  // float8_e4m3fn: bias 7, max 448, no inf, NaN = S.1111.111
    F8E5M2,  // float8_e5m2: bias 15, max 57344, IEEE-like inf/NaN
    UE8M0,   // unsigned power-of-two scale: value = 2^(bits - 127), 0xFF = NaN
    I8,
    I32,
    I64,
    U8,
};

// Short lower-case name used on the command line and in files: f32 f16 bf16 e4m3 e5m2 ue8m0
// i8 i32 i64 u8.
std::string_view dtype_name(DType type);
// Parses dtype_name() output and common aliases (fp32, float32, fp16, bfloat16, fp8, int8 ...).
std::optional<DType> parse_dtype(std::string_view name);
// Bytes per element.
size_t dtype_size(DType type);

enum class Overflow : uint8_t { SatFinite, Torch };
std::string_view overflow_name(Overflow policy);
std::optional<Overflow> parse_overflow(std::string_view name);

// BF16: upper 16 bits of FP32. Overflow past the largest finite BF16 -> inf (Torch) or the
// largest finite (SatFinite). NaN payloads are kept quiet with the sign.
uint16_t bf16_from_f32(float x, Overflow policy = Overflow::Torch);
// Exact: the BF16 bits are the top half of the FP32 (inline: it sits in every hot loop).
inline float f32_from_bf16(uint16_t bits) {
    return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}
// Round-trip through BF16: the value an FP32 result has once stored as BF16.
inline float round_to_bf16(float x) {
    return f32_from_bf16(bf16_from_f32(x));
}
// The same two conversions inlined for hot loops (bits equal to bf16_from_f32(x, Torch) and
// round_to_bf16; tested on every FP32 pattern class): for a non-NaN x, adding 0x7FFF plus the
// lowest kept bit and truncating is round-to-nearest-even, and a carry out of the largest finite
// value lands on infinity. NaN goes to the library.
inline uint16_t bf16_from_f32_fast(float x) {
    if (x != x) return bf16_from_f32(x);
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}
inline float round_to_bf16_fast(float x) {
    return std::bit_cast<float>(uint32_t{bf16_from_f32_fast(x)} << 16);
}

// IEEE binary16.
uint16_t f16_from_f32(float x, Overflow policy = Overflow::Torch);
float f32_from_f16(uint16_t bits);

// FP8 E4M3FN and E5M2.
uint8_t e4m3_from_f32(float x, Overflow policy = Overflow::SatFinite);
float f32_from_e4m3(uint8_t bits);
uint8_t e5m2_from_f32(float x, Overflow policy = Overflow::SatFinite);
float f32_from_e5m2(uint8_t bits);

// UE8M0: a power of two 2^e, e in [-127, 127], stored as e + 127; 0xFF is NaN. There is no
// zero. Conversion from FP32 rounds the exponent UP (the next power of two >= x), which is how
// DeepSeek V3.1 derives activation scales (exp2(ceil(log2(s)))); x <= 0 (including -0), +inf or
// NaN -> 0xFF (NaN), and finite values beyond the range clamp to 2^-127 / 2^127.
uint8_t ue8m0_from_f32(float x);
float f32_from_ue8m0(uint8_t bits);
// Smallest power of two >= x for finite x > 0, computed exactly on the bit pattern (the
// "fast_log2_ceil / fast_pow2" form of DeepSeek's V3.2 kernel for normal x; FP32 subnormals get
// the exact subnormal power of two, where that kernel's trick would give 2^-126). Results above
// 2^127 are +inf; x <= 0 or NaN -> NaN; +inf -> +inf.
float pow2_ceil(float x);

// INT8: RNE to an integer, then clamp to [-128, 127] under both policies (PyTorch quantisation
// also clamps after rounding); +-inf saturate; NaN -> 0.
int8_t i8_from_f32(float x, Overflow policy = Overflow::SatFinite);

// Decode the value stored in `bits` (right-aligned) of a floating format.
float decode_to_f32(DType type, uint32_t bits);
// Encode x into `type` under `policy`; returns the bits right-aligned.
uint32_t encode_from_f32(DType type, float x, Overflow policy);

// Largest finite value of a floating format (F32, F16, BF16, F8E4M3, F8E5M2, UE8M0).
float max_finite(DType type);
// Smallest positive normal value (2^(1 - bias); UE8M0: 2^-127, its smallest value). Values
// below it are subnormal.
float min_normal(DType type);

}  // namespace dssim::numerics
