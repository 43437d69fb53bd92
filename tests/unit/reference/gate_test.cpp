// The MoE gate on crafted scores, checked by hand against the demo's algorithm.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "dssim/numerics/formats.h"
#include "dssim/reference/gate.h"

namespace dssim::reference {
namespace {

using numerics::bf16_from_f32;
using numerics::f32_from_bf16;

TEST_CASE("group-limited sigmoid routing picks the documented experts") {
    // deepseek-tiny: 16 experts in 4 groups of 4, topk_group 2, 4 experts per token,
    // routed_scaling_factor 2.5, sigmoid with bias.
    const models::ModelConfig c = models::resolve_model_config("deepseek-tiny");
    REQUIRE(c.n_routed_experts == 16);
    REQUIRE(c.n_group == 4);
    REQUIRE(c.topk_group == 2);
    REQUIRE(c.num_experts_per_tok == 4);
    // Token 0. Logits 0 (sigmoid 0.5) except experts 8, 9, 10 (group 2).
    std::vector<float> logit0(16, 0.0f);
    logit0[8] = 1.0f;
    logit0[9] = -1.0f;
    logit0[10] = 2.0f;
    const std::vector<float> bias = {0.9f, 0,     0,    0, 0.3f, 0.3f, 0, 0,
                                     0.5f, 0.45f, 0.1f, 0, 0.6f, 0,    0, 0};
    // Selection scores s + bias:
    //   g0: 1.4 0.5 0.5 0.5            top-2 sum 1.9
    //   g1: 0.8 0.8 0.5 0.5            1.6
    //   g2: 1.231 0.719 0.981 0.5      2.212
    //   g3: 1.1 0.5 0.5 0.5            1.6
    // Groups kept: g2, g0. Experts: 0 (1.4), 8 (1.231), 10 (0.981), 9 (0.719). Expert 12
    // (1.1) would beat 10 and 9 but its group is dropped; group 1 has two experts at 0.8.
    // Token 1: every score equal: groups 0 and 1 (lower index), experts 0, 1, 2, 3.
    std::vector<uint16_t> logits(32);
    for (int e = 0; e < 16; ++e) {
        logits[e] = bf16_from_f32(logit0[e]);
        logits[16 + e] = bf16_from_f32(0.0f);
    }
    std::vector<float> zero_bias(16, 0.0f);
    std::vector<uint16_t> w(8);
    std::vector<int32_t> idx(8);
    const models::Routing routing = models::routing_of(c);
    moe_gate(routing, logits.data(), bias.data(), 1, w.data(), idx.data(), 1);
    moe_gate(routing, logits.data() + 16, zero_bias.data(), 1, w.data() + 4, idx.data() + 4, 1);
    CHECK(idx == std::vector<int32_t>{0, 8, 10, 9, 0, 1, 2, 3});
    // Weights: the unbiased sigmoids of the chosen experts, normalised, x 2.5.
    const double s[] = {0.5, 1 / (1 + std::exp(-1.0)), 1 / (1 + std::exp(-2.0)),
                        1 / (1 + std::exp(1.0))};
    const double sum = s[0] + s[1] + s[2] + s[3];
    for (int j = 0; j < 4; ++j) {
        CAPTURE(j);
        CHECK(f32_from_bf16(w[j]) == doctest::Approx(2.5 * s[j] / sum).epsilon(3.0 / 256));
    }
    for (int j = 4; j < 8; ++j)
        CHECK(f32_from_bf16(w[j]) == 0.625f);  // 2.5 / 4, exact
    // Bias changes the choice but never the weights: without it expert 10 still wins on
    // its sigmoid, and the weights of equal choices are identical.
}

TEST_CASE("softmax gate (V2 style) keeps the softmax probabilities times the scale") {
    const models::ModelConfig c = models::resolve_model_config("deepseek-tiny-v2lite");
    REQUIRE(c.scoring_func == models::ScoreFunc::Softmax);
    REQUIRE(c.n_routed_experts == 8);
    REQUIRE(c.num_experts_per_tok == 2);
    const float l[8] = {0.0f, 1.0f, -2.0f, 3.0f, 1.0f, 0.5f, -1.0f, 0.0f};
    std::vector<uint16_t> logits(8);
    for (int e = 0; e < 8; ++e)
        logits[e] = bf16_from_f32(l[e]);
    std::vector<uint16_t> w(2);
    std::vector<int32_t> idx(2);
    const models::Routing routing = models::routing_of(c);
    moe_gate(routing, logits.data(), nullptr, 1, w.data(), idx.data(), 1);
    // Experts 3 (logit 3), then 1 (logit 1, tie with 4 -> lower index).
    CHECK(idx == std::vector<int32_t>{3, 1});
    double z = 0;
    for (float v : l)
        z += std::exp(static_cast<double>(v));
    CHECK(f32_from_bf16(w[0]) == doctest::Approx(std::exp(3.0) / z).epsilon(1.0 / 256));
    CHECK(f32_from_bf16(w[1]) == doctest::Approx(std::exp(1.0) / z).epsilon(1.0 / 256));
    // Like the demo, only sigmoid scores are renormalised: `normalise` (HF norm_topk_prob)
    // leaves a softmax gate's weights alone.
    models::Routing normalised = routing;
    normalised.normalise = true;
    std::vector<uint16_t> w2(2);
    std::vector<int32_t> idx2(2);
    moe_gate(normalised, logits.data(), nullptr, 1, w2.data(), idx2.data(), 1);
    CHECK(idx2 == idx);
    CHECK(w2 == w);
}

}  // namespace
}  // namespace dssim::reference
