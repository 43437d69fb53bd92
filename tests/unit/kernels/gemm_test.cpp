// GEMM and FP8 GEMM: the blocked/SIMD/threaded kernels agree bit for bit with their naive twins
// for every thread count and SIMD path, and the twins compute the documented order.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <iterator>
#include <string>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/kernels/gemm.h"
#include "dssim/kernels/naive.h"
#include "dssim/kernels/quant.h"
#include "test_util.h"

namespace dssim::kernels {
namespace {

using test::kThreadCounts;
using test::same_bytes;

struct Shape {
    size_t m, n, k;
};

// Ragged shapes around every blocking boundary: micro-tile (4x8 / 4x16 / 8x32), K block 256, row
// block 64, column block 512, plus M = 1 decode shapes.
const Shape kShapes[] = {{1, 1, 1},     {3, 5, 7},   {17, 129, 257}, {1, 300, 520},
                         {1, 17, 1},    {2, 1, 300}, {65, 33, 513},  {9, 530, 260},
                         {68, 64, 128}, {5, 16, 0},  {130, 600, 300}};

// Every path; one the CPU lacks falls back to a narrower one (reported by the AVX-512 test case).
const SimdPath kPaths[] = {SimdPath::Baseline, SimdPath::Avx2, SimdPath::Avx512};

struct PathGuard {
    explicit PathGuard(SimdPath p) : old(set_simd_path(p)) {}
    ~PathGuard() { set_simd_path(old); }
    SimdPath old;
};

template <typename X, typename W, typename Y>
void check_gemm(DType xt,
                DType wt,
                DType yt,
                const std::vector<X>& x,
                const std::vector<W>& w,
                const Shape& s) {
    std::vector<Y> expect(s.m * s.n);
    naive::gemm(x.data(), xt, w.data(), wt, expect.data(), yt, s.m, s.n, s.k);
    for (SimdPath path : kPaths) {
        PathGuard guard(path);
        for (int threads : kThreadCounts) {
            std::vector<Y> got(s.m * s.n, Y{});
            gemm(x.data(), xt, w.data(), wt, got.data(), yt, s.m, s.n, s.k, threads);
            INFO("shape ", s.m, "x", s.n, "x", s.k, " threads ", threads, " path ",
                 active_simd_path_name());
            CHECK(same_bytes(got, expect));
        }
    }
}

TEST_CASE("gemm matches its naive twin bit for bit (f32, bf16, mixed)") {
    uint64_t seed = 1;
    for (const Shape& s : kShapes) {
        auto xf = test::random_f32(s.m * s.k, seed++);
        auto wf = test::random_f32(s.n * s.k, seed++);
        auto xb = test::random_bf16(s.m * s.k, seed++);
        auto wb = test::random_bf16(s.n * s.k, seed++);
        check_gemm<float, float, float>(DType::F32, DType::F32, DType::F32, xf, wf, s);
        check_gemm<uint16_t, uint16_t, uint16_t>(DType::BF16, DType::BF16, DType::BF16, xb, wb, s);
        check_gemm<uint16_t, uint16_t, float>(DType::BF16, DType::BF16, DType::F32, xb, wb, s);
        check_gemm<float, uint16_t, uint16_t>(DType::F32, DType::BF16, DType::BF16, xf, wb, s);
    }
}

TEST_CASE("gemm reduces strictly sequentially in k") {
    // ((1e8 + 1) - 1e8) + 1 = 1 in sequential FP32 (1e8 + 1 rounds to 1e8); a pairwise or
    // blocked order would give 2 or 0.
    std::vector<float> x = {1e8f, 1.0f, -1e8f, 1.0f};
    std::vector<float> w = {1.0f, 1.0f, 1.0f, 1.0f};
    float y = -5.0f;
    gemm_f32(x.data(), w.data(), &y, 1, 1, 4, 1);
    CHECK(y == 1.0f);
    // Across the 256-deep K block boundary: 1e8 at k=0, +1 at k=255, -1e8 at k=256, +1 at 300.
    std::vector<float> xl(301, 0.0f), wl(301, 1.0f);
    xl[0] = 1e8f;
    xl[255] = 1.0f;
    xl[256] = -1e8f;
    xl[300] = 1.0f;
    for (int threads : kThreadCounts) {
        float yl = -5.0f;
        gemm_f32(xl.data(), wl.data(), &yl, 1, 1, 301, threads);
        CHECK(yl == 1.0f);
    }
}

TEST_CASE("gemm computes exact small-integer products and canonicalises NaN") {
    // 2x3 . (2x3)^T with integers: exact in FP32 whatever the order.
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    std::vector<float> w = {7, 8, 9, -1, 0, 1};
    std::vector<float> y(4);
    gemm_f32(x.data(), w.data(), y.data(), 2, 2, 3, 2);
    CHECK(y == std::vector<float>{50, 2, 122, 2});
    std::vector<uint16_t> yb(4);
    gemm(x.data(), DType::F32, w.data(), DType::F32, yb.data(), DType::BF16, 2, 2, 3, 1);
    CHECK(numerics::f32_from_bf16(yb[2]) == 122.0f);

    // A negative-signed NaN input still yields the canonical +qNaN, like the twin.
    std::vector<float> xn = {std::bit_cast<float>(0xFFC00001u), 1.0f, INFINITY, 0.0f};
    std::vector<float> wn = {1.0f, 1.0f, 1.0f, 1.0f};
    std::vector<float> yn(2);
    gemm_f32(xn.data(), wn.data(), yn.data(), 2, 1, 2, 1);
    CHECK(std::bit_cast<uint32_t>(yn[0]) == 0x7FC00000u);
    CHECK(yn[1] == INFINITY);
}

TEST_CASE("gemm BF16 output rounds like numerics::bf16_from_f32 at ties, overflow, subnormals") {
    // y[0, n] = 1 * w[n, 0]: the output is the BF16 rounding of each special value.
    const uint32_t specials[] = {0x3F808000u, 0x3F818000u, 0x3F80FFFFu, 0x7F7F7FFFu,
                                 0x7F7F8000u, 0x7F7FFFFFu, 0xFF7F8000u, 0x00008000u,
                                 0x00018000u, 0x80000001u, 0x7F800000u, 0x00000000u};
    std::vector<float> w;
    for (uint32_t b : specials)
        w.push_back(std::bit_cast<float>(b));
    const float one = 1.0f;
    std::vector<uint16_t> y(w.size());
    gemm(&one, DType::F32, w.data(), DType::F32, y.data(), DType::BF16, 1, w.size(), 1, 1);
    for (size_t i = 0; i < w.size(); ++i) {
        INFO("case ", i);
        CHECK(y[i] == numerics::bf16_from_f32(w[i]));
    }
}

TEST_CASE("gemm rejects unsupported dtypes") {
    float a = 1, b = 1, c = 0;
    CHECK_THROWS_AS(gemm(&a, DType::F8E4M3, &b, DType::F32, &c, DType::F32, 1, 1, 1, 1),
                    InputError);
    CHECK_THROWS_AS(gemm(&a, DType::F32, &b, DType::F32, &c, DType::F16, 1, 1, 1, 1), InputError);
}

std::vector<uint8_t> random_e4m3(size_t n, uint64_t seed) {
    test::Rng r(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) {
        do {
            b = static_cast<uint8_t>(r.next() >> 56);
        } while ((b & 0x7F) == 0x7F);  // skip the NaN codes
    }
    return v;
}

std::vector<float> random_scales(size_t n, uint64_t seed) {
    test::Rng r(seed);
    std::vector<float> v(n);
    for (auto& s : v)
        s = std::fabs(r.value(6)) + 1e-3f;
    return v;
}

TEST_CASE("fp8_gemm matches its naive twin bit for bit for every promotion order") {
    uint64_t seed = 100;
    const Fp8Promotion promotions[] = {Fp8Promotion::ScaleProductFirst,
                                       Fp8Promotion::ScaleProductFirstFma,
                                       Fp8Promotion::TritonSequential};
    for (const Shape& s : kShapes) {
        auto xq = random_e4m3(s.m * s.k, seed++);
        auto wq = random_e4m3(s.n * s.k, seed++);
        const size_t kb = ceil_div(s.k, kFp8Block);
        auto xs = random_scales(s.m * kb, seed++);
        auto ws = random_scales(ceil_div(s.n, kFp8Block) * kb, seed++);
        for (Fp8Promotion p : promotions) {
            std::vector<uint16_t> expect(s.m * s.n);
            naive::fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), expect.data(), DType::BF16,
                            s.m, s.n, s.k, p);
            std::vector<float> expect32(s.m * s.n);
            naive::fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), expect32.data(), DType::F32,
                            s.m, s.n, s.k, p);
            for (SimdPath path : kPaths) {
                PathGuard guard(path);
                for (int threads : kThreadCounts) {
                    INFO("shape ", s.m, "x", s.n, "x", s.k, " threads ", threads, " promotion ",
                         static_cast<int>(p));
                    std::vector<uint16_t> got(s.m * s.n);
                    fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), got.data(), DType::BF16,
                             s.m, s.n, s.k, threads, p);
                    CHECK(same_bytes(got, expect));
                    std::vector<float> got32(s.m * s.n);
                    fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), got32.data(), DType::F32,
                             s.m, s.n, s.k, threads, p);
                    CHECK(same_bytes(got32, expect32));
                }
            }
        }
    }
}

