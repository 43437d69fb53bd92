// bench_gemm: throughput of the reference GEMM (dssim::kernels::gemm) against OpenBLAS sgemm on
// the same machine in the same run. Not a test: results go to bench/README.md by hand.
//
// Usage: bench_gemm [size=2048] [threads=2] [reps=7] [all|large|decode|crossover]
// large: y[M,N] = x[M,K] . w[N,K]^T with M = N = K = size (F.linear layout, i.e. sgemm with B
// transposed), FP32 inputs and FP32 accumulation, then the BF16-input and FP8 variants.
// decode: M = 1, 4 and 16 through DeepSeek-V3 weight shapes, GB/s of weights against a copy
// bandwidth measured in the same run; the E4M3 kernels on the AVX2 and the AVX-512 paths.
// crossover: small-M vs blocked path for M = 1..64.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "dssim/base/parallel.h"
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
    double cpu_median_s;  // process CPU time (all threads) of the median call
};

struct Candidate {
    const char* name;
    std::function<void()> fn;
    std::vector<double> times;
    std::vector<double> cpu_times;
};

double process_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Runs every candidate once per repetition, interleaved, so that load from other processes on
// a shared machine hits all of them alike; one untimed warm-up run each first.
void run_interleaved(std::vector<Candidate>& cands, int reps) {
    for (auto& c : cands)
        c.fn();
    for (int r = 0; r < reps; ++r) {
        for (auto& c : cands) {
            const double c0 = process_cpu_seconds();
            auto t0 = Clock::now();
            c.fn();
            c.times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            c.cpu_times.push_back(process_cpu_seconds() - c0);
        }
    }
}

Timing timing_of(const Candidate& c) {
    std::vector<double> t = c.times;
    std::sort(t.begin(), t.end());
    std::vector<double> cpu = c.cpu_times;
    std::sort(cpu.begin(), cpu.end());
    return {t.front(), t[t.size() / 2], cpu[cpu.size() / 2]};
}

void report(const char* name, double flops, const Timing& t, double ref_gflops) {
    double best = flops / t.best_s * 1e-9;
    double median = flops / t.median_s * 1e-9;
    std::printf("%-34s best %8.2f GFLOP/s  median %8.2f GFLOP/s", name, best, median);
    if (ref_gflops > 0) std::printf("  (%.1f%% of OpenBLAS best)", 100.0 * best / ref_gflops);
    std::printf("\n");
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return "load average " + a + " " + b + " " + c + " (1/5/15 min) on " +
           std::to_string(std::thread::hardware_concurrency()) + " hardware threads";
}

// Weights for the decode shapes: `count` values tiled from a pseudo-random pool (a pool of
// 2^22 + 9 values, so no two rows of a DeepSeek shape repeat the same pattern), in every format.
struct DecodeWeights {
    explicit DecodeWeights(size_t count) : f32(count), bf16(count), e4m3(count) {
        const std::vector<float> pool = random_matrix((size_t{1} << 22) + 9, 7);
        std::vector<uint16_t> pool_b(pool.size());
        std::vector<uint8_t> pool_q(pool.size());
        for (size_t i = 0; i < pool.size(); ++i) {
            pool_b[i] = dssim::numerics::bf16_from_f32(pool[i] * 0.05f);
            pool_q[i] = dssim::numerics::e4m3_from_f32(pool[i] * 448.0f);
        }
        for (size_t i = 0; i < count; ++i) {
            const size_t j = i % pool.size();
            f32[i] = pool[j] * 0.05f;
            bf16[i] = pool_b[j];
            e4m3[i] = pool_q[j];
        }
    }
    std::vector<float> f32;
    std::vector<uint16_t> bf16;
    std::vector<uint8_t> e4m3;
};

// STREAM-like copy of `count` floats with `threads` threads (contiguous chunks, memcpy each);
// bandwidth counts the bytes read plus the bytes written, as STREAM's Copy does.
void copy_parallel(const float* src, float* dst, size_t count, int threads) {
    dssim::parallel_for(
        count, threads,
        [&](size_t b, size_t e) { std::memcpy(dst + b, src + b, (e - b) * sizeof(float)); }, 4096);
}

struct DecodeShape {
    const char* what;
    size_t n, k;
};

