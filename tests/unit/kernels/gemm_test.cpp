// GEMM and FP8 GEMM: the blocked/SIMD/threaded kernels agree bit for bit with their naive twins
// for every thread count and SIMD path, and the twins compute the documented order.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
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

// Ragged shapes around every blocking boundary: micro-tile (4x8 / 4x16), K block 256, row block
// 64, column block 512, plus M = 1 decode shapes.
const Shape kShapes[] = {{1, 1, 1},   {3, 5, 7},     {17, 129, 257}, {1, 300, 520}, {1, 17, 1},
                         {2, 1, 300}, {65, 33, 513}, {9, 530, 260},  {68, 64, 128}, {5, 16, 0}};

const SimdPath kPaths[] = {SimdPath::Baseline, SimdPath::Auto};

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

TEST_CASE("gemm_dequant equals weight_dequant followed by the BF16-weight GEMM") {
    uint64_t seed = 300;
    for (const Shape& s : kShapes) {
        auto x = test::random_bf16(s.m * s.k, seed++);
        auto wq = random_e4m3(s.n * s.k, seed++);
        auto ws = random_scales(ceil_div(s.n, kFp8Block) * ceil_div(s.k, kFp8Block), seed++);
        std::vector<uint16_t> w(s.n * s.k);
        naive::weight_dequant(wq.data(), ws.data(), w.data(), s.n, s.k);
        std::vector<uint16_t> expect(s.m * s.n);
        naive::gemm(x.data(), DType::BF16, w.data(), DType::BF16, expect.data(), DType::BF16, s.m,
                    s.n, s.k);
        for (SimdPath path : kPaths) {
            PathGuard guard(path);
            for (int threads : kThreadCounts) {
                INFO("shape ", s.m, "x", s.n, "x", s.k, " threads ", threads);
                std::vector<uint16_t> got(s.m * s.n);
                gemm_dequant(x.data(), DType::BF16, wq.data(), ws.data(), got.data(), DType::BF16,
                             s.m, s.n, s.k, threads);
                CHECK(same_bytes(got, expect));
            }
        }
    }
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
