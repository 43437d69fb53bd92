// bench_sweep: throughput of the analytical path (dssim/sim/analytic.h) over a what-if grid of
// >= 10,000 DeepSeek-V3 points built from the built-in studies' axes: every chip of the
// chips-head-to-head study x phase x deployment size (EP = devices) x batch x context x HBM
// bandwidth factor (the ascend-910c-what-if axis), micro-batches auto. Issue 7's target:
// 10,000 points in under one minute on 2 cores. Runs the grid serially and with 2 threads
// (deterministic static chunks, as `dssim sweep` uses), checks both give the same step times,
// times a sample of points without the plan cache and checks the cached results are
// byte-identical to it. Results and the machine are recorded in bench/README.md ("Sweep
// analytical path").
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dssim/base/parallel.h"
#include "dssim/models/model_config.h"
#include "dssim/sim.h"

namespace {

using namespace dssim;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Point {
    size_t hw = 0;  // index into the hardware list
    sim::Deployment dep;
    sim::Workload wl;
};

double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string read_first(const char* path, const char* key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key, 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "?";
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
    // Usage: bench_sweep [threads=2] [order=shape|device] [uncached_sample=200]
    const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2;
    const std::string order = argc > 2 ? argv[2] : "shape";
    const size_t sample = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 200;
    if (order != "shape" && order != "device") {
        std::fprintf(stderr, "bench_sweep: order must be 'shape' or 'device'\n");
        return 2;
    }

    const models::ModelConfig model = models::resolve_model_config("deepseek-v3");
    // The chips of configs/studies/chips-head-to-head.json.
    const std::vector<std::string> chips = {
        "h100",        "h800",        "h200",        "h20",          "b200",
        "a100",        "ascend-910b", "ascend-910c", "ascend-950pr", "kunlun-p800",
        "biren-br100", "hygon-k100",  "metax-c500",  "mlu370-x8",    "mtt-s4000"};
    const std::vector<double> hbm_factors = {0.5, 1.0, 2.0};  // ascend-910c-what-if
    std::vector<sim::Hardware> hw;
    for (const auto& c : chips) {
        const sim::Hardware base = sim::load_hardware(c);
        for (double f : hbm_factors) {
            sim::Hardware h = base;
            h.device = base.device.scaled("memory.bandwidth", f);
            hw.push_back(std::move(h));
        }
    }
    const std::vector<models::Phase> phases = {models::Phase::Prefill, models::Phase::Decode};
    const std::vector<int64_t> sizes = {8, 16, 32, 64};  // devices = EP
    const std::vector<int64_t> batches = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    const std::vector<int64_t> contexts = {1024, 4096, 16384, 32768};

    // "shape": deployment and workload axes outermost, device figures innermost (a study that
    // lists its device axes last); "device": the device axes outermost (no plan shape repeats
    // within the cache's reach: the cache's worst case).
    std::vector<Point> points;
    auto add = [&](size_t h, models::Phase ph, int64_t n, int64_t b, int64_t ctx) {
        Point p;
        p.hw = h;
        p.dep.devices = n;
        p.dep.ep = n;
        p.dep.micro_batches = 0;
        p.wl.phase = ph;
        p.wl.batch = b;
        p.wl.context = ph == models::Phase::Prefill ? 0 : ctx;
        p.wl.input_len = ph == models::Phase::Prefill ? ctx : 4096;
        points.push_back(p);
    };
    if (order == "shape") {
        for (auto ph : phases)
            for (auto n : sizes)
                for (auto ctx : contexts)
                    for (auto b : batches)
                        for (size_t h = 0; h < hw.size(); ++h)
                            add(h, ph, n, b, ctx);
    } else {
        for (size_t h = 0; h < hw.size(); ++h)
            for (auto ph : phases)
                for (auto n : sizes)
                    for (auto ctx : contexts)
                        for (auto b : batches)
                            add(h, ph, n, b, ctx);
    }

    std::printf("bench_sweep: DeepSeek-V3, analytical path, micro-batches auto\n");
    std::printf(
        "grid: %zu chips x %zu HBM factors x %zu phases x %zu sizes (EP = devices) x %zu "
        "batches x %zu contexts/input lengths = %zu points, order '%s'\n",
        chips.size(), hbm_factors.size(), phases.size(), sizes.size(), batches.size(),
        contexts.size(), points.size(), order.c_str());
    std::printf("machine: %s, %u hardware threads; load average before: %s\n",
                read_first("/proc/cpuinfo", "model name").c_str(),
                std::thread::hardware_concurrency(), loadavg().c_str());

    struct Out {
        int64_t step_ps = -1;
        int mb = 0;
        bool error = false;
    };
    auto run_grid = [&](int nthreads, std::vector<Out>& out) {
        out.assign(points.size(), Out{});
        sim::clear_analytic_cache();
        const auto t0 = std::chrono::steady_clock::now();
        parallel_for(points.size(), nthreads, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) {
                const Point& p = points[i];
                try {
                    const sim::SimResult r = sim::analytic_simulate(model, hw[p.hw], p.dep, p.wl);
                    out[i].step_ps = r.step_time_ps;
                    out[i].mb = r.deployment.micro_batches;
                } catch (const std::exception&) {
                    out[i].error = true;  // e.g. EP not dividing the experts; a sweep goes on
                }
            }
        });
        return seconds_since(t0);
    };

    std::vector<Out> serial, parallel;
    std::clock_t c0 = std::clock();
    const double t_serial = run_grid(1, serial);
    const double cpu_serial = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    const sim::AnalyticCacheStats st = sim::analytic_cache_stats();
    c0 = std::clock();
    const double t_par = run_grid(threads, parallel);
    const double cpu_par = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    bool same = true;
    size_t errors = 0, chose_two = 0;
    for (size_t i = 0; i < points.size(); ++i) {
        same = same && serial[i].step_ps == parallel[i].step_ps && serial[i].mb == parallel[i].mb;
        errors += serial[i].error;
        chose_two += serial[i].mb == 2;
    }
    const double n = static_cast<double>(points.size());
    std::printf("serial:    %8.2f s wall, %8.2f s CPU, %7.1f points/s, %.2f ms/point\n", t_serial,
                cpu_serial, n / t_serial, t_serial / n * 1e3);
    std::printf("%d threads: %8.2f s wall, %8.2f s CPU, %7.1f points/s\n", threads, t_par, cpu_par,
                n / t_par);
    std::printf(
        "plan cache (serial run): shapes %lld hits / %lld misses, graphs %lld hits / "
        "%lld misses\n",
        static_cast<long long>(st.shape_hits), static_cast<long long>(st.shape_misses),
        static_cast<long long>(st.graph_hits), static_cast<long long>(st.graph_misses));
    std::printf(
        "points: %zu evaluated, %zu rejected by the model (errors), auto chose 2 "
        "micro-batches at %zu\n",
        points.size() - errors, errors, chose_two);
    std::printf("serial == %d threads (step times, micro-batch counts): %s\n", threads,
                same ? "yes" : "NO");
    const double per10k = t_par / n * 10000;
    std::printf("10,000 points with %d threads: %.1f s -> one-minute target %s\n", threads, per10k,
                per10k < 60 ? "MET" : "NOT met");

    // Uncached reference on an evenly spaced sample: CPU time per point (the path before the
    // plan cache, with its graph building) and byte identity with the cached path (first call
    // of a shape: a miss that fills the cache; second call: a hit).
    bool identical = true;
    double cpu_unc = 0, cpu_miss = 0, cpu_hit = 0;
    size_t m = 0;
    if (sample > 0) {
        sim::clear_analytic_cache();
        const size_t stride = std::max<size_t>(1, points.size() / sample);
        for (size_t i = 0; i < points.size(); i += stride) {
            const Point& p = points[i];
            std::string ref, miss, hit;
            auto eval = [&](bool cached, double& cpu) {
                const double t0 = thread_cpu_s();
                std::string out;
                try {
                    out = sim::result_to_json(sim::analytic_simulate(model, hw[p.hw], p.dep, p.wl,
                                                                     sim::AnalyticOptions{cached}))
                              .dump();
                } catch (const std::exception& e) {
                    out = e.what();
                }
                cpu += thread_cpu_s() - t0;
                return out;
            };
            ref = eval(false, cpu_unc);
            miss = eval(true, cpu_miss);
            hit = eval(true, cpu_hit);
            identical = identical && ref == miss && ref == hit;
            ++m;
        }
        const double k = 1e3 / static_cast<double>(m);
        std::printf(
            "sample of %zu points, CPU ms/point: uncached %.2f, cached miss %.2f, cached "
            "hit %.2f; results byte-identical: %s\n",
            m, cpu_unc * k, cpu_miss * k, cpu_hit * k, identical ? "yes" : "NO");
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("peak RSS %.0f MB; load average after: %s\n",
                static_cast<double>(ru.ru_maxrss) / 1024, loadavg().c_str());
    return same && identical ? 0 : 1;
}
