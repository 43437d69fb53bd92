// The AVX-512 fused E4M3 small-M kernels (gemm_dequant, fp8_gemm) against their naive twins and
// against the AVX2 and SSE2 paths, bit for bit, on adversarial inputs: all 256 codes (zero,
// subnormal, NaN), extreme and non-finite block scales, subnormal activations, every M from 1 to
// 17 and a few up to 50 (several 16-row blocks of x), K and N ragged around the kernel's
// 16/64-column steps, the 128 scale block and the 16-row blocks, and 1, 2, 3 and 8 threads. On a
// CPU without AVX-512 the Avx512 setting falls back to AVX2 (said so by a MESSAGE), and the other
// paths are still checked. Each weight is also given with its interleaved copy (E4m3Weight), which
// the AVX-512 path reads instead of the plain codes.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "dssim/kernels/gemm.h"
#include "dssim/kernels/naive.h"
#include "test_util.h"

namespace dssim::kernels {
namespace {

using test::kThreadCounts;
using test::same_bytes;

struct PathGuard {
    explicit PathGuard(SimdPath p) : old(set_simd_path(p)) {}
    ~PathGuard() { set_simd_path(old); }
    SimdPath old;
};

const SimdPath kAllPaths[] = {SimdPath::Avx512, SimdPath::Avx2, SimdPath::Baseline};

bool have_avx512() {
    PathGuard guard(SimdPath::Avx512);
    return std::string(active_simd_path_name()) == "avx512";
}

void report_avx512() {
    if (!have_avx512()) {
        MESSAGE("this CPU lacks AVX-512 (F/BW/VL/VBMI): the Avx512 setting falls back to ",
                active_simd_path_name(), "; the fused kernels are not exercised here");
    }
}

struct Shape {
    size_t m, n, k;
};

// Every M from 1 to 17 and three larger; N around the 16- and 32-row blocks (never a multiple of 16
// for most); K around the 16-column sub-steps, the 64-column steps and the 128-column scale blocks.
std::vector<Shape> shapes() {
    const size_t ns[] = {1, 15, 17, 31, 33, 47, 130, 16};
    const size_t ks[] = {1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 257, 300, 449};
    std::vector<Shape> out;
    for (size_t m = 1; m <= 17; ++m)
        out.push_back({m, ns[m % std::size(ns)], ks[m % std::size(ks)]});
    // More K values at M = 1 and 4 (the decode cases), with N = 47 (three ragged blocks).
    for (size_t k : ks) {
        out.push_back({1, 47, k});
        out.push_back({4, 33, k});
    }
    // M past one 16-row block of x (the fused kernels take every M, block by block): whole and
    // ragged last blocks, against ragged N and K.
    out.push_back({32, 17, 65});
    out.push_back({33, 47, 300});
    out.push_back({50, 33, 129});
    return out;
}

// Every code 0..255 in every row (a rotation per row), except that NaN codes appear only in
// rows n % 5 == 3 (a NaN weight makes the whole output NaN, which would hide the other codes).
std::vector<uint8_t> all_codes(size_t n, size_t k, uint64_t seed) {
    test::Rng r(seed);
    std::vector<uint8_t> q(n * k);
    for (size_t i = 0; i < n; ++i) {
        const size_t rot = static_cast<size_t>(r.next() % 256);
        for (size_t j = 0; j < k; ++j) {
            auto c = static_cast<uint8_t>((j * 37 + rot) & 0xFF);
            if ((c & 0x7F) == 0x7F && i % 5 != 3) c = static_cast<uint8_t>(c ^ 0x01);
            q[i * k + j] = c;
        }
    }
    return q;
}

// Block scales mixing ordinary values with extremes: tiny (products subnormal or zero in FP32),
// denormal, huge (products overflow to infinity in BF16), negative, signed zero, and in one
// block row infinity and NaN.
std::vector<float> adversarial_scales(size_t rows, size_t cols, uint64_t seed) {
    const float pool[] = {1.0f / 448.0f, 0.0123f, -3.5e-3f, 0x1p-100f, 0x1p-101f,
                          0x1p-130f,     1e-45f,  0x1p100f, 3e38f,     -7e30f,
                          0.0f,          -0.0f,   1.0f,     0x1p-126f, 2.5f};
    test::Rng r(seed);
    std::vector<float> s(rows * cols);
    for (auto& v : s)
        v = pool[r.next() % std::size(pool)];
    if (rows > 1) {
        s[cols] = INFINITY;
        s[cols + cols / 2] = NAN;
    }
    return s;
}

// BF16 activations with some subnormals, zeros of both signs and large values.
std::vector<uint16_t> adversarial_x(size_t count, uint64_t seed) {
    auto x = test::random_bf16(count, seed, 20);
    const uint16_t specials[] = {0x0001, 0x8003, 0x0000, 0x8000, 0x7F00, 0x0080};
    for (size_t i = 3; i < count; i += 7)
        x[i] = specials[(i / 7) % std::size(specials)];
    return x;
}

// interleave_e4m3's copy of wq [n, k], checked against the formula (the naive twin).
std::vector<uint8_t> interleaved(const std::vector<uint8_t>& wq, size_t n, size_t k) {
    std::vector<uint8_t> expect(e4m3_interleaved_bytes(n, k), 0xAB);
    naive::interleave_e4m3(wq.data(), n, k, expect.data());
    std::vector<uint8_t> got(expect.size(), 0xCD);
    interleave_e4m3(wq.data(), n, k, got.data(), 2);
    REQUIRE(got == expect);
    return got;
}

void check_dequant_all_paths(const Shape& s,
                             const std::vector<uint16_t>& x,
                             const std::vector<uint8_t>& wq,
                             const std::vector<float>& ws) {
    std::vector<uint16_t> w(s.n * s.k);
    naive::weight_dequant(wq.data(), ws.data(), w.data(), s.n, s.k);
    std::vector<float> expect(s.m * s.n);
    std::vector<uint16_t> expect16(s.m * s.n);
    naive::gemm(x.data(), DType::BF16, w.data(), DType::BF16, expect.data(), DType::F32, s.m, s.n,
                s.k);
    naive::gemm(x.data(), DType::BF16, w.data(), DType::BF16, expect16.data(), DType::BF16, s.m,
                s.n, s.k);
    const auto il = interleaved(wq, s.n, s.k);
    for (SimdPath path : kAllPaths) {
        PathGuard guard(path);
        for (int threads : kThreadCounts) {
            INFO("gemm_dequant ", s.m, "x", s.n, "x", s.k, " threads ", threads, " path ",
                 active_simd_path_name());
            std::vector<float> got(s.m * s.n, 1.0f);
            gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), got.data(), DType::F32, s.m,
                         s.n, s.k, threads);
            CHECK(same_bytes(got, expect));
            std::vector<uint16_t> got16(s.m * s.n, 1);
            gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), got16.data(), DType::BF16,
                         s.m, s.n, s.k, threads);
            CHECK(same_bytes(got16, expect16));
            // The same weight with its interleaved copy (read on the AVX-512 path only).
            std::vector<float> got_il(s.m * s.n, 1.0f);
            gemm_dequant(x.data(), DType::BF16, E4m3Weight{wq.data(), il.data()}, ws.data(),
                         got_il.data(), DType::F32, s.m, s.n, s.k, threads);
            CHECK(same_bytes(got_il, expect));
        }
    }
}

