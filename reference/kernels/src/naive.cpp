// Naive twins of the optimised kernels (see dssim/kernels/naive.h): the arithmetic of
// docs/numerics.md written as the plainest loops. Do not optimise this file; its value is that
// it is obviously the specification.
#include "dssim/kernels/naive.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/kernels/math.h"
#include "dssim/numerics/formats.h"

namespace dssim::kernels::naive {
namespace {

using numerics::bf16_from_f32;
using numerics::f32_from_bf16;
using numerics::f32_from_e4m3;

float load(const void* p, DType type, size_t i) {
    if (type == DType::F32) return static_cast<const float*>(p)[i];
    if (type == DType::BF16) return f32_from_bf16(static_cast<const uint16_t*>(p)[i]);
    throw_input_error("", "naive::gemm", "unsupported dtype " + std::string(dtype_name(type)));
}

void store(void* p, DType type, size_t i, float v) {
    if (std::isnan(v)) v = std::bit_cast<float>(0x7FC00000u);  // canonical NaN
    if (type == DType::F32) {
        static_cast<float*>(p)[i] = v;
    } else if (type == DType::BF16) {
        static_cast<uint16_t*>(p)[i] = bf16_from_f32(v);
    } else {
        throw_input_error("", "naive::gemm", "unsupported dtype " + std::string(dtype_name(type)));
    }
}

}  // namespace

void gemm(const void* x,
          DType x_type,
          const void* w,
          DType w_type,
          void* y,
          DType y_type,
          size_t m,
          size_t n,
          size_t k) {
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (size_t p = 0; p < k; ++p) {
                acc = acc + load(x, x_type, i * k + p) * load(w, w_type, j * k + p);
            }
            store(y, y_type, i * n + j, acc);
        }
    }
}

void fp8_gemm(const uint8_t* xq,
              const float* x_scale,
              const uint8_t* wq,
              const float* w_scale,
              void* y,
              DType y_type,
              size_t m,
              size_t n,
              size_t k,
              Fp8Promotion promotion) {
    const size_t kb = ceil_div(k, kFp8Block);
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (size_t b = 0; b < kb; ++b) {
                float partial = 0.0f;
                for (size_t p = b * kFp8Block; p < std::min(k, (b + 1) * kFp8Block); ++p) {
                    partial = partial + f32_from_e4m3(xq[i * k + p]) * f32_from_e4m3(wq[j * k + p]);
                }
                const float a_s = x_scale[i * kb + b];
                const float b_s = w_scale[(j / kFp8Block) * kb + b];
                if (promotion == Fp8Promotion::ScaleProductFirst) {
                    const float s = a_s * b_s;
                    acc = acc + partial * s;
                } else if (promotion == Fp8Promotion::ScaleProductFirstFma) {
                    const float s = a_s * b_s;
                    acc = std::fma(s, partial, acc);
                } else {
                    const float t = partial * a_s;
                    acc = acc + t * b_s;
                }
            }
            store(y, y_type, i * n + j, acc);
        }
    }
}

void act_quant(
    const float* x, uint8_t* q, float* scales, size_t rows, size_t cols, ScaleFormat format) {
    const size_t tiles = ceil_div(cols, kFp8Block);
    for (size_t r = 0; r < rows; ++r) {
        for (size_t t = 0; t < tiles; ++t) {
            const size_t c1 = std::min(cols, (t + 1) * kFp8Block);
            float amax = 0.0f;
            for (size_t c = t * kFp8Block; c < c1; ++c) {
                if (std::isnan(x[r * cols + c])) {
                    throw_input_error("", "naive::act_quant", "NaN in the activation");
                }
                amax = std::max(amax, std::fabs(x[r * cols + c]));
            }
            amax = std::max(amax, 1e-4f);
            float s = amax / 448.0f;
            if (format == ScaleFormat::UE8M0) s = numerics::pow2_ceil(s);
            scales[r * tiles + t] = s;
            for (size_t c = t * kFp8Block; c < c1; ++c) {
                q[r * cols + c] =
                    numerics::e4m3_from_f32(x[r * cols + c] / s, numerics::Overflow::SatFinite);
            }
        }
    }
}

void weight_dequant(const uint8_t* wq, const float* scale, uint16_t* out, size_t n, size_t k) {
    const size_t kb = ceil_div(k, kFp8Block);
    for (size_t r = 0; r < n; ++r) {
        for (size_t c = 0; c < k; ++c) {
            const float s = scale[(r / kFp8Block) * kb + c / kFp8Block];
            out[r * k + c] = bf16_from_f32(f32_from_e4m3(wq[r * k + c]) * s);
        }
    }
}

void interleave_e4m3(const uint8_t* wq, size_t n, size_t k, uint8_t* out) {
    const size_t kp = ceil_div(k, 16) * 16;
    const size_t blocks = ceil_div(n, 16);
    for (size_t i = 0; i < blocks * 16 * kp; ++i)
        out[i] = 0;
    for (size_t row = 0; row < n; ++row) {
        const size_t b = row / 16, r = row % 16;
        for (size_t c = 0; c < k; ++c) {
            const size_t at = 16 * kp * b + 16 * (c - c % 4) + 16 * (r / 4) + 8 * ((c % 4) / 2) +
                              2 * (r % 4) + c % 2;
            out[at] = wq[row * k + c];
        }
    }
}

void rms_norm(const float* x,
              const uint16_t* weight,
              uint16_t* y,
              size_t rows,
              size_t dim,
              float eps,
              RmsNormVariant variant) {
    for (size_t r = 0; r < rows; ++r) {
        float ss = 0.0f;
        for (size_t i = 0; i < dim; ++i)
            ss = ss + x[r * dim + i] * x[r * dim + i];
        const float rrms = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
        for (size_t i = 0; i < dim; ++i) {
            const float normed = x[r * dim + i] * rrms;
            const float w = f32_from_bf16(weight[i]);
            if (variant == RmsNormVariant::Torch24) {
                y[r * dim + i] = bf16_from_f32(f32_from_bf16(bf16_from_f32(normed)) * w);
            } else {
                y[r * dim + i] = bf16_from_f32(normed * w);
            }
        }
    }
}

