// models/parallel: the one place for shapes under a parallel plan. Every forward op's stored
// share is what device_share() computes; hand-computed shapes for GEMMs, attention and experts
// under TP/DP/EP; token fan-out against closed forms; pipeline chunks; op roles and inputs; and
// ModelConfig equality over every field.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>

#include "dssim/base/error.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/parallel.h"

using namespace dssim;
using namespace dssim::models;

namespace {

StepSpec step(Phase phase, int64_t batch, int64_t seq, int64_t tp, int64_t ep, int64_t devices) {
    StepSpec s;
    s.phase = phase;
    s.batch = batch;
    s.seq = seq;
    s.context = phase == Phase::Decode ? 100 : 0;
    s.plan.tp = tp;
    s.plan.ep = ep;
    s.plan.devices = devices;
    s.plan.dp = devices / tp;
    return s;
}

const Op& op(const OpGraph& g, const std::string& name) {
    auto v = g.find(name);
    REQUIRE_MESSAGE(v.has_value(), name);
    return g.op(*v);
}

bool same(const OpCost& a, const OpCost& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

double choose(int n, int r) {
    return std::exp(std::lgamma(n + 1.0) - std::lgamma(r + 1.0) - std::lgamma(n - r + 1.0));
}

}  // namespace

TEST_CASE("every forward op's stored share is device_share() of the op") {
    const ModelConfig v3 = resolve_model_config("deepseek-v3");
    for (const StepSpec& s :
         {step(Phase::Decode, 64, 1, 1, 32, 32), step(Phase::Prefill, 4, 256, 4, 1, 8),
          step(Phase::Train, 8, 128, 1, 8, 8)}) {
        const OpGraph g = build_op_graph(v3, s);
        int64_t checked = 0;
        for (OpVertex v = 0; v < g.size(); ++v) {
            const Op& o = g.op(v);
            if (o.pass != Pass::Forward) continue;
            CAPTURE(o.name);
            CHECK(same(device_share(v3, g.step(), o), o.per_device));
            ++checked;
        }
        CHECK(checked > 100);
    }
}

TEST_CASE("per-device GEMM, attention and expert shapes under TP, DP and EP") {
    const ModelConfig v3 = resolve_model_config("deepseek-v3");
    // TP4 x DP2, 3 sequences of 8 tokens: the busiest DP rank holds 2 sequences (16 rows).
    const OpGraph g = build_op_graph(v3, step(Phase::Prefill, 3, 8, 4, 1, 8));
    const GemmDims wq_b = device_gemm(g.step(), op(g, "layers.3.attn.wq_b"));
    CHECK(wq_b.m == 12);  // ceil(24 rows / 2)
    CHECK(wq_b.n == 128 * 192 / 4);
    CHECK(wq_b.k == 1536);
    const GemmDims wo = device_gemm(g.step(), op(g, "layers.3.attn.wo"));
    CHECK(wo.n == 7168);
    CHECK(wo.k == 128 * 128 / 4);
    const DeviceAttention a = device_attention(g.step(), op(g, "layers.3.attn.core"));
    CHECK(a.sequences == 2);
    CHECK(a.heads == 32);
    CHECK(a.keys_per_seq == 8);
    CHECK(a.cache_bytes_per_token == (512 + 64) * 2);  // latent cache: every TP rank holds it
    const DeviceGroupedGemm w2 =
        device_grouped_gemm(v3, g.step(), op(g, "layers.3.moe.experts.w2"), 0);
    CHECK(w2.n == 7168);
    CHECK(w2.k == 2048 / 4);  // experts tensor-parallel without EP
    CHECK(w2.rows_per_group.size() == 256);

    // EP32 decode: 8 local experts, each 64 x 32 x 8 / 256 = 64 pairs at balanced routing.
    const OpGraph d = build_op_graph(v3, step(Phase::Decode, 64 * 32, 1, 1, 32, 32));
    const DeviceGroupedGemm w1 =
        device_grouped_gemm(v3, d.step(), op(d, "layers.3.moe.experts.w1"), 5);
    CHECK(w1.rows_per_group.size() == 8);
    CHECK(w1.rows_per_group[0] == doctest::Approx(64.0));
    const AllToAllShape disp = all_to_all_shape(v3, d.step(), op(d, "layers.3.moe.dispatch"));
    CHECK(disp.group == 32);
    CHECK(disp.bytes_per_copy == 7168 + 4 * 56);
    CHECK(disp.copies_per_device == doctest::Approx(64.0 * 8));
    CHECK(all_to_all_shape(v3, d.step(), op(d, "layers.3.moe.combine")).bytes_per_copy == 7168 * 2);
    CHECK(dispatch_bytes_per_copy(320) == 320 + 4 * 3);  // one scale per started 128 tile
}

TEST_CASE("expected token fan-out under group-limited routing matches closed forms") {
    const ModelConfig v3 = resolve_model_config("deepseek-v3");
    // EP64, 8 ranks per node: a node holds 32 experts = one of the 8 groups; a token's 8
    // experts lie in its 4 kept groups (128 experts).
    const TokenFanout f = expected_fanout(v3, 64, 8);
    CHECK(f.copies == 8);
    const double nodes = 4.0 * (1.0 - choose(96, 8) / choose(128, 8));
    const double ranks = 64.0 * 0.5 * (1.0 - choose(124, 8) / choose(128, 8));
    CHECK(f.nodes == doctest::Approx(nodes).epsilon(1e-9));
    CHECK(f.ranks == doctest::Approx(ranks).epsilon(1e-9));
    CHECK(f.nodes <= 4.0);
    CHECK(f.ranks <= 8.0);
    // One rank: every copy lands there.
    CHECK(expected_fanout(v3, 1, 1).ranks == doctest::Approx(1.0));
}

TEST_CASE("a pipeline chunk is n MoE layers; a middle stage has no embedding, head or loss") {
    const ModelConfig v3 = resolve_model_config("deepseek-v3");
    const ModelConfig chunk = pipeline_chunk(v3, 4);
    CHECK(chunk.num_hidden_layers == 4);
    CHECK(chunk.is_moe_layer(0));
    CHECK(chunk.num_nextn_predict_layers == 0);
    CHECK_THROWS_AS((void)pipeline_chunk(v3, 59), InputError);
    CHECK_THROWS_AS((void)pipeline_chunk(v3, 0), InputError);
    // The error names where the count came from, once.
    try {
        (void)pipeline_chunk(v3, 100, "d.json", "training.layers_per_chunk");
        FAIL("no error");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()) ==
              "d.json: training.layers_per_chunk: must be in [1, 58] (the MoE layers of "
              "deepseek-v3; got 100)");
    }
    StepSpec s = step(Phase::Train, 2, 16, 1, 1, 1);
    s.stage = PipelineStage{false, false};
    const OpGraph g = build_op_graph(chunk, s);
    CHECK(!g.find("embed"));
    CHECK(!g.find("head"));
    CHECK(!g.find("loss"));
    // The stage output's gradient starts the backward pass after the forward.
    const OpVertex out = *g.find("layers.3.ffn_residual");
    const OpVertex grad = *g.find("layers.3.ffn_residual.grad_input");
    CHECK(boost::edge(out, grad, g.dag()).second);
    s.mtp = true;
    CHECK_THROWS_AS((void)build_op_graph(v3, s), InputError);
}

