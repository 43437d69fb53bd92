// bench_sim: wall time of one simulated DeepSeek-V3 decode step on 144 H800s (18 HGX nodes of
// DeepSeek's cluster, EP144 with 32 redundant experts, 128 sequences per device, 4K context,
// two micro-batches), in symmetric mode (target: under 1 s) and full mode (every device).
// The time covers simulate(): graph building, cost model, planning and the SystemC run.
// Results and the machine are recorded in bench/README.md ("Simulator").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dssim/models/model_config.h"
#include "dssim/sim.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace dssim;
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    const models::ModelConfig model = models::resolve_model_config("deepseek-v3");
    const sim::Hardware hw = sim::load_hardware("h800", "h800-cluster-2048");
    sim::Deployment dep;
    dep.devices = 144;
    dep.ep = 144;
    dep.redundant_experts = 32;
    dep.micro_batches = 2;
    sim::Workload wl;
    wl.phase = models::Phase::Decode;
    wl.batch = 128;
    wl.context = 4096;

    std::printf(
        "DeepSeek-V3 decode step, 144 x H800 (18 nodes), EP144 + 32 redundant, batch 128 "
        "per device, context 4096, 2 micro-batches\n");
    for (sim::Mode mode : {sim::Mode::Symmetric, sim::Mode::Full}) {
        sim::SimOptions opt;
        opt.mode = mode;
        const int n = mode == sim::Mode::Symmetric ? reps : 1;
        std::vector<double> wall;
        sim::SimResult r;
        for (int i = 0; i < n; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            r = sim::simulate(model, hw, dep, wl, opt);
            wall.push_back(seconds_since(t0));
        }
        std::sort(wall.begin(), wall.end());
        std::printf(
            "%-9s  wall min %.3f s  median %.3f s  (%d run%s, %lld simulated devices)  "
            "step %.3f ms  %.0f tokens/s per device\n",
            std::string(sim::mode_name(mode)).c_str(), wall.front(), wall[wall.size() / 2], n,
            n > 1 ? "s" : "", static_cast<long long>(r.simulated_devices), r.step_time_ms,
            r.tokens_per_s_per_device);
    }
    return 0;
}
