// Rotary position embedding with YaRN frequency scaling, as DeepSeek's precompute_freqs_cis
// and apply_rotary_emb (interleaved pairs), plus the attention softmax scale with mscale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dssim::kernels {

struct RopeConfig {
    size_t rope_dim = 64;        // qk_rope_head_dim (even)
    size_t max_seq_len = 16384;  // YaRN applies only when max_seq_len > original_seq_len
    size_t original_seq_len = 4096;
    double theta = 10000.0;  // rope_theta (base)
    double factor = 40.0;    // rope_factor
    double beta_fast = 32.0;
    double beta_slow = 1.0;
};

// find_correction_range: low = max(floor(cd(beta_fast)), 0), high = min(ceil(cd(beta_slow)),
// dim-1), cd(n) = dim * ln(L / (n*2*pi)) / (2 ln base), in double (log_f64) as Python does.
struct YarnRange {
    int64_t low;
    int64_t high;
};
YarnRange yarn_correction_range(const RopeConfig& config);

// The rope_dim/2 FP32 frequencies of precompute_freqs_cis (before the outer product with t):
//   f[i] = 1.0f / powf(float(theta), float(2i) / float(dim))
//   if max_seq_len > original_seq_len:
//     ramp[i] = clamp((float(i) - low) / (high - low), 0, 1)  (high += 0.001 if equal)
//     smooth = 1 - ramp;  f[i] = (f[i] / factor) * (1 - smooth) + f[i] * smooth
// all in FP32 with pow_f32 (math.h). Throws InputError for an odd or zero rope_dim.
std::vector<float> rope_frequencies(const RopeConfig& config);

// Applies RoPE in place to BF16 vectors laid out as `tokens` x `heads` x rope_dim, where
// element (t, h, j) is at x[t*token_stride + h*head_stride + j]. For each pair i:
//   angle = float(positions[t]) * freqs[i]; c = cos_f32(angle); s = sin_f32(angle)
//   (a, b) = (x[2i], x[2i+1]) as FP32
//   x[2i] = bf16(a*c - b*s);  x[2i+1] = bf16(a*s + b*c)   (each product rounded, then the sum)
// freqs has rope_dim/2 entries (rope_frequencies()). Tokens are split across threads.
void apply_rope(uint16_t* x,
                const int64_t* positions,  // [tokens]
                size_t tokens,
                size_t heads,
                size_t token_stride,
                size_t head_stride,
                size_t rope_dim,
                const float* freqs,
                int threads);

// MLA softmax scale: qk_head_dim^-0.5, times mscale^2 with mscale = 0.1*mscale_cfg*ln(factor)+1
// when max_seq_len > original_seq_len. Computed in double (d^-0.5 via long double, log_f64); the
// runtime rounds it to FP32 once when multiplying FP32 scores.
double attention_softmax_scale(size_t qk_head_dim, double mscale_cfg, const RopeConfig& config);

}  // namespace dssim::kernels
