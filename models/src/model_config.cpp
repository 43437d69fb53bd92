// ModelConfig loading: HF config.json (DeepseekV2/DeepseekV3 keys) and DeepSeek's official demo
// config files (ModelArgs keys), validation, and the canonical HF form written back out.
// Every accepted key, default and derived value is documented in docs/config-formats.md.
#include "dssim/models/model_config.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>

#include "dssim/base/error.h"
#include "dssim/base/paths.h"

namespace dssim::models {

namespace {

constexpr int64_t kMaxSize = int64_t{1} << 24;       // any width, count or rank
constexpr int64_t kMaxPositions = int64_t{1} << 31;  // context lengths

// Name for a config: "_name_or_path" basename if given, else the file stem; for a file called
// config.json (a checkpoint directory) the directory name.
std::string default_name(std::string_view origin) {
    std::filesystem::path p(origin);
    std::string stem = p.stem().string();
    if (stem == "config" && p.has_parent_path()) {
        std::string parent = p.parent_path().filename().string();
        if (!parent.empty() && parent != "." && parent != "..") {
            return parent;
        }
    }
    return stem.empty() ? std::string("model") : stem;
}

void set_name(ModelConfig& c, std::string_view name, std::string_view origin) {
    if (name.empty() || name.size() >= sizeof(c.name)) {
        throw_input_error(origin, "_name_or_path",
                          "model name must have 1 to " + std::to_string(sizeof(c.name) - 1) +
                              " characters (got '" + std::string(name) + "')");
    }
    std::memset(c.name, 0, sizeof(c.name));
    std::memcpy(c.name, name.data(), name.size());
}

ScoreFunc parse_score_func(JsonFields& f, std::string_view key) {
    std::string s = f.string(key);
    if (s == "softmax") {
        return ScoreFunc::Softmax;
    }
    if (s == "sigmoid") {
        return ScoreFunc::Sigmoid;
    }
    f.fail(key, "expected \"softmax\" or \"sigmoid\", got \"" + s + "\"");
}

// rope_scaling absent or null: plain RoPE. The YaRN fields then hold canonical neutral values
// so that the HF round trip (which writes "rope_scaling": null) compares equal.
void set_plain_rope(ModelConfig& c) {
    c.rope_yarn = false;
    c.rope_factor = 1.0;
    c.original_max_position_embeddings = c.max_position_embeddings;
    c.beta_fast = 32.0;
    c.beta_slow = 1.0;
    c.mscale = 1.0;
    c.mscale_all_dim = 1.0;
}

ModelConfig from_hf(JsonFields& f, std::string_view origin) {
    ModelConfig c;
    std::string model_type = f.string("model_type");
    if (model_type == "deepseek_v3") {
        c.is_v3 = true;
    } else if (model_type == "deepseek_v2") {
        c.is_v3 = false;
    } else {
        f.fail("model_type",
               "expected \"deepseek_v2\" or \"deepseek_v3\", got \"" + model_type + "\"");
    }
    if (f.has("_name_or_path")) {
        std::string n = f.string("_name_or_path");
        set_name(c, std::filesystem::path(n).filename().string(), origin);
    } else {
        set_name(c, default_name(origin), origin);
    }
    if (f.has("architectures")) {
        const Json& a = f.value("architectures");
        std::string expected = c.is_v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM";
        if (!a.is_array() || a.size() != 1 || !a[0].is_string() ||
            a[0].get<std::string>() != expected) {
            f.fail("architectures", "expected [\"" + expected + "\"] for model_type " + model_type);
        }
    }

    c.vocab_size = f.integer("vocab_size");
    c.hidden_size = f.integer("hidden_size");
    c.intermediate_size = f.integer("intermediate_size");
    c.num_hidden_layers = f.integer("num_hidden_layers");
    c.num_attention_heads = f.integer("num_attention_heads");
    if (f.has("num_key_value_heads") && f.integer("num_key_value_heads") != c.num_attention_heads) {
        f.fail("num_key_value_heads", "MLA needs num_key_value_heads == num_attention_heads (" +
                                          std::to_string(c.num_attention_heads) + ")");
    }
    // HF writes null for "no query compression" (V2-Lite).
    c.q_lora_rank = f.has("q_lora_rank") ? f.integer("q_lora_rank") : 0;
    if (!f.has("q_lora_rank") && f.json().find("q_lora_rank") == f.json().end()) {
        f.fail("q_lora_rank", "missing required field (use null for no query compression)");
    }
    f.ignore({"q_lora_rank"});
    c.kv_lora_rank = f.integer("kv_lora_rank");
    c.qk_nope_head_dim = f.integer("qk_nope_head_dim");
    c.qk_rope_head_dim = f.integer("qk_rope_head_dim");
    c.v_head_dim = f.integer("v_head_dim");

    // MoE. n_routed_experts null/0 means a dense model.
    c.n_routed_experts = f.integer_or("n_routed_experts", 0);
    if (c.n_routed_experts > 0) {
        c.moe_intermediate_size = f.integer("moe_intermediate_size");
        c.n_shared_experts = f.integer_or("n_shared_experts", 0);
        c.num_experts_per_tok = f.integer("num_experts_per_tok");
        c.first_k_dense_replace = f.integer_or("first_k_dense_replace", 0);
        c.moe_layer_freq = f.integer_or("moe_layer_freq", 1);
        c.n_group = f.integer_or("n_group", 1);
        c.topk_group = f.integer_or("topk_group", 1);
        c.scoring_func = parse_score_func(f, "scoring_func");
        c.routed_scaling_factor = f.number_or("routed_scaling_factor", 1.0);
        c.norm_topk_prob = f.boolean_or("norm_topk_prob", false);
        std::string method = f.string("topk_method");
        if (method == "noaux_tc") {
            c.has_gate_bias = true;
        } else if (method == "group_limited_greedy") {
            c.has_gate_bias = false;
        } else if (method == "greedy") {
            c.has_gate_bias = false;
            if (c.n_group != 1) {
                f.fail("topk_method",
                       "\"greedy\" ignores expert groups; use "
                       "\"group_limited_greedy\" or n_group 1 (n_group is " +
                           std::to_string(c.n_group) + ")");
            }
        } else {
            f.fail("topk_method",
                   "expected \"greedy\", \"group_limited_greedy\" or \"noaux_tc\", got \"" +
                       method + "\"");
        }
    } else {
        // A dense model: the MoE fields are meaningless; fix them to neutral values.
        c.n_routed_experts = 0;
        c.moe_intermediate_size = 0;
        c.n_shared_experts = 0;
        c.num_experts_per_tok = 0;
        c.first_k_dense_replace = c.num_hidden_layers;
        c.moe_layer_freq = 1;
        c.n_group = 1;
        c.topk_group = 1;
        c.scoring_func = ScoreFunc::Softmax;
        c.routed_scaling_factor = 1.0;
        c.norm_topk_prob = false;
        c.has_gate_bias = false;
        f.ignore({"moe_intermediate_size", "n_shared_experts", "num_experts_per_tok",
                  "first_k_dense_replace", "moe_layer_freq", "n_group", "topk_group",
                  "scoring_func", "routed_scaling_factor", "norm_topk_prob", "topk_method"});
    }
    c.num_nextn_predict_layers = f.integer_or("num_nextn_predict_layers", 0);

    c.rope_theta = f.number("rope_theta");
    c.max_position_embeddings = f.integer("max_position_embeddings");
    if (auto rs = f.object_if("rope_scaling")) {
        std::string type = rs->has("type") ? rs->string("type") : rs->string("rope_type");
        if (type != "yarn") {
            rs->fail(rs->has("type") ? "type" : "rope_type",
                     "only \"yarn\" rope scaling is supported, got \"" + type + "\"");
        }
        c.rope_yarn = true;
        c.rope_factor = rs->number("factor");
        c.original_max_position_embeddings = rs->integer("original_max_position_embeddings");
        c.beta_fast = rs->number_or("beta_fast", 32.0);
        c.beta_slow = rs->number_or("beta_slow", 1.0);
        c.mscale = rs->number_or("mscale", 1.0);
        // DeepSeek's modeling code treats an absent mscale_all_dim as 0 (no softmax factor).
        c.mscale_all_dim = rs->number_or("mscale_all_dim", 0.0);
        rs->reject_unknown();
    } else {
        f.ignore({"rope_scaling"});
        set_plain_rope(c);
    }

    c.rms_norm_eps = f.number("rms_norm_eps");

    if (auto q = f.object_if("quantization_config")) {
        std::string method = q->string("quant_method");
        if (method != "fp8") {
            q->fail("quant_method", "only \"fp8\" is supported, got \"" + method + "\"");
        }
        std::string fmt = q->string_or("fmt", "e4m3");
        if (fmt != "e4m3") {
            q->fail("fmt", "only \"e4m3\" weights are supported, got \"" + fmt + "\"");
        }
        std::string scheme = q->string_or("activation_scheme", "dynamic");
        if (scheme != "dynamic") {
            q->fail("activation_scheme", "only \"dynamic\" is supported, got \"" + scheme + "\"");
        }
        std::vector<int64_t> block = q->integers("weight_block_size");
        if (block.size() != 2 || block[0] != block[1] || block[0] <= 0) {
            q->fail("weight_block_size", "expected two equal positive integers, e.g. [128, 128]");
        }
        c.weight_format = WeightFormat::FP8;
        c.weight_block_size = block[0];
        std::string scale = q->string_or("scale_fmt", "");
        if (scale == "ue8m0") {
            c.scale_fmt = ScaleFmt::UE8M0;
        } else if (scale.empty()) {
            c.scale_fmt = ScaleFmt::F32;
        } else {
            q->fail("scale_fmt", "expected \"ue8m0\" or null, got \"" + scale + "\"");
        }
        q->reject_unknown();
    } else {
        f.ignore({"quantization_config"});
        c.weight_format = WeightFormat::BF16;
        c.weight_block_size = 128;
        c.scale_fmt = ScaleFmt::F32;
    }

    c.tie_word_embeddings = f.boolean_or("tie_word_embeddings", false);
    c.bos_token_id = f.integer_or("bos_token_id", 0);
    c.eos_token_id = f.integer_or("eos_token_id", 1);

    // Keys that change the computation but have only one supported value.
    if (f.has("hidden_act") && f.string("hidden_act") != "silu") {
        f.fail("hidden_act", "only \"silu\" is supported");
    }
    if (f.has("attention_bias") && f.boolean("attention_bias")) {
        f.fail("attention_bias", "attention projections with bias are not supported");
    }
    // HF bookkeeping that does not change the forward computation (docs/config-formats.md).
    f.ignore({"auto_map", "torch_dtype", "transformers_version", "use_cache", "initializer_range",
              "aux_loss_alpha", "seq_aux", "attention_dropout", "pretraining_tp", "ep_size",
              "_name_or_path", "architectures", "num_key_value_heads", "hidden_act",
              "attention_bias"});
    f.reject_unknown();
    return c;
}

// Official demo config (inference/configs/*.json): ModelArgs keys; absent keys take the
// ModelArgs dataclass defaults (the 16B model), as in the demo.
ModelConfig from_demo(JsonFields& f, std::string_view origin) {
    ModelConfig c;
    set_name(c, default_name(origin), origin);
    f.ignore({"max_batch_size", "max_seq_len"});  // runtime choices, not model sizes
    if (f.has("max_batch_size")) {
        (void)f.integer("max_batch_size");
    }
    if (f.has("max_seq_len")) {
        (void)f.integer("max_seq_len");
    }
    std::string dtype = f.string_or("dtype", "bf16");
    if (dtype == "fp8") {
        c.weight_format = WeightFormat::FP8;
    } else if (dtype == "bf16") {
        c.weight_format = WeightFormat::BF16;
    } else {
        f.fail("dtype", "expected \"bf16\" or \"fp8\", got \"" + dtype + "\"");
    }
    c.weight_block_size = 128;  // module constant `block_size` in the demo's model.py
    std::string scale = f.string_or("scale_fmt", "");
    if (scale == "ue8m0") {
        c.scale_fmt = ScaleFmt::UE8M0;
    } else if (scale.empty()) {
        c.scale_fmt = ScaleFmt::F32;
    } else {
        f.fail("scale_fmt", "expected \"ue8m0\" or null, got \"" + scale + "\"");
    }
    // The demo's ModelArgs defaults are ModelConfig's member defaults (written once, there).
    const ModelConfig kDemo{};
    c.vocab_size = f.integer_or("vocab_size", kDemo.vocab_size);
    c.hidden_size = f.integer_or("dim", kDemo.hidden_size);
    c.intermediate_size = f.integer_or("inter_dim", kDemo.intermediate_size);
    c.moe_intermediate_size = f.integer_or("moe_inter_dim", kDemo.moe_intermediate_size);
    c.num_hidden_layers = f.integer_or("n_layers", kDemo.num_hidden_layers);
    c.first_k_dense_replace = f.integer_or("n_dense_layers", kDemo.first_k_dense_replace);
    c.num_attention_heads = f.integer_or("n_heads", kDemo.num_attention_heads);
    c.n_routed_experts = f.integer_or("n_routed_experts", kDemo.n_routed_experts);
    c.n_shared_experts = f.integer_or("n_shared_experts", kDemo.n_shared_experts);
    c.num_experts_per_tok = f.integer_or("n_activated_experts", kDemo.num_experts_per_tok);
    c.n_group = f.integer_or("n_expert_groups", kDemo.n_group);
    c.topk_group = f.integer_or("n_limited_groups", kDemo.topk_group);
    std::string score = f.string_or("score_func", "softmax");
    if (score == "softmax") {
        c.scoring_func = ScoreFunc::Softmax;
    } else if (score == "sigmoid") {
        c.scoring_func = ScoreFunc::Sigmoid;
    } else {
        f.fail("score_func", "expected \"softmax\" or \"sigmoid\", got \"" + score + "\"");
    }
    c.routed_scaling_factor = f.number_or("route_scale", kDemo.routed_scaling_factor);
    c.q_lora_rank = f.integer_or("q_lora_rank", kDemo.q_lora_rank);
    c.kv_lora_rank = f.integer_or("kv_lora_rank", kDemo.kv_lora_rank);
    c.qk_nope_head_dim = f.integer_or("qk_nope_head_dim", kDemo.qk_nope_head_dim);
    c.qk_rope_head_dim = f.integer_or("qk_rope_head_dim", kDemo.qk_rope_head_dim);
    c.v_head_dim = f.integer_or("v_head_dim", kDemo.v_head_dim);
    c.original_max_position_embeddings =
        f.integer_or("original_seq_len", kDemo.original_max_position_embeddings);
    c.rope_theta = f.number_or("rope_theta", kDemo.rope_theta);
    c.rope_factor = f.number_or("rope_factor", kDemo.rope_factor);
    c.beta_fast = f.number_or("beta_fast", kDemo.beta_fast);
    c.beta_slow = f.number_or("beta_slow", kDemo.beta_slow);
    c.mscale = f.number_or("mscale", kDemo.mscale);
    f.reject_unknown();

    // Derived as the demo's model.py does: the gate bias exists iff dim == 7168 (V3), and
    // sigmoid scores are always renormalised. The demo applies the same mscale to the softmax
    // scale that HF takes from mscale_all_dim.
    c.has_gate_bias = c.hidden_size == 7168;
    c.is_v3 = c.has_gate_bias;
    c.norm_topk_prob = c.scoring_func == ScoreFunc::Sigmoid;
    c.mscale_all_dim = c.mscale;
    c.rope_yarn = true;  // the demo enables YaRN at run time when max_seq_len > original_seq_len
    double positions = static_cast<double>(c.original_max_position_embeddings) * c.rope_factor;
    if (!(positions >= 1.0 && positions <= static_cast<double>(kMaxPositions))) {
        f.fail("rope_factor", "original_seq_len x rope_factor must be in [1, " +
                                  std::to_string(kMaxPositions) + "]");
    }
    c.max_position_embeddings = static_cast<int64_t>(std::llround(positions));
    c.moe_layer_freq = 1;
    c.num_nextn_predict_layers = 0;  // the demo has no MTP module
    c.rms_norm_eps = 1e-6;           // RMSNorm default eps in the demo
    c.tie_word_embeddings = false;
    c.bos_token_id = 0;
    c.eos_token_id = 1;
    return c;
}

void check(bool ok, std::string_view origin, std::string_view field, const std::string& problem) {
    if (!ok) {
        throw_input_error(origin, field, problem);
    }
}

std::string got(int64_t v) {
    return " (got " + std::to_string(v) + ")";
}
std::string got(double v) {
    std::ostringstream os;
    os << " (got " << v << ")";
    return os.str();
}

}  // namespace

void validate_model_config(const ModelConfig& c, std::string_view origin) {
    auto positive = [&](int64_t v, std::string_view field) {
        check(v > 0, origin, field, "must be positive" + got(v));
    };
    auto positive_real = [&](double v, std::string_view field) {
        check(std::isfinite(v) && v > 0, origin, field,
              "must be a positive finite number" + got(v));
    };
    check(c.name[0] != '\0' && c.name[sizeof(c.name) - 1] == '\0', origin, "_name_or_path",
          "model name must be non-empty and shorter than 48 characters");
    // Caps keep every product of two sizes (and the tensor inventory) far from int64 overflow.
    const std::pair<int64_t, const char*> sizes[] = {
        {c.vocab_size, "vocab_size"},
        {c.hidden_size, "hidden_size"},
        {c.intermediate_size, "intermediate_size"},
        {c.moe_intermediate_size, "moe_intermediate_size"},
        {c.num_hidden_layers, "num_hidden_layers"},
        {c.first_k_dense_replace, "first_k_dense_replace"},
        {c.moe_layer_freq, "moe_layer_freq"},
        {c.num_nextn_predict_layers, "num_nextn_predict_layers"},
        {c.num_attention_heads, "num_attention_heads"},
        {c.q_lora_rank, "q_lora_rank"},
        {c.kv_lora_rank, "kv_lora_rank"},
        {c.qk_nope_head_dim, "qk_nope_head_dim"},
        {c.qk_rope_head_dim, "qk_rope_head_dim"},
        {c.v_head_dim, "v_head_dim"},
        {c.n_routed_experts, "n_routed_experts"},
        {c.n_shared_experts, "n_shared_experts"},
        {c.num_experts_per_tok, "num_experts_per_tok"},
        {c.n_group, "n_group"},
        {c.topk_group, "topk_group"},
        {c.weight_block_size, "quantization_config.weight_block_size"},
    };
    for (const auto& [v, field] : sizes) {
        check(v <= kMaxSize, origin, field, "must be at most " + std::to_string(kMaxSize) + got(v));
    }
    check(c.max_position_embeddings <= kMaxPositions, origin, "max_position_embeddings",
          "must be at most " + std::to_string(kMaxPositions) + got(c.max_position_embeddings));
    check(c.original_max_position_embeddings <= kMaxPositions, origin,
          "rope_scaling.original_max_position_embeddings",
          "must be at most " + std::to_string(kMaxPositions) +
              got(c.original_max_position_embeddings));
    positive(c.vocab_size, "vocab_size");
    positive(c.hidden_size, "hidden_size");
    positive(c.num_hidden_layers, "num_hidden_layers");
    positive(c.num_attention_heads, "num_attention_heads");
    check(c.q_lora_rank >= 0, origin, "q_lora_rank",
          "must be >= 0 (0: no query compression)" + got(c.q_lora_rank));
    positive(c.kv_lora_rank, "kv_lora_rank");
    positive(c.qk_nope_head_dim, "qk_nope_head_dim");
    positive(c.qk_rope_head_dim, "qk_rope_head_dim");
    check(c.qk_rope_head_dim % 2 == 0, origin, "qk_rope_head_dim",
          "must be even (RoPE rotates pairs)" + got(c.qk_rope_head_dim));
    positive(c.v_head_dim, "v_head_dim");
    check(c.first_k_dense_replace >= 0 && c.first_k_dense_replace <= c.num_hidden_layers, origin,
          "first_k_dense_replace",
          "must be in [0, num_hidden_layers=" + std::to_string(c.num_hidden_layers) + "]" +
              got(c.first_k_dense_replace));
    positive(c.moe_layer_freq, "moe_layer_freq");
    check(c.num_nextn_predict_layers >= 0, origin, "num_nextn_predict_layers",
          "must be >= 0" + got(c.num_nextn_predict_layers));
    bool any_dense = c.first_k_dense_replace > 0 || c.n_routed_experts == 0 || c.moe_layer_freq > 1;
    if (any_dense) {
        positive(c.intermediate_size, "intermediate_size");
    }
    check(c.n_routed_experts >= 0, origin, "n_routed_experts",
          "must be >= 0" + got(c.n_routed_experts));
    if (c.n_routed_experts > 0) {
        positive(c.moe_intermediate_size, "moe_intermediate_size");
        check(c.n_shared_experts >= 0, origin, "n_shared_experts",
              "must be >= 0" + got(c.n_shared_experts));
        positive(c.num_experts_per_tok, "num_experts_per_tok");
        check(c.num_experts_per_tok <= c.n_routed_experts, origin, "num_experts_per_tok",
              "must be <= n_routed_experts=" + std::to_string(c.n_routed_experts) +
                  got(c.num_experts_per_tok));
        positive(c.n_group, "n_group");
        check(
            c.n_routed_experts % c.n_group == 0, origin, "n_group",
            "must divide n_routed_experts=" + std::to_string(c.n_routed_experts) + got(c.n_group));
        check(c.topk_group >= 1 && c.topk_group <= c.n_group, origin, "topk_group",
              "must be in [1, n_group=" + std::to_string(c.n_group) + "]" + got(c.topk_group));
        int64_t per_group = c.n_routed_experts / c.n_group;
        check(c.num_experts_per_tok <= c.topk_group * per_group, origin, "num_experts_per_tok",
              "exceeds the experts in the kept groups (topk_group x experts per group = " +
                  std::to_string(c.topk_group * per_group) + ")" + got(c.num_experts_per_tok));
        if (c.has_gate_bias && c.n_group > 1) {
            check(per_group >= 2, origin, "n_group",
                  "noaux_tc group scores sum the top 2 experts of a group: need >= 2 experts per "
                  "group" +
                      got(per_group));
        }
        positive_real(c.routed_scaling_factor, "routed_scaling_factor");
    }
    positive_real(c.rope_theta, "rope_theta");
    positive(c.max_position_embeddings, "max_position_embeddings");
    if (c.rope_yarn) {
        check(std::isfinite(c.rope_factor) && c.rope_factor >= 1.0, origin, "rope_scaling.factor",
              "must be >= 1" + got(c.rope_factor));
        positive(c.original_max_position_embeddings,
                 "rope_scaling.original_max_position_embeddings");
        positive_real(c.beta_fast, "rope_scaling.beta_fast");
        positive_real(c.beta_slow, "rope_scaling.beta_slow");
        check(std::isfinite(c.mscale) && c.mscale >= 0, origin, "rope_scaling.mscale",
              "must be >= 0" + got(c.mscale));
        check(std::isfinite(c.mscale_all_dim) && c.mscale_all_dim >= 0, origin,
              "rope_scaling.mscale_all_dim", "must be >= 0" + got(c.mscale_all_dim));
    }
    positive_real(c.rms_norm_eps, "rms_norm_eps");
    positive(c.weight_block_size, "quantization_config.weight_block_size");
    check(c.scale_fmt == ScaleFmt::F32 || c.weight_format == WeightFormat::FP8, origin,
          "quantization_config.scale_fmt", "UE8M0 scales need FP8 weights");
    check(c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size, origin, "bos_token_id",
          "must be a token id below vocab_size" + got(c.bos_token_id));
    check(c.eos_token_id >= 0 && c.eos_token_id < c.vocab_size, origin, "eos_token_id",
          "must be a token id below vocab_size" + got(c.eos_token_id));
}

ModelConfig model_config_from_json(const Json& json, std::string_view origin) {
    JsonFields f(json, std::string(origin));
    bool hf = f.has("hidden_size") || f.has("model_type");
    bool demo = f.has("dim");
    if (hf && demo) {
        f.fail("dim", "mixes HF keys (hidden_size/model_type) with demo ModelArgs keys (dim)");
    }
    if (!hf && !demo) {
        throw_input_error(origin, "hidden_size",
                          "missing required field (neither an HF config.json with "
                          "hidden_size/model_type nor a demo config with dim)");
    }
    ModelConfig c = hf ? from_hf(f, origin) : from_demo(f, origin);
    validate_model_config(c, origin);
    return c;
}

ModelConfig load_model_config(const std::filesystem::path& path) {
    return model_config_from_json(load_json_file(path), path.string());
}

ModelConfig resolve_model_config(std::string_view name_or_path) {
    std::filesystem::path p(name_or_path);
    if (std::filesystem::is_directory(p)) {
        std::filesystem::path cfg = p / "config.json";
        if (!std::filesystem::is_regular_file(cfg)) {
            throw_input_error(p.string(), "config.json",
                              "directory has no config.json (not a checkpoint directory)");
        }
        return load_model_config(cfg);
    }
    return load_model_config(resolve_config("models", name_or_path, "model"));
}

OrderedJson model_config_to_json(const ModelConfig& c) {
    // Keys in alphabetical order, as HF's save_pretrained writes them.
    OrderedJson j;
    j["_name_or_path"] = std::string(c.short_name());
    j["architectures"] =
        OrderedJson::array({c.is_v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"});
    j["attention_bias"] = false;
    j["bos_token_id"] = c.bos_token_id;
    j["eos_token_id"] = c.eos_token_id;
    j["first_k_dense_replace"] = c.first_k_dense_replace;
    j["hidden_act"] = "silu";
    j["hidden_size"] = c.hidden_size;
    j["intermediate_size"] = c.intermediate_size;
    j["kv_lora_rank"] = c.kv_lora_rank;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["model_type"] = c.is_v3 ? "deepseek_v3" : "deepseek_v2";
    j["moe_intermediate_size"] = c.moe_intermediate_size;
    j["moe_layer_freq"] = c.moe_layer_freq;
    j["n_group"] = c.n_group;
    j["n_routed_experts"] = c.n_routed_experts;
    j["n_shared_experts"] = c.n_shared_experts;
    j["norm_topk_prob"] = c.norm_topk_prob;
    j["num_attention_heads"] = c.num_attention_heads;
    j["num_experts_per_tok"] = c.num_experts_per_tok;
    j["num_hidden_layers"] = c.num_hidden_layers;
    j["num_key_value_heads"] = c.num_attention_heads;
    j["num_nextn_predict_layers"] = c.num_nextn_predict_layers;
    if (c.q_lora_rank > 0) {
        j["q_lora_rank"] = c.q_lora_rank;
    } else {
        j["q_lora_rank"] = nullptr;
    }
    j["qk_nope_head_dim"] = c.qk_nope_head_dim;
    j["qk_rope_head_dim"] = c.qk_rope_head_dim;
    if (c.weight_format == WeightFormat::FP8) {
        OrderedJson q;
        q["activation_scheme"] = "dynamic";
        q["fmt"] = "e4m3";
        q["quant_method"] = "fp8";
        if (c.scale_fmt == ScaleFmt::UE8M0) {
            q["scale_fmt"] = "ue8m0";
        }
        q["weight_block_size"] = OrderedJson::array({c.weight_block_size, c.weight_block_size});
        j["quantization_config"] = q;
    }
    j["rms_norm_eps"] = c.rms_norm_eps;
    if (c.rope_yarn) {
        OrderedJson r;
        r["beta_fast"] = c.beta_fast;
        r["beta_slow"] = c.beta_slow;
        r["factor"] = c.rope_factor;
        r["mscale"] = c.mscale;
        r["mscale_all_dim"] = c.mscale_all_dim;
        r["original_max_position_embeddings"] = c.original_max_position_embeddings;
        r["type"] = "yarn";
        j["rope_scaling"] = r;
    } else {
        j["rope_scaling"] = nullptr;
    }
    j["rope_theta"] = c.rope_theta;
    j["routed_scaling_factor"] = c.routed_scaling_factor;
    j["scoring_func"] = c.scoring_func == ScoreFunc::Sigmoid ? "sigmoid" : "softmax";
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["topk_group"] = c.topk_group;
    j["topk_method"] =
        c.has_gate_bias ? "noaux_tc" : (c.n_group > 1 ? "group_limited_greedy" : "greedy");
    j["torch_dtype"] = "bfloat16";
    j["v_head_dim"] = c.v_head_dim;
    j["vocab_size"] = c.vocab_size;
    return j;
}

}  // namespace dssim::models
