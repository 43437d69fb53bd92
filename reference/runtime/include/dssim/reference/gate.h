// The MoE router of DeepSeek's official demo (class Gate), exposed on its own so it can be
// checked by hand. docs/numerics.md ("Runtime") states every rounding point.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dssim/models/op_graph.h"

namespace dssim::reference {

// The router is the Gate op's models::Routing (models::routing_of(config) for a config).
// logits [tokens, experts] BF16: the gate GEMM output (x . W_gate^T).
// bias [experts] FP32 or nullptr (e_score_correction_bias, selection only).
// Sigmoid routing: s = bf16(sigmoid(logit)); selection score = f32(s) + bias; with groups > 1
// each group scores the sum of its top-2 (max if no bias), the groups_kept best groups stay,
// the others are -inf; the top_k best experts are chosen (ties: lower index);
// weights = s of the chosen experts / their sum, x scaling (BF16 arithmetic).
// Softmax routing: s = softmax(f32(logits)) in FP32, group score = max, weights = s x scaling.
// Like the demo, the weights are renormalised exactly when scoring is sigmoid:
// routing.normalise (HF norm_topk_prob) is not consulted.
// Outputs: weights [tokens, top_k] BF16, indices [tokens, top_k] in selection order (best first).
void moe_gate(const models::Routing& routing,
              const uint16_t* logits,
              const float* bias,
              size_t tokens,
              uint16_t* weights,
              int32_t* indices,
              int threads);

}  // namespace dssim::reference
