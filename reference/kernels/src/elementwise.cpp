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
#include "gemm_microkernel.h"

namespace dssim::kernels {
namespace {

using numerics::bf16_from_f32;
using numerics::round_to_bf16;
using numerics::round_to_bf16_fast;

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
                yr[i] = variant == RmsNormVariant::Torch24
                            ? numerics::bf16_from_f32_fast(round_to_bf16_fast(n) * w)
                            : numerics::bf16_from_f32_fast(n * w);
            }
        }
    });
}

using detail::ExpF32BatchFn;

// One softmax row into e (FP32); returns nothing, e holds the normalised values.
void softmax_row(const float* x, float* e, size_t cols, ExpF32BatchFn exp_n) {
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
    for (size_t i = 0; i < cols; ++i)
        e[i] = x[i] - mx;
    exp_n(e, e, cols);
    float sum = 0.0f;
    for (size_t i = 0; i < cols; ++i)
        sum = sum + e[i];
    for (size_t i = 0; i < cols; ++i)
        e[i] = canonical(e[i] / sum);
}

// SiLU over BF16 elements [i0, i1) in chunks: e^-v by the batch exp, then v / (1 + e^-v) per
// element, handed to store(i, silu) in ascending i.
constexpr size_t kExpChunk = 256;
template <typename Store>
void silu_range(const uint16_t* x, size_t i0, size_t i1, ExpF32BatchFn exp_n, Store store) {
    float e[kExpChunk];
    for (size_t c0 = i0; c0 < i1; c0 += kExpChunk) {
        const size_t len = std::min(kExpChunk, i1 - c0);
        for (size_t j = 0; j < len; ++j)
            e[j] = -widen(x[c0 + j]);
        exp_n(e, e, len);
        for (size_t j = 0; j < len; ++j) {
            const float v = widen(x[c0 + j]);
            store(c0 + j, v / (1.0f + e[j]));
        }
    }
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
    const ExpF32BatchFn exp_n = detail::select_exp_batch();
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        for (size_t r = r0; r < r1; ++r)
            softmax_row(x + r * cols, y + r * cols, cols, exp_n);
    });
}

void softmax(const float* x, uint16_t* y_bf16, size_t rows, size_t cols, int threads) {
    const ExpF32BatchFn exp_n = detail::select_exp_batch();
    parallel_for(rows, threads, [&](size_t r0, size_t r1) {
        std::vector<float> e(cols);
        for (size_t r = r0; r < r1; ++r) {
            softmax_row(x + r * cols, e.data(), cols, exp_n);
            for (size_t i = 0; i < cols; ++i)
                y_bf16[r * cols + i] = numerics::bf16_from_f32_fast(e[i]);
        }
    });
}

void silu(const uint16_t* x, uint16_t* y, size_t n, int threads) {
    const ExpF32BatchFn exp_n = detail::select_exp_batch();
    parallel_for(
        n, threads,
        [&](size_t i0, size_t i1) {
            silu_range(x, i0, i1, exp_n,
                       [&](size_t i, float g) { y[i] = bf16_from_f32(canonical(g)); });
        },
        kElementGrain);
}

void swiglu(const uint16_t* a,
            const uint16_t* b,
            uint16_t* y,
            size_t n,
            int threads,
            SwigluVariant variant) {
    const ExpF32BatchFn exp_n = detail::select_exp_batch();
    parallel_for(
        n, threads,
        [&](size_t i0, size_t i1) {
            // b[i] is read before y[i] is written (y may alias a or b).
            silu_range(a, i0, i1, exp_n, [&](size_t i, float g) {
                if (variant == SwigluVariant::Bf16Intermediate) g = round_to_bf16_fast(g);
                y[i] = numerics::bf16_from_f32_fast(canonical(g * widen(b[i])));
            });
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
