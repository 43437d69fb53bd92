// RMSNorm, softmax, SiLU, SwiGLU, MoE combine: twins bit for bit across thread counts, and the
// documented behaviour on hand-made rows (masking, variants, known values).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "dssim/kernels/elementwise.h"
#include "dssim/kernels/naive.h"
#include "test_util.h"

namespace dssim::kernels {
namespace {

using numerics::bf16_from_f32;
using numerics::f32_from_bf16;
using test::kThreadCounts;
using test::same_bytes;

TEST_CASE("rms_norm matches its naive twin for both variants and both input types") {
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {17, 129}, {2, 7168}, {9, 512}};
    uint64_t seed = 3;
    bool variants_differ = false;
    for (auto [rows, dim] : shapes) {
        auto xb = test::random_bf16(rows * dim, seed++, 6);
        auto w = test::random_bf16(dim, seed++, 2);
        std::vector<float> xf(xb.size());
        for (size_t i = 0; i < xb.size(); ++i)
            xf[i] = f32_from_bf16(xb[i]);
        auto xf_raw = test::random_f32(rows * dim, seed++, 6);  // not BF16-representable
        std::vector<uint16_t> torch_out;
        for (RmsNormVariant v : {RmsNormVariant::Torch24, RmsNormVariant::Fp32Weight}) {
            std::vector<uint16_t> expect(rows * dim), expect_raw(rows * dim);
            naive::rms_norm(xf.data(), w.data(), expect.data(), rows, dim, 1e-6f, v);
            naive::rms_norm(xf_raw.data(), w.data(), expect_raw.data(), rows, dim, 1e-6f, v);
            for (int threads : kThreadCounts) {
                std::vector<uint16_t> got(rows * dim), got_raw(rows * dim);
                rms_norm(xb.data(), w.data(), got.data(), rows, dim, 1e-6f, threads, v);
                rms_norm(xf_raw.data(), w.data(), got_raw.data(), rows, dim, 1e-6f, threads, v);
                CHECK(same_bytes(got, expect));
                CHECK(same_bytes(got_raw, expect_raw));
            }
            if (v == RmsNormVariant::Torch24) {
                torch_out = expect;
            } else {
                variants_differ = variants_differ || !same_bytes(torch_out, expect);
            }
        }
    }
    CHECK(variants_differ);  // the two rounding schemes are really different
}

TEST_CASE("rms_norm known values and in-place use") {
    // x = [3, 4]: mean square 12.5, rrms = 1/sqrt(12.5 + eps); weight 2.
    std::vector<uint16_t> x = {bf16_from_f32(3.0f), bf16_from_f32(4.0f)};
    std::vector<uint16_t> w = {bf16_from_f32(2.0f), bf16_from_f32(2.0f)};
    const float rrms = 1.0f / std::sqrt(12.5f + 1e-6f);
    rms_norm(x.data(), w.data(), x.data(), 1, 2, 1e-6f, 1);
    CHECK(x[0] == bf16_from_f32(f32_from_bf16(bf16_from_f32(3.0f * rrms)) * 2.0f));
    CHECK(x[1] == bf16_from_f32(f32_from_bf16(bf16_from_f32(4.0f * rrms)) * 2.0f));
}

TEST_CASE("softmax matches its naive twin; masking and degenerate rows") {
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {17, 129}, {4, 4097}};
    uint64_t seed = 21;
    for (auto [rows, cols] : shapes) {
        auto x = test::random_f32(rows * cols, seed++, 4);
        for (size_t i = 0; i < x.size(); i += 3)
            x[i] = -INFINITY;  // causal-style masking
        std::vector<float> expect(rows * cols);
        naive::softmax(x.data(), expect.data(), rows, cols);
        for (int threads : kThreadCounts) {
            std::vector<float> got(rows * cols);
            softmax(x.data(), got.data(), rows, cols, threads);
            CHECK(same_bytes(got, expect));
            std::vector<uint16_t> got_bf16(rows * cols);
            softmax(x.data(), got_bf16.data(), rows, cols, threads);
            bool ok = true;
            for (size_t i = 0; i < got.size(); ++i)
                ok = ok && got_bf16[i] == bf16_from_f32(got[i]);
            CHECK(ok);
        }
    }
    std::vector<float> row = {0.0f, -INFINITY, 0.0f, -INFINITY};
    softmax(row.data(), row.data(), 1, 4, 1);
    CHECK(row == std::vector<float>{0.5f, 0.0f, 0.5f, 0.0f});
    std::vector<float> masked = {-INFINITY, -INFINITY};
    softmax(masked.data(), masked.data(), 1, 2, 1);
    CHECK(masked == std::vector<float>{0.0f, 0.0f});
    std::vector<float> nan_row = {1.0f, NAN};
    softmax(nan_row.data(), nan_row.data(), 1, 2, 1);
    CHECK(std::isnan(nan_row[0]));
}