void check_dequant(const Shape& s,
                   const std::vector<uint16_t>& x,
                   const std::vector<uint8_t>& wq,
                   const std::vector<float>& ws);

TEST_CASE("gemm_dequant equals weight_dequant followed by the BF16-weight GEMM") {
    uint64_t seed = 300;
    for (const Shape& s : kShapes) {
        auto x = test::random_bf16(s.m * s.k, seed++);
        auto wq = random_e4m3(s.n * s.k, seed++);
        auto ws = random_scales(ceil_div(s.n, kFp8Block) * ceil_div(s.k, kFp8Block), seed++);
        check_dequant(s, x, wq, ws);
    }
}

// E4M3 codes with a normal exponent (the decoder's vector path), with a zero, subnormal or NaN
// code planted every `special_every` bytes (0 = none) so that both paths meet in one row.
std::vector<uint8_t> normal_e4m3(size_t n, uint64_t seed, size_t special_every) {
    test::Rng r(seed);
    std::vector<uint8_t> v(n);
    const uint8_t specials[] = {0x00, 0x80, 0x01, 0x86, 0x07, 0x7F};
    for (size_t i = 0; i < n; ++i) {
        uint8_t b;
        do {
            b = static_cast<uint8_t>(r.next() >> 56);
        } while ((b & 0x78) == 0 || (b & 0x7F) == 0x7F);
        if (special_every != 0 && i % special_every == special_every - 1) {
            b = specials[(i / special_every) % std::size(specials)];
        }
        v[i] = b;
    }
    return v;
}

