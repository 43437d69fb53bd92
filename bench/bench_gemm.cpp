// bench_gemm: throughput of the reference GEMM (dssim::kernels::gemm) against OpenBLAS sgemm on
// the same machine in the same run. Not a test: results go to bench/README.md by hand.
//
// Usage: bench_gemm [size=2048] [threads=2] [reps=7]
// Computes y[M,N] = x[M,K] . w[N,K]^T with M = N = K = size (F.linear layout, i.e. sgemm with
// B transposed), FP32 inputs and FP32 accumulation, and then the BF16-input variants.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "dssim/kernels/gemm.h"
#include "dssim/kernels/quant.h"
#include "dssim/numerics/formats.h"

namespace {

using Clock = std::chrono::steady_clock;
using dssim::numerics::DType;

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            return colon == std::string::npos ? line : line.substr(colon + 2);
        }
    }
    return "unknown";
}

// Deterministic inputs in [-1, 1) (xorshift), so every run times the same data.
std::vector<float> random_matrix(size_t count, uint64_t seed) {
    std::vector<float> v(count);
    uint64_t s = seed;
    for (auto& x : v) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x = static_cast<float>(
            static_cast<double>(s >> 40) / static_cast<double>(1ULL << 24) * 2.0 - 1.0);
    }
    return v;
}

struct Timing {
    double best_s;
    double median_s;
};

struct Candidate {
    const char* name;
    std::function<void()> fn;
    std::vector<double> times;
};

// Runs every candidate once per repetition, interleaved, so that load from other processes on
// a shared machine hits all of them alike; one untimed warm-up run each first.
void run_interleaved(std::vector<Candidate>& cands, int reps) {
    for (auto& c : cands)
        c.fn();
    for (int r = 0; r < reps; ++r) {
        for (auto& c : cands) {
            auto t0 = Clock::now();
            c.fn();
            c.times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        }
    }
}

Timing timing_of(const Candidate& c) {
    std::vector<double> t = c.times;
    std::sort(t.begin(), t.end());
    return {t.front(), t[t.size() / 2]};
}

