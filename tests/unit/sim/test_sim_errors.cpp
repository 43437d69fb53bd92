// Simulator input errors, one process per case (PER_CASE). Each case throws before the
// SystemC kernel runs in its process: under AddressSanitizer an exception thrown after SystemC
// has switched stacks (QuickThreads) trips a false positive in __asan_handle_no_return, so the
// error paths are kept apart from the cases that simulate (test_sim.cpp).
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/models/model_config.h"
#include "dssim/sim.h"
#include "sim_test_fixtures.h"

using namespace dssim;
using namespace dssim::sim;
using namespace dssim::sim::test;

namespace {

std::string message(const Hardware& hw, Deployment dep, Workload wl, SimOptions opt = {}) {
    try {
        simulate(models::resolve_model_config("deepseek-tiny"), hw, dep, wl, opt);
    } catch (const InputError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("more devices than the system holds") {
    const Hardware node = load_hardware("h800", "hgx-h800-8");
    CHECK(message(node, ep_deployment(16, 16), decode(1, 10)).find("--devices: 16 exceeds") !=
          std::string::npos);
}

TEST_CASE("micro-batches other than 1 or 2") {
    Deployment three;
    three.micro_batches = 3;
    CHECK(message(load_hardware("h800"), three, decode(2, 10)).find("--micro-batches") !=
          std::string::npos);
}

TEST_CASE("a training step runs one micro-batch") {
    Workload train = decode(2, 10);
    train.phase = models::Phase::Train;
    train.input_len = 16;
    train.context = 0;
    Deployment two;
    two.micro_batches = 2;
    CHECK(message(load_hardware("h800"), two, train).find("--micro-batches") != std::string::npos);
}

TEST_CASE("EP that does not divide the experts") {
    CHECK(message(load_hardware("h800"), ep_deployment(8, 3), decode(1, 10)).find("--ep") !=
          std::string::npos);
}

TEST_CASE("expert loads need full mode") {
    SimOptions opt;
    opt.mode = Mode::Symmetric;
    opt.expert_loads[1] = std::vector<double>(16, 1.0);
    CHECK(message(load_hardware("h800", "h800-cluster-2048"), ep_deployment(16, 16), decode(4, 10),
                  opt)
              .find("full mode") != std::string::npos);
}

TEST_CASE("expert loads of the MTP layer need --mtp") {
    SimOptions opt;
    opt.mode = Mode::Full;
    opt.expert_loads[4] = std::vector<double>(16, 1.0);  // deepseek-tiny: 4 main layers, then MTP
    CHECK(message(load_hardware("h800", "h800-cluster-2048"), ep_deployment(16, 16), decode(4, 10),
                  opt)
              .find("--expert-loads: layer 4 belongs to the MTP module") != std::string::npos);
}

TEST_CASE("expert-load summaries: busiest expert, ties to the lowest index, empty layers") {
    const std::map<int64_t, std::vector<double>> loads = {
        {3, {1.0, 4.0, 4.0, 3.0}},  // 12 pairs, mean 3; experts 1 and 2 tie at 4
        {1, {0.0, 0.0, 0.0, 0.0}},  // no pairs at all
    };
    const std::vector<ExpertLoadSummary> s = summarise_expert_loads(loads);
    REQUIRE(s.size() == 2);
    CHECK(s[0].layer == 1);  // layer order
    CHECK(s[0].pairs == 0.0);
    CHECK(s[0].busiest_expert == 0);
    CHECK(s[0].max_over_mean == 0.0);
    CHECK(s[1].layer == 3);
    CHECK(s[1].pairs == 12.0);
    CHECK(s[1].busiest_expert == 1);
    CHECK(s[1].busiest_pairs == 4.0);
    CHECK(s[1].max_over_mean == doctest::Approx(4.0 / 3.0));
    CHECK(summarise_expert_loads({}).empty());
}

TEST_CASE("unknown hardware and mismatched systems") {
    CHECK_THROWS_AS(load_hardware("h800", "cloudmatrix-384"), InputError);
    CHECK_THROWS_AS(load_hardware("h900"), InputError);
    CHECK_THROWS_AS(load_hardware(""), InputError);
}

TEST_CASE("expert-load files: read per layer, bad ones name the file and field") {
    const models::ModelConfig tiny = models::resolve_model_config("deepseek-tiny");
    const std::string good =
        std::string(DSSIM_SOURCE_DIR) + "/tests/data/sim/expert_loads_tiny.json";
    const auto loads = load_expert_loads(good, tiny);
    REQUIRE(loads.size() == 1);
    REQUIRE(loads.at(2).size() == 16);
    CHECK(loads.at(2)[5] == 136.0);
    CHECK(loads.at(2)[0] == 8.0);

    const std::string sixteen = "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]";
    // Writes `text` to a scratch file and returns the InputError message ("no error" if none).
    auto error_of = [&](const std::string& text) {
        const std::string path = std::string(DSSIM_BINARY_DIR) + "/test_sim_errors_loads.json";
        write_file_atomic(path, text);
        try {
            (void)load_expert_loads(path, tiny);
        } catch (const InputError& e) {
            const std::string msg = e.what();
            CHECK(msg.rfind(path + ": ", 0) == 0);
            CHECK(msg.find('\n') == std::string::npos);
            return msg;
        }
        return std::string("no error");
    };
    const std::string head = R"({"schema": "dssim-expert-loads/1", "layers": )";
    CHECK(error_of(head + R"({"1": )" + sixteen + "}}") == "no error");
    CHECK(error_of(head + R"({"3": )" + sixteen + R"(, "4": )" + sixteen + "}}") == "no error");
    CHECK(error_of(R"({"schema": "dssim-expert-loads/2", "layers": {}})").find("schema") !=
          std::string::npos);
    CHECK(error_of(head + "{}, \"extra\": 1}").find("extra") != std::string::npos);
    CHECK(error_of(head + "{}}").find("layers: names no layer") != std::string::npos);
    CHECK(
        error_of(head + R"({"x1": )" + sixteen + "}}").find("layers.x1: expected a layer index") !=
        std::string::npos);
    CHECK(error_of(head + R"({"-1": )" + sixteen + "}}").find("layers.-1") != std::string::npos);
    // Layer 0 is dense; layer 9 does not exist.
    CHECK(error_of(head + R"({"0": )" + sixteen + "}}").find("layers.0: layer 0 of") !=
          std::string::npos);
    CHECK(error_of(head + R"({"9": )" + sixteen + "}}").find("no routed experts") !=
          std::string::npos);
    CHECK(error_of(head + R"({"1": [1, 2]}})").find("expected 16 counts") != std::string::npos);
    CHECK(error_of(head + R"({"1": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,-1]}})")
              .find("layers.1[15]: a token count must be >= 0") != std::string::npos);
    CHECK(error_of(head + R"({"1": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"a"]}})").find("layers.1[15]") !=
          std::string::npos);
    CHECK(error_of(head + R"({"1": )" + sixteen).find("malformed JSON") != std::string::npos);
}