// Shapes of the small-M path: every M from 1 to 9 and around kGemmSmallMMax, N ragged around the
// 16-row group, K ragged around the 8/4-column steps, the 128 scale block and the 512 chunk.
std::vector<Shape> small_m_shapes() {
    const size_t ns[] = {1, 15, 16, 17, 37, 130};
    const size_t ks[] = {1, 7, 8, 9, 131, 515, 1030};
    std::vector<Shape> out;
    size_t c = 0;
    for (size_t m = 1; m <= 9; ++m)
        out.push_back({m, ns[c % std::size(ns)], ks[c++ % std::size(ks)]});
    for (size_t m = kGemmSmallMMax - 1; m <= kGemmSmallMMax + 1; ++m)
        out.push_back({m, ns[c % std::size(ns)], ks[c++ % std::size(ks)]});
    out.push_back({4, 33, 1030});
    out.push_back({1, 40, 0});
    return out;
}

TEST_CASE("small-M gemm matches its naive twin for M around the path threshold") {
    uint64_t seed = 500;
    for (const Shape& s : small_m_shapes()) {
        auto xf = test::random_f32(s.m * s.k, seed++);
        auto wf = test::random_f32(s.n * s.k, seed++);
        auto xb = test::random_bf16(s.m * s.k, seed++);
        auto wb = test::random_bf16(s.n * s.k, seed++);
        check_gemm<float, float, float>(DType::F32, DType::F32, DType::F32, xf, wf, s);
        check_gemm<uint16_t, uint16_t, uint16_t>(DType::BF16, DType::BF16, DType::BF16, xb, wb, s);
        check_gemm<float, uint16_t, float>(DType::F32, DType::BF16, DType::F32, xf, wb, s);
        check_gemm<uint16_t, float, uint16_t>(DType::BF16, DType::F32, DType::BF16, xb, wf, s);
    }
}

TEST_CASE("small-M gemm keeps infinities, NaN and signed zeros like the twin") {
    // Special values in x and w reach every lane position and every K phase.
    const Shape s{3, 21, 19};
    auto x = test::random_f32(s.m * s.k, 901);
    auto w = test::random_f32(s.n * s.k, 902);
    const float specials[] = {INFINITY, -INFINITY, NAN, -0.0f, 0.0f, 1e38f, -1e38f};
    for (size_t i = 0; i < w.size(); i += 5)
        w[i] = specials[(i / 5) % std::size(specials)];
    for (size_t i = 2; i < x.size(); i += 11)
        x[i] = specials[(i / 11) % std::size(specials)];
    check_gemm<float, float, float>(DType::F32, DType::F32, DType::F32, x, w, s);
    check_gemm<float, float, uint16_t>(DType::F32, DType::F32, DType::BF16, x, w, s);
    // All-negative-zero products: the sums must stay -0 exactly as the twin's.
    std::vector<float> xz(s.m * s.k, -0.0f), wz(s.n * s.k, 1.0f);
    check_gemm<float, float, float>(DType::F32, DType::F32, DType::F32, xz, wz, s);
}

