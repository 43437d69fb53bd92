// FP8 quantisation kernels of DeepSeek's inference path: per-token 1x128 activation
// quantisation (act_quant) and 128x128 block weight dequantisation (weight_dequant).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dssim::kernels {

// How act_quant stores its scale: plain FP32 (V3) or rounded up to a power of two (UE8M0,
// V3.1 / V3.2 "scale_fmt": "ue8m0"). Either way the scale tensor is FP32.
enum class ScaleFormat : uint8_t { F32, UE8M0 };

// Quantises each row of x [rows, cols] in 1x128 tiles (the last tile of a row may be shorter):
//   amax = max over the tile of |x| (FP32), amax = max(amax, 1e-4f)
//   s = amax / 448.0f            (FP32 division);  UE8M0: s = pow2_ceil(s)
//   q = e4m3_from_f32(x / s, SatFinite)   (FP32 division per element)
// q [rows, cols] bytes, scales [rows, ceil(cols/128)] FP32. NaN in x throws InputError.
void act_quant(const uint16_t* x_bf16,
               uint8_t* q,
               float* scales,
               size_t rows,
               size_t cols,
               ScaleFormat format,
               int threads);
void act_quant(const float* x,
               uint8_t* q,
               float* scales,
               size_t rows,
               size_t cols,
               ScaleFormat format,
               int threads);

// The demo's weight_dequant: out[n,k] = bf16(f32(e4m3 wq[n,k]) * scale[n/128, k/128]), one FP32
// multiply and one RNE rounding. wq [n, k], scale [ceil(n/128), ceil(k/128)], out [n, k] BF16.
void weight_dequant(
    const uint8_t* wq, const float* scale, uint16_t* out, size_t n, size_t k, int threads);
// Same values kept in FP32 (no BF16 rounding), for FP32 reference paths.
void weight_dequant_f32(
    const uint8_t* wq, const float* scale, float* out, size_t n, size_t k, int threads);

}  // namespace dssim::kernels