TEST_CASE("gradient all-to-alls: FP8 to the experts, BF16 back (V3 FP8 training)") {
    const ModelConfig v3 = resolve_model_config("deepseek-v3");
    const OpGraph g = build_op_graph(v3, step(Phase::Train, 8, 64, 1, 8, 8));
    const Op& combine = op(g, "layers.3.moe.combine");
    const Op& combine_b = op(g, "layers.3.moe.combine.grad_input");
    const Op& dispatch = op(g, "layers.3.moe.dispatch");
    const Op& dispatch_b = op(g, "layers.3.moe.dispatch.grad_input");
    CHECK(combine_b.comm.dtype == DType::F8E4M3);
    CHECK(dispatch_b.comm.dtype == DType::BF16);
    CHECK(combine_b.cost.comm_bytes == doctest::Approx(dispatch.cost.comm_bytes));
    CHECK(dispatch_b.cost.comm_bytes == doctest::Approx(combine.cost.comm_bytes));
    CHECK(backward_work_multiple(OpKind::MlaAttention, Pass::BackwardInput) == 2.0);
    CHECK(backward_work_multiple(OpKind::Gemm, Pass::BackwardInput) == 1.0);
}

TEST_CASE("op roles, and every tensor an op reads is among its inputs") {
    const ModelConfig v3 = resolve_model_config("deepseek-v3");
    const OpGraph g = build_op_graph(v3, step(Phase::Decode, 4, 1, 1, 1, 1));
    CHECK(op(g, "layers.3.attn.wkv_b.k").role == OpRole::AbsorbedQuery);
    CHECK(op(g, "layers.3.attn.wkv_b.v").role == OpRole::AbsorbedOutput);
    CHECK(op(g, "layers.3.attn_residual").role == OpRole::Residual);
    CHECK(op(g, "layers.3.ffn_residual").role == OpRole::Residual);
    CHECK(op(g, "layers.3.attn.wq_a").role == OpRole::None);
    const Op& ws = op(g, "layers.3.moe.weighted_sum");
    CHECK(ws.role == OpRole::ExpertWeightedSum);
    REQUIRE(ws.inputs.size() == 3);
    CHECK(ws.inputs[2].name == "layers.3.moe.gate.indices");
    CHECK(ws.inputs[2].dtype == DType::I32);
    const Op& core = op(g, "layers.3.attn.core");
    CHECK(core.attention.latent_dim == 512);
    CHECK(core.attention.rope_dim == 64);
    CHECK(core.attention.nope_dim == 128);
    CHECK(core.attention.value_dim == 128);
    const Op& gate = op(g, "layers.3.moe.gate");
    CHECK(gate.routing.experts == 256);
    CHECK(gate.routing.top_k == 8);
    CHECK(gate.routing.groups == 8);
    CHECK(gate.routing.groups_kept == 4);
    CHECK(g.producer("layers.3.moe.gate.indices") == g.find("layers.3.moe.gate"));
    CHECK(!g.producer("tokens"));
}