// Decode-shaped GEMMs (M = 1, 4 and 16) of DeepSeek-V3: GB/s of weight bytes touched, against the
// copy bandwidth measured in the same interleaved run, and OpenBLAS sgemv/sgemm for reference.
void decode_section(int threads, int reps) {
    using dssim::kernels::ceil_div;
    const DecodeShape shapes[] = {{"dense-MLP w1/w3 (18432 x 7168)", 18432, 7168},
                                  {"expert w1/w3 (2048 x 7168 -> N=2048)", 2048, 7168},
                                  {"expert w2 (7168 x 2048 -> N=7168)", 7168, 2048}};
    const size_t max_count = 18432 * 7168;
    std::printf("\n== decode: weight streaming, %d threads, %d timed reps (interleaved)\n", threads,
                reps);
    DecodeWeights w(max_count);
    const size_t copy_count = size_t{64} << 20;  // 256 MiB per array
    std::vector<float> copy_src(copy_count, 1.0f), copy_dst(copy_count, 0.0f);
    const std::vector<float> xf_all = random_matrix(16 * 7168, 11);
    std::vector<uint16_t> xb_all(xf_all.size());
    for (size_t i = 0; i < xf_all.size(); ++i)
        xb_all[i] = dssim::numerics::bf16_from_f32(xf_all[i]);

    for (const DecodeShape& sh : shapes) {
        for (size_t m : {size_t{1}, size_t{4}, size_t{16}}) {
            const size_t n = sh.n, k = sh.k;
            const double nk = static_cast<double>(n) * static_cast<double>(k);
            std::vector<float> xf(xf_all.begin(), xf_all.begin() + static_cast<long>(m * k));
            std::vector<uint16_t> xb(xb_all.begin(), xb_all.begin() + static_cast<long>(m * k));
            std::vector<uint8_t> xq(m * k);
            std::vector<float> xs(m * ceil_div(k, 128));
            dssim::kernels::act_quant(xf.data(), xq.data(), xs.data(), m, k,
                                      dssim::kernels::ScaleFormat::F32, threads);
            std::vector<float> ws(ceil_div(n, 128) * ceil_div(k, 128), 1.0f / 448.0f);
            std::vector<float> yf(m * n);
            std::vector<uint16_t> yb(m * n);
            const int ni = static_cast<int>(n), ki = static_cast<int>(k), mi = static_cast<int>(m);
            // Each call takes the next of the matrices that fit in the pool, like a MoE layer
            // cycling through its experts, so a shape smaller than the L3 cache is still read
            // from memory (>= 8 matrices, >= 117 MB of E4M3, for the expert shapes).
            const size_t slices = max_count / (n * k);
            size_t counter = 0;
            auto slice = [&](size_t c) { return (c % slices) * n * k; };
            std::vector<Candidate> c;
            std::vector<double> bytes;
            // The copy moves as many bytes as the E4M3 weight has (so it takes about as long as
            // the candidates and meets the same preemption on a loaded machine), from rotating
            // offsets in 2 x 256 MiB so that it too comes from memory.
            const size_t piece = std::min(copy_count, std::max<size_t>(n * k / 4, 1));
            const size_t pieces = copy_count / piece;
            size_t copy_counter = 0;
            c.push_back({"copy (STREAM-like, r+w bytes)",
                         [&] {
                             const size_t off = (copy_counter++ % pieces) * piece;
                             copy_parallel(copy_src.data() + off, copy_dst.data() + off, piece,
                                           threads);
                         },
                         {}});
            bytes.push_back(2.0 * static_cast<double>(piece) * sizeof(float));
            c.push_back({m == 1 ? "OpenBLAS sgemv f32 weight" : "OpenBLAS sgemm f32 weight",
                         [&] {
                             if (m == 1) {
                                 cblas_sgemv(CblasRowMajor, CblasNoTrans, ni, ki, 1.0f,
                                             w.f32.data() + slice(counter++), ki, xf.data(), 1,
                                             0.0f, yf.data(), 1);
                             } else {
                                 cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mi, ni, ki,
                                             1.0f, xf.data(), ki, w.f32.data() + slice(counter++),
                                             ki, 0.0f, yf.data(), ni);
                             }
                         },
                         {}});
            bytes.push_back(4.0 * nk);
            c.push_back({"dssim gemm f32 weight",
                         [&] {
                             dssim::kernels::gemm_f32(xf.data(), w.f32.data() + slice(counter++),
                                                      yf.data(), m, n, k, threads);
                         },
                         {}});
            bytes.push_back(4.0 * nk);
            c.push_back({"dssim gemm bf16 weight",
                         [&] {
                             dssim::kernels::gemm(xb.data(), DType::BF16,
                                                  w.bf16.data() + slice(counter++), DType::BF16,
                                                  yb.data(), DType::BF16, m, n, k, threads);
                         },
                         {}});
            bytes.push_back(2.0 * nk);
            // The E4M3 kernels on both SIMD paths (the AVX-512 one falls back to AVX2 on a CPU
            // without it; the header line names the path Auto takes).
            using dssim::kernels::SimdPath;
            for (SimdPath path : {SimdPath::Avx2, SimdPath::Avx512}) {
                const bool wide = path == SimdPath::Avx512;
                c.push_back(
                    {wide ? "dssim gemm_dequant e4m3, avx512" : "dssim gemm_dequant e4m3, avx2",
                     [&, path] {
                         const SimdPath old = dssim::kernels::set_simd_path(path);
                         dssim::kernels::gemm_dequant(xb.data(), DType::BF16,
                                                      w.e4m3.data() + slice(counter++), ws.data(),
                                                      yb.data(), DType::BF16, m, n, k, threads);
                         dssim::kernels::set_simd_path(old);
                     },
                     {}});
                bytes.push_back(nk);
                c.push_back({wide ? "dssim fp8_gemm e4m3, avx512" : "dssim fp8_gemm e4m3, avx2",
                             [&, path] {
                                 const SimdPath old = dssim::kernels::set_simd_path(path);
                                 dssim::kernels::fp8_gemm(
                                     xq.data(), xs.data(), w.e4m3.data() + slice(counter++),
                                     ws.data(), yb.data(), DType::BF16, m, n, k, threads);
                                 dssim::kernels::set_simd_path(old);
                             },
                             {}});
                bytes.push_back(nk);
            }
            // The AVX-512 E4M3 kernel on the interleaved copy the runtime keeps of resident
            // weights (the same sums; one stream per 16 rows instead of 16).
            const size_t il_bytes = dssim::kernels::e4m3_interleaved_bytes(n, k);
            std::vector<uint8_t> il(slices * il_bytes);
            for (size_t sl = 0; sl < slices; ++sl)
                dssim::kernels::interleave_e4m3(w.e4m3.data() + sl * n * k, n, k,
                                                il.data() + sl * il_bytes, threads);
            c.push_back({"dssim gemm_dequant e4m3, avx512 il",
                         [&] {
                             const size_t sl = counter++ % slices;
                             dssim::kernels::gemm_dequant(
                                 xb.data(), DType::BF16,
                                 dssim::kernels::E4m3Weight{w.e4m3.data() + sl * n * k,
                                                            il.data() + sl * il_bytes},
                                 ws.data(), yb.data(), DType::BF16, m, n, k, threads);
                         },
                         {}});
            bytes.push_back(nk);
            run_interleaved(c, reps);
            // Wall-clock GB/s, best and median, and "CPU" GB/s: bytes over the median call's
            // process CPU time divided by the thread count, i.e. the rate while running. On a
            // loaded machine preemption inflates wall times, more for longer calls; CPU time
            // is not preempted (but counts spinning, which OpenBLAS's threads do).
            const Timing copy = timing_of(c[0]);
            const double copy_best = bytes[0] / copy.best_s * 1e-9;
            const double copy_median = bytes[0] / copy.median_s * 1e-9;
            const double copy_cpu = bytes[0] / (copy.cpu_median_s / threads) * 1e-9;
            std::printf("\n%s, M = %zu (N = %zu, K = %zu)\n", sh.what, m, n, k);
            std::printf(
                "  %-32s best %8.2f ms %7.2f GB/s           median %7.2f GB/s          "
                "cpu %7.2f GB/s\n",
                c[0].name, copy.best_s * 1e3, copy_best, copy_median, copy_cpu);
            for (size_t i = 1; i < c.size(); ++i) {
                const Timing t = timing_of(c[i]);
                const double best = bytes[i] / t.best_s * 1e-9;
                const double median = bytes[i] / t.median_s * 1e-9;
                const double cpu = bytes[i] / (t.cpu_median_s / threads) * 1e-9;
                std::printf(
                    "  %-32s best %8.2f ms %7.2f GB/s (%5.1f%%)  median %7.2f GB/s (%5.1f%%)"
                    "  cpu %7.2f GB/s (%5.1f%%)\n",
                    c[i].name, t.best_s * 1e3, best, 100.0 * best / copy_best, median,
                    100.0 * median / copy_median, cpu, 100.0 * cpu / copy_cpu);
            }
        }
    }
    std::printf("\n(percentages: of the copy's figure of the same kind)\n");
}

