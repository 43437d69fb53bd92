// Names and small value types of the op graph: enum names, tensor/weight sizes, and the
// mapping from the graph's parameter names (the reference's module paths, e.g.
// `layers.7.attn.wkv_a`, `mtp.0.eh_proj`) to DeepSeek's HF checkpoint tensor names.
#include <array>
#include <charconv>
#include <utility>

#include "dssim/base/error.h"
#include "dssim/models/op_graph.h"

namespace dssim::models {

std::string_view op_kind_name(OpKind kind) {
    static constexpr std::array<std::string_view, kOpKindCount> kNames = {
        "Embedding", "RmsNorm",   "Gemm",        "GroupedGemm", "MlaAttention", "RoPE",
        "Gate",      "SwiGLU",    "Elementwise", "ActQuant",    "Concat",       "Dispatch",
        "Combine",   "AllReduce", "AllGather",   "Head",        "Sampling",     "Loss"};
    return kNames[static_cast<size_t>(kind)];
}

bool is_communication(OpKind kind) {
    return kind == OpKind::Dispatch || kind == OpKind::Combine || kind == OpKind::AllReduce ||
           kind == OpKind::AllGather;
}

std::string_view phase_name(Phase phase) {
    switch (phase) {
        case Phase::Prefill:
            return "prefill";
        case Phase::Decode:
            return "decode";
        case Phase::Train:
            return "train";
    }
    return "?";
}

std::optional<Phase> phase_from_name(std::string_view name) {
    for (Phase p : {Phase::Prefill, Phase::Decode, Phase::Train}) {
        if (name == phase_name(p)) return p;
    }
    return std::nullopt;
}

std::string_view attention_mode_name(AttentionMode mode) {
    return mode == AttentionMode::Absorbed ? "absorbed" : "naive";
}

std::string_view kv_cache_format_name(KvCacheFormat f) {
    return f == KvCacheFormat::Bf16 ? "bf16" : "fp8";
}

std::optional<KvCacheFormat> kv_cache_format_from_name(std::string_view name) {
    if (name == "bf16") return KvCacheFormat::Bf16;
    if (name == "fp8") return KvCacheFormat::Fp8;
    return std::nullopt;
}

int64_t latent_cache_bytes_per_token(int64_t latent_dim, int64_t rope_dim, KvCacheFormat f) {
    if (f == KvCacheFormat::Bf16) return (latent_dim + rope_dim) * 2;
    // FlashMLA FP8: 1-byte latent values, an FP32 scale per 128 of them, rope kept in BF16
    // (656 bytes for V3's 512 + 64).
    return latent_dim + (latent_dim + 127) / 128 * 4 + rope_dim * 2;
}

std::string_view pass_name(Pass pass) {
    switch (pass) {
        case Pass::Forward:
            return "forward";
        case Pass::BackwardInput:
            return "backward_input";
        case Pass::BackwardWeight:
            return "backward_weight";
        case Pass::GradSync:
            return "grad_sync";
    }
    return "?";
}

std::string_view op_role_name(OpRole role) {
    switch (role) {
        case OpRole::None:
            return "none";
        case OpRole::AbsorbedQuery:
            return "absorbed_query";
        case OpRole::AbsorbedOutput:
            return "absorbed_output";
        case OpRole::Residual:
            return "residual";
        case OpRole::ExpertWeightedSum:
            return "expert_weighted_sum";
    }
    return "?";
}

Routing routing_of(const ModelConfig& config) {
    Routing r;
    r.experts = config.n_routed_experts;
    r.top_k = config.num_experts_per_tok;
    r.groups = config.n_group;
    r.groups_kept = config.topk_group;
    r.score = config.scoring_func;
    r.scaling = config.routed_scaling_factor;
    r.normalise = config.norm_topk_prob;
    return r;
}

std::string_view split_name(Split split) {
    switch (split) {
        case Split::DataParallel:
            return "data_parallel";
        case Split::ColumnParallel:
            return "column_parallel";
        case Split::RowParallel:
            return "row_parallel";
        case Split::HeadParallel:
            return "head_parallel";
        case Split::VocabParallel:
            return "vocab_parallel";
        case Split::ExpertParallel:
            return "expert_parallel";
        case Split::Collective:
            return "collective";
    }
    return "?";
}

OpCost& OpCost::operator+=(const OpCost& o) {
    flops += o.flops;
    vector_ops += o.vector_ops;
    weight_bytes += o.weight_bytes;
    act_read_bytes += o.act_read_bytes;
    act_write_bytes += o.act_write_bytes;
    kv_read_bytes += o.kv_read_bytes;
    kv_write_bytes += o.kv_write_bytes;
    comm_bytes += o.comm_bytes;
    return *this;
}

int64_t OpTensor::elements() const {
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

int64_t OpTensor::bytes() const {
    return elements() * static_cast<int64_t>(numerics::dtype_size(dtype));
}

int64_t WeightRef::params() const {
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n * std::max<int64_t>(experts, 1);
}

namespace {
int64_t scale_elements(const WeightRef& w, const ModelConfig& c) {
    if (!w.block_scaled || w.shape.size() != 2) return 0;
    const int64_t b = c.weight_block_size;
    return ((w.shape[0] + b - 1) / b) * ((w.shape[1] + b - 1) / b) *
           std::max<int64_t>(w.experts, 1);
}
}  // namespace

int64_t WeightRef::stored_bytes(const ModelConfig& config) const {
    return params() * static_cast<int64_t>(numerics::dtype_size(dtype)) +
           scale_elements(*this, config) * 4;
}

int64_t WeightRef::stored_elements(const ModelConfig& config) const {
    return params() + scale_elements(*this, config);
}

std::string expert_param_name(std::string_view grouped_name, int64_t expert) {
    const size_t dot = grouped_name.rfind('.');
    if (dot == std::string_view::npos) return std::string(grouped_name);
    return std::string(grouped_name.substr(0, dot)) + "." + std::to_string(expert) +
           std::string(grouped_name.substr(dot));
}

namespace {

// Splits "a.b.c" into components.
std::vector<std::string_view> split_dots(std::string_view s) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        const size_t dot = s.find('.', start);
        parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return parts;
}

std::optional<int64_t> parse_index(std::string_view s) {
    int64_t v = 0;
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

struct HfName {
    std::string module;   // HF module path without ".weight"
    bool linear = false;  // quantised in FP8 checkpoints (has weight_scale_inv)
    bool bias = false;    // the gate's e_score_correction_bias
};

const char* mlp_proj(std::string_view w) {
    if (w == "w1") return "gate_proj";
    if (w == "w2") return "down_proj";
    if (w == "w3") return "up_proj";
    return nullptr;
}

// Maps the part of a name after "layers.L." / "mtp.K." to the HF module under the layer.
std::optional<HfName> map_layer_part(const ModelConfig& c, std::span<const std::string_view> p) {
    auto joined = [&](size_t from) {
        std::string s;
        for (size_t i = from; i < p.size(); ++i) {
            if (i > from) s += '.';
            s.append(p[i]);
        }
        return s;
    };
    const std::string rest = joined(0);
    if (rest == "attn_norm") return HfName{"input_layernorm"};
    if (rest == "ffn_norm") return HfName{"post_attention_layernorm"};
    if (p.size() == 2 && p[0] == "attn") {
        static constexpr std::pair<std::string_view, std::string_view> kAttn[] = {
            {"wq", "q_proj"},
            {"wq_a", "q_a_proj"},
            {"q_norm", "q_a_layernorm"},
            {"wq_b", "q_b_proj"},
            {"wkv_a", "kv_a_proj_with_mqa"},
            {"kv_norm", "kv_a_layernorm"},
            {"wkv_b", "kv_b_proj"},
            {"wo", "o_proj"}};
        for (const auto& [ours, hf] : kAttn) {
            if (p[1] != ours) continue;
            const bool lora = c.q_lora_rank > 0;
            if ((ours == "wq" && lora) ||
                ((ours == "wq_a" || ours == "wq_b" || ours == "q_norm") && !lora)) {
                return std::nullopt;
            }
            return HfName{"self_attn." + std::string(hf), !ours.ends_with("norm")};
        }
        return std::nullopt;
    }
    if (p.size() == 2 && p[0] == "mlp" && mlp_proj(p[1])) {
        return HfName{"mlp." + std::string(mlp_proj(p[1])), true};
    }
    if (p.size() >= 2 && p[0] == "moe") {
        if (rest == "moe.gate") return HfName{"mlp.gate"};
        if (rest == "moe.gate.bias" && c.has_gate_bias) {
            return HfName{"mlp.gate.e_score_correction_bias", false, true};
        }
        if (p.size() == 3 && p[1] == "shared_experts" && c.n_shared_experts > 0 && mlp_proj(p[2])) {
            return HfName{"mlp.shared_experts." + std::string(mlp_proj(p[2])), true};
        }
        if (p.size() == 4 && p[1] == "experts" && mlp_proj(p[3])) {
            auto e = parse_index(p[2]);
            if (!e || *e >= c.n_routed_experts) return std::nullopt;
            return HfName{"mlp.experts." + std::to_string(*e) + "." + mlp_proj(p[3]), true};
        }
    }
    return std::nullopt;
}

std::optional<HfName> map_name(const ModelConfig& c, std::string_view name) {
    if (name == "embed") return HfName{"model.embed_tokens"};
    if (name == "norm") return HfName{"model.norm"};
    if (name == "head") return HfName{"lm_head"};
    const std::vector<std::string_view> p = split_dots(name);
    if (p.size() < 3) return std::nullopt;
    auto idx = parse_index(p[1]);
    if (!idx) return std::nullopt;
    std::span<const std::string_view> rest(p.data() + 2, p.size() - 2);
    int64_t layer = 0;
    if (p[0] == "layers") {
        if (*idx >= c.num_hidden_layers) return std::nullopt;
        layer = *idx;
    } else if (p[0] == "mtp") {
        if (*idx >= c.num_nextn_predict_layers) return std::nullopt;
        layer = c.num_hidden_layers + *idx;
        if (rest.size() == 1) {
            static constexpr std::pair<std::string_view, std::string_view> kMtp[] = {
                {"embed", "embed_tokens"},    {"enorm", "enorm"},
                {"hnorm", "hnorm"},           {"eh_proj", "eh_proj"},
                {"norm", "shared_head.norm"}, {"head", "shared_head.head"}};
            for (const auto& [ours, hf] : kMtp) {
                if (rest[0] == ours) {
                    return HfName{"model.layers." + std::to_string(layer) + "." + std::string(hf)};
                }
            }
        }
    } else {
        return std::nullopt;
    }
    const bool moe = c.is_moe_layer(layer);
    if ((rest[0] == "moe" && !moe) || (rest[0] == "mlp" && moe)) return std::nullopt;
    auto part = map_layer_part(c, rest);
    if (!part) return std::nullopt;
    part->module = "model.layers." + std::to_string(layer) + "." + part->module;
    return part;
}

HfName map_or_throw(const ModelConfig& c, std::string_view name) {
    auto m = map_name(c, name);
    if (!m) {
        throw_input_error("", "parameter '" + std::string(name) + "'",
                          "not a parameter of " + std::string(c.short_name()) +
                              " in the op graph's naming scheme (docs/model-graph.md)");
    }
    return *m;
}

}  // namespace

std::vector<std::string> hf_tensor_names(const ModelConfig& config, std::string_view param_name) {
    const HfName m = map_or_throw(config, param_name);
    if (m.bias) return {m.module};
    std::vector<std::string> names = {m.module + ".weight"};
    if (m.linear && config.weight_format == WeightFormat::FP8) {
        names.push_back(m.module + ".weight_scale_inv");
    }
    return names;
}

std::string hf_weight_name(const ModelConfig& config, std::string_view param_name) {
    return hf_tensor_names(config, param_name).front();
}

}  // namespace dssim::models