TEST_CASE(
    "AVX-512 gemm_dequant equals the naive twin and the AVX2/SSE2 paths on adversarial "
    "inputs") {
    report_avx512();
    uint64_t seed = 4000;
    for (const Shape& s : shapes()) {
        const auto x = adversarial_x(s.m * s.k, seed++);
        const auto wq = all_codes(s.n, s.k, seed++);
        const auto ws =
            adversarial_scales(ceil_div(s.n, kFp8Block), ceil_div(s.k, kFp8Block), seed++);
        check_dequant_all_paths(s, x, wq, ws);
    }
}

TEST_CASE("AVX-512 gemm_dequant decodes every code at every column phase exactly") {
    // One-hot x picks single weights, so every decoded value reaches the F32 output unmixed: all
    // 256 codes (NaN included, rows n % 5 == 3) at hot columns in the 64-column main loop, at
    // its 16-column sub-steps and in the masked tail, for several scales per K block.
    report_avx512();
    const Shape s{1, 263, 200};
    const auto wq = all_codes(s.n, s.k, 77);
    const auto ws = adversarial_scales(ceil_div(s.n, kFp8Block), ceil_div(s.k, kFp8Block), 78);
    for (size_t hot : {size_t{0}, size_t{15}, size_t{16}, size_t{63}, size_t{64}, size_t{127},
                       size_t{128}, size_t{191}, size_t{192}, size_t{199}}) {
        INFO("hot column ", hot);
        std::vector<uint16_t> x(s.k, 0);
        x[hot] = numerics::bf16_from_f32(1.0f);
        check_dequant_all_paths(s, x, wq, ws);
    }
}

