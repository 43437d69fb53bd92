// ModelConfig loading: HF and demo configs, round trips, errors, and the tensor inventory
// against DeepSeek's published counts.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "dssim/base.h"
#include "dssim/models.h"

using namespace dssim;
using namespace dssim::models;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = DSSIM_SOURCE_DIR;

std::string error_of(const Json& j, const std::string& origin = "cfg.json") {
    try {
        (void)model_config_from_json(j, origin);
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

Json hf(const std::string& name) {
    return load_json_file(kSource / "configs/models" / (name + ".json"));
}

}  // namespace

TEST_CASE("every built-in config and official demo config round-trips through the HF form") {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(kSource / "configs/models")) {
        files.push_back(e.path());
    }
    for (const auto& e :
         fs::directory_iterator(kSource / "tests/unit/models_checkpoint/demo_configs")) {
        if (e.path().extension() == ".json") {
            files.push_back(e.path());
        }
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() >= 11);
    for (const auto& f : files) {
        CAPTURE(f.string());
        ModelConfig c = load_model_config(f);
        OrderedJson j = model_config_to_json(c);
        // Through text, so number formatting is part of the round trip.
        ModelConfig back = model_config_from_json(parse_json_text(j.dump(2), "rt"), "rt.json");
        CHECK(back == c);
        CHECK(model_config_to_json(back).dump() == j.dump());
    }
}

TEST_CASE("HF configs: values of the published models") {
    ModelConfig v3 = resolve_model_config("deepseek-v3");
    CHECK(v3.short_name() == "deepseek-v3");
    CHECK(v3.is_v3);
    CHECK(v3.hidden_size == 7168);
    CHECK(v3.num_hidden_layers == 61);
    CHECK(v3.first_k_dense_replace == 3);
    CHECK(v3.n_routed_experts == 256);
    CHECK(v3.n_group == 8);
    CHECK(v3.topk_group == 4);
    CHECK(v3.scoring_func == ScoreFunc::Sigmoid);
    CHECK(v3.has_gate_bias);
    CHECK(v3.norm_topk_prob);
    CHECK(v3.weight_format == WeightFormat::FP8);
    CHECK(v3.scale_fmt == ScaleFmt::F32);
    CHECK(v3.num_nextn_predict_layers == 1);
    CHECK(v3.rope_yarn);
    CHECK(v3.rope_factor == 40.0);
    CHECK(v3.original_max_position_embeddings == 4096);

    ModelConfig r1 = resolve_model_config("deepseek-r1");
    ModelConfig r1_as_v3 = r1;
    std::memcpy(r1_as_v3.name, v3.name, sizeof(v3.name));
    CHECK(r1_as_v3 == v3);  // same architecture, different name

    CHECK(resolve_model_config("deepseek-v3.1").scale_fmt == ScaleFmt::UE8M0);

    ModelConfig v2 = resolve_model_config("deepseek-v2");
    CHECK_FALSE(v2.is_v3);
    CHECK(v2.weight_format == WeightFormat::BF16);
    CHECK_FALSE(v2.has_gate_bias);
    CHECK(v2.n_group == 8);
    CHECK(v2.topk_group == 3);
    CHECK(v2.routed_scaling_factor == 16.0);
    CHECK(v2.mscale_all_dim == 0.707);

    ModelConfig lite = resolve_model_config("deepseek-v2-lite");
    CHECK(lite.q_lora_rank == 0);
    CHECK(lite.scoring_func == ScoreFunc::Softmax);
    CHECK(lite.n_group == 1);

    ModelConfig tiny = resolve_model_config("deepseek-tiny");
    CHECK(tiny.q_lora_rank > 0);
    CHECK(tiny.first_k_dense_replace >= 1);
    CHECK(tiny.num_hidden_layers > tiny.first_k_dense_replace);
    CHECK(tiny.n_group > 1);
    CHECK(tiny.topk_group < tiny.n_group);
    CHECK(tiny.has_gate_bias);
    CHECK(tiny.n_shared_experts > 0);
    CHECK(tiny.num_nextn_predict_layers == 1);
    CHECK(tiny.original_max_position_embeddings < 16384);  // YaRN active at the demo default
    CHECK(tiny.weight_format == WeightFormat::FP8);
    CHECK(tiny.hidden_size % 128 != 0);  // ragged 128-blocks
    CHECK(tiny.vocab_size <= 1024);

    ModelConfig tl = resolve_model_config("deepseek-tiny-v2lite");
    CHECK(tl.q_lora_rank == 0);
    CHECK(tl.scoring_func == ScoreFunc::Softmax);
    CHECK_FALSE(tl.has_gate_bias);
    CHECK(tl.n_group == 1);
    CHECK(tl.weight_format == WeightFormat::BF16);
}

