// HF checkpoint tensor inventory of DeepseekV2/V3 models (see tensor_inventory.h).
#include "dssim/models/tensor_inventory.h"

#include "dssim/base/error.h"

namespace dssim::models {

namespace {

using numerics::DType;

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

class Builder {
  public:
    explicit Builder(const ModelConfig& c) : c_(c) {}

    void add(
        std::string name, DType dtype, std::vector<int64_t> shape, TensorRole role, int64_t layer) {
        TensorSpec s;
        s.name = std::move(name);
        s.dtype = dtype;
        s.shape = std::move(shape);
        s.role = role;
        s.layer = layer;
        out.push_back(std::move(s));
    }

    void norm(const std::string& name, int64_t n, int64_t layer) {
        add(name, DType::BF16, {n}, TensorRole::Norm, layer);
    }

    // A projection stored FP8 (with block scales) when the checkpoint is FP8, else BF16.
    void linear(const std::string& prefix, int64_t out_f, int64_t in_f, int64_t layer) {
        bool fp8 = c_.weight_format == WeightFormat::FP8;
        std::string w = prefix + ".weight";
        add(w, fp8 ? DType::F8E4M3 : DType::BF16, {out_f, in_f}, TensorRole::Linear, layer);
        out.back().weight_name = w;
        out.back().out_features = out_f;
        out.back().in_features = in_f;
        if (fp8) {
            int64_t b = c_.weight_block_size;
            add(prefix + ".weight_scale_inv", DType::F32, {ceil_div(out_f, b), ceil_div(in_f, b)},
                TensorRole::WeightScale, layer);
            out.back().weight_name = w;
            out.back().out_features = out_f;
            out.back().in_features = in_f;
        }
    }

    void mlp(const std::string& prefix, int64_t inter, int64_t layer) {
        linear(prefix + ".gate_proj", inter, c_.hidden_size, layer);
        linear(prefix + ".up_proj", inter, c_.hidden_size, layer);
        linear(prefix + ".down_proj", c_.hidden_size, inter, layer);
    }

    void decoder_layer(int64_t l) {
        std::string p = "model.layers." + std::to_string(l);
        const int64_t h = c_.hidden_size;
        const int64_t heads = c_.num_attention_heads;
        norm(p + ".input_layernorm.weight", h, l);
        std::string a = p + ".self_attn";
        if (c_.q_lora_rank > 0) {
            linear(a + ".q_a_proj", c_.q_lora_rank, h, l);
            norm(a + ".q_a_layernorm.weight", c_.q_lora_rank, l);
            linear(a + ".q_b_proj", heads * c_.qk_head_dim(), c_.q_lora_rank, l);
        } else {
            linear(a + ".q_proj", heads * c_.qk_head_dim(), h, l);
        }
        linear(a + ".kv_a_proj_with_mqa", c_.kv_lora_rank + c_.qk_rope_head_dim, h, l);
        norm(a + ".kv_a_layernorm.weight", c_.kv_lora_rank, l);
        linear(a + ".kv_b_proj", heads * (c_.qk_nope_head_dim + c_.v_head_dim), c_.kv_lora_rank, l);
        linear(a + ".o_proj", h, heads * c_.v_head_dim, l);
        norm(p + ".post_attention_layernorm.weight", h, l);
        std::string m = p + ".mlp";
        if (c_.is_moe_layer(l)) {
            add(m + ".gate.weight", DType::BF16, {c_.n_routed_experts, h}, TensorRole::GateWeight,
                l);
            if (c_.has_gate_bias) {
                add(m + ".gate.e_score_correction_bias", DType::F32, {c_.n_routed_experts},
                    TensorRole::GateBias, l);
            }
            for (int64_t e = 0; e < c_.n_routed_experts; ++e) {
                mlp(m + ".experts." + std::to_string(e), c_.moe_intermediate_size, l);
            }
            if (c_.n_shared_experts > 0) {
                mlp(m + ".shared_experts", c_.n_shared_experts * c_.moe_intermediate_size, l);
            }
        } else {
            mlp(m, c_.intermediate_size, l);
        }
    }

    // MTP module k lives at layer num_hidden_layers + k: its own copies of the embedding and
    // head, two norms and the projection of [embedding; hidden] back to hidden, around a
    // normal decoder layer.
    void mtp_layer(int64_t l) {
        std::string p = "model.layers." + std::to_string(l);
        const int64_t h = c_.hidden_size;
        add(p + ".embed_tokens.weight", DType::BF16, {c_.vocab_size, h}, TensorRole::Embedding, l);
        norm(p + ".enorm.weight", h, l);
        norm(p + ".hnorm.weight", h, l);
        add(p + ".eh_proj.weight", DType::BF16, {h, 2 * h}, TensorRole::Linear, l);
        out.back().weight_name = out.back().name;
        out.back().out_features = h;
        out.back().in_features = 2 * h;
        decoder_layer(l);
        norm(p + ".shared_head.norm.weight", h, l);
        add(p + ".shared_head.head.weight", DType::BF16, {c_.vocab_size, h}, TensorRole::Head, l);
    }

    std::vector<TensorSpec> out;

  private:
    const ModelConfig& c_;
};

}  // namespace

uint64_t TensorSpec::num_elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) {
        n *= static_cast<uint64_t>(d);
    }
    return n;
}

uint64_t TensorSpec::num_bytes() const {
    return num_elements() * numerics::dtype_size(dtype);
}

std::vector<TensorSpec> tensor_inventory(const ModelConfig& config, LayerRange layers) {
    const int64_t stored = config.stored_layers();
    int64_t last = layers.last < 0 ? stored - 1 : layers.last;
    if (layers.first < 0 || layers.first > last || last >= stored) {
        throw InputError("--layers: range " + std::to_string(layers.first) + "-" +
                         std::to_string(last) + " is not within the " + std::to_string(stored) +
                         " stored layers 0-" + std::to_string(stored - 1) + " of " +
                         std::string(config.short_name()));
    }
    Builder b(config);
    b.add("model.embed_tokens.weight", DType::BF16, {config.vocab_size, config.hidden_size},
          TensorRole::Embedding, -1);
    for (int64_t l = layers.first; l <= last; ++l) {
        if (l < config.num_hidden_layers) {
            b.decoder_layer(l);
        } else {
            b.mtp_layer(l);
        }
    }
    b.norm("model.norm.weight", config.hidden_size, -1);
    if (!config.tie_word_embeddings) {
        b.add("lm_head.weight", DType::BF16, {config.vocab_size, config.hidden_size},
              TensorRole::Head, -1);
    }
    return std::move(b.out);
}

InventoryTotals inventory_totals(const std::vector<TensorSpec>& specs) {
    InventoryTotals t;
    for (const auto& s : specs) {
        ++t.tensors;
        t.elements += s.num_elements();
        t.bytes += s.num_bytes();
        if (s.role != TensorRole::WeightScale) {
            t.parameters += s.num_elements();
        }
    }
    return t;
}

}  // namespace dssim::models