// Small-M path against the blocked path at the same M (forced with set_gemm_small_m_max), to
// choose the crossover. Shape: expert w2 of V3 (N = 7168, K = 2048), BF16 and E4M3 weights.
void crossover_section(int threads, int reps) {
    using dssim::kernels::ceil_div;
    using dssim::kernels::set_gemm_small_m_max;
    const size_t n = 7168, k = 2048;
    std::printf("\n== crossover: small-M path vs blocked path, N = %zu, K = %zu, %d threads\n", n,
                k, threads);
    DecodeWeights w(n * k);
    const std::vector<float> xf_all = random_matrix(128 * k, 13);
    std::vector<uint16_t> xb_all(xf_all.size());
    for (size_t i = 0; i < xf_all.size(); ++i)
        xb_all[i] = dssim::numerics::bf16_from_f32(xf_all[i]);
    std::vector<float> ws(ceil_div(n, 128) * ceil_div(k, 128), 1.0f / 448.0f);
    std::vector<uint16_t> y_small(128 * n), y_blocked(128 * n);
    bool identical = true;
    for (size_t m : {1, 2, 4, 8, 12, 16, 24, 32, 48, 64}) {
        for (int dequant = 0; dequant < 2; ++dequant) {
            auto call = [&, m, dequant](uint16_t* y) {
                if (dequant != 0) {
                    dssim::kernels::gemm_dequant(xb_all.data(), DType::BF16, w.e4m3.data(),
                                                 ws.data(), y, DType::BF16, m, n, k, threads);
                } else {
                    dssim::kernels::gemm(xb_all.data(), DType::BF16, w.bf16.data(), DType::BF16, y,
                                         DType::BF16, m, n, k, threads);
                }
            };
            std::vector<Candidate> c;
            c.push_back({"small-M",
                         [&] {
                             const size_t old = set_gemm_small_m_max(1000000);
                             call(y_small.data());
                             set_gemm_small_m_max(old);
                         },
                         {}});
            c.push_back({"blocked",
                         [&] {
                             const size_t old = set_gemm_small_m_max(0);
                             call(y_blocked.data());
                             set_gemm_small_m_max(old);
                         },
                         {}});
            run_interleaved(c, reps);
            identical = identical && std::memcmp(y_small.data(), y_blocked.data(),
                                                 m * n * sizeof(uint16_t)) == 0;
            const Timing a = timing_of(c[0]), b = timing_of(c[1]);
            std::printf(
                "  M = %3zu %-12s small-M %8.2f ms  blocked %8.2f ms  blocked/small %.2f "
                "(median %.2f)\n",
                m, dequant != 0 ? "e4m3 dequant" : "bf16", a.best_s * 1e3, b.best_s * 1e3,
                b.best_s / a.best_s, b.median_s / a.median_s);
        }
    }
    std::printf("  small-M and blocked results bit-identical: %s\n", identical ? "yes" : "NO");
}

