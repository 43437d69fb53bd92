// RoPE with YaRN as DeepSeek's precompute_freqs_cis / apply_rotary_emb: frequencies in FP32
// (pow_f32 of math.h), correction range in double (as Python), rotation as an FP32 complex multiply
// on interleaved pairs, rounded to BF16. Also the MLA softmax scale with the YaRN mscale.
#include "dssim/kernels/rope.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>
#include <string>

#include "dssim/base/error.h"
#include "dssim/base/parallel.h"
#include "dssim/kernels/math.h"
#include "dssim/numerics/formats.h"

namespace dssim::kernels {
namespace {

void check_rope_dim(size_t dim) {
    if (dim == 0 || dim % 2 != 0) {
        throw_input_error("", "qk_rope_head_dim",
                          "must be even and positive (got " + std::to_string(dim) + ")");
    }
}

// find_correction_dim(num_rotations, dim, base, max_seq_len), Python floats.
double correction_dim(double rotations, double dim, double base, double seq_len) {
    return dim * log_f64(seq_len / (rotations * 2.0 * std::numbers::pi)) / (2.0 * log_f64(base));
}

}  // namespace

YarnRange yarn_correction_range(const RopeConfig& config) {
    check_rope_dim(config.rope_dim);
    const double dim = static_cast<double>(config.rope_dim);
    const double len = static_cast<double>(config.original_seq_len);
    const double lo = std::floor(correction_dim(config.beta_fast, dim, config.theta, len));
    const double hi = std::ceil(correction_dim(config.beta_slow, dim, config.theta, len));
    return {std::max<int64_t>(static_cast<int64_t>(lo), 0),
            std::min<int64_t>(static_cast<int64_t>(hi), static_cast<int64_t>(config.rope_dim) - 1)};
}

std::vector<float> rope_frequencies(const RopeConfig& config) {
    check_rope_dim(config.rope_dim);
    const size_t half = config.rope_dim / 2;
    const float base = static_cast<float>(config.theta);
    const float dim = static_cast<float>(config.rope_dim);
    std::vector<float> f(half);
    for (size_t i = 0; i < half; ++i) {
        f[i] = 1.0f / pow_f32(base, static_cast<float>(2 * i) / dim);
    }
    if (config.max_seq_len > config.original_seq_len) {
        const YarnRange range = yarn_correction_range(config);
        // linear_ramp_factor: (arange(d) - min) / (max - min), with max += 0.001 when equal.
        double span = static_cast<double>(range.high) - static_cast<double>(range.low);
        if (range.high == range.low)
            span = (static_cast<double>(range.high) + 0.001) - static_cast<double>(range.low);
        const float span_f = static_cast<float>(span);
        const float low_f = static_cast<float>(range.low);
        const float factor = static_cast<float>(config.factor);
        for (size_t i = 0; i < half; ++i) {
            const float ramp = std::clamp((static_cast<float>(i) - low_f) / span_f, 0.0f, 1.0f);
            const float smooth = 1.0f - ramp;
            f[i] = f[i] / factor * (1.0f - smooth) + f[i] * smooth;
        }
    }
    return f;
}

void apply_rope(uint16_t* x,
                const int64_t* positions,
                size_t tokens,
                size_t heads,
                size_t token_stride,
                size_t head_stride,
                size_t rope_dim,
                const float* freqs,
                int threads) {
    check_rope_dim(rope_dim);
    const size_t half = rope_dim / 2;
    parallel_for(tokens, threads, [&](size_t t0, size_t t1) {
        std::vector<float> cs(half), sn(half);
        for (size_t t = t0; t < t1; ++t) {
            // The angle and its cos/sin depend only on (position, i): computed once per token.
            const float pos = static_cast<float>(positions[t]);
            for (size_t i = 0; i < half; ++i) {
                const float angle = pos * freqs[i];
                cs[i] = cos_f32(angle);
                sn[i] = sin_f32(angle);
            }
            for (size_t h = 0; h < heads; ++h) {
                uint16_t* v = x + t * token_stride + h * head_stride;  // [rope_dim]
                for (size_t i = 0; i < half; ++i) {
                    const float a = numerics::f32_from_bf16(v[2 * i]);
                    const float b = numerics::f32_from_bf16(v[2 * i + 1]);
                    v[2 * i] = numerics::bf16_from_f32(a * cs[i] - b * sn[i]);
                    v[2 * i + 1] = numerics::bf16_from_f32(a * sn[i] + b * cs[i]);
                }
            }
        }
    });
}

double attention_softmax_scale(size_t qk_head_dim, double mscale_cfg, const RopeConfig& config) {
    // d^-0.5 via extended precision so that it equals the correctly rounded value Python's
    // pow gives (1/sqrt in double is off by one ULP for d = 192).
    double scale = static_cast<double>(1.0L / std::sqrt(static_cast<long double>(qk_head_dim)));
    if (config.max_seq_len > config.original_seq_len) {
        const double mscale = 0.1 * mscale_cfg * log_f64(config.factor) + 1.0;
        scale = scale * (mscale * mscale);
    }
    return scale;
}

}  // namespace dssim::kernels
