// RMSNorm, softmax, SiLU, SwiGLU and the MoE combine with the demo's rounding points
// (docs/numerics.md). Rows (or element ranges) are split across threads; each row's reductions run
// sequentially on one thread, so the result does not depend on the thread count. exp is exp_f32
// (math.h).
#include "dssim/kernels/elementwise.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <vector>

#include "dssim/base/parallel.h"
#include "dssim/kernels/math.h"
#include "dssim/numerics/formats.h"

namespace dssim::kernels {
namespace {

using numerics::bf16_from_f32;
using numerics::round_to_bf16;

inline float widen(float v) {
    return v;
}
inline float widen(uint16_t bf16) {
    return std::bit_cast<float>(uint32_t{bf16} << 16);
}
inline float canonical(float v) {
    return v != v ? std::bit_cast<float>(0x7FC00000u) : v;
}

// Rows of at least this many elements are worth a thread of their own.
constexpr size_t kElementGrain = 4096;

template <typename T>
void rms_norm_impl(const T* x,
                   const uint16_t* weight,
                   uint16_t* y,
                   size_t rows,
                   size_t dim,
                   float eps,
                   int threads,
                   RmsNormVariant variant) {
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r) {
            const T* xr = x + r * dim;  // [dim]
            float ss = 0.0f;
            for (size_t i = 0; i < dim; ++i) {
                const float v = widen(xr[i]);
                ss = ss + v * v;
            }
            const float ms = ss / static_cast<float>(dim);
            const float rrms = 1.0f / std::sqrt(ms + eps);
            uint16_t* yr = y + r * dim;
            for (size_t i = 0; i < dim; ++i) {
                const float n = widen(xr[i]) * rrms;
                const float w = widen(weight[i]);
                yr[i] = variant == RmsNormVariant::Torch24 ? bf16_from_f32(round_to_bf16(n) * w)
                                                           : bf16_from_f32(n * w);
            }
        }
    });
}

// One softmax row into e (FP32); returns nothing, e holds the normalised values.
void softmax_row(const float* x, float* e, size_t cols) {
    float mx = -INFINITY;
    bool nan = false;
    for (size_t i = 0; i < cols; ++i) {
        nan = nan || std::isnan(x[i]);
        mx = std::max(mx, x[i]);
    }
    if (nan) {
        std::fill_n(e, cols, std::bit_cast<float>(0x7FC00000u));
        return;
    }
    if (mx == -INFINITY) {  // every entry masked
        std::fill_n(e, cols, 0.0f);
        return;
    }
    float sum = 0.0f;
    for (size_t i = 0; i < cols; ++i) {
        e[i] = exp_f32(x[i] - mx);
        sum = sum + e[i];
    }
    for (size_t i = 0; i < cols; ++i)
        e[i] = canonical(e[i] / sum);
}

inline float silu_f32(float v) {
    return v / (1.0f + exp_f32(-v));
}

}  // namespace

void rms_norm(const uint16_t* x,
              const uint16_t* weight,
              uint16_t* y,
              size_t rows,
              size_t dim,
              float eps,
              int threads,
              RmsNormVariant variant) {
    rms_norm_impl(x, weight, y, rows, dim, eps, threads, variant);
}

void rms_norm(const float* x,
              const uint16_t* weight,
              uint16_t* y,
              size_t rows,
              size_t dim,
              float eps,
              int threads,
              RmsNormVariant variant) {
    rms_norm_impl(x, weight, y, rows, dim, eps, threads, variant);
}

void softmax(const float* x, float* y, size_t rows, size_t cols, int threads) {
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r)
            softmax_row(x + r * cols, y + r * cols, cols);
    });
}

void softmax(const float* x, uint16_t* y_bf16, size_t rows, size_t cols, int threads) {
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        std::vector<float> e(cols);
        for (size_t r = r0; r < r1; ++r) {
            softmax_row(x + r * cols, e.data(), cols);
            for (size_t i = 0; i < cols; ++i)
                y_bf16[r * cols + i] = bf16_from_f32(e[i]);
        }
    });
}

void silu(const uint16_t* x, uint16_t* y, size_t n, int threads) {
    parallel_for(
        n, threads,
        [&](size_t i0, size_t i1) {
            for (size_t i = i0; i < i1; ++i)
                y[i] = bf16_from_f32(canonical(silu_f32(widen(x[i]))));
        },
        kElementGrain);
}

void swiglu(const uint16_t* a,
            const uint16_t* b,
            uint16_t* y,
            size_t n,
            int threads,
            SwigluVariant variant) {
    parallel_for(
        n, threads,
        [&](size_t i0, size_t i1) {
            for (size_t i = i0; i < i1; ++i) {
                float g = silu_f32(widen(a[i]));
                if (variant == SwigluVariant::Bf16Intermediate) g = round_to_bf16(g);
                y[i] = bf16_from_f32(canonical(g * widen(b[i])));
            }
        },
        kElementGrain);
}

void moe_weighted_sum(const uint16_t* expert_out,
                      const uint16_t* weights,
                      const int32_t* idx,
                      uint16_t* y,
                      size_t tokens,
                      size_t k,
                      size_t dim,
                      int threads) {
    using numerics::bf16_from_f32_fast;
    using numerics::round_to_bf16_fast;
    parallel_for(tokens, threads, [&](size_t t0, size_t t1) {
        std::vector<size_t> order(k);
        std::vector<float> acc(dim);
        for (size_t t = t0; t < t1; ++t) {
            const int32_t* e = idx + t * k;
            std::iota(order.begin(), order.end(), size_t{0});
            std::stable_sort(order.begin(), order.end(),
                             [&](size_t a, size_t b) { return e[a] < e[b]; });
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (size_t j : order) {
                const float wj = widen(weights[t * k + j]);
                const uint16_t* row = expert_out + (t * k + j) * dim;  // [dim]
                for (size_t d = 0; d < dim; ++d)
                    acc[d] = round_to_bf16_fast(acc[d] + round_to_bf16_fast(widen(row[d]) * wj));
            }
            uint16_t* dst = y + t * dim;
            for (size_t d = 0; d < dim; ++d)
                dst[d] = bf16_from_f32_fast(acc[d]);
        }
    });
}

}  // namespace dssim::kernels