TEST_CASE("silu and swiglu match their naive twins and the demo's rounding points") {
    const size_t n = 10007;  // spans several element chunks
    auto a = test::random_bf16(n, 31, 5);
    auto b = test::random_bf16(n, 32, 5);
    std::vector<uint16_t> expect(n);
    naive::silu(a.data(), expect.data(), n);
    for (int threads : kThreadCounts) {
        std::vector<uint16_t> got(n);
        silu(a.data(), got.data(), n, threads);
        CHECK(same_bytes(got, expect));
    }
    bool variants_differ = false;
    std::vector<uint16_t> bf16_variant;
    for (SwigluVariant v : {SwigluVariant::Bf16Intermediate, SwigluVariant::Fp32Intermediate}) {
        naive::swiglu(a.data(), b.data(), expect.data(), n, v);
        for (int threads : kThreadCounts) {
            std::vector<uint16_t> got(n);
            swiglu(a.data(), b.data(), got.data(), n, threads, v);
            CHECK(same_bytes(got, expect));
        }
        if (v == SwigluVariant::Bf16Intermediate) {
            bf16_variant = expect;
        } else {
            variants_differ = !same_bytes(bf16_variant, expect);
        }
    }
    CHECK(variants_differ);

    uint16_t one = bf16_from_f32(1.0f), zero = 0, out = 0;
    silu(&one, &out, 1, 1);
    CHECK(out == bf16_from_f32(1.0f / (1.0f + std::exp(-1.0f))));  // 0.731 -> BF16
    silu(&zero, &out, 1, 1);
    CHECK(out == 0);
    uint16_t two = bf16_from_f32(2.0f);
    swiglu(&one, &two, &out, 1, 1);
    CHECK(out == bf16_from_f32(f32_from_bf16(bf16_from_f32(1.0f / (1.0f + std::exp(-1.0f)))) * 2));
}

TEST_CASE("moe_weighted_sum matches its naive twin and sums experts in ascending index") {
    uint64_t seed = 900;
    for (size_t tokens : {size_t{1}, size_t{7}, size_t{37}}) {
        for (size_t k : {size_t{1}, size_t{3}, size_t{8}}) {
            const size_t dim = 131;
            auto out = test::random_bf16(tokens * k * dim, seed++, 30);
            // Specials: NaN, infinities, the largest finite (products and sums overflow).
            const uint16_t specials[] = {0x7FC1, 0xFF80, 0x7F80, 0x7F7F, 0xFF7F, 0x8000};
            for (size_t i = 5; i < out.size(); i += 97)
                out[i] = specials[(i / 97) % std::size(specials)];
            auto w = test::random_bf16(tokens * k, seed++, 3);
            test::Rng r(seed++);
            std::vector<int32_t> idx(tokens * k);
            for (auto& e : idx)
                e = static_cast<int32_t>(r.next() % 16);  // repeats too: ties go by slot
            std::vector<uint16_t> expect(tokens * dim);
            naive::moe_weighted_sum(out.data(), w.data(), idx.data(), expect.data(), tokens, k,
                                    dim);
            for (int threads : kThreadCounts) {
                INFO("tokens ", tokens, " k ", k, " threads ", threads);
                std::vector<uint16_t> got(tokens * dim, 1);
                moe_weighted_sum(out.data(), w.data(), idx.data(), got.data(), tokens, k, dim,
                                 threads);
                CHECK(same_bytes(got, expect));
            }
        }
    }
    // Order matters in BF16: 256 + 1 + 1 gives 256 (each 1 is lost), 1 + 1 + 256 gives 258.
    const uint16_t big = bf16_from_f32(256.0f), one = bf16_from_f32(1.0f);
    const uint16_t outs[] = {big, one, one};
    const uint16_t wts[] = {one, one, one};
    uint16_t y = 0;
    const int32_t big_first[] = {2, 5, 9};
    moe_weighted_sum(outs, wts, big_first, &y, 1, 3, 1, 1);
    CHECK(f32_from_bf16(y) == 256.0f);
    const int32_t big_last[] = {9, 2, 5};
    moe_weighted_sum(outs, wts, big_last, &y, 1, 3, 1, 1);
    CHECK(f32_from_bf16(y) == 258.0f);
}

}  // namespace
}  // namespace dssim::kernels