TEST_CASE("AVX-512 fp8_gemm equals the naive twin and the AVX2/SSE2 paths for every promotion") {
    report_avx512();
    uint64_t seed = 5000;
    for (const Shape& s : shapes()) {
        const size_t kb = ceil_div(s.k, kFp8Block);
        const auto xq = all_codes(s.m, s.k, seed++);
        const auto wq = all_codes(s.n, s.k, seed++);
        const auto xs = adversarial_scales(s.m, kb, seed++);
        const auto ws = adversarial_scales(ceil_div(s.n, kFp8Block), kb, seed++);
        const auto il = interleaved(wq, s.n, s.k);
        for (Fp8Promotion promo :
             {Fp8Promotion::ScaleProductFirst, Fp8Promotion::ScaleProductFirstFma,
              Fp8Promotion::TritonSequential}) {
            std::vector<float> expect(s.m * s.n);
            naive::fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), expect.data(), DType::F32,
                            s.m, s.n, s.k, promo);
            for (SimdPath path : kAllPaths) {
                PathGuard guard(path);
                for (int threads : kThreadCounts) {
                    INFO("fp8_gemm ", s.m, "x", s.n, "x", s.k, " promotion ",
                         static_cast<int>(promo), " threads ", threads, " path ",
                         active_simd_path_name());
                    std::vector<float> got(s.m * s.n, 1.0f);
                    fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), got.data(), DType::F32,
                             s.m, s.n, s.k, threads, promo);
                    CHECK(same_bytes(got, expect));
                    std::vector<float> got_il(s.m * s.n, 1.0f);
                    fp8_gemm(xq.data(), xs.data(), E4m3Weight{wq.data(), il.data()}, ws.data(),
                             got_il.data(), DType::F32, s.m, s.n, s.k, threads, promo);
                    CHECK(same_bytes(got_il, expect));
                }
            }
        }
    }
}

TEST_CASE("interleave_e4m3 places every code where the layout formula says, for any thread count") {
    // Hand-checked positions: row 5, column 6 of a 20 x 21 weight (Kp = 32, block 0):
    // 16 * 4 + 16 * 1 + 8 * 1 + 2 * 1 + 0 = 90; row 17, column 3 (block 1): 512 + 0 + 0 + 8 + 2
    // + 1.
    std::vector<uint8_t> w(20 * 21, 0);
    w[5 * 21 + 6] = 0x11;
    w[17 * 21 + 3] = 0x22;
    std::vector<uint8_t> out(e4m3_interleaved_bytes(20, 21), 0xFF);
    REQUIRE(out.size() == 2 * 16 * 32);
    interleave_e4m3(w.data(), 20, 21, out.data(), 1);
    CHECK(out[90] == 0x11);
    CHECK(out[512 + 11] == 0x22);
    CHECK(std::count(out.begin(), out.end(), 0) == static_cast<long>(out.size()) - 2);
    // Whole and ragged blocks against the naive formula, 1..8 threads.
    for (const auto& [n, k] : {std::pair<size_t, size_t>{1, 1},
                               {16, 16},
                               {47, 300},
                               {64, 129},
                               {130, 449},
                               {33, 2048}}) {
        const auto wq = all_codes(n, k, n * 1000 + k);
        std::vector<uint8_t> expect(e4m3_interleaved_bytes(n, k));
        naive::interleave_e4m3(wq.data(), n, k, expect.data());
        for (int threads : kThreadCounts) {
            INFO(n, "x", k, " threads ", threads);
            std::vector<uint8_t> got(expect.size(), 0xEE);
            interleave_e4m3(wq.data(), n, k, got.data(), threads);
            CHECK(got == expect);
        }
    }
}

TEST_CASE("SimdPath::Avx512 resolves to the widest path the CPU has") {
    PathGuard guard(SimdPath::Avx512);
    const std::string name = active_simd_path_name();
    CHECK((name == "avx512" || name == "avx2" || name == "sse2"));
    set_simd_path(SimdPath::Auto);
    CHECK(name == active_simd_path_name());
    set_simd_path(SimdPath::Baseline);
    CHECK(std::string(active_simd_path_name()) == "sse2");
}

}  // namespace
}  // namespace dssim::kernels