// Square GEMM (M = N = K = n) against OpenBLAS sgemm, and the BF16 / FP8 variants.
void large_section(size_t n, int threads, int reps) {
    std::printf("\n== large: M = N = K = %zu, y = x . w^T, FP32 accumulation, %d timed reps\n", n,
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
}

}  // namespace

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2048;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
    const int reps = argc > 3 ? std::atoi(argv[3]) : 7;
    const std::string section = argc > 4 ? argv[4] : "all";
    if (n == 0 || threads < 1 || reps < 1 ||
        (section != "all" && section != "large" && section != "decode" && section != "crossover")) {
        std::fprintf(stderr,
                     "usage: bench_gemm [size>0] [threads>0] [reps>0] "
                     "[all|large|decode|crossover]\n");
        return 2;
    }
    openblas_set_num_threads(threads);

    std::printf("machine : %s, %u hardware threads\n", cpu_model().c_str(),
                std::thread::hardware_concurrency());
    std::printf("openblas: %s (core %s), %d threads\n", openblas_get_config(),
                openblas_get_corename(), threads);
    std::printf("dssim   : SIMD path %s, %d threads\n", dssim::kernels::active_simd_path_name(),
                threads);
    std::printf("load    : %s\n", load_average().c_str());
    if (section == "all" || section == "large") large_section(n, threads, reps);

    if (section == "all" || section == "decode") decode_section(threads, reps);
    if (section == "all" || section == "crossover") crossover_section(threads, reps);
    return 0;
}
