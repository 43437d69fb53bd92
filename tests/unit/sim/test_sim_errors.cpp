// Simulator input errors, one process per case (PER_CASE). Each case throws before the
// SystemC kernel runs in its process: under AddressSanitizer an exception thrown after SystemC
// has switched stacks (QuickThreads) trips a false positive in __asan_handle_no_return, so the
// error paths are kept apart from the cases that simulate (test_sim.cpp).
#include <doctest/doctest.h>

#include <string>

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

TEST_CASE("training steps are not simulated yet") {
    Workload train = decode(1, 10);
    train.phase = models::Phase::Train;
    CHECK(message(load_hardware("h800"), Deployment{}, train).find("--phase") != std::string::npos);
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

TEST_CASE("unknown hardware and mismatched systems") {
    CHECK_THROWS_AS(load_hardware("h800", "cloudmatrix-384"), InputError);
    CHECK_THROWS_AS(load_hardware("h900"), InputError);
    CHECK_THROWS_AS(load_hardware(""), InputError);
}
