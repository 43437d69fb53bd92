// bench_runtime: the reference runtime on one full-width DeepSeek-V3 MoE layer (a layer-subset
// checkpoint from `dssim checkpoint synth --model deepseek-v3 --layers 3-3`), with the
// machine's reference figures measured in the same run:
//   decode (batch 1): bytes of weights touched per second  vs  a STREAM-like copy bandwidth
//   prefill (512 tokens): layer FLOP/s                       vs  the kernels' BF16 GEMM FLOP/s
//   streaming: peak RSS of a streamed prefill + decode
// Usage: bench_runtime --checkpoint DIR [--layer 3] [--threads N] [--prefill 512]
//                      [--decode-steps 4] [--phases stream,decode,prefill]
// Results and how to rerun: bench/README.md ("Runtime").
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dssim/base/parallel.h"
#include "dssim/kernels/gemm.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/safetensors.h"
#include "dssim/reference.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace dssim;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Records when the first op of the step after `from` finished and when `to` finished.
class TimingSink : public reference::TensorSink {
  public:
    TimingSink(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
    [[nodiscard]] bool wants(std::string_view name) const override {
        auto* self = const_cast<TimingSink*>(this);
        const size_t slash = name.find('/');
        const std::string step(name.substr(0, slash));
        const std::string_view t = name.substr(slash + 1);
        if (t == from_) self->start[step] = Clock::now();
        if (t == to_) self->end[step] = Clock::now();
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
    std::map<std::string, Clock::time_point> start, end;
    std::map<std::string, std::vector<int32_t>> experts;

  private:
    std::string from_, to_;
};

double stream_copy_bandwidth(int threads) {
    const size_t bytes = size_t{512} << 20;
    std::vector<char> a(bytes, 1), b(bytes, 0);
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        auto t0 = Clock::now();
        parallel_for(
            bytes, threads,
            [&](size_t b0, size_t b1) { std::memcpy(b.data() + b0, a.data() + b0, b1 - b0); },
            size_t{1} << 20);
        const double s = seconds_since(t0);
        best = std::max(best, 2.0 * static_cast<double>(bytes) / s);  // read + write
    }
    return best;
}

double gemm_flops(int threads, size_t m, size_t n, size_t k) {
    std::vector<uint16_t> x(m * k, 0x3f80), w(n * k, 0x3c00), y(m * n);
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
        auto t0 = Clock::now();
        kernels::gemm_bf16(x.data(), w.data(), y.data(), m, n, k, threads);
        best = std::max(best, 2.0 * m * n * k / seconds_since(t0));
    }
    return best;
}

long peak_rss_kib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    int64_t layer = 3, prefill = 512, steps = 4;
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
    }
    if (dir.empty()) {
        std::fprintf(stderr, "usage: bench_runtime --checkpoint DIR [--layer 3] [--threads N]\n");
        return 2;
    }
    try {
        const std::string pre = "layers." + std::to_string(layer);
        std::vector<int64_t> prompt(static_cast<size_t>(prefill));
        for (size_t i = 0; i < prompt.size(); ++i)
            prompt[i] = static_cast<int64_t>((i * 7919 + 13) % 129280);

        reference::RuntimeOptions ro;
        ro.threads = threads;
        ro.only_layers = std::make_pair(layer, layer);

        auto want = [&](const char* p) { return phases.find(p) != std::string::npos; };
        // 1. Streaming run first (peak RSS is per process): prefill + decode, weights streamed.
        if (want("stream")) {
            ro.stream_weights = true;
            reference::Runtime rt(dir, ro);
            reference::GenerateOptions go;
            go.max_new_tokens = 2;
            auto t0 = Clock::now();
            rt.generate({prompt}, go);
            std::printf(
                "streaming run (prefill %lld + 2 decode steps, whole model incl. embedding "
                "and head): %.2f s, peak RSS %.2f GiB\n",
                static_cast<long long>(prefill), seconds_since(t0),
                static_cast<double>(peak_rss_kib()) / (1 << 20));
        }

        // 2. Machine figures.
        const double copy_bw = stream_copy_bandwidth(threads);
        const double gemm = gemm_flops(threads, 512, 2048, 7168);
        std::printf(
            "STREAM-like copy: %.2f GB/s; kernels BF16 GEMM 512x2048x7168: %.2f GFLOP/s "
            "(%d threads, %s)\n",
            copy_bw / 1e9, gemm / 1e9, threads, kernels::active_simd_path_name());

        // 3. Decode batch 1 (weights kept mapped), then prefill.
        ro.stream_weights = false;
        reference::Runtime rt(dir, ro);
        const models::ModelConfig& c = rt.config();
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
        // wkv_b is read twice in absorbed decode (W_UK and W_UV halves dequantised separately).
        const double wkv_b = bytes_of(hf + "self_attn.kv_b_proj.");
        if (want("decode")) {
            // The same one-token decode `steps` + 1 times: the first run faults the weights in
            // (from disk if the page cache lost them), the others measure warm weights.
            std::vector<double> rates, times;
            for (int64_t s = 0; s <= steps; ++s) {
                TimingSink sink("embed", pre + ".ffn_residual");
                reference::GenerateOptions go;
                go.max_new_tokens = 2;
                rt.generate({{1, 2, 3, 4}}, go, &sink);
                if (s == 0) continue;
                const std::string k = "step1";
                const double t = std::chrono::duration<double>(sink.end[k] - sink.start[k]).count();
                std::vector<int32_t> e = sink.experts[k];
                std::sort(e.begin(), e.end());
                e.erase(std::unique(e.begin(), e.end()), e.end());
                const double bytes =
                    all_layer - routed + wkv_b + per_expert * static_cast<double>(e.size());
                rates.push_back(bytes / t);
                times.push_back(t);
            }
            std::sort(rates.begin(), rates.end());
            std::sort(times.begin(), times.end());
            const double med = rates[rates.size() / 2];
            std::printf(
                "decode batch 1, one MoE layer: median %.2f ms/step, %.2f GB/s of weights "
                "touched = %.1f%% of copy bandwidth (target >= 50%%)\n",
                times[times.size() / 2] * 1e3, med / 1e9, 100.0 * med / copy_bw);
        }
        if (want("prefill")) {
            TimingSink sink("embed", pre + ".ffn_residual");
            rt.generate({prompt}, {}, &sink);  // warm-up: faults the weights in
            rt.generate({prompt}, {}, &sink);
            const double t =
                std::chrono::duration<double>(sink.end["step0"] - sink.start["step0"]).count();
            models::StepSpec spec;
            spec.phase = models::Phase::Prefill;
            spec.seq = prefill;
            spec.logits_all_positions = true;
            const models::OpGraph g = models::build_op_graph(c, spec);
            double flops = 0;
            for (auto v : g.topological_order()) {
                if (g.op(v).layer == layer) flops += g.op(v).cost.flops;
            }
            std::printf(
                "prefill %lld tokens, one MoE layer: %.2f s, %.2f GFLOP/s = %.1f%% of the "
                "GEMM throughput (target >= 50%%)\n",
                static_cast<long long>(prefill), t, flops / t / 1e9, 100.0 * flops / t / gemm);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_runtime: %s\n", e.what());
        return 2;
    }
    return 0;
}
