// The MoE router of DeepSeek's official demo (class Gate), exposed on its own so it can be
// checked by hand. docs/numerics.md ("Runtime") states every rounding point.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dssim/models/model_config.h"

namespace dssim::reference {

// logits [tokens, n_routed_experts] BF16: the gate GEMM output (x . W_gate^T).
// bias [n_routed_experts] FP32 or nullptr (e_score_correction_bias, selection only).
// Sigmoid configs: s = bf16(sigmoid(logit)); selection score = f32(s) + bias; with n_group > 1
// each group scores the sum of its top-2 (max if no bias), the topk_group best groups stay,
// the others are -inf; the num_experts_per_tok best experts are chosen (ties: lower index);
// weights = s of the chosen experts / their sum, x routed_scaling_factor (BF16 arithmetic).
// Softmax configs: s = softmax(f32(logits)) in FP32, group score = max, weights = s x scale.
// Outputs: weights [tokens, k] BF16, indices [tokens, k] in selection order (best first).
void moe_gate(const models::ModelConfig& config,
              const uint16_t* logits,
              const float* bias,
              size_t tokens,
              uint16_t* weights,
              int32_t* indices,
              int threads);

}  // namespace dssim::reference
