// Trace import benchmark: builds a ~100 MB Kineto trace by replicating the events of
// DeepSeek's train.json (each copy shifted in time to follow the previous one), then imports
// it with the streaming importer in a child process and reports wall time and the child's peak
// RSS (getrusage via wait4), so the generator's own memory does not count.
//   bench_trace_import [train.json] [target MB] [workdir]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "dssim/traces.h"

namespace {

std::string default_trace() {
    return std::string(DSSIM_SOURCE_DIR) +
           "/../shared/data/traces/deepseek-profile-data/train.json";
}

// Writes `copies` of the events, each shifted by `shift_us` more than the previous copy.
size_t generate(const std::string& src, const std::string& out, double target_mb) {
    std::ifstream in(src);
    nlohmann::json j = nlohmann::json::parse(in);
    const nlohmann::json& ev = j.at("traceEvents");
    double lo = 1e300, hi = -1e300;
    for (const auto& e : ev) {
        if (!e.contains("ts") || !e["ts"].is_number()) continue;
        double ts = e["ts"].get<double>();
        double dur = e.contains("dur") && e["dur"].is_number() ? e["dur"].get<double>() : 0;
        lo = std::min(lo, ts);
        hi = std::max(hi, ts + dur);
    }
    const auto shift = static_cast<int64_t>(hi - lo) + 1000;
    std::ofstream o(out, std::ios::binary);
    o << "{\"schemaVersion\":1,\"distributedInfo\":" << j["distributedInfo"].dump()
      << ",\"traceEvents\":[\n";
    size_t bytes = 0, copies = 0;
    bool first = true;
    while (bytes < target_mb * 1e6) {
        for (const auto& e : ev) {
            nlohmann::json x = e;
            if (x.contains("ts") && x["ts"].is_number_integer())
                x["ts"] = x["ts"].get<int64_t>() + static_cast<int64_t>(copies) * shift;
            std::string s = x.dump();
            if (!first) o << ",\n";
            first = false;
            o << s;
            bytes += s.size() + 2;
        }
        ++copies;
    }
    o << "\n]}\n";
    return copies;
}

}  // namespace

int main(int argc, char** argv) {
    std::string src = argc > 1 && argv[1][0] != 0 ? argv[1] : default_trace();
    double mb = argc > 2 ? std::atof(argv[2]) : 100.0;
    std::filesystem::path dir = argc > 3 ? argv[3] : std::filesystem::temp_directory_path();
    if (!std::filesystem::exists(src)) {
        std::fprintf(stderr, "bench_trace_import: %s not found\n", src.c_str());
        return 2;
    }
    std::filesystem::path big = dir / "bench_trace_import.json";
    size_t copies = generate(src, big.string(), mb);
    double size_mb = static_cast<double>(std::filesystem::file_size(big)) / 1e6;
    std::printf("trace: %s, %.1f MB (%zu copies of %s)\n", big.c_str(), size_mb, copies,
                src.c_str());
    std::fflush(stdout);

    pid_t pid = fork();
    if (pid == 0) {
        auto t0 = std::chrono::steady_clock::now();
        dssim::traces::Trace t = dssim::traces::import_trace_file(big);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf(
            "imported %lld device events, %lld host events, %lld events in %.2f s "
            "(%.0f MB/s)\n",
            static_cast<long long>(t.stats.kernels), static_cast<long long>(t.stats.host_events),
            static_cast<long long>(t.stats.events), s, size_mb / s);
        std::fflush(stdout);
        std::_Exit(0);
    }
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    std::printf("import peak RSS: %.1f MB (child process)\n",
                static_cast<double>(ru.ru_maxrss) / 1024.0);
    std::filesystem::remove(big);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
