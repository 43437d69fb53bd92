// bench_runtime: the reference runtime on one full-width DeepSeek-V3 MoE layer (a layer-subset
// checkpoint from `dssim checkpoint synth --model deepseek-v3 --layers 3-3`), with the
// machine's reference figures measured in the same run:
//   decode (batch 1): bytes of weights touched per second  vs  a STREAM-like copy bandwidth
//   prefill (512 tokens): layer FLOP/s                       vs  the kernels' GEMM FLOP/s (the
//                                                             faster of BF16 and E4M3 dequant)
//   streaming: peak RSS of a streamed prefill + decode
// Each figure is reported on warm weights (pages cached and mapped) and cold beside it (first
// run of a fresh Runtime; with --cold the checkpoint's pages are first dropped from the page
// cache, so the cold run reads from disk). A per-op time breakdown of the layer follows.
// Usage: bench_runtime --checkpoint DIR [--layer 3] [--threads N] [--prefill 512]
//                      [--decode-steps 4] [--phases stream,decode,prefill] [--cold 1]
// Results and how to rerun: bench/README.md ("Runtime").
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dssim/base/parallel.h"
#include "dssim/kernels/gemm.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/safetensors.h"
#include "dssim/reference.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace dssim;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of the whole process (all threads). On the shared VM the wall time includes
// waiting for other jobs; CPU time / threads is the wall time the run would take with its
// cores to itself (reported beside the wall figure for the rates and their references alike).
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best over repetitions of a rate by wall time and by CPU time / threads.
struct Rate {
    double wall = 0, cpu = 0;
};

