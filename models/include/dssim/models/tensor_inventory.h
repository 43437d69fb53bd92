// The exact list of tensors in DeepSeek's HF checkpoint for a ModelConfig: names, shapes and
// dtypes, in a fixed order (top-level embedding, then layer by layer, then final norm and
// lm_head). Used by `checkpoint synth` to write checkpoints and by `checkpoint inspect` and
// the runtime to check them. For deepseek-v3 it lists the published 91,991 tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dssim/models/model_config.h"
#include "dssim/numerics/formats.h"

namespace dssim::models {

// What a tensor is; decides how `checkpoint synth` fills it (docs/config-formats.md).
enum class TensorRole : uint8_t {
    Embedding,    // [vocab, hidden] token embedding (model.embed_tokens, MTP embed_tokens)
    Head,         // [vocab, hidden] output projection (lm_head, MTP shared_head.head)
    Norm,         // [n] RMSNorm weight
    Linear,       // [out, in] projection weight (FP8 or BF16)
    WeightScale,  // [ceil(out/B), ceil(in/B)] F32 block scales of an FP8 Linear (weight_scale_inv)
    GateWeight,   // [experts, hidden] router weight (BF16)
    GateBias,     // [experts] F32 e_score_correction_bias
};

struct TensorSpec {
    std::string name;  // HF name, e.g. model.layers.3.mlp.experts.7.down_proj.weight
    numerics::DType dtype = numerics::DType::BF16;
    std::vector<int64_t> shape;
    TensorRole role = TensorRole::Linear;
    int64_t layer = -1;  // decoder layer index (MTP layers >= num_hidden_layers); -1: top-level
    // Linear/WeightScale: the FP8 weight's [out, in]; for a scale tensor the weight it scales.
    std::string weight_name;  // Linear or WeightScale: name of the .weight tensor
    int64_t out_features = 0;
    int64_t in_features = 0;

    [[nodiscard]] uint64_t num_elements() const;
    [[nodiscard]] uint64_t num_bytes() const;
};

// Layers [first, last] (inclusive) of the stored layers (main + MTP); top-level tensors
// (embed_tokens, norm, lm_head) are always included.
struct LayerRange {
    int64_t first = 0;
    int64_t last = -1;  // -1: up to the last stored layer
};

std::vector<TensorSpec> tensor_inventory(const ModelConfig& config, LayerRange layers = {});

// Totals over an inventory (parameters = elements of every tensor except weight scales).
struct InventoryTotals {
    uint64_t tensors = 0;
    uint64_t elements = 0;
    uint64_t parameters = 0;
    uint64_t bytes = 0;
};
InventoryTotals inventory_totals(const std::vector<TensorSpec>& specs);

}  // namespace dssim::models
