// act_quant and weight_dequant: twins bit for bit across thread counts, plus the documented
// scale formula on hand-made tiles.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/kernels/naive.h"
#include "dssim/kernels/quant.h"
#include "test_util.h"

namespace dssim::kernels {
namespace {

using numerics::f32_from_bf16;
using numerics::f32_from_e4m3;
using test::kThreadCounts;
using test::same_bytes;

TEST_CASE("act_quant matches its naive twin for BF16 and FP32 input, ragged tiles") {
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {5, 128}, {4, 130}, {17, 257}, {1, 7168}};
    uint64_t seed = 7;
    for (auto [rows, cols] : shapes) {
        auto xb = test::random_bf16(rows * cols, seed++, 20);
        std::vector<float> xf(xb.size());
        for (size_t i = 0; i < xb.size(); ++i)
            xf[i] = f32_from_bf16(xb[i]);
        const size_t tiles = ceil_div(cols, kFp8Block);
        for (ScaleFormat fmt : {ScaleFormat::F32, ScaleFormat::UE8M0}) {
            std::vector<uint8_t> q0(rows * cols);
            std::vector<float> s0(rows * tiles);
            naive::act_quant(xf.data(), q0.data(), s0.data(), rows, cols, fmt);
            for (int threads : kThreadCounts) {
                INFO("rows ", rows, " cols ", cols, " threads ", threads);
                std::vector<uint8_t> q1(rows * cols), q2(rows * cols);
                std::vector<float> s1(rows * tiles), s2(rows * tiles);
                act_quant(xb.data(), q1.data(), s1.data(), rows, cols, fmt, threads);
                act_quant(xf.data(), q2.data(), s2.data(), rows, cols, fmt, threads);
                CHECK(same_bytes(q1, q0));
                CHECK(same_bytes(s1, s0));
                CHECK(same_bytes(q2, q0));
                CHECK(same_bytes(s2, s0));
            }
            // Dequantised values are within E4M3's half-ulp (2^-4 relative) or its subnormal step.
            for (size_t r = 0; r < rows; ++r) {
                for (size_t c = 0; c < cols; ++c) {
                    const float s = s0[r * tiles + c / kFp8Block];
                    const float back = f32_from_e4m3(q0[r * cols + c]) * s;
                    const float x = xf[r * cols + c];
                    CHECK(std::fabs(back - x) <= std::fabs(x) * 0.0625f + s * 0.001953125f);
                }
            }
        }
    }
}

TEST_CASE("act_quant scale formula: amax/448, floor 1e-4, UE8M0 rounds up to a power of two") {
    // Tile 0: amax 448 -> s = 1 and q = e4m3(x). Tile 1 (ragged, 2 elements): all zero ->
    // s = 1e-4f / 448. Row length 130.
    std::vector<float> x(130, 0.0f);
    x[0] = 448.0f;
    x[1] = -3.3f;
    std::vector<uint8_t> q(130);
    std::vector<float> s(2);
    act_quant(x.data(), q.data(), s.data(), 1, 130, ScaleFormat::F32, 1);
    CHECK(s[0] == 1.0f);
    CHECK(s[1] == 1e-4f / 448.0f);
    CHECK(q[0] == numerics::e4m3_from_f32(448.0f));
    CHECK(q[1] == numerics::e4m3_from_f32(-3.3f));
    CHECK(q[129] == 0);

    x[0] = 300.0f;  // 300/448 = 0.67 -> UE8M0 scale 1.0
    act_quant(x.data(), q.data(), s.data(), 1, 130, ScaleFormat::UE8M0, 2);
    CHECK(s[0] == 1.0f);
    CHECK(s[1] == numerics::pow2_ceil(1e-4f / 448.0f));
    CHECK((std::bit_cast<uint32_t>(s[1]) & 0x7FFFFFu) == 0u);  // a power of two

    x[5] = NAN;
    CHECK_THROWS_AS(act_quant(x.data(), q.data(), s.data(), 1, 130, ScaleFormat::F32, 1),
                    InputError);
}

TEST_CASE("weight_dequant: one FP32 multiply by the block scale, one RNE to BF16") {
    const size_t n = 131, k = 260;  // ragged in both directions: 2 x 3 scale blocks
    test::Rng rng(11);
    std::vector<uint8_t> wq(n * k);
    for (auto& b : wq) {
        do {
            b = static_cast<uint8_t>(rng.next() >> 56);
        } while ((b & 0x7F) == 0x7F);
    }
    std::vector<float> scale(2 * 3);
    for (auto& v : scale)
        v = std::fabs(rng.value(8)) + 1e-6f;
    std::vector<uint16_t> expect(n * k);
    naive::weight_dequant(wq.data(), scale.data(), expect.data(), n, k);
    for (int threads : kThreadCounts) {
        std::vector<uint16_t> got(n * k);
        weight_dequant(wq.data(), scale.data(), got.data(), n, k, threads);
        CHECK(same_bytes(got, expect));
        std::vector<float> got32(n * k);
        weight_dequant_f32(wq.data(), scale.data(), got32.data(), n, k, threads);
        bool ok = true;
        for (size_t i = 0; i < n * k; ++i) {
            ok = ok && numerics::bf16_from_f32(got32[i]) == expect[i];
        }
        CHECK(ok);
    }
    // Element (130, 259) uses block (1, 2).
    const size_t last = 130 * k + 259;
    CHECK(expect[last] == numerics::bf16_from_f32(f32_from_e4m3(wq[last]) * scale[1 * 3 + 2]));
    // 1.0 (0x38) times 0.5 is exactly 0.5 = BF16 0x3F00.
    uint8_t one = 0x38;
    float half = 0.5f;
    uint16_t out = 0;
    weight_dequant(&one, &half, &out, 1, 1, 1);
    CHECK(out == 0x3F00);
}

}  // namespace
}  // namespace dssim::kernels