TEST_CASE("demo configs: ModelArgs keys with dataclass defaults") {
    const fs::path dir = kSource / "tests/unit/models_checkpoint/demo_configs";
    ModelConfig c16 = load_model_config(dir / "config_16B.json");
    CHECK(c16.hidden_size == 2048);
    CHECK(c16.mscale == 0.707);
    CHECK(c16.mscale_all_dim == 0.707);
    CHECK(c16.n_group == 1);  // default
    CHECK(c16.scoring_func == ScoreFunc::Softmax);
    CHECK(c16.weight_format == WeightFormat::BF16);
    CHECK_FALSE(c16.has_gate_bias);
    CHECK(c16.original_max_position_embeddings == 4096);
    CHECK(c16.max_position_embeddings == 163840);

    ModelConfig c671 = load_model_config(dir / "config_671B.json");
    CHECK(c671.has_gate_bias);  // dim == 7168 in the demo
    CHECK(c671.norm_topk_prob);
    CHECK(c671.weight_format == WeightFormat::FP8);
    CHECK(c671.scale_fmt == ScaleFmt::F32);
    CHECK(c671.num_nextn_predict_layers == 0);
    // Same sizes as the HF config apart from what the demo does not describe.
    ModelConfig v3 = resolve_model_config("deepseek-v3");
    CHECK(c671.vocab_size == v3.vocab_size);
    CHECK(c671.intermediate_size == v3.intermediate_size);
    CHECK(c671.moe_intermediate_size == v3.moe_intermediate_size);
    CHECK(c671.routed_scaling_factor == v3.routed_scaling_factor);
    CHECK(tensor_inventory(c671).size() + 1564 == tensor_inventory(v3).size());

    CHECK(load_model_config(dir / "config_v3.1.json").scale_fmt == ScaleFmt::UE8M0);
    ModelConfig c236 = load_model_config(dir / "config_236B.json");
    CHECK(c236.n_group == 8);
    CHECK(c236.topk_group == 3);
    CHECK(c236.routed_scaling_factor == 16.0);
}

TEST_CASE("unknown, missing and wrongly typed fields name the file and the field") {
    Json j = hf("deepseek-v3");
    j["rope_interleaved"] = true;
    CHECK(error_of(j) == "cfg.json: rope_interleaved: unknown field");

    j = hf("deepseek-v3");
    j["rope_scaling"]["low_freq_factor"] = 1;
    CHECK(error_of(j) == "cfg.json: rope_scaling.low_freq_factor: unknown field");

    j = hf("deepseek-v3");
    j["quantization_config"]["fmt"] = "e5m2";
    CHECK(error_of(j).find("cfg.json: quantization_config.fmt: only \"e4m3\"") == 0);

    j = hf("deepseek-v3");
    j.erase("kv_lora_rank");
    CHECK(error_of(j) == "cfg.json: kv_lora_rank: missing required field");

    j = hf("deepseek-v3");
    j.erase("q_lora_rank");
    CHECK(error_of(j).find("cfg.json: q_lora_rank: missing required field") == 0);

    j = hf("deepseek-v3");
    j["hidden_size"] = "big";
    CHECK(error_of(j).find("cfg.json: hidden_size: expected an integer") == 0);

    j = hf("deepseek-v3");
    j["model_type"] = "llama";
    CHECK(error_of(j).find("cfg.json: model_type: expected") == 0);

    j = hf("deepseek-v3");
    j["topk_method"] = "greedy";
    CHECK(error_of(j).find("cfg.json: topk_method: \"greedy\" ignores expert groups") == 0);

    j = hf("deepseek-v3");
    j["hidden_act"] = "gelu";
    CHECK(error_of(j).find("cfg.json: hidden_act:") == 0);

    j = hf("deepseek-v3");
    j["num_key_value_heads"] = 1;
    CHECK(error_of(j).find("cfg.json: num_key_value_heads: MLA needs") == 0);

    // Bookkeeping keys are accepted.
    j = hf("deepseek-v3");
    j["_name_or_path"] = "deepseek-ai/DeepSeek-V3";
    CHECK(model_config_from_json(j, "x/config.json").short_name() == "DeepSeek-V3");

    // Demo configs: unknown ModelArgs keys (V3.2's indexer) are rejected.
    Json demo =
        load_json_file(kSource / "tests/unit/models_checkpoint/demo_configs/config_v3.1.json");
    demo["index_n_heads"] = 64;
    CHECK(error_of(demo, "demo.json") == "demo.json: index_n_heads: unknown field");
    demo.erase("index_n_heads");
    demo["dtype"] = "fp4";
    CHECK(error_of(demo, "demo.json").find("demo.json: dtype: expected") == 0);

    CHECK(error_of(Json::object({{"foo", 1}})).find("cfg.json: hidden_size: missing") == 0);
    CHECK(error_of(Json::array()).find("cfg.json: (root): expected a JSON object") == 0);
}

