// RoPE/YaRN (frequencies, correction range, rotation, softmax scale), top-k and embedding.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "dssim/base/error.h"
#include "dssim/kernels/naive.h"
#include "dssim/kernels/rope.h"
#include "dssim/kernels/select.h"
#include "test_util.h"

namespace dssim::kernels {
namespace {

using numerics::bf16_from_f32;
using test::kThreadCounts;
using test::same_bytes;

TEST_CASE("YaRN correction range of DeepSeek-V3 671B is [10, 23]") {
    RopeConfig c;  // 671B: rope dim 64, theta 1e4, original 4096, beta 32 / 1
    YarnRange r = yarn_correction_range(c);
    CHECK(r.low == 10);
    CHECK(r.high == 23);
}

TEST_CASE("rope_frequencies: plain below the YaRN threshold, blended ramp above") {
    RopeConfig c;
    auto f = rope_frequencies(c);
    REQUIRE(f.size() == 32);
    c.max_seq_len = 4096;  // not > original_seq_len: plain RoPE
    auto plain = rope_frequencies(c);
    CHECK(plain[0] == 1.0f);
    for (size_t i = 0; i < 32; ++i) {
        CHECK(plain[i] == 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / 64.0f));
    }
    for (size_t i = 0; i <= 10; ++i)
        CHECK(f[i] == plain[i]);  // ramp 0: unchanged
    for (size_t i = 23; i < 32; ++i)
        CHECK(f[i] == plain[i] / 40.0f);  // ramp 1: divided
    for (size_t i = 11; i < 23; ++i) {    // blended, in between
        CHECK(f[i] < plain[i]);
        CHECK(f[i] > plain[i] / 40.0f);
    }
    c.rope_dim = 7;
    CHECK_THROWS_AS(rope_frequencies(c), InputError);
}

TEST_CASE("apply_rope matches its naive twin with strided heads") {
    RopeConfig c;
    const size_t tokens = 13, heads = 3, head_dim = 192, rope_dim = 64;
    const size_t token_stride = heads * head_dim;
    auto base = test::random_bf16(tokens * token_stride, 41, 3);
    std::vector<int64_t> pos(tokens);
    for (size_t t = 0; t < tokens; ++t)
        pos[t] = static_cast<int64_t>(t * 997 % 16384);
    pos[0] = 0;
    std::vector<uint16_t> expect = base;
    // rope part of each head is its last 64 elements (q = [nope 128 | rope 64])
    naive::apply_rope(expect.data() + 128, pos.data(), tokens, heads, token_stride, head_dim,
                      rope_dim, c);
    auto freqs = rope_frequencies(c);
    for (int threads : kThreadCounts) {
        std::vector<uint16_t> got = base;
        apply_rope(got.data() + 128, pos.data(), tokens, heads, token_stride, head_dim, rope_dim,
                   freqs.data(), threads);
        CHECK(same_bytes(got, expect));
    }
    // Position 0 rotates by angle 0: the values are unchanged. The nope part is never touched.
    for (size_t i = 0; i < token_stride; ++i)
        CHECK(expect[i] == base[i]);
    for (size_t t = 1; t < tokens; ++t) {
        for (size_t j = 0; j < 128; ++j)
            CHECK(expect[t * token_stride + j] == base[t * token_stride + j]);
    }
    CHECK(!same_bytes(expect, base));
}

TEST_CASE("attention softmax scale with the YaRN mscale") {
    RopeConfig c;
    const double s = attention_softmax_scale(192, 1.0, c);
    CHECK(s == doctest::Approx(0.1352337788608801).epsilon(1e-14));
    CHECK(static_cast<float>(s) == 0.13523377478122711f);
    c.max_seq_len = 4096;
    CHECK(attention_softmax_scale(192, 1.0, c) == std::pow(192.0, -0.5));
}

TEST_CASE("topk: descending, ties to the lower index, NaN first; matches the naive sort") {
    std::vector<float> row = {1.0f, 3.0f, 3.0f, 2.0f, -0.0f, 0.0f};
    std::vector<int64_t> idx(4);
    std::vector<float> val(4);
    topk(row.data(), 1, 6, 4, idx.data(), val.data(), 1);
    CHECK(idx == std::vector<int64_t>{1, 2, 3, 0});
    CHECK(val == std::vector<float>{3.0f, 3.0f, 2.0f, 1.0f});
    std::vector<float> z = {-0.0f, 0.0f, -INFINITY, NAN};
    std::vector<int64_t> zi(4);
    topk(z.data(), 1, 4, 4, zi.data(), nullptr, 1);
    CHECK(zi == std::vector<int64_t>{3, 0, 1, 2});

    // Many ties: values drawn from 5 levels, 256 columns (the MoE router shape), k = 8.
    const size_t rows = 37, cols = 256, k = 8;
    test::Rng rng(5);
    std::vector<float> s(rows * cols);
    for (auto& v : s)
        v = static_cast<float>(rng.next() % 5) * 0.25f;
    s[7] = NAN;
    std::vector<int64_t> expect(rows * k);
    std::vector<float> expect_v(rows * k);
    naive::topk(s.data(), rows, cols, k, expect.data(), expect_v.data());
    for (int threads : kThreadCounts) {
        std::vector<int64_t> got(rows * k);
        std::vector<float> got_v(rows * k);
        topk(s.data(), rows, cols, k, got.data(), got_v.data(), threads);
        CHECK(got == expect);
        CHECK(same_bytes(got_v, expect_v));
    }
    CHECK(expect[0] == 7);
    CHECK_THROWS_AS(topk(row.data(), 1, 6, 7, idx.data(), nullptr, 1), InputError);
}

TEST_CASE("embedding gathers BF16 rows and rejects out-of-range ids without writing") {
    const size_t vocab = 11, dim = 5;
    auto table = test::random_bf16(vocab * dim, 9);
    std::vector<int64_t> ids = {3, 0, 10, 3};
    for (int threads : kThreadCounts) {
        std::vector<uint16_t> out(ids.size() * dim);
        embedding(table.data(), vocab, dim, ids.data(), ids.size(), out.data(), threads);
        for (size_t t = 0; t < ids.size(); ++t) {
            for (size_t j = 0; j < dim; ++j) {
                CHECK(out[t * dim + j] == table[static_cast<size_t>(ids[t]) * dim + j]);
            }
        }
    }
    std::vector<int64_t> bad = {1, 11};
    std::vector<uint16_t> out(2 * dim, 0xABCD);
    CHECK_THROWS_WITH_AS(
        embedding(table.data(), vocab, dim, bad.data(), 2, out.data(), 1, "embed.weight"),
        doctest::Contains("embed.weight"), InputError);
    CHECK(out[0] == 0xABCD);
}

}  // namespace
}  // namespace dssim::kernels