// Records when `from` and `to` finished (per step), the gate's expert choice, and the end time
// of every op output in order (for the per-op breakdown).
class TimingSink : public reference::TensorSink {
  public:
    TimingSink(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
    [[nodiscard]] bool wants(std::string_view name) const override {
        auto* self = const_cast<TimingSink*>(this);
        const auto now = Clock::now();
        const size_t slash = name.find('/');
        const std::string step(name.substr(0, slash));
        const std::string_view t = name.substr(slash + 1);
        if (t == from_) {
            self->start[step] = now;
            self->cpu_start[step] = cpu_seconds();
        }
        if (t == to_) {
            self->end[step] = now;
            self->cpu_end[step] = cpu_seconds();
        }
        self->events.push_back({std::string(name), now, cpu_seconds()});
        return t.ends_with(".moe.gate.indices");
    }
    void on_tensor(const reference::TensorView& v) override {
        const auto* p = static_cast<const int32_t*>(v.data);
        size_t n = 1;
        for (int64_t d : v.shape)
            n *= static_cast<size_t>(d);
        const std::string step(v.name.substr(0, v.name.find('/')));
        experts[step].assign(p, p + n);
    }
    // Seconds per op output of `step` between `from` and `to` (an op's time is charged to its
    // first output; later outputs of the same op get ~0), keyed by the tensor name: wall time,
    // or with by_cpu the process CPU time (all threads) spent meanwhile.
    [[nodiscard]] std::vector<std::pair<std::string, double>> op_times(const std::string& step,
                                                                       bool by_cpu = false) const {
        std::vector<std::pair<std::string, double>> out;
        bool in = false;
        for (size_t i = 0; i < events.size(); ++i) {
            const std::string& n = events[i].name;
            if (n.rfind(step + "/", 0) != 0) continue;
            const std::string t = n.substr(step.size() + 1);
            if (t == from_) {
                in = true;
                continue;
            }
            if (!in) continue;
            out.emplace_back(
                t, by_cpu ? events[i].cpu - events[i - 1].cpu
                          : std::chrono::duration<double>(events[i].at - events[i - 1].at).count());
            if (t == to_) break;
        }
        return out;
    }
    [[nodiscard]] double wall(const std::string& step) const {
        return std::chrono::duration<double>(end.at(step) - start.at(step)).count();
    }
    [[nodiscard]] double cpu(const std::string& step) const {
        return cpu_end.at(step) - cpu_start.at(step);
    }
    std::map<std::string, Clock::time_point> start, end;
    std::map<std::string, double> cpu_start, cpu_end;
    std::map<std::string, std::vector<int32_t>> experts;
    struct Event {
        std::string name;
        Clock::time_point at;
        double cpu;  // process CPU seconds
    };
    std::vector<Event> events;

  private:
    std::string from_, to_;
};

// Category of an op output of the layer for the breakdown.
std::string category(const std::string& tensor) {
    auto has = [&](const char* s) { return tensor.find(s) != std::string::npos; };
    if (has(".attn.attention") || has(".attn.core") || has(".attn.mla")) return "attention core";
    if (has(".attn.wkv_b")) return "attention wkv_b (absorbed)";
    if (has(".attn.")) return "attention projections + norms + rope";
    if (has(".moe.gate")) return "gate";
    if (has(".moe.shared")) return "shared expert";
    if (has(".moe.experts")) return "routed experts";
    return "norms, residuals, other";
}

void print_breakdown(const char* what, const std::vector<std::pair<std::string, double>>& ops) {
    std::map<std::string, double> cat;
    double total = 0;
    for (const auto& [n, t] : ops) {
        cat[category(n)] += t;
        total += t;
    }
    std::printf("  %s breakdown (%.3f s):", what, total);
    for (const auto& [c, t] : cat)
        std::printf(" %s %.1f%%;", c.c_str(), 100.0 * t / total);
    std::printf("\n");
    std::vector<std::pair<std::string, double>> top = ops;
    std::sort(top.begin(), top.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    std::printf("  slowest ops:");
    for (size_t i = 0; i < std::min<size_t>(8, top.size()); ++i)
        std::printf(" %s %.1f ms;", top[i].first.c_str(), top[i].second * 1e3);
    std::printf("\n");
}

// Drops the checkpoint's pages from the page cache (only pages no process has mapped), so the
// next run reads them from disk.
void evict_checkpoint(const models::Checkpoint& ck) {
    for (const auto& shard : ck.shards()) {
        const int fd = ::open(shard->path().c_str(), O_RDONLY);
        if (fd < 0) continue;
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
}

Rate stream_copy_bandwidth(int threads) {
    const size_t bytes = size_t{512} << 20;
    std::vector<char> a(bytes, 1), b(bytes, 0);
    Rate best;
    for (int rep = 0; rep < 5; ++rep) {
        auto t0 = Clock::now();
        const double c0 = cpu_seconds();
        parallel_for(
            bytes, threads,
            [&](size_t b0, size_t b1) { std::memcpy(b.data() + b0, a.data() + b0, b1 - b0); },
            size_t{1} << 20);
        const double s = seconds_since(t0), c = (cpu_seconds() - c0) / threads;
        best.wall = std::max(best.wall, 2.0 * static_cast<double>(bytes) / s);  // read + write
        best.cpu = std::max(best.cpu, 2.0 * static_cast<double>(bytes) / c);
    }
    return best;
}

// Best of three calls of `gemm` (2*m*n*k FLOPs each), by wall and by CPU time per thread.
template <typename Gemm>
Rate best_gemm_rate(int threads, size_t m, size_t n, size_t k, Gemm gemm) {
    Rate best;
    for (int rep = 0; rep < 3; ++rep) {
        auto t0 = Clock::now();
        const double c0 = cpu_seconds();
        gemm();
        const double s = seconds_since(t0), c = (cpu_seconds() - c0) / threads;
        best.wall = std::max(best.wall, 2.0 * m * n * k / s);
        best.cpu = std::max(best.cpu, 2.0 * m * n * k / c);
    }
    return best;
}

Rate gemm_flops(int threads, size_t m, size_t n, size_t k) {
    std::vector<uint16_t> x(m * k, 0x3f80), w(n * k, 0x3c00), y(m * n);
    return best_gemm_rate(threads, m, n, k, [&] {
        kernels::gemm_bf16(x.data(), w.data(), y.data(), m, n, k, threads);
    });
}

// gemm_dequant at the same shape: E4M3 weight codes (every finite magnitude, both signs) with
// one ordinary scale per 128x128 block, plain or interleaved layout, whichever is faster. The
// core's fused AVX-512 E4M3 kernels can beat its BF16 GEMM, so the prefill target takes the faster
// of the two as the core's GEMM throughput.
Rate gemm_dequant_flops(int threads, size_t m, size_t n, size_t k) {
    std::vector<uint16_t> x(m * k, 0x3f80), y(m * n);
    std::vector<uint8_t> w(n * k);
    for (size_t i = 0; i < w.size(); ++i)
        w[i] = static_cast<uint8_t>((i * 37) % 127 | ((i & 1) << 7));
    std::vector<float> scale(kernels::ceil_div(n, 128) * kernels::ceil_div(k, 128), 1.0f / 448);
    // With the interleaved copy the runtime keeps of resident FP8 weights (read on the AVX-512
    // path), the faster of the two layouts.
    std::vector<uint8_t> il(kernels::e4m3_interleaved_bytes(n, k));
    kernels::interleave_e4m3(w.data(), n, k, il.data(), threads);
    const Rate plain = best_gemm_rate(threads, m, n, k, [&] {
        kernels::gemm_dequant(x.data(), numerics::DType::BF16, w.data(), scale.data(), y.data(),
                              numerics::DType::BF16, m, n, k, threads);
    });
    const Rate interleaved = best_gemm_rate(threads, m, n, k, [&] {
        kernels::gemm_dequant(x.data(), numerics::DType::BF16,
                              kernels::E4m3Weight{w.data(), il.data()}, scale.data(), y.data(),
                              numerics::DType::BF16, m, n, k, threads);
    });
    return {std::max(plain.wall, interleaved.wall), std::max(plain.cpu, interleaved.cpu)};
}

long peak_rss_kib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress visible when redirected to a file
    std::string dir;
    int64_t layer = 3, prefill = 512, steps = 4;
    bool cold = false;
    std::string stream_layers;  // "A-B"; default: the benchmarked layer only
    int threads = hardware_threads();
    std::string phases = "stream,decode,prefill";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string o = argv[i], v = argv[i + 1];
        if (o == "--checkpoint")
            dir = v;
        else if (o == "--layer")
            layer = std::stoll(v);
        else if (o == "--threads")
            threads = std::stoi(v);
        else if (o == "--prefill")
            prefill = std::stoll(v);
        else if (o == "--decode-steps")
            steps = std::stoll(v);
        else if (o == "--phases")
            phases = v;
        else if (o == "--stream-layers")
            stream_layers = v;
        else if (o == "--cold")
            cold = v != "0";
    }
    if (dir.empty()) {
        std::fprintf(stderr, "usage: bench_runtime --checkpoint DIR [--layer 3] [--threads N]\n");
        return 2;
    }
    try {
        const std::string pre = "layers." + std::to_string(layer);
        const models::ModelConfig c =
            models::load_model_config(std::filesystem::path(dir) / "config.json");
        std::vector<int64_t> prompt(static_cast<size_t>(prefill));
        for (size_t i = 0; i < prompt.size(); ++i)
            prompt[i] = static_cast<int64_t>((i * 7919 + 13) % static_cast<size_t>(c.vocab_size));

        reference::RuntimeOptions ro;
        ro.threads = threads;
        ro.only_layers = std::make_pair(layer, layer);

        auto want = [&](const char* p) { return phases.find(p) != std::string::npos; };
        // 1. Streaming run first (peak RSS is per process): prefill + decode, weights streamed,
        // main layers `stream_layers` (e.g. 0-3: a whole 4-layer checkpoint).
        if (want("stream")) {
            ro.stream_weights = true;
            const auto dash = stream_layers.find('-');
            ro.only_layers =
                dash == std::string::npos
                    ? std::make_pair(layer, layer)
                    : std::make_pair(
                          static_cast<int64_t>(std::stoll(stream_layers.substr(0, dash))),
                          static_cast<int64_t>(std::stoll(stream_layers.substr(dash + 1))));
            reference::Runtime rt(dir, ro);
            reference::GenerateOptions go;
            go.max_new_tokens = steps;
            TimingSink sink("embed", "norm");
            auto t0 = Clock::now();
            rt.generate({prompt}, go, &sink);
            std::printf(
                "streaming run (layers %lld-%lld, prefill %lld + %lld decode steps, embedding and "
                "head included): %.2f s (prefill layers %.2f s), peak RSS %.2f GiB\n",
                static_cast<long long>(ro.only_layers->first),
                static_cast<long long>(ro.only_layers->second), static_cast<long long>(prefill),
                static_cast<long long>(steps), seconds_since(t0),
                std::chrono::duration<double>(sink.end["step0"] - sink.start["step0"]).count(),
                static_cast<double>(peak_rss_kib()) / (1 << 20));
            ro.only_layers = std::make_pair(layer, layer);
        }

        // 2. Machine figures.
        const Rate copy = stream_copy_bandwidth(threads);
        const Rate gemm_bf16 = gemm_flops(threads, 512, 2048, 7168);
        const Rate gemm_e4m3 = gemm_dequant_flops(threads, 512, 2048, 7168);
        const Rate gemm{std::max(gemm_bf16.wall, gemm_e4m3.wall),
                        std::max(gemm_bf16.cpu, gemm_e4m3.cpu)};
        std::printf(
            "STREAM-like copy: %.2f GB/s (by CPU time %.2f); kernels GEMM 512x2048x7168: BF16 "
            "%.2f GFLOP/s (by CPU time %.2f), E4M3 gemm_dequant %.2f GFLOP/s (by CPU time %.2f); "
            "GEMM throughput = the faster (%d threads, %s)\n",
            copy.wall / 1e9, copy.cpu / 1e9, gemm_bf16.wall / 1e9, gemm_bf16.cpu / 1e9,
            gemm_e4m3.wall / 1e9, gemm_e4m3.cpu / 1e9, threads, kernels::active_simd_path_name());

        // 3. Decode batch 1, then prefill, weights kept mapped. Each phase uses a fresh Runtime
        // whose first run is the cold one (pages faulted in; from disk with --cold).
        ro.stream_weights = false;
        const models::Checkpoint ck = models::Checkpoint::open(dir);
        auto bytes_of = [&](const std::string& prefix) {
            double b = 0;
            for (const auto& [name, e] : ck.tensors()) {
                if (name.rfind(prefix, 0) == 0) b += static_cast<double>(e.info->num_bytes());
            }
            return b;
        };
        const std::string hf = "model.layers." + std::to_string(layer) + ".";
        const double all_layer = bytes_of(hf);
        const double routed = bytes_of(hf + "mlp.experts.");
        const double per_expert = routed / static_cast<double>(c.n_routed_experts);
        // Each absorbed-MLA op reads its own half of wkv_b (W_UK, W_UV), so wkv_b counts once.
        const char* cold_what = cold ? "cold = first run, checkpoint evicted from the page cache"
                                     : "first run = pages faulted in (from the page cache if "
                                       "cached)";
        if (want("decode")) {
            if (cold) evict_checkpoint(ck);
            reference::Runtime rt(dir, ro);
            // The same one-token decode `steps` + 1 times: run 0 is the cold one, the others
            // measure warm weights.
            std::vector<double> rates, times, cpu_rates;
            double cold_t = 0, cold_rate = 0;
            std::vector<std::pair<std::string, double>> cold_ops, warm_ops;
            for (int64_t s = 0; s <= steps; ++s) {
                TimingSink sink("embed", pre + ".ffn_residual");
                reference::GenerateOptions go;
                go.max_new_tokens = 2;
                rt.generate({{1, 2, 3, 4}}, go, &sink);
                const std::string k = "step1";
                std::vector<int32_t> e = sink.experts[k];
                std::sort(e.begin(), e.end());
                e.erase(std::unique(e.begin(), e.end()), e.end());
                const double bytes =
                    all_layer - routed + per_expert * static_cast<double>(e.size());
                if (s == 0) {
                    // The cold figure is the prompt step (4 tokens, about 4 x 8 experts): the
                    // first touch of the layer. Its bytes count the experts of that step.
                    std::vector<int32_t> e0 = sink.experts["step0"];
                    std::sort(e0.begin(), e0.end());
                    e0.erase(std::unique(e0.begin(), e0.end()), e0.end());
                    cold_t = sink.wall("step0");
                    cold_rate =
                        (all_layer - routed + per_expert * static_cast<double>(e0.size())) / cold_t;
                    cold_ops = sink.op_times("step0");
                    continue;
                }
                rates.push_back(bytes / sink.wall(k));
                cpu_rates.push_back(bytes / (sink.cpu(k) / threads));
                times.push_back(sink.wall(k));
                warm_ops = sink.op_times(k);
            }
            std::sort(rates.begin(), rates.end());
            std::sort(times.begin(), times.end());
            std::sort(cpu_rates.begin(), cpu_rates.end());
            const double med = rates[rates.size() / 2], med_cpu = cpu_rates[cpu_rates.size() / 2];
            std::printf(
                "decode batch 1, one MoE layer, warm weights: median %.2f ms/step, %.2f GB/s of "
                "weights touched = %.1f%% of copy bandwidth (target >= 50%%); by CPU time %.2f "
                "GB/s = %.1f%% of the copy's\n",
                times[times.size() / 2] * 1e3, med / 1e9, 100.0 * med / copy.wall, med_cpu / 1e9,
                100.0 * med_cpu / copy.cpu);
            std::printf(
                "decode, one MoE layer, cold (%s; prompt step of 4 tokens): %.2f ms, %.2f GB/s "
                "= %.1f%% of copy bandwidth\n",
                cold_what, cold_t * 1e3, cold_rate / 1e9, 100.0 * cold_rate / copy.wall);
            print_breakdown("decode warm", warm_ops);
            print_breakdown("decode cold (prompt step)", cold_ops);
        }
        if (want("prefill")) {
            if (cold) evict_checkpoint(ck);
            reference::Runtime rt(dir, ro);
            models::StepSpec spec;
            spec.phase = models::Phase::Prefill;
            spec.seq = prefill;
            spec.logits_all_positions = true;
            const models::OpGraph g = models::build_op_graph(c, spec);
            double flops = 0;
            for (auto v : g.topological_order()) {
                if (g.op(v).layer == layer) flops += g.op(v).cost.flops;
            }
            double tt[2] = {0, 0}, cpu[2] = {0, 0};
            std::vector<std::pair<std::string, double>> ops[2], warm_cpu_ops;
            std::vector<size_t> expert_rows;  // token rows of each routed expert used (warm run)
            for (int run = 0; run < 2; ++run) {
                TimingSink sink("embed", pre + ".ffn_residual");
                rt.generate({prompt}, {}, &sink);
                tt[run] = sink.wall("step0");
                cpu[run] = sink.cpu("step0") / threads;
                ops[run] = sink.op_times("step0");
                if (run == 1) {
                    warm_cpu_ops = sink.op_times("step0", true);
                    std::map<int32_t, size_t> rows;
                    for (int32_t e : sink.experts["step0"])
                        ++rows[e];
                    for (const auto& [e, r] : rows)
                        expert_rows.push_back(r);
                }
            }
            std::printf(
                "prefill %lld tokens, one MoE layer, warm weights: %.2f s, %.2f GFLOP/s = %.1f%% "
                "of the GEMM throughput (target >= 50%%); by CPU time %.2f GFLOP/s = %.1f%% of "
                "the GEMM's\n",
                static_cast<long long>(prefill), tt[1], flops / tt[1] / 1e9,
                100.0 * flops / tt[1] / gemm.wall, flops / cpu[1] / 1e9,
                100.0 * flops / cpu[1] / gemm.cpu);
            std::printf(
                "prefill %lld tokens, one MoE layer, cold (%s): %.2f s, %.2f GFLOP/s = "
                "%.1f%%\n",
                static_cast<long long>(prefill), cold_what, tt[0], flops / tt[0] / 1e9,
                100.0 * flops / tt[0] / gemm.wall);
            print_breakdown("prefill warm", ops[1]);
            print_breakdown("prefill warm, process CPU seconds (all threads)", warm_cpu_ops);
            if (!expert_rows.empty()) {
                std::sort(expert_rows.begin(), expert_rows.end());
                size_t over16 = 0;
                for (size_t r : expert_rows)
                    over16 += r > 16 ? 1 : 0;
                std::printf(
                    "  routed rows per expert: %zu experts used, min %zu, median %zu, max %zu, "
                    "%zu with more than 16\n",
                    expert_rows.size(), expert_rows.front(), expert_rows[expert_rows.size() / 2],
                    expert_rows.back(), over16);
            }
            print_breakdown("prefill cold", ops[0]);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_runtime: %s\n", e.what());
        return 2;
    }
    return 0;
}
