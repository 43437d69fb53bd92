// Analytical path tests: the micro-batch choice (auto picks one micro-batch where a
// memory-bound decode re-reads its weights per micro-batch, two where overlap pays, explicit
// counts are honoured), and the plan cache (results with a shared plan shape are
// byte-identical to a plan built from scratch, whatever the cache held before).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/models/model_config.h"
#include "dssim/sim.h"
#include "sim_test_fixtures.h"

using namespace dssim;
using namespace dssim::sim;
using namespace dssim::sim::test;
using models::AttentionMode;

namespace {

const models::ModelConfig& v3() {
    static const models::ModelConfig c = models::resolve_model_config("deepseek-v3");
    return c;
}

// EP deployment with an explicit micro-batch count (0: auto), the variable these tests turn.
Deployment ep(int64_t devices, int64_t ep_size, int micro_batches, int64_t tp = 1) {
    return ep_deployment(devices, ep_size, tp, micro_batches);
}

std::string json(const SimResult& r) {
    return result_to_json(r).dump();
}

}  // namespace

TEST_CASE("auto micro-batches: one for a memory-bound decode on a small chip") {
    // 32 Ascend 910B, batch 8: the step is weight reads; a second micro-batch reads them again.
    const Hardware hw = load_hardware("ascend-910b");
    const Workload wl = decode(8, 4096);
    const SimResult one = analytic_simulate(v3(), hw, ep(32, 32, 1), wl);
    const SimResult two = analytic_simulate(v3(), hw, ep(32, 32, 2), wl);
    const SimResult a = analytic_simulate(v3(), hw, ep(32, 32, 0), wl);
    CHECK(two.step_time_ps > one.step_time_ps * 3 / 2);
    CHECK(a.deployment.micro_batches == 1);
    CHECK(a.micro_batches_requested == 0);
    CHECK(a.step_time_ps == one.step_time_ps);
    REQUIRE(a.micro_batches_other_step_ms);
    CHECK(*a.micro_batches_other_step_ms == two.step_time_ms);
    CHECK(result_to_json(a)["micro_batches_choice"] == "auto");
    // Explicit counts are honoured and compare nothing.
    CHECK(two.deployment.micro_batches == 2);
    CHECK_FALSE(two.micro_batches_other_step_ms);
    CHECK(result_to_json(two)["micro_batches_choice"] == "given");
}

TEST_CASE("auto micro-batches: two where overlap pays") {
    // 32 H800 (4 HGX nodes), batch 256: dispatch/combine over the NICs hide behind the other
    // micro-batch's compute.
    const Hardware hw = load_hardware("h800", "h800-cluster-2048");
    const Workload wl = decode(256, 4096);
    const SimResult one = analytic_simulate(v3(), hw, ep(32, 32, 1), wl);
    const SimResult two = analytic_simulate(v3(), hw, ep(32, 32, 2), wl);
    const SimResult a = analytic_simulate(v3(), hw, ep(32, 32, 0), wl);
    CHECK(two.step_time_ps < one.step_time_ps);
    CHECK(a.deployment.micro_batches == 2);
    CHECK(a.step_time_ps == two.step_time_ps);
    REQUIRE(a.micro_batches_other_step_ms);
    CHECK(*a.micro_batches_other_step_ms == one.step_time_ms);
    CHECK(one.deployment.micro_batches == 1);

    // Prefill with one prompt per device: auto compares one micro-batch with the token split.
    const SimResult p =
        analytic_simulate(v3(), hw, ep(32, 32, 0), prefill(1, 4096, AttentionMode::Absorbed));
    const SimResult p1 =
        analytic_simulate(v3(), hw, ep(32, 32, 1), prefill(1, 4096, AttentionMode::Absorbed));
    const SimResult p2 =
        analytic_simulate(v3(), hw, ep(32, 32, 2), prefill(1, 4096, AttentionMode::Absorbed));
    CHECK(p.step_time_ps == std::min(p1.step_time_ps, p2.step_time_ps));
}

TEST_CASE("auto micro-batches: one sequence per device in decode runs one, without a note") {
    const Hardware hw = load_hardware("h800");
    const SimResult a = analytic_simulate(v3(), hw, ep(32, 32, 0), decode(1, 1024));
    CHECK(a.deployment.micro_batches == 1);
    CHECK_FALSE(a.micro_batches_other_step_ms);
    for (const auto& s : a.assumptions)
        CHECK(s.find("--micro-batches") == std::string::npos);
    // Asked for two, it says why it ran one.
    const SimResult two = analytic_simulate(v3(), hw, ep(32, 32, 2), decode(1, 1024));
    CHECK(two.deployment.micro_batches == 1);
    bool noted = false;
    for (const auto& s : two.assumptions)
        noted = noted || s.find("--micro-batches 2") != std::string::npos;
    CHECK(noted);
}