// gemm_dequant against weight_dequant + the naive GEMM, F32 and BF16 output.
void check_dequant(const Shape& s,
                   const std::vector<uint16_t>& x,
                   const std::vector<uint8_t>& wq,
                   const std::vector<float>& ws) {
    std::vector<uint16_t> w(s.n * s.k);
    naive::weight_dequant(wq.data(), ws.data(), w.data(), s.n, s.k);
    std::vector<uint16_t> expect(s.m * s.n);
    std::vector<float> expect32(s.m * s.n);
    naive::gemm(x.data(), DType::BF16, w.data(), DType::BF16, expect.data(), DType::BF16, s.m, s.n,
                s.k);
    naive::gemm(x.data(), DType::BF16, w.data(), DType::BF16, expect32.data(), DType::F32, s.m, s.n,
                s.k);
    for (SimdPath path : kPaths) {
        PathGuard guard(path);
        for (int threads : kThreadCounts) {
            INFO("shape ", s.m, "x", s.n, "x", s.k, " threads ", threads, " path ",
                 active_simd_path_name());
            std::vector<uint16_t> got(s.m * s.n);
            gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), got.data(), DType::BF16, s.m,
                         s.n, s.k, threads);
            CHECK(same_bytes(got, expect));
            std::vector<float> got32(s.m * s.n);
            gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), got32.data(), DType::F32, s.m,
                         s.n, s.k, threads);
            CHECK(same_bytes(got32, expect32));
        }
    }
}

TEST_CASE("small-M gemm_dequant: vector E4M3 decoding equals weight_dequant for every code") {
    // One-hot x picks single weights, so every decoded value reaches the F32 output unmixed:
    // all 256 codes (in rows of the 16-row groups and across the 32-byte decode steps) for
    // scales inside and outside the vector path's range, negative and zero.
    const float scales[] = {1.0f,     0.0123f,   -3.5e-3f, 7.0e-31f, 3.0e29f, 0x1p-100f,
                            0x1p100f, 0x1p-101f, 1e-45f,   0.0f,     -0.0f,   3e38f};
    for (float scale : scales) {
        // Columns 0..31 (one vector step) hold normal codes, every code across the rows; every
        // fifth row has one special code there (scalar step); columns 32..39 (the scalar tail)
        // cycle through all 256 codes.
        const Shape s{1, 256, 40};
        std::vector<uint8_t> normals;
        for (unsigned c = 0; c < 256; ++c) {
            if ((c & 0x78) != 0 && (c & 0x7F) != 0x7F) normals.push_back(static_cast<uint8_t>(c));
        }
        const uint8_t specials[] = {0x00, 0x80, 0x01, 0x87, 0x05, 0xFF};
        std::vector<uint8_t> wq(s.n * s.k);
        for (size_t r = 0; r < s.n; ++r) {
            for (size_t c = 0; c < 32; ++c)
                wq[r * s.k + c] = normals[(r * 33 + c) % normals.size()];
            if (r % 5 == 4) wq[r * s.k + r % 32] = specials[r % std::size(specials)];
            for (size_t c = 32; c < s.k; ++c)
                wq[r * s.k + c] = static_cast<uint8_t>((r * 8 + c) & 0xFF);
        }
        std::vector<float> ws(ceil_div(s.n, kFp8Block) * ceil_div(s.k, kFp8Block), scale);
        for (size_t hot : {size_t{0}, size_t{5}, size_t{31}, size_t{33}, size_t{39}}) {
            INFO("scale ", scale, " hot column ", hot);
            std::vector<uint16_t> x(s.k, 0);
            x[hot] = numerics::bf16_from_f32(1.0f);
            check_dequant(s, x, wq, ws);
        }
    }
}