TEST_CASE("validation rejects inconsistent sizes") {
    auto with = [](const char* key, Json value) {
        Json j = hf("deepseek-v3");
        j[key] = std::move(value);
        return error_of(j);
    };
    CHECK(with("n_group", 3).find("cfg.json: n_group: must divide n_routed_experts=256") == 0);
    CHECK(with("topk_group", 9).find("cfg.json: topk_group: must be in [1, n_group=8]") == 0);
    CHECK(with("num_experts_per_tok", 300).find("cfg.json: num_experts_per_tok:") == 0);
    CHECK(with("hidden_size", 0).find("cfg.json: hidden_size: must be positive") == 0);
    CHECK(with("qk_rope_head_dim", 63).find("cfg.json: qk_rope_head_dim: must be even") == 0);
    CHECK(with("first_k_dense_replace", 62).find("cfg.json: first_k_dense_replace:") == 0);
    CHECK(with("rms_norm_eps", -1.0).find("cfg.json: rms_norm_eps:") == 0);
    CHECK(with("eos_token_id", 200000).find("cfg.json: eos_token_id:") == 0);
    Json j = hf("deepseek-v3");
    j["rope_scaling"]["factor"] = 0.5;
    CHECK(error_of(j).find("cfg.json: rope_scaling.factor: must be >= 1") == 0);
    // 8 groups of 1 expert cannot take a top-2 sum per group.
    j = hf("deepseek-tiny");
    j["n_routed_experts"] = 4;
    j["n_group"] = 4;
    j["num_experts_per_tok"] = 2;
    CHECK(error_of(j).find("cfg.json: n_group: noaux_tc group scores") == 0);
}

TEST_CASE("tensor inventory matches DeepSeek's published checkpoint") {
    ModelConfig v3 = resolve_model_config("deepseek-v3");
    std::vector<TensorSpec> inv = tensor_inventory(v3);
    InventoryTotals t = inventory_totals(inv);
    CHECK(t.tensors == 91991);             // published inventory of the R1/V3 checkpoint
    CHECK(t.elements == 684531386000ull);  // published element count (incl. scales)
    std::set<std::string> names;
    for (const auto& s : inv) {
        names.insert(s.name);
    }
    CHECK(names.size() == inv.size());
    CHECK(inventory_totals(tensor_inventory(resolve_model_config("deepseek-r1"))).elements ==
          684531386000ull);

    // Main model without the MTP layer: 671B; activated per token is the op graph's job.
    uint64_t main_params = 0;
    for (const auto& s : inv) {
        if (s.layer < v3.num_hidden_layers && s.role != TensorRole::WeightScale) {
            main_params += s.num_elements();
        }
    }
    CHECK(main_params == 671026419200ull);

    auto find = [&](const std::string& name) -> const TensorSpec& {
        for (const auto& s : inv) {
            if (s.name == name) {
                return s;
            }
        }
        FAIL("missing " << name);
        return inv.front();
    };
    const TensorSpec& kva = find("model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv");
    CHECK(kva.shape == std::vector<int64_t>{5, 56});
    CHECK(kva.dtype == numerics::DType::F32);
    CHECK(find("model.layers.5.self_attn.o_proj.weight_scale_inv").shape ==
          std::vector<int64_t>{56, 128});
    CHECK(find("model.layers.5.self_attn.o_proj.weight").dtype == numerics::DType::F8E4M3);
    CHECK(find("model.layers.3.mlp.gate.e_score_correction_bias").dtype == numerics::DType::F32);
    CHECK(find("model.layers.3.mlp.gate.weight").dtype == numerics::DType::BF16);
    CHECK(find("model.layers.61.eh_proj.weight").shape == std::vector<int64_t>{7168, 14336});
    CHECK(find("model.layers.61.eh_proj.weight").dtype == numerics::DType::BF16);
    CHECK(find("model.layers.61.shared_head.head.weight").shape ==
          std::vector<int64_t>{129280, 7168});
    CHECK(find("model.layers.61.mlp.experts.255.down_proj.weight_scale_inv").shape ==
          std::vector<int64_t>{56, 16});
    CHECK(find("model.layers.2.mlp.down_proj.weight").shape == std::vector<int64_t>{7168, 18432});

    // Subsets: one MoE layer; the MTP layer alone.
    CHECK(tensor_inventory(v3, {3, 3}).size() == 3 + 14 + 1544);
    CHECK(tensor_inventory(v3, {61, 61}).size() == 3 + 1564);
    CHECK_THROWS_AS(tensor_inventory(v3, {60, 62}), InputError);

    // V2 (BF16, no scales, no gate bias, no MTP): 236B; V2-Lite (q_proj): 15.7B.
    InventoryTotals v2 = inventory_totals(tensor_inventory(resolve_model_config("deepseek-v2")));
    CHECK(v2.tensors == 3 + 60 * 9 + 3 + 59 * (1 + 160 * 3 + 3));
    CHECK(v2.parameters > 235'500'000'000ull);
    CHECK(v2.parameters < 236'500'000'000ull);
    InventoryTotals lite =
        inventory_totals(tensor_inventory(resolve_model_config("deepseek-v2-lite")));
    CHECK(lite.parameters > 15'650'000'000ull);
    CHECK(lite.parameters < 15'750'000'000ull);
    CHECK(lite.bytes == lite.parameters * 2);
}