TEST_CASE("micro-batch counts other than 0, 1, 2 are input errors") {
    const Hardware hw = load_hardware("h800");
    CHECK_THROWS_AS(analytic_simulate(v3(), hw, ep(8, 8, 3), decode(4, 10)), InputError);
    CHECK_THROWS_AS(analytic_simulate(v3(), hw, ep(8, 8, -1), decode(4, 10)), InputError);
}

TEST_CASE("the plan cache gives byte-identical results") {
    struct Case {
        const char* device;
        const char* system;
        Deployment dep;
        Workload wl;
    };
    Deployment redundant = ep(32, 32, 0);
    redundant.redundant_experts = 32;
    Workload mtp = decode(16, 2048);
    mtp.mtp = true;
    const Workload naive = prefill(2, 512);
    const std::vector<Case> cases = {
        {"h800", "", ep(16, 16, 0), decode(8, 2048)},
        {"h20", "", ep(16, 16, 0), decode(8, 2048)},  // same shape, other device
        // Two micro-batches of 8: the graph of the one-micro-batch step above.
        {"h800", "", ep(16, 16, 0), decode(16, 2048)},
        {"h800", "h800-cluster-2048", redundant, decode(64, 4096)},
        {"ascend-910c", "", ep(32, 32, 2), mtp},
        {"b200", "", ep(16, 8, 1, 2), naive},  // TP2 all-reduces, two EP groups
        {"h100", "", ep(32, 32, 0), prefill(1, 4096, AttentionMode::Absorbed)},
        {"a100", "", ep(16, 16, 0), decode(8, 2048)},  // no native FP8
    };
    clear_analytic_cache();
    std::vector<std::string> fresh;
    for (const Case& c : cases) {
        const Hardware hw = load_hardware(c.device, c.system);
        fresh.push_back(json(analytic_simulate(v3(), hw, c.dep, c.wl, AnalyticOptions{false})));
    }
    CHECK(analytic_cache_stats().shape_misses == 0);  // the uncached path never touches it
    // Twice through the cache (misses, then hits), in reverse order the second time.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t k = 0; k < cases.size(); ++k) {
            const size_t i = pass == 0 ? k : cases.size() - 1 - k;
            const Case& c = cases[i];
            const Hardware hw = load_hardware(c.device, c.system);
            CAPTURE(i);
            CHECK(json(analytic_simulate(v3(), hw, c.dep, c.wl)) == fresh[i]);
        }
    }
    const AnalyticCacheStats st = analytic_cache_stats();
    CHECK(st.shape_hits > 0);
    CHECK(st.graph_hits > 0);
    CHECK(st.shape_misses > 0);
    // A different model with the same deployment never reuses V3's shapes.
    const models::ModelConfig tiny = models::resolve_model_config("deepseek-tiny");
    const Hardware hw = load_hardware("h800");
    const std::string t_fresh =
        json(analytic_simulate(tiny, hw, ep(16, 16, 0), decode(8, 2048), AnalyticOptions{false}));
    CHECK(json(analytic_simulate(tiny, hw, ep(16, 16, 0), decode(8, 2048))) == t_fresh);
}

TEST_CASE("FP8 weights run as BF16 are held as BF16 in the memory account") {
    const Workload wl = decode(1, 4096);
    const auto weights = [&](std::string_view device, devices::Fp8Mode fp8) {
        return analytic_simulate(v3(), load_hardware(device, {}, fp8), ep(32, 32, 1), wl);
    };
    const SimResult as_int8 = weights("a100", devices::Fp8Mode::Int8);
    const SimResult as_bf16 = weights("a100", devices::Fp8Mode::Bf16);
    // INT8 keeps one byte per weight (and its scales): the stored size. BF16 doubles the FP8
    // weights and drops their scales; the BF16 tensors (embedding, norms, gate) stay as stored,
    // so the account grows by less than the whole INT8 figure but by most of it.
    const double grown = as_bf16.memory.weights - as_int8.memory.weights;
    CHECK(grown > 0.8 * as_int8.memory.weights);
    CHECK(grown < as_int8.memory.weights);
    const auto noted = [](const SimResult& r) {
        for (const auto& a : r.assumptions)
            if (a.find("FP8 weights held as bf16") != std::string::npos) return true;
        return false;
    };
    CHECK(noted(as_bf16));
    CHECK_FALSE(noted(as_int8));
    // A native-FP8 device holds the stored bytes whatever the mode name says.
    const SimResult h800 = weights("h800", devices::Fp8Mode::Native);
    CHECK(h800.memory.weights == doctest::Approx(as_int8.memory.weights).epsilon(1e-12));
    CHECK_FALSE(noted(h800));
}