TEST_CASE("small-M gemm_dequant and fp8_gemm match the twins on mostly-normal codes") {
    uint64_t seed = 700;
    for (const Shape& s : small_m_shapes()) {
        for (size_t every : {size_t{0}, size_t{97}}) {
            auto x = test::random_bf16(s.m * s.k, seed++);
            auto wq = normal_e4m3(s.n * s.k, seed++, every);
            const size_t kb = ceil_div(s.k, kFp8Block);
            auto ws = random_scales(ceil_div(s.n, kFp8Block) * kb, seed++);
            check_dequant(s, x, wq, ws);

            auto xq = normal_e4m3(s.m * s.k, seed++, every);
            auto xs = random_scales(s.m * kb, seed++);
            std::vector<float> expect(s.m * s.n);
            naive::fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), expect.data(), DType::F32,
                            s.m, s.n, s.k);
            for (SimdPath path : kPaths) {
                PathGuard guard(path);
                for (int threads : kThreadCounts) {
                    INFO("fp8 shape ", s.m, "x", s.n, "x", s.k, " threads ", threads);
                    std::vector<float> got(s.m * s.n);
                    fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), got.data(), DType::F32,
                             s.m, s.n, s.k, threads);
                    CHECK(same_bytes(got, expect));
                }
            }
        }
    }
}

TEST_CASE("the small-M and blocked paths give identical bits at the same M") {
    struct LimitGuard {
        explicit LimitGuard(size_t m) : old(set_gemm_small_m_max(m)) {}
        ~LimitGuard() { set_gemm_small_m_max(old); }
        size_t old;
    };
    uint64_t seed = 800;
    for (const Shape& s : {Shape{1, 70, 300}, Shape{6, 33, 129}, Shape{21, 40, 515}}) {
        auto x = test::random_bf16(s.m * s.k, seed++);
        auto wb = test::random_bf16(s.n * s.k, seed++);
        auto wq = normal_e4m3(s.n * s.k, seed++, 61);
        auto ws = random_scales(ceil_div(s.n, kFp8Block) * ceil_div(s.k, kFp8Block), seed++);
        std::vector<float> small(s.m * s.n), blocked(s.m * s.n);
        for (int threads : {1, 3}) {
            INFO("shape ", s.m, "x", s.n, "x", s.k, " threads ", threads);
            {
                LimitGuard g(1000);
                gemm(x.data(), DType::BF16, wb.data(), DType::BF16, small.data(), DType::F32, s.m,
                     s.n, s.k, threads);
            }
            {
                LimitGuard g(0);
                gemm(x.data(), DType::BF16, wb.data(), DType::BF16, blocked.data(), DType::F32, s.m,
                     s.n, s.k, threads);
            }
            CHECK(same_bytes(small, blocked));
            {
                LimitGuard g(1000);
                gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), small.data(), DType::F32,
                             s.m, s.n, s.k, threads);
            }
            {
                LimitGuard g(0);
                gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), blocked.data(),
                             DType::F32, s.m, s.n, s.k, threads);
            }
            CHECK(same_bytes(small, blocked));
        }
    }
    CHECK(set_gemm_small_m_max(kGemmSmallMAuto) == kGemmSmallMAuto);
}

TEST_CASE("fp8_gemm promotes per 128-deep block with the documented formulas") {
    // One output, K = 200: block 0 has k 0..127, block 1 has k 128..199. All operands 1.0
    // (E4M3 0x38) so partial0 = 128, partial1 = 72 exactly.
    const size_t k = 200;
    std::vector<uint8_t> xq(k, 0x38), wq(k, 0x38);
    CHECK(numerics::f32_from_e4m3(0x38) == 1.0f);
    std::vector<float> xs = {0.1f, 3.0f};
    std::vector<float> ws = {0.7f, 1.0f / 3.0f};
    float y = 0;
    fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), &y, DType::F32, 1, 1, k, 1,
             Fp8Promotion::ScaleProductFirst);
    float expect = 0.0f;
    expect = expect + 128.0f * (0.1f * 0.7f);
    expect = expect + 72.0f * (3.0f * (1.0f / 3.0f));
    CHECK(std::bit_cast<uint32_t>(y) == std::bit_cast<uint32_t>(expect));

    fp8_gemm(xq.data(), xs.data(), wq.data(), ws.data(), &y, DType::F32, 1, 1, k, 1,
             Fp8Promotion::TritonSequential);
    float triton = 0.0f;
    triton = triton + (128.0f * 0.1f) * 0.7f;
    triton = triton + (72.0f * 3.0f) * (1.0f / 3.0f);
    CHECK(std::bit_cast<uint32_t>(y) == std::bit_cast<uint32_t>(triton));
}

}  // namespace
}  // namespace dssim::kernels