void report(const char* name, double flops, const Timing& t, double ref_gflops) {
    double best = flops / t.best_s * 1e-9;
    double median = flops / t.median_s * 1e-9;
    std::printf("%-34s best %8.2f GFLOP/s  median %8.2f GFLOP/s", name, best, median);
    if (ref_gflops > 0) std::printf("  (%.1f%% of OpenBLAS best)", 100.0 * best / ref_gflops);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2048;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
    const int reps = argc > 3 ? std::atoi(argv[3]) : 7;
    if (n == 0 || threads < 1 || reps < 1) {
        std::fprintf(stderr, "usage: bench_gemm [size>0] [threads>0] [reps>0]\n");
        return 2;
    }
    openblas_set_num_threads(threads);

    std::printf("machine : %s, %u hardware threads\n", cpu_model().c_str(),
                std::thread::hardware_concurrency());
    std::printf("openblas: %s (core %s), %d threads\n", openblas_get_config(),
                openblas_get_corename(), threads);
    std::printf("dssim   : micro-kernel %s, %d threads\n", dssim::kernels::active_simd_path_name(),
                threads);
    std::printf("shape   : M = N = K = %zu, y = x . w^T, FP32 accumulation, %d timed reps\n\n", n,
                reps);

    const double flops =
        2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    std::vector<float> x = random_matrix(n * n, 1);
    std::vector<float> w = random_matrix(n * n, 2);
    std::vector<float> y_blas(n * n), y_ours(n * n);
    const int ni = static_cast<int>(n);

    // BF16 inputs: the same values rounded to BF16. OpenBLAS has no BF16 GEMM in this build, so
    // only dssim runs them (same FP32 arithmetic after exact widening).
    std::vector<uint16_t> xb(n * n), wb(n * n), yb(n * n);
    for (size_t i = 0; i < n * n; ++i) {
        xb[i] = dssim::numerics::bf16_from_f32(x[i]);
        wb[i] = dssim::numerics::bf16_from_f32(w[i]);
    }
    std::vector<float> y_bf32(n * n), y_base(n * n);
    using dssim::kernels::SimdPath;
    std::vector<Candidate> cands;
    cands.push_back({"OpenBLAS sgemm (f32)",
                     [&] {
                         cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, ni, ni, 1.0f,
                                     x.data(), ni, w.data(), ni, 0.0f, y_blas.data(), ni);
                     },
                     {}});
    cands.push_back(
        {"dssim gemm f32 x f32 -> f32",
         [&] { dssim::kernels::gemm_f32(x.data(), w.data(), y_ours.data(), n, n, n, threads); },
         {}});
    cands.push_back({"dssim gemm bf16 x bf16 -> bf16",
                     [&] {
                         dssim::kernels::gemm(xb.data(), DType::BF16, wb.data(), DType::BF16,
                                              yb.data(), DType::BF16, n, n, n, threads);
                     },
                     {}});
    cands.push_back({"dssim gemm bf16 x bf16 -> f32",
                     [&] {
                         dssim::kernels::gemm(xb.data(), DType::BF16, wb.data(), DType::BF16,
                                              y_bf32.data(), DType::F32, n, n, n, threads);
                     },
                     {}});
    cands.push_back({"dssim gemm f32, sse2 baseline",
                     [&] {
                         SimdPath old = dssim::kernels::set_simd_path(SimdPath::Baseline);
                         dssim::kernels::gemm_f32(x.data(), w.data(), y_base.data(), n, n, n,
                                                  threads);
                         dssim::kernels::set_simd_path(old);
                     },
                     {}});
    // FP8 paths of the runtime: the demo's default (E4M3 weight dequantised to BF16 while
    // packing, BF16 activations) and the block-scaled FP8 GEMM (act_quant'ed activations).
    std::vector<uint8_t> xq(n * n), wq(n * n);
    std::vector<float> xs(n * dssim::kernels::ceil_div(n, 128));
    std::vector<float> ws(dssim::kernels::ceil_div(n, 128) * dssim::kernels::ceil_div(n, 128),
                          1.0f / 448.0f);
    dssim::kernels::act_quant(x.data(), xq.data(), xs.data(), n, n,
                              dssim::kernels::ScaleFormat::F32, threads);
    for (size_t i = 0; i < n * n; ++i)
        wq[i] = dssim::numerics::e4m3_from_f32(w[i] * 448.0f);
    cands.push_back({"dssim gemm_dequant bf16 x e4m3",
                     [&] {
                         dssim::kernels::gemm_dequant(xb.data(), DType::BF16, wq.data(), ws.data(),
                                                      yb.data(), DType::BF16, n, n, n, threads);
                     },
                     {}});
    cands.push_back({"dssim fp8_gemm e4m3 x e4m3 -> bf16",
                     [&] {
                         dssim::kernels::fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(),
                                                  yb.data(), DType::BF16, n, n, n, threads);
                     },
                     {}});
    run_interleaved(cands, reps);

    const double blas_best = flops / timing_of(cands[0]).best_s * 1e-9;
    for (size_t i = 0; i < cands.size(); ++i) {
        report(cands[i].name, flops, timing_of(cands[i]), i == 0 ? 0.0 : blas_best);
    }
    double max_diff = 0;
    for (size_t i = 0; i < n * n; ++i) {
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(y_ours[i]) - y_blas[i]));
    }
    std::printf("\nmax |dssim - OpenBLAS| over y = %.3g (different summation orders)\n", max_diff);
    std::printf(
        "sse2 and avx2 paths bit-identical: %s\n",
        std::memcmp(y_ours.data(), y_base.data(), n * n * sizeof(float)) == 0 ? "yes" : "NO");
    std::printf("ratio dssim f32 / OpenBLAS (best): %.3f\n",
                (flops / timing_of(cands[1]).best_s * 1e-9) / blas_best);

    // Decode shape: one token through a dense-MLP w1 of DeepSeek-V3 (N = 18432, K = 7168). This
    // is weight streaming; report the time and the weight bytes per second.
    {
        const size_t dn = 18432, dk = 7168;
        std::vector<uint16_t> dx = std::vector<uint16_t>(xb.begin(), xb.begin() + dk);
        std::vector<uint16_t> dw(dn * dk);
        std::vector<uint8_t> dq(dn * dk);
        for (size_t i = 0; i < dn * dk; ++i) {
            dw[i] = xb[i % xb.size()];
            dq[i] = wq[i % wq.size()];
        }
        std::vector<float> dscale(
            dssim::kernels::ceil_div(dn, 128) * dssim::kernels::ceil_div(dk, 128), 1.0f / 448.0f);
        std::vector<uint16_t> dy(dn);
        std::vector<Candidate> dec;
        dec.push_back({"decode gemm bf16 weight",
                       [&] {
                           dssim::kernels::gemm(dx.data(), DType::BF16, dw.data(), DType::BF16,
                                                dy.data(), DType::BF16, 1, dn, dk, threads);
                       },
                       {}});
        dec.push_back({"decode gemm_dequant e4m3 weight",
                       [&] {
                           dssim::kernels::gemm_dequant(dx.data(), DType::BF16, dq.data(),
                                                        dscale.data(), dy.data(), DType::BF16, 1,
                                                        dn, dk, threads);
                       },
                       {}});
        run_interleaved(dec, std::max(3, reps / 2));
        std::printf("\ndecode, M = 1, N = %zu, K = %zu:\n", dn, dk);
        const double bytes[] = {2.0 * dn * dk, 1.0 * dn * dk};
        for (size_t i = 0; i < dec.size(); ++i) {
            Timing t = timing_of(dec[i]);
            std::printf("%-34s best %8.2f ms  (%.2f GB/s of weights)\n", dec[i].name,
                        t.best_s * 1e3, bytes[i] / t.best_s * 1e-9);
        }
    }
    return 0;
}
