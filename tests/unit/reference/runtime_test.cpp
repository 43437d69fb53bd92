// End-to-end properties of the reference runtime on the tiny synthetic checkpoints.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dssim/base/error.h"
#include "dssim/kernels/gemm.h"
#include "dssim/numerics/formats.h"
#include "dssim/reference.h"
#include "fixtures.h"

namespace dssim::reference {
namespace {

using test::checkpoint_dir;

const std::vector<std::vector<int64_t>> kPrompts = {{5, 17, 300, 2, 499, 41, 7}, {12, 8}, {450}};

GenerateResult run(const std::filesystem::path& dir,
                   RuntimeOptions ro,
                   GenerateOptions go,
                   const std::vector<std::vector<int64_t>>& prompts = kPrompts,
                   TensorSink* sink = nullptr) {
    Runtime rt(dir, ro);
    return rt.generate(prompts, go, sink);
}

// Logits row of (sequence, position) in a result; nullptr if absent.
const float* find_row(const GenerateResult& r, int64_t seq, int64_t pos, size_t vocab) {
    for (const auto& s : r.steps) {
        for (size_t i = 0; i < s.rows(); ++i) {
            if (s.sequence[i] == seq && s.position[i] == pos) return s.logits.data() + i * vocab;
        }
    }
    return nullptr;
}

struct Variant {
    const char* model;
    NumericsMode mode;
    models::AttentionMode attention;
    bool mtp;
};

TEST_CASE("logits digest is identical for --threads 1, 2, 3, 7 and across runs") {
    const Variant variants[] = {
        {"deepseek-tiny", NumericsMode::Demo, models::AttentionMode::Absorbed, false},
        {"deepseek-tiny", NumericsMode::Demo, models::AttentionMode::Naive, false},
        {"deepseek-tiny", NumericsMode::Fp8, models::AttentionMode::Absorbed, true},
        {"deepseek-tiny-v2lite", NumericsMode::Demo, models::AttentionMode::Absorbed, false},
    };
    for (const auto& v : variants) {
        CAPTURE(std::string(v.model));
        CAPTURE(static_cast<int>(v.mode));
        CAPTURE(static_cast<int>(v.attention));
        const auto dir = checkpoint_dir(v.model, 1);
        GenerateOptions go;
        go.max_new_tokens = 4;
        go.mtp = v.mtp;
        std::string first;
        std::vector<std::vector<int64_t>> tokens;
        for (int threads : {1, 2, 3, 7, 1}) {
            RuntimeOptions ro;
            ro.mode = v.mode;
            ro.attention = v.attention;
            ro.threads = threads;
            const GenerateResult r = run(dir, ro, go);
            CHECK(r.logits_sha256.size() == 64);
            if (first.empty()) {
                first = r.logits_sha256;
                tokens = r.generated;
            }
            CHECK(r.logits_sha256 == first);
            CHECK(r.generated == tokens);
        }
    }
}

TEST_CASE("decode with the KV cache equals the prefill of the longer prompt, bit for bit") {
    for (auto attention : {models::AttentionMode::Absorbed, models::AttentionMode::Naive}) {
        for (auto mode : {NumericsMode::Demo, NumericsMode::Fp8}) {
            const auto dir = checkpoint_dir("deepseek-tiny", 1);
            RuntimeOptions ro;
            ro.attention = attention;
            ro.mode = mode;
            ro.threads = 2;
            GenerateOptions go;
            go.max_new_tokens = 5;
            const GenerateResult dec = run(dir, ro, go);
            // Prefill each prompt extended by its generated tokens (all but the last).
            std::vector<std::vector<int64_t>> longer = kPrompts;
            for (size_t s = 0; s < longer.size(); ++s) {
                longer[s].insert(longer[s].end(), dec.generated[s].begin(),
                                 dec.generated[s].end() - 1);
            }
            GenerateOptions pre;
            const GenerateResult full = run(dir, ro, pre, longer);
            REQUIRE(full.steps.size() == 1);
            const auto vocab = static_cast<size_t>(Runtime(dir, ro).config().vocab_size);
            size_t compared = 0;
            for (size_t s = 0; s < longer.size(); ++s) {
                for (size_t p = 0; p < longer[s].size(); ++p) {
                    const float* a =
                        find_row(dec, static_cast<int64_t>(s), static_cast<int64_t>(p), vocab);
                    const float* b =
                        find_row(full, static_cast<int64_t>(s), static_cast<int64_t>(p), vocab);
                    REQUIRE(a != nullptr);
                    REQUIRE(b != nullptr);
                    CHECK(std::memcmp(a, b, vocab * sizeof(float)) == 0);
                    ++compared;
                }
            }
            CHECK(compared == 10 + 3 * 4);
        }
    }
}

TEST_CASE("a sequence gives the same bits alone and inside a batch") {
    const auto dir = checkpoint_dir("deepseek-tiny", 1);
    RuntimeOptions ro;
    ro.threads = 3;
    GenerateOptions go;
    go.max_new_tokens = 3;
    const GenerateResult batch = run(dir, ro, go);
    const GenerateResult alone = run(dir, ro, go, {kPrompts[1]});
    CHECK(alone.generated[0] == batch.generated[1]);
    const size_t vocab = 1024;
    for (int64_t p = 0; p < 4; ++p) {
        const float* a = find_row(alone, 0, p, vocab);
        const float* b = find_row(batch, 1, p, vocab);
        REQUIRE(a != nullptr);
        REQUIRE(b != nullptr);
        CHECK(std::memcmp(a, b, vocab * sizeof(float)) == 0);
    }
}

double relative_l2(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
    REQUIRE(a.size() == b.size());
    double num = 0, den = 0;
    for (size_t i = 0; i + 1 < a.size(); i += 2) {
        uint16_t x = 0, y = 0;
        std::memcpy(&x, &a[i], 2);
        std::memcpy(&y, &b[i], 2);
        const double fx = numerics::f32_from_bf16(x), fy = numerics::f32_from_bf16(y);
        num += (fx - fy) * (fx - fy);
        den += fx * fx;
    }
    return std::sqrt(num / den);
}

// Tolerance of absorbed vs naive MLA (docs/numerics.md, "Runtime"). The two forms round
// different intermediates to BF16 (q_nope.W_UK and the latent output vs k_nope and v), each a
// relative error of at most 2^-9, a handful per output. Given the same layer input, the
// attention output must agree to a relative L2 error of 2^-6 (checked on layer 0, the only
// layer whose input is identical in both runs). End to end the MoE gate is discontinuous (a
// 0.5% change can swap an expert), so the logits are only required to point the same way:
// cosine similarity >= 0.9 on every row.
TEST_CASE("absorbed and naive MLA agree within the documented tolerance") {
    for (const char* model : {"deepseek-tiny", "deepseek-tiny-v2lite"}) {
        CAPTURE(std::string(model));
        const auto dir = checkpoint_dir(model, 1);
        RuntimeOptions ro;
        ro.threads = 2;
        GenerateOptions go;  // prefill only: both see the same tokens
        test::RecordingSink sa("layers.0.attn.wo"), sn("layers.0.attn.wo");
        const GenerateResult a = run(dir, ro, go, kPrompts, &sa);
        ro.attention = models::AttentionMode::Naive;
        const GenerateResult n = run(dir, ro, go, kPrompts, &sn);
        REQUIRE(a.steps.size() == 1);
        CHECK(a.logits_sha256 != n.logits_sha256);  // really two different computations
        const double attn_err = relative_l2(sa.tensors.at("step0/layers.0.attn.wo").bytes,
                                            sn.tensors.at("step0/layers.0.attn.wo").bytes);
        const auto& la = a.steps[0].logits;
        const auto& ln = n.steps[0].logits;
        REQUIRE(la.size() == ln.size());
        const size_t rows = a.steps[0].rows(), vocab = la.size() / rows;
        double worst_cos = 1;
        for (size_t r = 0; r < rows; ++r) {
            double xy = 0, xx = 0, yy = 0;
            for (size_t v = 0; v < vocab; ++v) {
                const double x = la[r * vocab + v], y = ln[r * vocab + v];
                xy += x * y;
                xx += x * x;
                yy += y * y;
            }
            worst_cos = std::min(worst_cos, xy / std::sqrt(xx * yy));
        }
        MESSAGE(model << ": layer-0 attention relative L2 error " << attn_err
                      << ", worst logits cosine " << worst_cos);
        CHECK(attn_err > 0.0);
        CHECK(attn_err <= 1.0 / 64);
        CHECK(worst_cos >= 0.9);
    }
}

TEST_CASE("MTP speculative decoding gives exactly the greedy tokens") {
    const auto dir = checkpoint_dir("deepseek-tiny", 1);
    for (double temperature : {0.0, 0.7}) {
        RuntimeOptions ro;
        ro.threads = 2;
        GenerateOptions go;
        go.max_new_tokens = 6;
        go.temperature = temperature;
        go.seed = 11;
        const GenerateResult plain = run(dir, ro, go);
        go.mtp = true;
        const GenerateResult spec = run(dir, ro, go);
        CHECK(spec.generated == plain.generated);
        CHECK(spec.mtp_drafted > 0);
        CHECK(spec.mtp_accepted <= spec.mtp_drafted);
    }
}

TEST_CASE("MTP with every draft accepted: same tokens and same hidden states as greedy") {
    // Zero final norms make every logit 0: the main model and the MTP module both choose
    // token 0, so every draft is accepted and the two-row verification path runs each step.
    namespace fs = std::filesystem;
    const auto src = checkpoint_dir("deepseek-tiny", 2);
    const fs::path dir = src.string() + "-zero-norm";
    if (!fs::exists(dir)) {
        fs::create_directories(dir);
        for (const auto& e : fs::directory_iterator(src))
            fs::copy_file(e.path(), dir / e.path().filename());
        test::zero_tensor(dir, "model.norm.weight");
        test::zero_tensor(dir, "model.layers.4.shared_head.norm.weight");
    }
    RuntimeOptions ro;
    ro.threads = 2;
    GenerateOptions go;
    go.max_new_tokens = 7;
    test::RecordingSink plain_sink("layers.3.ffn_residual"), spec_sink("layers.3.ffn_residual");
    const GenerateResult plain = run(dir, ro, go, kPrompts, &plain_sink);
    go.mtp = true;
    const GenerateResult spec = run(dir, ro, go, kPrompts, &spec_sink);
    CHECK(spec.generated == plain.generated);
    CHECK(spec.mtp_drafted == 9);  // 3 sequences x 3 two-token steps (1 + 2 + 2 + 2 = 7)
    CHECK(spec.mtp_accepted == spec.mtp_drafted);
    CHECK(spec.steps.size() < plain.steps.size());
    // The last layer's output of every (sequence, position) is identical in both runs.
    auto rows_by_position = [](const GenerateResult& r, const test::RecordingSink& sink) {
        std::map<std::pair<int64_t, int64_t>, std::vector<unsigned char>> m;
        for (const auto& s : r.steps) {
            const auto& t =
                sink.tensors.at("step" + std::to_string(s.step) + "/layers.3.ffn_residual");
            const size_t row = t.bytes.size() / s.rows();
            for (size_t i = 0; i < s.rows(); ++i) {
                m[{s.sequence[i], s.position[i]}].assign(
                    t.bytes.begin() + static_cast<long>(i * row),
                    t.bytes.begin() + static_cast<long>((i + 1) * row));
            }
        }
        return m;
    };
    const auto a = rows_by_position(plain, plain_sink);
    const auto b = rows_by_position(spec, spec_sink);
    size_t same = 0;
    for (const auto& [key, bytes] : a) {
        auto it = b.find(key);
        REQUIRE(it != b.end());
        same += it->second == bytes;
    }
    CHECK(same == a.size());
    CHECK(a.size() == 10 + 3 * 6);
}

TEST_CASE("tensor sink receives the graph's tensor names per step, only when wanted") {
    const auto dir = checkpoint_dir("deepseek-tiny", 1);
    RuntimeOptions ro;
    GenerateOptions go;
    go.max_new_tokens = 2;
    test::RecordingSink all;
    (void)run(dir, ro, go, kPrompts, &all);
    for (const char* name : {"step0/embed", "step0/layers.0.attn.wkv_a", "step0/layers.0.attn.core",
                             "step0/layers.0.mlp.w2", "step0/layers.1.moe.gate.indices",
                             "step0/layers.1.moe.experts.w1", "step0/layers.3.ffn_residual",
                             "step0/norm", "step0/head", "step0/sampling", "step1/head"}) {
        CAPTURE(name);
        CHECK(all.tensors.count(name) == 1);
    }
    const auto& head = all.tensors.at("step0/head");
    CHECK(head.dtype == numerics::DType::BF16);
    CHECK(head.shape == std::vector<int64_t>{10, 1024});
    CHECK(all.tensors.at("step1/head").shape == std::vector<int64_t>{3, 1024});
    CHECK(all.tensors.at("step0/layers.1.moe.gate.indices").dtype == numerics::DType::I32);
    CHECK(all.order.front() == "step0/embed");
    test::RecordingSink only("/head");
    (void)run(dir, ro, go, kPrompts, &only);
    CHECK(only.tensors.size() == 2);
}

TEST_CASE("resident FP8 weights read through interleaved copies give the streamed run's bits") {
    // Resident weights go to the kernels with their interleaved copies (AVX-512 path), including
    // the absorbed MLA's per-head W_UK^T and W_UV (FP8 there needs 128-wide heads, hence the
    // second checkpoint); streamed weights are read in the plain layout.
    if (!kernels::e4m3_interleaved_active()) {
        MESSAGE("this CPU lacks AVX-512: the interleaved copies are not exercised here");
    }
    models::ModelConfig wide = models::resolve_model_config("deepseek-tiny");
    wide.qk_nope_head_dim = 128;
    wide.v_head_dim = 128;
    wide.kv_lora_rank = 192;
    const auto wide_dir = std::filesystem::path(DSSIM_BINARY_DIR) / "test_tmp" / "reference" /
                          "deepseek-tiny-wide-heads-seed3";
    if (!std::filesystem::exists(wide_dir / "model.safetensors.index.json")) {
        models::SynthOptions o;
        o.seed = 3;
        models::synth_checkpoint(wide, wide_dir, o);
    }
    for (const auto& dir : {checkpoint_dir("deepseek-tiny", 1), wide_dir}) {
        for (NumericsMode mode : {NumericsMode::Demo, NumericsMode::Fp8}) {
            CAPTURE(dir.string());
            CAPTURE(static_cast<int>(mode));
            GenerateOptions go;
            go.max_new_tokens = 3;
            RuntimeOptions ro;
            ro.mode = mode;
            ro.threads = 2;
            ro.stream_weights = true;
            const GenerateResult streamed = run(dir, ro, go);
            ro.stream_weights = false;
            const GenerateResult resident = run(dir, ro, go);
            CHECK(resident.logits_sha256 == streamed.logits_sha256);
            CHECK(resident.generated == streamed.generated);
        }
    }
}

TEST_CASE("bad input is an InputError") {
    const auto dir = checkpoint_dir("deepseek-tiny", 1);
    RuntimeOptions ro;
    GenerateOptions go;
    CHECK_THROWS_AS(run(dir, ro, go, {{1, 2, 1024}}), InputError);
    CHECK_THROWS_AS(run(dir, ro, go, {{-1}}), InputError);
    CHECK_THROWS_AS(run(dir, ro, go, {{}}), InputError);
    CHECK_THROWS_AS(Runtime(dir / "nope", ro), InputError);
    ro.max_seq_len = 4;
    go.max_new_tokens = 2;
    CHECK_THROWS_AS(run(dir, ro, go, {{1, 2, 3}}), InputError);
    ro.max_seq_len = 16384;
    go.mtp = true;
    const auto v2 = checkpoint_dir("deepseek-tiny-v2lite", 1);
    CHECK_THROWS_AS(run(v2, ro, go), InputError);
}

}  // namespace
}  // namespace dssim::reference
