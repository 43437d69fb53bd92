// Tests of the op graph (models/op_graph.h): model totals against published DeepSeek figures,
// a closed-form count and the checkpoint tensor inventory; DAG properties for many step
// shapes and plans; hand-computed costs on the tiny model; HF name mapping; the expert-load
// hook; report determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/tensor_inventory.h"

using namespace dssim::models;
using dssim::OrderedJson;

namespace {

ModelConfig model(const char* name) {
    return resolve_model_config(name);
}

// Billions rounded to `digits` decimals.
double billions(int64_t x, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(static_cast<double>(x) / 1e9 * scale) / scale;
}

void check_same_totals(const ModelTotals& a, const ModelTotals& b) {
    CHECK(a.params_total == b.params_total);
    CHECK(a.params_total_with_mtp == b.params_total_with_mtp);
    CHECK(a.params_mtp == b.params_mtp);
    CHECK(a.params_embedding == b.params_embedding);
    CHECK(a.params_activated_per_token == b.params_activated_per_token);
    CHECK(a.params_activated_excl_embedding == b.params_activated_excl_embedding);
    CHECK(a.kv_cache_bytes_per_token == b.kv_cache_bytes_per_token);
    CHECK(a.kv_cache_bytes_per_token_with_mtp == b.kv_cache_bytes_per_token_with_mtp);
    CHECK(a.kv_cache_bytes_per_token_naive == b.kv_cache_bytes_per_token_naive);
    CHECK(a.flops_context_seq == b.flops_context_seq);
    // Sums of the same integers in a different order: equal to double precision.
    CHECK(a.flops_per_token == doctest::Approx(b.flops_per_token).epsilon(1e-12));
    CHECK(a.weight_bytes == b.weight_bytes);
    CHECK(a.weight_bytes_with_mtp == b.weight_bytes_with_mtp);
    CHECK(a.stored_elements_with_mtp == b.stored_elements_with_mtp);
}

int64_t count_kind(const OpGraph& g, OpKind kind, Pass pass = Pass::Forward) {
    int64_t n = 0;
    for (OpVertex v = 0; v < g.size(); ++v) {
        if (g.op(v).kind == kind && g.op(v).pass == pass) ++n;
    }
    return n;
}

const Op& op_named(const OpGraph& g, const std::string& name) {
    auto v = g.find(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return g.op(*v);
}

StepSpec step(Phase phase, int64_t batch, int64_t seq, int64_t context) {
    StepSpec s;
    s.phase = phase;
    s.batch = batch;
    s.seq = seq;
    s.context = context;
    return s;
}

ParallelPlan plan(int64_t tp, int64_t ep, int64_t dp, int64_t redundant = 0) {
    ParallelPlan p;
    p.tp = tp;
    p.ep = ep;
    p.dp = dp;
    p.devices = tp * dp;
    p.redundant_experts = redundant;
    return p;
}

// Checks the structural invariants every graph must have.
void check_dag(const OpGraph& g) {
    const auto order = g.topological_order();
    REQUIRE(order.size() == g.size());
    std::set<std::string> names;
    for (OpVertex v = 0; v < g.size(); ++v)
        names.insert(g.op(v).name);
    CHECK(names.size() == g.size());
    // Every op is reachable from the embedding.
    auto root = g.find("embed");
    REQUIRE(root.has_value());
    std::vector<bool> seen(g.size(), false);
    std::queue<OpVertex> todo;
    todo.push(*root);
    seen[*root] = true;
    while (!todo.empty()) {
        const OpVertex v = todo.front();
        todo.pop();
        for (auto [e, end] = boost::out_edges(v, g.dag()); e != end; ++e) {
            const OpVertex t = boost::target(*e, g.dag());
            if (!seen[t]) {
                seen[t] = true;
                todo.push(t);
            }
        }
    }
    for (OpVertex v = 0; v < g.size(); ++v)
        CHECK_MESSAGE(seen[v], g.op(v).name);
    // Costs are finite and non-negative.
    for (OpVertex v = 0; v < g.size(); ++v) {
        const Op& op = g.op(v);
        for (double x : {op.cost.flops, op.cost.vector_ops, op.cost.bytes(), op.cost.comm_bytes,
                         op.per_device.flops, op.per_device.bytes(), op.per_device.comm_bytes}) {
            CHECK_MESSAGE((std::isfinite(x) && x >= 0), op.name);
        }
        CHECK_MESSAGE(op.per_device.flops <= op.cost.flops * (1 + 1e-12), op.name);
    }
}

}  // namespace

TEST_CASE("phase names round-trip; anything else is refused") {
    for (Phase p : {Phase::Prefill, Phase::Decode, Phase::Train})
        CHECK(phase_from_name(phase_name(p)) == p);
    CHECK_FALSE(phase_from_name("Prefill").has_value());
    CHECK_FALSE(phase_from_name("").has_value());
}

TEST_CASE("deepseek-v3, r1 and v3.1 totals match the published figures") {
    for (const char* name : {"deepseek-v3", "deepseek-r1", "deepseek-v3.1"}) {
        CAPTURE(name);
        const ModelConfig c = model(name);
        const ModelTotals t = model_totals(c);
        // 671B total (671.03B by count), 37B activated (37.55B incl. embedding and head;
        // 36.6B without the input embedding, the HF model card figure).
        CHECK(t.params_total == 671026419200);
        CHECK(billions(t.params_total, 2) == 671.03);
        CHECK(t.params_activated_per_token == 37552297472);
        CHECK(billions(t.params_activated_per_token, 2) == 37.55);
        CHECK(billions(t.params_activated_excl_embedding, 1) == 36.6);
        // 685B as HF displays the checkpoint: every stored element, FP8 scales included; the
        // published R1 inventory has 684,531,386,000 elements.
        CHECK(t.stored_elements_with_mtp == 684531386000);
        CHECK(billions(t.stored_elements_with_mtp, 0) == 685);
        CHECK(t.params_total_with_mtp == 684489845504);
        CHECK(billions(t.params_mtp, 2) == 13.46);  // 11.61B unique + embedding and head copies
        // (512 + 64) x 61 layers x 2 bytes.
        CHECK(t.kv_cache_bytes_per_token == 70272);
        CHECK(t.kv_cache_bytes_per_token_with_mtp == 70272 + 1152);
        check_same_totals(t, closed_form_totals(c));
    }
}

TEST_CASE("deepseek-v2 and v2-lite totals match the published figures") {
    const ModelTotals v2 = model_totals(model("deepseek-v2"));
    CHECK(billions(v2.params_total, 0) == 236);
    CHECK(billions(v2.params_activated_per_token, 0) == 21);
    CHECK(billions(v2.params_activated_excl_embedding, 0) == 21);
    CHECK(v2.params_total_with_mtp == v2.params_total);
    CHECK(v2.kv_cache_bytes_per_token == (512 + 64) * 60 * 2);
    check_same_totals(v2, closed_form_totals(model("deepseek-v2")));

    const ModelTotals lite = model_totals(model("deepseek-v2-lite"));
    CHECK(billions(lite.params_total, 1) == 15.7);
    // Published 2.4B: the count without the input embedding is 2.45B (2.4B when truncated,
    // as DeepSeek's figure appears to be); with the embedding it is 2.66B.
    CHECK(lite.params_activated_excl_embedding == 2451435008);
    CHECK(std::fabs(static_cast<double>(lite.params_activated_excl_embedding) / 2.4e9 - 1) < 0.03);
    CHECK(billions(lite.params_activated_per_token, 2) == 2.66);
    CHECK(lite.kv_cache_bytes_per_token == (512 + 64) * 27 * 2);
    check_same_totals(lite, closed_form_totals(model("deepseek-v2-lite")));
}

TEST_CASE("graph totals equal the checkpoint tensor inventory for every model") {
    for (const char* name : {"deepseek-tiny", "deepseek-tiny-v2lite", "deepseek-v2-lite",
                             "deepseek-v2", "deepseek-v3"}) {
        CAPTURE(name);
        const ModelConfig c = model(name);
        const ModelTotals t = model_totals(c);
        check_same_totals(t, closed_form_totals(c));
        const InventoryTotals inv = inventory_totals(tensor_inventory(c));
        CHECK(static_cast<uint64_t>(t.params_total_with_mtp) == inv.parameters);
        CHECK(static_cast<uint64_t>(t.stored_elements_with_mtp) == inv.elements);
        CHECK(static_cast<uint64_t>(t.weight_bytes_with_mtp) == inv.bytes);
    }
}

TEST_CASE("tiny model totals") {
    const ModelConfig c = model("deepseek-tiny");
    const ModelTotals t = model_totals(c);
    // 4 layers, kv_lora 64 + rope 16, BF16.
    CHECK(t.kv_cache_bytes_per_token == (64 + 16) * 4 * 2);
    CHECK(t.params_embedding == 1024 * 320);
    CHECK(t.params_total_with_mtp > t.params_total);
    check_same_totals(t, closed_form_totals(c));
}

TEST_CASE("every weight the graph reads is a checkpoint tensor with its shape and dtype") {
    for (const char* name : {"deepseek-tiny", "deepseek-tiny-v2lite", "deepseek-v3"}) {
        CAPTURE(name);
        const ModelConfig c = model(name);
        std::map<std::string, const TensorSpec*> inventory;
        const auto specs = tensor_inventory(c);
        for (const auto& s : specs)
            inventory[s.name] = &s;
        StepSpec s = step(Phase::Prefill, 1, 2, 0);
        s.mtp = c.num_nextn_predict_layers > 0;
        const OpGraph g = build_op_graph(c, s);
        std::set<std::string> used;
        auto check_param = [&](const std::string& param, const WeightRef& w) {
            const auto hf = hf_tensor_names(c, param);
            for (const auto& n : hf) {
                auto it = inventory.find(n);
                REQUIRE_MESSAGE(it != inventory.end(), n);
                used.insert(n);
            }
            const TensorSpec& t = *inventory.at(hf.front());
            CHECK_MESSAGE(t.shape == w.shape, param);
            CHECK_MESSAGE(t.dtype == w.dtype, param);
            CHECK(hf.size() == (w.block_scaled ? 2u : 1u));
        };
        for (OpVertex v = 0; v < g.size(); ++v) {
            for (const WeightRef& w : g.op(v).weights) {
                if (w.experts == 0) {
                    check_param(w.name, w);
                } else {
                    for (int64_t e = 0; e < w.experts; ++e)
                        check_param(expert_param_name(w.name, e), w);
                }
            }
        }
        // ...and the graph reads every tensor of the checkpoint.
        CHECK(used.size() == specs.size());
    }
}

TEST_CASE("HF names of graph parameters") {
    const ModelConfig v3 = model("deepseek-v3");
    CHECK(hf_tensor_names(v3, "layers.7.attn.wkv_a") ==
          std::vector<std::string>{"model.layers.7.self_attn.kv_a_proj_with_mqa.weight",
                                   "model.layers.7.self_attn.kv_a_proj_with_mqa.weight_scale_inv"});
    CHECK(expert_param_name("layers.7.moe.experts.w2", 41) == "layers.7.moe.experts.41.w2");
    CHECK(hf_weight_name(v3, "layers.7.moe.experts.41.w2") ==
          "model.layers.7.mlp.experts.41.down_proj.weight");
    CHECK(hf_tensor_names(v3, "layers.7.moe.gate") ==
          std::vector<std::string>{"model.layers.7.mlp.gate.weight"});
    CHECK(hf_tensor_names(v3, "layers.7.moe.gate.bias") ==
          std::vector<std::string>{"model.layers.7.mlp.gate.e_score_correction_bias"});
    CHECK(hf_weight_name(v3, "layers.0.mlp.w3") == "model.layers.0.mlp.up_proj.weight");
    CHECK(hf_weight_name(v3, "layers.60.moe.shared_experts.w1") ==
          "model.layers.60.mlp.shared_experts.gate_proj.weight");
    CHECK(hf_tensor_names(v3, "embed") == std::vector<std::string>{"model.embed_tokens.weight"});
    CHECK(hf_tensor_names(v3, "head") == std::vector<std::string>{"lm_head.weight"});
    CHECK(hf_tensor_names(v3, "norm") == std::vector<std::string>{"model.norm.weight"});
    CHECK(hf_tensor_names(v3, "mtp.0.eh_proj") ==
          std::vector<std::string>{"model.layers.61.eh_proj.weight"});
    CHECK(hf_weight_name(v3, "mtp.0.head") == "model.layers.61.shared_head.head.weight");
    CHECK(hf_weight_name(v3, "mtp.0.attn.wq_b") == "model.layers.61.self_attn.q_b_proj.weight");
    CHECK(hf_weight_name(v3, "mtp.0.moe.experts.255.w1") ==
          "model.layers.61.mlp.experts.255.gate_proj.weight");
    // Not in this model or outside the scheme.
    CHECK_THROWS_AS(hf_tensor_names(v3, "layers.1.moe.gate"), dssim::InputError);  // dense layer
    CHECK_THROWS_AS(hf_tensor_names(v3, "layers.61.attn.wo"), dssim::InputError);  // MTP is mtp.0
    CHECK_THROWS_AS(hf_tensor_names(v3, "layers.7.moe.experts.256.w1"), dssim::InputError);
    CHECK_THROWS_AS(hf_tensor_names(v3, "layers.7.attn.wq"), dssim::InputError);  // q_lora model
    CHECK_THROWS_AS(hf_tensor_names(v3, "layers.07.attn.wo"), dssim::InputError);
    CHECK_THROWS_AS(hf_tensor_names(v3, "mtp.1.eh_proj"), dssim::InputError);
    const ModelConfig v2 = model("deepseek-v2");  // BF16: no scales, no gate bias
    CHECK(hf_tensor_names(v2, "layers.7.attn.wo") ==
          std::vector<std::string>{"model.layers.7.self_attn.o_proj.weight"});
    CHECK_THROWS_AS(hf_tensor_names(v2, "layers.7.moe.gate.bias"), dssim::InputError);
    const ModelConfig lite = model("deepseek-v2-lite");
    CHECK(hf_weight_name(lite, "layers.3.attn.wq") == "model.layers.3.self_attn.q_proj.weight");
}

TEST_CASE("DAG properties over phases, attention modes and plans") {
    const ModelConfig c = model("deepseek-tiny");
    struct Case {
        Phase phase;
        int64_t batch, seq, context;
        bool mtp;
        AttentionMode attention;
        GemmMode gemm;
        ParallelPlan plan;
    };
    const std::vector<Case> cases = {
        {Phase::Prefill, 2, 8, 0, false, AttentionMode::Naive, GemmMode::Bf16, plan(1, 1, 1)},
        {Phase::Prefill, 2, 8, 4, true, AttentionMode::Absorbed, GemmMode::Fp8, plan(1, 1, 1)},
        {Phase::Decode, 3, 1, 10, false, AttentionMode::Absorbed, GemmMode::Bf16, plan(1, 1, 1)},
        {Phase::Decode, 3, 1, 10, true, AttentionMode::Absorbed, GemmMode::Bf16, plan(2, 1, 1)},
        {Phase::Decode, 8, 1, 10, true, AttentionMode::Absorbed, GemmMode::Fp8, plan(1, 4, 4)},
        {Phase::Decode, 8, 1, 10, false, AttentionMode::Naive, GemmMode::Bf16, plan(2, 4, 2)},
        {Phase::Decode, 5, 1, 7, false, AttentionMode::Absorbed, GemmMode::Bf16, plan(1, 4, 4, 4)},
        {Phase::Prefill, 4, 6, 0, false, AttentionMode::Naive, GemmMode::Bf16, plan(4, 2, 2)},
        {Phase::Train, 2, 8, 0, false, AttentionMode::Naive, GemmMode::Bf16, plan(1, 1, 1)},
        {Phase::Train, 4, 8, 0, true, AttentionMode::Naive, GemmMode::Fp8, plan(1, 4, 4)},
        {Phase::Train, 4, 8, 0, true, AttentionMode::Absorbed, GemmMode::Bf16, plan(2, 1, 2)},
    };
    const int64_t moe_layers = c.num_hidden_layers - c.first_k_dense_replace;
    for (size_t i = 0; i < cases.size(); ++i) {
        CAPTURE(i);
        const Case& k = cases[i];
        StepSpec s = step(k.phase, k.batch, k.seq, k.context);
        s.mtp = k.mtp;
        s.attention = k.attention;
        s.gemm = k.gemm;
        s.plan = k.plan;
        const OpGraph g = build_op_graph(c, s);
        check_dag(g);
        const int64_t mtp = k.mtp ? c.num_nextn_predict_layers : 0;
        const int64_t layers = c.num_hidden_layers + mtp;
        const int64_t all_moe = moe_layers + mtp;  // tiny's MTP layer is a MoE layer
        const bool tp = k.plan.tp > 1, ep = k.plan.ep > 1;
        // Communication ops exactly where the plan needs them.
        CHECK(count_kind(g, OpKind::Dispatch) == (ep ? all_moe : 0));
        CHECK(count_kind(g, OpKind::Combine) == (ep ? all_moe : 0));
        // TP: after wo, the dense/shared w2, the routed experts (tensor-parallel when no EP),
        // and after each (vocab-parallel) embedding lookup; all-gather of the logits.
        const int64_t embeds = 1 + (k.phase == Phase::Train ? 0 : mtp);
        const int64_t reduces = layers * 2 + (ep ? 0 : all_moe) + embeds;
        CHECK(count_kind(g, OpKind::AllReduce) == (tp ? reduces : 0));
        CHECK(count_kind(g, OpKind::AllGather) == (tp ? 1 + mtp : 0));
        const bool fp8_acts = k.gemm == GemmMode::Fp8 || ep;
        CHECK((count_kind(g, OpKind::ActQuant) > 0) == fp8_acts);
        CHECK(count_kind(g, OpKind::MlaAttention) == layers);
        CHECK(count_kind(g, OpKind::GroupedGemm) == 3 * all_moe);
        CHECK(count_kind(g, OpKind::Concat) == mtp);
        if (k.phase == Phase::Train) {
            CHECK(count_kind(g, OpKind::Loss) == 1 + mtp);
            CHECK(count_kind(g, OpKind::Sampling) == 0);
            CHECK(count_kind(g, OpKind::Gemm, Pass::BackwardInput) == count_kind(g, OpKind::Gemm));
            CHECK(count_kind(g, OpKind::Gemm, Pass::BackwardWeight) == count_kind(g, OpKind::Gemm));
            CHECK(count_kind(g, OpKind::Dispatch, Pass::BackwardInput) == (ep ? all_moe : 0));
            // Gradient all-reduce across replicas: DP replicas of the dense weights, and
            // devices / ep replicas of the routed experts.
            const int64_t syncs = count_kind(g, OpKind::AllReduce, Pass::GradSync);
            CHECK((syncs > 0) == (k.plan.dp > 1));
            // Matrix FLOPs: B = forward (attention: 2x), W = forward of ops with weights.
            const StepTotals t = step_totals(g);
            const auto& fwd = t.by_pass[static_cast<int>(Pass::Forward)].cost;
            double attn = 0;
            for (OpVertex v = 0; v < g.size(); ++v) {
                if (g.op(v).kind == OpKind::MlaAttention && g.op(v).pass == Pass::Forward) {
                    attn += g.op(v).cost.flops;
                }
            }
            CHECK(t.by_pass[static_cast<int>(Pass::BackwardInput)].cost.flops ==
                  doctest::Approx(fwd.flops + attn));
            CHECK(t.by_pass[static_cast<int>(Pass::BackwardWeight)].cost.flops ==
                  doctest::Approx(fwd.flops - attn));
        } else {
            CHECK(count_kind(g, OpKind::Sampling) == 1 + mtp);
            CHECK(count_kind(g, OpKind::AllReduce, Pass::GradSync) == 0);
        }
    }
}

TEST_CASE("FLOPs and bytes of a GEMM and an attention op, by hand (tiny model)") {
    const ModelConfig c = model("deepseek-tiny");
    // hidden 320, q_lora 96, heads 4, nope 32, rope 16, v 32, kv_lora 64, FP8 weights.
    StepSpec s = step(Phase::Prefill, 2, 8, 0);
    s.attention = AttentionMode::Naive;
    const OpGraph g = build_op_graph(c, s);
    const Op& wq_a = op_named(g, "layers.0.attn.wq_a");
    CHECK(wq_a.kind == OpKind::Gemm);
    CHECK(wq_a.cost.flops == 2.0 * 16 * 320 * 96);  // 2 * T * in * out = 983040
    CHECK(wq_a.cost.flops == 983040);
    // FP8 [96, 320] + ceil(96/128) x ceil(320/128) = 3 FP32 scales.
    CHECK(wq_a.cost.weight_bytes == 96 * 320 + 3 * 4);
    CHECK(wq_a.cost.act_read_bytes == 16 * 320 * 2);
    CHECK(wq_a.cost.act_write_bytes == 16 * 96 * 2);
    CHECK(wq_a.outputs.at(0).shape == std::vector<int64_t>{16, 96});

    // Causal prefill, 2 sequences of 8: 36 query-key pairs each.
    const Op& core = op_named(g, "layers.0.attn.core");
    CHECK(core.kind == OpKind::MlaAttention);
    CHECK(core.attention.score_pairs == 72);
    CHECK(core.cost.flops == 2.0 * 4 * (32 + 16 + 32) * 72);  // 46080
    CHECK(core.cost.kv_read_bytes == 0);
    CHECK(core.cost.kv_write_bytes == 16 * 4 * (32 + 16 + 32) * 2);

    // Absorbed decode, 3 sequences at context 10: each query sees 11 keys.
    StepSpec d = step(Phase::Decode, 3, 1, 10);
    const OpGraph gd = build_op_graph(c, d);
    const Op& dc = op_named(gd, "layers.1.attn.core");
    CHECK(dc.attention.score_pairs == 33);
    CHECK(dc.cost.flops == 2.0 * 4 * (64 + 16 + 64) * 33);  // 38016
    CHECK(dc.cost.kv_read_bytes == 3 * 10 * (64 + 16) * 2);
    CHECK(dc.cost.kv_write_bytes == 3 * (64 + 16) * 2);
    const Op& uk = op_named(gd, "layers.1.attn.wkv_b.k");
    CHECK(uk.cost.flops == 2.0 * 3 * 4 * 32 * 64);
    CHECK(uk.weights.at(0).name == "layers.1.attn.wkv_b");
    // Per-device share on one device equals the whole op.
    CHECK(dc.per_device.flops == dc.cost.flops);
}

TEST_CASE("per-device shares under TP, DP and EP") {
    const ModelConfig c = model("deepseek-tiny");
    StepSpec s = step(Phase::Decode, 8, 1, 10);
    s.plan = plan(2, 4, 2);
    const OpGraph g = build_op_graph(c, s);
    // Column-parallel wq_b: half the sequences (DP 2), half the features (TP 2).
    const Op& wq_b = op_named(g, "layers.1.attn.wq_b");
    CHECK(wq_b.per_device.flops == doctest::Approx(wq_b.cost.flops / 4));
    CHECK(wq_b.per_device.weight_bytes == doctest::Approx(wq_b.cost.weight_bytes / 2));
    // Replicated wkv_a: the DP share of the tokens, all of the weights.
    const Op& wkv_a = op_named(g, "layers.1.attn.wkv_a");
    CHECK(wkv_a.per_device.flops == doctest::Approx(wkv_a.cost.flops / 2));
    CHECK(wkv_a.per_device.weight_bytes == wkv_a.cost.weight_bytes);
    // Absorbed attention: heads split by TP, but every TP rank reads the latent cache.
    const Op& core = op_named(g, "layers.1.attn.core");
    CHECK(core.per_device.flops == doctest::Approx(core.cost.flops / 4));
    CHECK(core.per_device.kv_read_bytes == doctest::Approx(core.cost.kv_read_bytes / 2));
    // EP 4 with 16 experts: 4 per device, balanced load.
    const Op& w1 = op_named(g, "layers.1.moe.experts.w1");
    CHECK(w1.experts.slots_per_device == 4);
    CHECK(w1.experts.tokens_per_expert.size() == 16);
    CHECK(w1.experts.tokens_per_expert[0] == doctest::Approx(8.0 * 4 / 16));
    CHECK(w1.per_device.flops == doctest::Approx(w1.cost.flops / 4));
    CHECK(w1.per_device.weight_bytes == doctest::Approx(w1.cost.weight_bytes / 4));
    const Op& dispatch = op_named(g, "layers.1.moe.dispatch");
    CHECK(dispatch.comm.size == 4);
    CHECK(dispatch.comm.dtype == DType::F8E4M3);
    // 32 token-expert pairs, 3/4 remote, 320 FP8 bytes + 3 scales each.
    CHECK(dispatch.cost.comm_bytes == doctest::Approx(32 * 0.75 * (320 + 12)));
    const Op& combine = op_named(g, "layers.1.moe.combine");
    CHECK(combine.cost.comm_bytes == doctest::Approx(32 * 0.75 * 320 * 2));
    const Op& ar = op_named(g, "layers.1.attn.wo.allreduce");
    CHECK(ar.comm.size == 2);
    CHECK(ar.per_device.comm_bytes == doctest::Approx(2.0 * 0.5 * (8 * 320 * 2) / 2));
}

TEST_CASE("apply_expert_loads: imbalanced routing moves the busiest device") {
    const ModelConfig c = model("deepseek-tiny");
    StepSpec s = step(Phase::Decode, 8, 1, 10);
    s.plan = plan(1, 4, 4);
    OpGraph g = build_op_graph(c, s);
    const double balanced = op_named(g, "layers.2.moe.experts.w2").per_device.flops;
    const double total = op_named(g, "layers.2.moe.experts.w2").cost.flops;
    // All 32 token-expert pairs on experts 0..3, which live on EP rank 0.
    std::vector<double> load(16, 0.0);
    for (int e = 0; e < 4; ++e)
        load[e] = 8;
    apply_expert_loads(g, 2, load);
    const Op& w2 = op_named(g, "layers.2.moe.experts.w2");
    CHECK(w2.cost.flops == doctest::Approx(total));
    CHECK(w2.per_device.flops == doctest::Approx(total));
    CHECK(w2.per_device.flops == doctest::Approx(4 * balanced));
    CHECK(w2.cost.weight_bytes ==
          doctest::Approx(op_named(g, "layers.1.moe.experts.w2").cost.weight_bytes / 4));
    CHECK(w2.experts.tokens_per_device == std::vector<double>{32, 0, 0, 0});
    // Other layers keep the balanced load.
    CHECK(op_named(g, "layers.1.moe.experts.w2").per_device.flops == doctest::Approx(balanced));
    check_dag(g);
    // Bad input.
    CHECK_THROWS_AS(apply_expert_loads(g, 2, std::vector<double>(15, 1.0)), dssim::InputError);
    load[3] = std::nan("");
    CHECK_THROWS_AS(apply_expert_loads(g, 2, load), dssim::InputError);
    CHECK_THROWS_AS(apply_expert_loads(g, 0, std::vector<double>(16, 1.0)), dssim::InputError);

    // Redundant slots replicate the hottest experts and spread their load.
    StepSpec r = s;
    r.plan = plan(1, 4, 4, 4);  // 20 slots, 5 per rank
    OpGraph gr = build_op_graph(c, r);
    std::vector<double> hot(16, 0.0);
    hot[0] = 16;
    hot[1] = 16;
    apply_expert_loads(gr, 2, hot);
    const Op& rw = op_named(gr, "layers.2.moe.experts.w1");
    CHECK(rw.experts.slots_per_device == 5);
    CHECK(rw.per_device.flops == doctest::Approx(rw.cost.flops / 4));
}

TEST_CASE("invalid steps are InputErrors") {
    const ModelConfig v3 = model("deepseek-v3");
    auto bad = [&](const ModelConfig& c, StepSpec s) {
        CHECK_THROWS_AS(build_op_graph(c, s), dssim::InputError);
    };
    StepSpec s = step(Phase::Decode, 4, 1, 100);
    s.plan = plan(3, 1, 1);  // 3 does not divide 128 heads
    bad(v3, s);
    s.plan = plan(1, 7, 7);  // 7 does not divide 256 experts
    bad(v3, s);
    s.plan = plan(1, 144, 144);  // 256 experts over 144 ranks needs 32 redundant slots
    bad(v3, s);
    s.plan = plan(1, 144, 144, 32);
    CHECK_NOTHROW(build_op_graph(v3, s));
    s.plan = plan(1, 1, 1);
    s.plan.devices = 2;  // tp x dp != devices
    bad(v3, s);
    s.plan = plan(1, 1, 1);
    s.seq = 2;  // decode takes one token per sequence
    bad(v3, s);
    s.seq = 1;
    s.context = 200000;  // beyond max_position_embeddings
    bad(v3, s);
    s.context = 0;
    s.batch = 0;
    bad(v3, s);
    StepSpec m = step(Phase::Decode, 1, 1, 10);
    m.mtp = true;
    bad(model("deepseek-v2"), m);  // no MTP module
}

TEST_CASE("DeepSeek-V3 decode at EP144 builds a small graph") {
    const ModelConfig c = model("deepseek-v3");
    StepSpec s = step(Phase::Decode, 144 * 128, 1, 4096);
    s.mtp = true;
    s.plan = plan(1, 144, 144, 32);
    const OpGraph g = build_op_graph(c, s);
    CHECK(g.size() < 2000);
    check_dag(g);
    const Op& w1 = op_named(g, "layers.3.moe.experts.w1");
    CHECK(w1.experts.slots_per_device == 2);
    CHECK(w1.experts.tokens_per_expert.size() == 256);
    CHECK(count_kind(g, OpKind::Dispatch) == 59);
    CHECK(g.main_tokens() == 144 * 128 * 2);
}

TEST_CASE("report JSON is deterministic and carries the required fields") {
    const ModelConfig c = model("deepseek-tiny");
    StepSpec s = step(Phase::Train, 2, 8, 0);
    s.mtp = true;
    s.plan = plan(1, 2, 2);
    const std::string a = [&] {
        const OpGraph g = build_op_graph(c, s);
        OrderedJson j = graph_report_json(g, model_totals(c));
        for (OpVertex v : g.topological_order())
            j["ops"].push_back(op_json(c, g.op(v)));
        return j.dump(2) + op_graph_dot(g);
    }();
    const std::string b = [&] {
        const OpGraph g = build_op_graph(c, s);
        OrderedJson j = graph_report_json(g, model_totals(c));
        for (OpVertex v : g.topological_order())
            j["ops"].push_back(op_json(c, g.op(v)));
        return j.dump(2) + op_graph_dot(g);
    }();
    CHECK(a == b);
    const OpGraph g = build_op_graph(c, s);
    const OrderedJson j = graph_report_json(g, model_totals(c));
    for (const char* key : {"params_total", "params_total_with_mtp", "params_activated_per_token",
                            "kv_cache_bytes_per_token", "flops_per_token", "weight_bytes"}) {
        CHECK_MESSAGE(j.contains(key), key);
    }
    CHECK(j["graph"]["ops"].get<int64_t>() == static_cast<int64_t>(g.size()));
    CHECK(j["graph"]["by_kind"].contains("GroupedGemm"));
    CHECK(j["graph"]["by_pass"].contains("backward_weight"));
    const OrderedJson w = op_json(c, op_named(g, "layers.1.moe.experts.w2"));
    CHECK(w["weights"][0]["name"] == "layers.1.moe.experts.{e}.w2");
    CHECK(w["weights"][0]["hf"] == "model.layers.1.mlp.experts.{e}.down_proj.weight");
    const std::string dot = op_graph_dot(g);
    CHECK(dot.find("digraph") != std::string::npos);
    CHECK(dot.find("layers.1.moe.dispatch") != std::string::npos);
}
