// FP8 activation quantisation (1x128 tiles, act_quant) and weight dequantisation (128x128
// blocks, weight_dequant) as in DeepSeek's kernel.py, with the rounding points of
// docs/numerics.md. Rows are split across threads; every tile is computed by one thread.
#include "dssim/kernels/quant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/kernels/gemm.h"
#include "dssim/numerics/formats.h"

namespace dssim::kernels {
namespace {

using numerics::Overflow;

// The constants of kernel.py act_quant, as FP32.
constexpr float kAmaxFloor = 1e-4f;
constexpr float kE4m3Max = 448.0f;

inline float widen(float v) {
    return v;
}
inline float widen(uint16_t bf16) {
    return std::bit_cast<float>(uint32_t{bf16} << 16);
}

template <typename T>
void check_finite_free_of_nan(const T* x, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; ++r) {
        for (size_t c = 0; c < cols; ++c) {
            if (std::isnan(widen(x[r * cols + c]))) {
                throw_input_error("", "act_quant",
                                  "NaN in the activation at row " + std::to_string(r) +
                                      ", column " + std::to_string(c));
            }
        }
    }
}

template <typename T>
void act_quant_impl(const T* x,
                    uint8_t* q,
                    float* scales,
                    size_t rows,
                    size_t cols,
                    ScaleFormat format,
                    int threads) {
    check_finite_free_of_nan(x, rows, cols);
    const size_t tiles = ceil_div(cols, kFp8Block);
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r) {
            for (size_t t = 0; t < tiles; ++t) {
                const size_t c0 = t * kFp8Block;
                const size_t c1 = std::min(cols, c0 + kFp8Block);
                const T* xt = x + r * cols;
                // max is exact, so the scan order cannot change amax.
                float amax = 0.0f;
                for (size_t c = c0; c < c1; ++c)
                    amax = std::max(amax, std::fabs(widen(xt[c])));
                amax = std::max(amax, kAmaxFloor);
                float s = amax / kE4m3Max;
                if (format == ScaleFormat::UE8M0) s = numerics::pow2_ceil(s);
                scales[r * tiles + t] = s;
                for (size_t c = c0; c < c1; ++c) {
                    q[r * cols + c] =
                        numerics::e4m3_from_f32(widen(xt[c]) / s, Overflow::SatFinite);
                }
            }
        }
    });
}

template <typename Out, typename Conv>
void dequant_impl(
    const uint8_t* wq, const float* scale, Out* out, size_t n, size_t k, int threads, Conv conv) {
    float table[256];
    for (unsigned i = 0; i < 256; ++i)
        table[i] = numerics::f32_from_e4m3(static_cast<uint8_t>(i));
    const size_t kb = ceil_div(k, kFp8Block);
    parallel_for(n, threads, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r) {
            const float* srow = scale + (r / kFp8Block) * kb;  // [kb]
            for (size_t c = 0; c < k; ++c) {
                out[r * k + c] = conv(table[wq[r * k + c]] * srow[c / kFp8Block]);
            }
        }
    });
}

}  // namespace

void act_quant(const uint16_t* x_bf16,
               uint8_t* q,
               float* scales,
               size_t rows,
               size_t cols,
               ScaleFormat format,
               int threads) {
    act_quant_impl(x_bf16, q, scales, rows, cols, format, threads);
}

void act_quant(const float* x,
               uint8_t* q,
               float* scales,
               size_t rows,
               size_t cols,
               ScaleFormat format,
               int threads) {
    act_quant_impl(x, q, scales, rows, cols, format, threads);
}

void weight_dequant(
    const uint8_t* wq, const float* scale, uint16_t* out, size_t n, size_t k, int threads) {
    dequant_impl(wq, scale, out, n, k, threads, [](float v) { return numerics::bf16_from_f32(v); });
}

void weight_dequant_f32(
    const uint8_t* wq, const float* scale, float* out, size_t n, size_t k, int threads) {
    dequant_impl(wq, scale, out, n, k, threads, [](float v) { return v; });
}

}  // namespace dssim::kernels