void softmax(const float* x, float* y, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; ++r) {
        const float* xr = x + r * cols;
        float* yr = y + r * cols;
        bool any_nan = false;
        float mx = -INFINITY;
        for (size_t i = 0; i < cols; ++i) {
            if (std::isnan(xr[i])) any_nan = true;
            if (xr[i] > mx) mx = xr[i];
        }
        if (any_nan || mx == -INFINITY) {
            for (size_t i = 0; i < cols; ++i) {
                yr[i] = any_nan ? std::bit_cast<float>(0x7FC00000u) : 0.0f;
            }
            continue;
        }
        std::vector<float> e(cols);
        float sum = 0.0f;
        for (size_t i = 0; i < cols; ++i) {
            e[i] = exp_f32(xr[i] - mx);
            sum = sum + e[i];
        }
        for (size_t i = 0; i < cols; ++i) {
            const float v = e[i] / sum;
            yr[i] = std::isnan(v) ? std::bit_cast<float>(0x7FC00000u) : v;
        }
    }
}

void silu(const uint16_t* x, uint16_t* y, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float v = f32_from_bf16(x[i]);
        float s = v / (1.0f + exp_f32(-v));
        if (std::isnan(s)) s = std::bit_cast<float>(0x7FC00000u);
        y[i] = bf16_from_f32(s);
    }
}

void swiglu(const uint16_t* a, const uint16_t* b, uint16_t* y, size_t n, SwigluVariant variant) {
    for (size_t i = 0; i < n; ++i) {
        const float g = f32_from_bf16(a[i]);
        float act = g / (1.0f + exp_f32(-g));
        if (variant == SwigluVariant::Bf16Intermediate) act = f32_from_bf16(bf16_from_f32(act));
        float v = act * f32_from_bf16(b[i]);
        if (std::isnan(v)) v = std::bit_cast<float>(0x7FC00000u);
        y[i] = bf16_from_f32(v);
    }
}

void moe_weighted_sum(const uint16_t* expert_out,
                      const uint16_t* weights,
                      const int32_t* idx,
                      uint16_t* y,
                      size_t tokens,
                      size_t k,
                      size_t dim) {
    for (size_t t = 0; t < tokens; ++t) {
        // Experts by ascending index, equal indices by slot: pick the smallest unused each time.
        std::vector<bool> used(k, false);
        std::vector<float> acc(dim, 0.0f);
        for (size_t step = 0; step < k; ++step) {
            size_t j = k;
            for (size_t c = 0; c < k; ++c) {
                if (!used[c] && (j == k || idx[t * k + c] < idx[t * k + j])) j = c;
            }
            used[j] = true;
            const float w = f32_from_bf16(weights[t * k + j]);
            for (size_t d = 0; d < dim; ++d) {
                const float prod = f32_from_bf16(
                    bf16_from_f32(f32_from_bf16(expert_out[(t * k + j) * dim + d]) * w));
                acc[d] = f32_from_bf16(bf16_from_f32(acc[d] + prod));
            }
        }
        for (size_t d = 0; d < dim; ++d)
            y[t * dim + d] = bf16_from_f32(acc[d]);
    }
}

void apply_rope(uint16_t* x,
                const int64_t* positions,
                size_t tokens,
                size_t heads,
                size_t token_stride,
                size_t head_stride,
                size_t rope_dim,
                const RopeConfig& config) {
    // precompute_freqs_cis, written out again from the Python.
    const size_t half = rope_dim / 2;
    std::vector<float> freqs(half);
    for (size_t i = 0; i < half; ++i) {
        const float exponent = static_cast<float>(2 * i) / static_cast<float>(rope_dim);
        freqs[i] = 1.0f / pow_f32(static_cast<float>(config.theta), exponent);
    }
    if (config.max_seq_len > config.original_seq_len) {
        auto cd = [&](double rotations) {
            return static_cast<double>(rope_dim) *
                   log_f64(static_cast<double>(config.original_seq_len) /
                           (rotations * 2.0 * std::numbers::pi)) /
                   (2.0 * log_f64(config.theta));
        };
        double low = std::max(std::floor(cd(config.beta_fast)), 0.0);
        double high = std::min(std::ceil(cd(config.beta_slow)), static_cast<double>(rope_dim - 1));
        if (low == high) high += 0.001;
        for (size_t i = 0; i < half; ++i) {
            float ramp =
                (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low);
            ramp = std::min(std::max(ramp, 0.0f), 1.0f);
            const float smooth = 1.0f - ramp;
            freqs[i] =
                freqs[i] / static_cast<float>(config.factor) * (1.0f - smooth) + freqs[i] * smooth;
        }
    }
    for (size_t t = 0; t < tokens; ++t) {
        for (size_t h = 0; h < heads; ++h) {
            uint16_t* v = x + t * token_stride + h * head_stride;
            for (size_t i = 0; i < half; ++i) {
                const float angle = static_cast<float>(positions[t]) * freqs[i];
                const float c = cos_f32(angle);
                const float s = sin_f32(angle);
                const float a = f32_from_bf16(v[2 * i]);
                const float b = f32_from_bf16(v[2 * i + 1]);
                v[2 * i] = bf16_from_f32(a * c - b * s);
                v[2 * i + 1] = bf16_from_f32(a * s + b * c);
            }
        }
    }
}

}  // namespace dssim::kernels::naive