TEST_CASE("ModelConfig equality compares every field") {
    const ModelConfig base = resolve_model_config("deepseek-v3");
    CHECK(base == resolve_model_config("deepseek-v3"));
    const std::vector<std::function<void(ModelConfig&)>> edits = {
        [](ModelConfig& c) { c.name[0] = 'x'; },
        [](ModelConfig& c) { c.is_v3 = !c.is_v3; },
        [](ModelConfig& c) { c.vocab_size += 1; },
        [](ModelConfig& c) { c.hidden_size += 1; },
        [](ModelConfig& c) { c.intermediate_size += 1; },
        [](ModelConfig& c) { c.moe_intermediate_size += 1; },
        [](ModelConfig& c) { c.num_hidden_layers += 1; },
        [](ModelConfig& c) { c.first_k_dense_replace += 1; },
        [](ModelConfig& c) { c.moe_layer_freq += 1; },
        [](ModelConfig& c) { c.num_nextn_predict_layers += 1; },
        [](ModelConfig& c) { c.num_attention_heads += 1; },
        [](ModelConfig& c) { c.q_lora_rank += 1; },
        [](ModelConfig& c) { c.kv_lora_rank += 1; },
        [](ModelConfig& c) { c.qk_nope_head_dim += 1; },
        [](ModelConfig& c) { c.qk_rope_head_dim += 1; },
        [](ModelConfig& c) { c.v_head_dim += 1; },
        [](ModelConfig& c) { c.n_routed_experts += 1; },
        [](ModelConfig& c) { c.n_shared_experts += 1; },
        [](ModelConfig& c) { c.num_experts_per_tok += 1; },
        [](ModelConfig& c) { c.n_group += 1; },
        [](ModelConfig& c) { c.topk_group += 1; },
        [](ModelConfig& c) { c.scoring_func = ScoreFunc::Softmax; },
        [](ModelConfig& c) { c.routed_scaling_factor += 0.5; },
        [](ModelConfig& c) { c.norm_topk_prob = !c.norm_topk_prob; },
        [](ModelConfig& c) { c.has_gate_bias = !c.has_gate_bias; },
        [](ModelConfig& c) { c.rope_theta += 1; },
        [](ModelConfig& c) { c.rope_yarn = !c.rope_yarn; },
        [](ModelConfig& c) { c.rope_factor += 1; },
        [](ModelConfig& c) { c.original_max_position_embeddings += 1; },
        [](ModelConfig& c) { c.beta_fast += 1; },
        [](ModelConfig& c) { c.beta_slow += 1; },
        [](ModelConfig& c) { c.mscale += 1; },
        [](ModelConfig& c) { c.mscale_all_dim += 1; },
        [](ModelConfig& c) { c.max_position_embeddings += 1; },
        [](ModelConfig& c) { c.rms_norm_eps *= 2; },
        [](ModelConfig& c) { c.weight_format = WeightFormat::BF16; },
        [](ModelConfig& c) { c.weight_block_size += 1; },
        [](ModelConfig& c) { c.scale_fmt = ScaleFmt::UE8M0; },
        [](ModelConfig& c) { c.tie_word_embeddings = !c.tie_word_embeddings; },
        [](ModelConfig& c) { c.bos_token_id += 1; },
        [](ModelConfig& c) { c.eos_token_id += 1; },
    };
    for (size_t i = 0; i < edits.size(); ++i) {
        CAPTURE(i);
        ModelConfig c = base;
        edits[i](c);
        CHECK_FALSE(c == base);
    }
}
