// Row-wise and elementwise kernels of the DeepSeek block: RMSNorm, softmax, SiLU/SwiGLU and the
// MoE combine.
// BF16 tensors are uint16_t bit patterns. Each row is computed by one thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dssim::kernels {

// Where RMSNorm rounds. Both compute, per row, in FP32:
//   ss = +0.0f; for i ascending: ss = ss + x[i]*x[i];  ms = ss / float(dim);
//   rrms = 1.0f / sqrtf(ms + eps);  n[i] = x[i] * rrms
enum class RmsNormVariant : uint8_t {
    // The official demo at HEAD (F.rms_norm of torch 2.4, and the original release):
    // y = bf16( f32(bf16(n)) * f32(weight) ).
    Torch24,
    // Newer PyTorch / V3.2-style: weight applied in FP32, one rounding: y = bf16(n * f32(weight)).
    Fp32Weight,
};

// x, y [rows, dim] BF16; weight [dim] BF16. y may alias x.
void rms_norm(const uint16_t* x,
              const uint16_t* weight,
              uint16_t* y,
              size_t rows,
              size_t dim,
              float eps,
              int threads,
              RmsNormVariant variant = RmsNormVariant::Torch24);
// FP32 input (e.g. an FP32 residual sum), same arithmetic and rounding points: Torch24 still
// rounds x*rrms to BF16 before the weight. V3.2's FP32 norm ((weight * x).to(bf16)) is
// Fp32Weight.
void rms_norm(const float* x,
              const uint16_t* weight,
              uint16_t* y,
              size_t rows,
              size_t dim,
              float eps,
              int threads,
              RmsNormVariant variant = RmsNormVariant::Torch24);

// Softmax over the last dim in FP32, per row:
//   mx = max over the row (ascending scan); e[i] = exp_f32(x[i] - mx) (math.h);
//   sum = +0.0f; for i ascending: sum = sum + e[i];  y[i] = e[i] / sum.
// -inf entries are masked (their e is exactly 0). A row that is entirely -inf gives all zeros.
// NaN in x propagates (the row becomes NaN). x, y [rows, cols]; y may alias x.
void softmax(const float* x, float* y, size_t rows, size_t cols, int threads);
// Same, result rounded to BF16 (the demo's softmax(dtype=float32).type_as(x)).
void softmax(const float* x, uint16_t* y_bf16, size_t rows, size_t cols, int threads);

// silu(v) = v / (1.0f + exp_f32(-v)) in FP32 (exp_f32 from math.h). Output BF16 (one RNE), n
// elements.
void silu(const uint16_t* x, uint16_t* y, size_t n, int threads);

// Where SwiGLU silu(a) * b rounds.
enum class SwigluVariant : uint8_t {
    // V3 demo (BF16 tensors): y = bf16( f32(bf16(silu(a))) * f32(b) ).
    Bf16Intermediate,
    // V3.2 demo: silu(a.float()) * b.float() then one cast: y = bf16(silu(a) * b).
    Fp32Intermediate,
};
// a (gate, w1 output), b (up, w3 output), y: n BF16 elements. y may alias a or b.
void swiglu(const uint16_t* a,
            const uint16_t* b,
            uint16_t* y,
            size_t n,
            int threads,
            SwigluVariant variant = SwigluVariant::Bf16Intermediate);

// The MoE combine as the demo computes it (y[idx] += expert(x[idx]) * weights[idx, top], one
// expert at a time in ascending expert index, BF16 tensors): per token t and element d,
//   acc = +0; for j in order of ascending idx[t, j] (equal indices: ascending j):
//     acc = bf16(acc + bf16(f32(expert_out[t*k + j][d]) * f32(weights[t, j])))
//   y[t][d] = acc
// expert_out [tokens * k, dim] BF16 (row t*k + j is the token's j-th expert's output), weights
// [tokens, k] BF16, idx [tokens, k] expert indices, y [tokens, dim] BF16.
void moe_weighted_sum(const uint16_t* expert_out,
                      const uint16_t* weights,
                      const int32_t* idx,
                      uint16_t* y,
                      size_t tokens,
                      size_t k,
                      size_t dim,
                      int threads);

}  // namespace dssim::kernels
