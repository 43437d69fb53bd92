// Tests of dssim_golden without the runtime: a fake producer drives the GoldenWriter through
// the TensorSink interface exactly as the runtime does (wants() then on_tensor() in execution
// order), and the checker is run against the files it writes.
#include <doctest/doctest.h>

#include <unistd.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/base/version.h"
#include "dssim/golden/golden.h"
#include "dssim/models/safetensors.h"

namespace fs = std::filesystem;
using namespace dssim;
using namespace dssim::golden;
using numerics::DType;

namespace {

fs::path temp_dir() {
    const fs::path dir =
        fs::temp_directory_path() / ("dssim_golden_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir;
}

// Deterministic pseudo-random values (splitmix64) so the fake run has non-trivial numbers.
float value_at(uint64_t seed, uint64_t i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 4.0 - 2.0);
}

struct FakeTensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
};

// What a 2-layer, 2-step run emits (a subset of the op graph's names).
std::vector<FakeTensor> fake_run() {
    std::vector<FakeTensor> out;
    for (int step = 0; step < 2; ++step) {
        const int64_t rows = step == 0 ? 3 : 1;
        const std::string s = "step" + std::to_string(step) + "/";
        out.push_back({s + "embed", DType::BF16, {rows, 8}});
        for (int layer = 0; layer < 2; ++layer) {
            const std::string l = s + "layers." + std::to_string(layer);
            out.push_back({l + ".attn_norm", DType::BF16, {rows, 8}});
            out.push_back({l + ".attn.wq_a", DType::BF16, {rows, 4}});
            out.push_back({l + ".attn_residual", DType::BF16, {rows, 8}});
            out.push_back({l + ".moe.gate.weights", DType::F32, {rows, 2}});
            out.push_back({l + ".moe.gate.indices", DType::I32, {rows, 2}});
            out.push_back({l + ".ffn_residual", DType::BF16, {rows, 8}});
        }
        out.push_back({s + "norm", DType::BF16, {rows, 8}});
        out.push_back({s + "head", DType::BF16, {rows, 16}});
        out.push_back({s + "sampling", DType::I64, {rows}});
    }
    return out;
}

// Drives `sink` like the runtime: asks wants(), builds the tensor, hands it over.
void produce(reference::TensorSink& sink, uint64_t seed) {
    uint64_t counter = 0;
    for (const FakeTensor& t : fake_run()) {
        ++counter;
        if (!sink.wants(t.name)) continue;
        int64_t n = 1;
        for (int64_t d : t.shape)
            n *= d;
        std::vector<std::byte> bytes(static_cast<size_t>(n) * numerics::dtype_size(t.dtype));
        for (int64_t i = 0; i < n; ++i) {
            const float v = value_at(seed + counter, static_cast<uint64_t>(i));
            std::byte* p = bytes.data() + i * static_cast<int64_t>(numerics::dtype_size(t.dtype));
            if (t.dtype == DType::BF16) {
                const uint16_t b = numerics::bf16_from_f32(v);
                std::memcpy(p, &b, 2);
            } else if (t.dtype == DType::F32) {
                std::memcpy(p, &v, 4);
            } else if (t.dtype == DType::I32) {
                const auto x = static_cast<int32_t>(std::floor(v * 10));
                std::memcpy(p, &x, 4);
            } else {
                const auto x = static_cast<int64_t>(std::floor(v * 1000));
                std::memcpy(p, &x, 8);
            }
        }
        sink.on_tensor(reference::TensorView{t.name, t.dtype, t.shape, bytes.data()});
    }
}

// With `mtp`, also MTP draft logits: 2 rows at step 0, 1 row at step 1.
void write_fake_golden(const fs::path& out,
                       TensorSelection selection,
                       uint64_t seed = 7,
                       bool mtp = false) {
    GoldenWriter writer(out, selection);
    produce(writer, seed);
    const int64_t vocab = 16;
    std::vector<float> logits0(3 * vocab), logits1(2 * vocab);
    for (size_t i = 0; i < logits0.size(); ++i)
        logits0[i] = value_at(seed, i);
    for (size_t i = 0; i < logits1.size(); ++i)
        logits1[i] = value_at(seed + 1, i);
    const std::vector<int64_t> seq0 = {0, 0, 1}, pos0 = {0, 1, 0}, seq1 = {0, 1}, pos1 = {2, 1};
    writer.add_logits(0, seq0, pos0, logits0, vocab);
    writer.add_logits(1, seq1, pos1, logits1, vocab);
    if (mtp) {
        std::vector<float> draft0(2 * vocab), draft1(1 * vocab);
        for (size_t i = 0; i < draft0.size(); ++i)
            draft0[i] = value_at(seed + 2, i);
        for (size_t i = 0; i < draft1.size(); ++i)
            draft1[i] = value_at(seed + 3, i);
        const std::vector<int64_t> mseq0 = {0, 0}, mpos0 = {0, 1}, mseq1 = {1}, mpos1 = {0};
        writer.add_mtp_logits(0, mseq0, mpos0, draft0, vocab);
        writer.add_mtp_logits(1, mseq1, mpos1, draft1, vocab);
    }
    writer.set_tokens({{5, 6, 9, 11}, {7, 3, 4}}, {2, 1});
    GoldenMetadata meta;
    meta.config_json = R"({"vocab_size": 16})";
    meta.mode = "demo";
    meta.attention = "absorbed";
    meta.scale_fmt = "f32";
    meta.checkpoint_digest = std::string(64, 'a');
    meta.prompts = {{5, 6}, {7}};
    meta.max_new_tokens = 2;
    writer.commit(meta);
}

std::string bytes_of(const fs::path& p) {
    return read_file(p);
}

std::vector<HostTensor> all_tensors(const GoldenFile& g) {
    return g.tensors;
}

HostTensor* find_mut(std::vector<HostTensor>& v, std::string_view name) {
    for (auto& t : v) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("tensor selection: layers keeps block boundaries and head outputs only") {
    CHECK(is_selected(TensorSelection::Layers, "step0/embed"));
    CHECK(is_selected(TensorSelection::Layers, "step3/layers.12.attn_residual"));
    CHECK(is_selected(TensorSelection::Layers, "step0/layers.0.ffn_residual"));
    CHECK(is_selected(TensorSelection::Layers, "step1/head"));
    CHECK(is_selected(TensorSelection::Layers, "step1/mtp.0.head"));
    CHECK(is_selected(TensorSelection::Layers, "step1/mtp.0.ffn_residual"));
    CHECK_FALSE(is_selected(TensorSelection::Layers, "step0/layers.0.attn_norm"));
    CHECK_FALSE(is_selected(TensorSelection::Layers, "step0/layers.0.attn.q_norm"));
    CHECK_FALSE(is_selected(TensorSelection::Layers, "step0/mtp.0.enorm"));
    CHECK_FALSE(is_selected(TensorSelection::Layers, "step0/layers.0.moe.gate.indices"));
    CHECK_FALSE(is_selected(TensorSelection::Logits, "step0/head"));
    CHECK(is_selected(TensorSelection::All, "step0/layers.0.attn.wq_a"));
    CHECK(parse_tensor_selection("layers") == TensorSelection::Layers);
    CHECK_FALSE(parse_tensor_selection("everything").has_value());
}

TEST_CASE("golden writer: round trip of tensors, logits, tokens and attributes") {
    const fs::path dir = temp_dir();
    const fs::path file = dir / "roundtrip.h5";
    write_fake_golden(file, TensorSelection::All);
    const GoldenFile g = read_golden(file);
    // every fake tensor plus "logits", in execution order
    const auto fake = fake_run();
    REQUIRE(g.tensors.size() == fake.size() + 1);
    for (size_t i = 0; i < fake.size(); ++i) {
        CHECK(g.tensors[i].name == fake[i].name);
        CHECK(g.tensors[i].order == static_cast<int64_t>(i));
        CHECK(g.tensors[i].shape == fake[i].shape);
        CHECK(g.tensors[i].type == elem_type_of(fake[i].dtype));
    }
    const HostTensor* embed = g.find("step0/embed");
    REQUIRE(embed != nullptr);
    CHECK(embed->value(5) == numerics::round_to_bf16(value_at(7 + 1, 5)));
    const HostTensor& logits = g.tensors.back();
    CHECK(logits.name == "logits");
    CHECK(logits.shape == std::vector<int64_t>{5, 16});
    CHECK(logits.value(16 * 3 + 2) == value_at(8, 2));  // first row of step 1
    CHECK(g.tokens.shape == std::vector<int64_t>{2, 4});
    CHECK(g.tokens.value(7) == -1);  // second sequence padded
    CHECK(g.string_attributes.at("mode") == "demo");
    CHECK(g.string_attributes.at("attention") == "absorbed");
    CHECK(g.string_attributes.at("prompts") == "[[5,6],[7]]");
    CHECK(g.string_attributes.at("tensors") == "all");
    CHECK(g.string_attributes.at("numerics_spec_version") == numerics_spec_version());
    CHECK(g.int_attributes.at("tensor_count") == static_cast<int64_t>(fake.size()));
    CHECK(g.int_attributes.at("layout_version") == kGoldenLayoutVersion);
    fs::remove_all(dir);
}

TEST_CASE("golden writer: the same run gives byte-identical files, different data does not") {
    const fs::path dir = temp_dir();
    write_fake_golden(dir / "a.h5", TensorSelection::All);
    write_fake_golden(dir / "b.h5", TensorSelection::All);
    write_fake_golden(dir / "c.h5", TensorSelection::All, 8);
    CHECK(bytes_of(dir / "a.h5") == bytes_of(dir / "b.h5"));
    CHECK(bytes_of(dir / "a.h5") != bytes_of(dir / "c.h5"));
    // The layers selection stores a subset, in the same relative order.
    write_fake_golden(dir / "layers.h5", TensorSelection::Layers);
    const GoldenFile g = read_golden(dir / "layers.h5");
    CHECK(g.tensors.size() == 2 * (1 + 2 * 2 + 3) + 1);
    CHECK(g.find("step0/layers.0.attn.wq_a") == nullptr);
    CHECK(g.find("step1/layers.1.ffn_residual") != nullptr);
    fs::remove_all(dir);
}

TEST_CASE("golden writer: no file is left behind without commit") {
    const fs::path dir = temp_dir();
    {
        GoldenWriter writer(dir / "partial.h5", TensorSelection::All);
        produce(writer, 1);
    }
    CHECK_FALSE(fs::exists(dir / "partial.h5"));
    CHECK(fs::is_empty(dir));
    CHECK_THROWS_AS(GoldenWriter(dir / "no_such_dir" / "x.h5", TensorSelection::All), InputError);
    fs::remove_all(dir);
}

TEST_CASE("check: golden against itself is identical and passes even with exact tolerance") {
    const fs::path dir = temp_dir();
    write_fake_golden(dir / "g.h5", TensorSelection::All);
    const GoldenFile g = read_golden(dir / "g.h5");
    const CheckReport r = compare(g, read_candidate(dir / "g.h5"), {}, Tolerance{"exact"}, "g.h5");
    CHECK(r.pass());
    CHECK(r.tensors.size() == g.tensors.size());
    CHECK_FALSE(r.first_difference.has_value());
    for (const auto& t : r.tensors) {
        CHECK(t.max_abs == 0.0);
        CHECK(t.ulp_max == 0);
        CHECK(t.mismatches == 0);
        CHECK(t.cosine == doctest::Approx(1.0));
    }
    fs::remove_all(dir);
}

TEST_CASE("check: a planted one-element corruption is the first divergence") {
    const fs::path dir = temp_dir();
    write_fake_golden(dir / "g.h5", TensorSelection::All);
    const GoldenFile g = read_golden(dir / "g.h5");
    std::vector<HostTensor> cand = all_tensors(g);
    // Perturb one element of a middle tensor and, downstream, a later one more strongly: the
    // first in execution order must be named.
    HostTensor* mid = find_mut(cand, "step0/layers.1.attn_residual");
    HostTensor* late = find_mut(cand, "step1/layers.0.ffn_residual");
    REQUIRE(mid != nullptr);
    REQUIRE(late != nullptr);
    auto bump = [](HostTensor& t, size_t i, float delta) {
        const uint16_t b = numerics::bf16_from_f32(static_cast<float>(t.value(i)) + delta);
        std::memcpy(t.bytes.data() + 2 * i, &b, 2);
    };
    bump(*mid, 3, 0.5f);
    bump(*late, 0, 3.0f);
    const Tolerance tol{"bf16-backend", 0.00795, 0.0, 0.00795};
    const CheckReport r = compare(g, cand, {}, tol, "cand");
    CHECK_FALSE(r.pass());
    REQUIRE(r.first_divergence.has_value());
    CHECK(r.tensors[*r.first_divergence].name == "step0/layers.1.attn_residual");
    CHECK(r.tensors[*r.first_divergence].mismatches == 1);
    CHECK(r.tensors[*r.first_divergence].ulp_max > 1);
    CHECK(r.table().find("first divergence: step0/layers.1.attn_residual") != std::string::npos);
    CHECK(r.to_json()["first_divergence"] == "step0/layers.1.attn_residual");
    fs::remove_all(dir);
}

TEST_CASE("check: /mtp_logits is compared after /logits; a candidate without it lists it missing") {
    const fs::path dir = temp_dir();
    write_fake_golden(dir / "g.h5", TensorSelection::Layers, 7, /*mtp=*/true);
    const GoldenFile g = read_golden(dir / "g.h5");
    REQUIRE(g.tensors.size() >= 2);
    CHECK(g.tensors[g.tensors.size() - 2].name == "logits");
    CHECK(g.tensors.back().name == "mtp_logits");
    CHECK(g.tensors.back().shape == std::vector<int64_t>{3, 16});
    CHECK(g.tensors.back().value(16 * 2 + 1) == value_at(10, 1));  // the step-1 row

    // The golden layout as a candidate provides mtp_logits too; it gets logits statistics.
    const CheckReport self = compare(g, read_candidate(dir / "g.h5"), {}, Tolerance{}, "g.h5");
    CHECK(self.pass());
    CHECK(self.missing.empty());
    REQUIRE(self.tensors.back().name == "mtp_logits");
    REQUIRE(self.tensors.back().logits.has_value());
    CHECK(self.tensors.back().logits->rows == 3);
    CHECK(self.tensors.back().logits->top1_agree == 3);

    // One changed element of mtp_logits only: it is the first divergence, after an intact
    // /logits. Renamed through the map, the same.
    std::vector<HostTensor> cand = all_tensors(g);
    HostTensor* draft = find_mut(cand, "mtp_logits");
    const float changed = static_cast<float>(draft->value(5)) + 1.0f;
    std::memcpy(draft->bytes.data() + 5 * sizeof(float), &changed, sizeof(float));
    draft->name = "draft_logits";
    const CheckReport r =
        compare(g, cand, {{"draft_logits", "mtp_logits"}}, Tolerance{"bf16", 0.008, 0, 0}, "c");
    REQUIRE(r.first_divergence.has_value());
    CHECK(r.tensors[*r.first_divergence].name == "mtp_logits");
    CHECK(r.tensors[*r.first_divergence].mismatches == 1);
    CHECK(r.to_json()["first_divergence"] == "mtp_logits");
    CHECK_THROWS_WITH_AS(compare(g, cand, {}, Tolerance{}, "c"),
                         doctest::Contains("not found in golden"), InputError);

    // Without mtp_logits (and without two layer tensors): each golden tensor the candidate
    // lacks is listed as missing, in execution order; what is provided passes.
    cand = all_tensors(g);
    cand.pop_back();
    cand.erase(cand.begin() + 1, cand.begin() + 3);
    const CheckReport partial = compare(g, cand, {}, Tolerance{}, "c");
    CHECK(partial.pass());
    CHECK(partial.missing ==
          std::vector<std::string>{g.tensors[1].name, g.tensors[2].name, "mtp_logits"});
    CHECK(partial.to_json()["missing_tensors"].size() == 3);
    CHECK(partial.table().find("missing in candidate (not compared): 3 of " +
                               std::to_string(g.tensors.size()) +
                               " golden tensors: " + g.tensors[1].name + ", " + g.tensors[2].name +
                               ", mtp_logits\n") != std::string::npos);
    // A long list keeps both ends in the table (the JSON has all).
    const CheckReport one = compare(g, {g.tensors[0]}, {}, Tolerance{}, "c");
    REQUIRE(one.missing.size() == g.tensors.size() - 1);
    CHECK(one.table().find(", ... " + std::to_string(one.missing.size() - 8) + " more, ") !=
          std::string::npos);
    CHECK(one.table().find(", step1/sampling, logits, mtp_logits\n") != std::string::npos);

    // Both row kinds are validated alike, each error naming its dataset; they share one vocab.
    {
        GoldenWriter w(dir / "bad.h5", TensorSelection::Logits);
        const std::vector<int64_t> seq = {0}, pos = {0};
        const std::vector<float> row16(16), row8(8);
        w.add_logits(0, seq, pos, row16, 16);
        CHECK_THROWS_WITH_AS(w.add_mtp_logits(0, seq, pos, row8, 8),
                             doctest::Contains("/mtp_logits: vocabulary size 8 differs"),
                             InputError);
        CHECK_THROWS_WITH_AS(w.add_logits(1, seq, pos, row8, 8),
                             doctest::Contains("/logits: vocabulary size 8 differs"), InputError);
        CHECK_THROWS_WITH_AS(w.add_logits(0, seq, pos, row16, 16),
                             doctest::Contains("/logits: steps must be added in increasing order"),
                             InputError);
        CHECK_THROWS_WITH_AS(w.add_mtp_logits(0, seq, {}, row16, 16),
                             doctest::Contains("/mtp_logits: rows, positions"), InputError);
        w.add_mtp_logits(0, seq, pos, row16, 16);  // its own step sequence
        CHECK_THROWS_WITH_AS(w.add_mtp_logits(0, seq, pos, row16, 16),
                             doctest::Contains("/mtp_logits: steps must"), InputError);
    }
    CHECK_FALSE(fs::exists(dir / "bad.h5"));
    fs::remove_all(dir);
}

TEST_CASE("check: ULP distances are ordered bit-pattern distances in the golden's type") {
    HostTensor g{"x", ElemType::BF16, {4}, {}};
    HostTensor c{"x", ElemType::F32, {4}, {}};
    const uint16_t gb[4] = {0x3F80 /*1.0*/, 0x0001 /*+min sub*/, 0x3F80, 0x0000};
    // 1 + 2^-7 (next bf16), -min subnormal (2 steps via zero), 1 + 2^-9 (rounds to 1.0), -0
    const float cv[4] = {1.0078125f, -9.18355e-41f, 1.001953125f, -0.0f};
    g.bytes.resize(8);
    std::memcpy(g.bytes.data(), gb, 8);
    c.bytes.resize(16);
    std::memcpy(c.bytes.data(), cv, 16);
    const TensorReport r = compare_tensor(g, c, Tolerance{"exact"});
    CHECK(r.ulp_max == 2);
    CHECK(r.ulp_p50 == 0);  // nearest rank of {0, 0, 1, 2}
    CHECK(r.ulp_p99 == 2);
    CHECK(r.differing == 2);
    CHECK(r.mismatches == 3);  // exact: the rounded-away 1+2^-9 still differs in value
}

TEST_CASE("check: NaN in the candidate is a mismatch, not a crash; bad inputs are InputErrors") {
    const fs::path dir = temp_dir();
    write_fake_golden(dir / "g.h5", TensorSelection::Layers);
    const GoldenFile g = read_golden(dir / "g.h5");
    std::vector<HostTensor> cand = all_tensors(g);
    HostTensor* t = find_mut(cand, "step0/layers.0.ffn_residual");
    const uint16_t nan_bits = 0x7FC0;
    std::memcpy(t->bytes.data(), &nan_bits, 2);
    const CheckReport r = compare(g, cand, {}, Tolerance{"loose", 1.0, 1.0, 0.0}, "cand");
    REQUIRE(r.first_divergence.has_value());
    CHECK(r.tensors[*r.first_divergence].name == "step0/layers.0.ffn_residual");
    CHECK(r.tensors[*r.first_divergence].nonfinite == 1);
    CHECK(r.table().find("first divergence: step0/layers.0.ffn_residual (order ") !=
          std::string::npos);
    CHECK(r.table().find("outside tolerance (1 of them NaN or infinity on one side only)") !=
          std::string::npos);

    std::vector<HostTensor> bad = {cand[0]};
    bad[0].name = "step0/no_such_tensor";
    CHECK_THROWS_WITH_AS(compare(g, bad, {}, Tolerance{}, "cand"),
                         doctest::Contains("not found in golden"), InputError);
    bad[0].name = "whatever";
    CHECK_NOTHROW(compare(g, bad, {{"whatever", "step0/embed"}}, Tolerance{}, "cand"));
    CHECK_THROWS_WITH_AS(compare(g, bad, {{"missing", "step0/embed"}}, Tolerance{}, "cand"),
                         doctest::Contains("named in --map"), InputError);
    bad[0] = cand[0];
    bad[0].shape = {bad[0].shape[1], bad[0].shape[0]};
    CHECK_THROWS_WITH_AS(compare(g, bad, {}, Tolerance{}, "cand"),
                         doctest::Contains("does not match golden"), InputError);
    CHECK_THROWS_AS(compare(g, {}, {}, Tolerance{}, "cand"), InputError);

    // Truncated and non-HDF5 files.
    const std::string bytes = read_file(dir / "g.h5");
    write_file_atomic(dir / "trunc.h5", std::string_view(bytes).substr(0, bytes.size() / 2));
    CHECK_THROWS_AS(read_golden(dir / "trunc.h5"), InputError);
    CHECK_THROWS_AS(read_candidate(dir / "trunc.h5"), InputError);
    write_file_atomic(dir / "text.h5", "hello");
    CHECK_THROWS_AS(read_golden(dir / "text.h5"), InputError);
    CHECK_THROWS_AS(read_golden(dir / "missing.h5"), InputError);
    CHECK_THROWS_AS(read_candidate(dir / "x.csv"), InputError);
    fs::remove_all(dir);
}

TEST_CASE("candidate readers: safetensors and npy give the same tensors as the golden") {
    const fs::path dir = temp_dir();
    write_fake_golden(dir / "g.h5", TensorSelection::Layers);
    const GoldenFile g = read_golden(dir / "g.h5");
    const HostTensor* embed = g.find("step0/embed");
    const HostTensor* sampling = g.find("step1/sampling");
    REQUIRE(embed != nullptr);
    REQUIRE(sampling != nullptr);
    std::vector<models::TensorToWrite> tw;
    for (const HostTensor* t : {embed, sampling}) {
        models::TensorToWrite w;
        w.name = t->name;
        w.dtype = t->type == ElemType::BF16 ? DType::BF16 : DType::I64;
        w.shape = t->shape;
        w.fill = [t](uint64_t offset, std::span<std::byte> out) {
            std::memcpy(out.data(), t->bytes.data() + offset, out.size());
        };
        tw.push_back(std::move(w));
    }
    models::write_safetensors_file(dir / "c.safetensors", {&tw[0], &tw[1]}, {});
    const CheckReport r =
        compare(g, read_candidate(dir / "c.safetensors"), {}, Tolerance{"exact"}, "c.safetensors");
    CHECK(r.pass());
    CHECK(r.tensors.size() == 2);

    // .npy of the embedding as float32 (exact widening of bf16): identical values.
    std::string npy = std::string("\x93NUMPY\x01\x00", 8);
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), }";
    header.append(128 - 10 - header.size() - 1, ' ');  // data 64-byte aligned
    header.push_back('\n');
    npy.push_back(static_cast<char>(header.size()));
    npy.push_back('\0');
    npy += header;
    for (int64_t i = 0; i < embed->elements(); ++i) {
        const auto v = static_cast<float>(embed->value(static_cast<size_t>(i)));
        npy.append(reinterpret_cast<const char*>(&v), 4);
    }
    write_file_atomic(dir / "emb.npy", npy);
    const auto cand = read_candidate(dir / "emb.npy");
    REQUIRE(cand.size() == 1);
    CHECK(cand[0].name == "emb");
    CHECK(cand[0].shape == std::vector<int64_t>{3, 8});
    const CheckReport rn =
        compare(g, cand, {{"emb", "step0/embed"}}, Tolerance{"exact"}, "emb.npy");
    CHECK(rn.pass());
    CHECK_FALSE(rn.first_difference.has_value());
    // Truncated npy data.
    write_file_atomic(dir / "short.npy", npy.substr(0, npy.size() - 4));
    CHECK_THROWS_WITH_AS(read_candidate(dir / "short.npy"), doctest::Contains("needs"), InputError);
    // Shapes read from files are checked, not multiplied blindly (UBSan found the overflow):
    // 2^32 x 2^32 elements, and a zero-element array (no memcpy from a null pointer).
    auto npy_with = [](const std::string& shape, size_t data_bytes) {
        std::string out = std::string("\x93NUMPY\x01\x00", 8);
        std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
        h.append(128 - 10 - h.size() - 1, ' ');
        h.push_back('\n');
        out.push_back(static_cast<char>(h.size()));
        out.push_back('\0');
        return out + h + std::string(data_bytes, '\0');
    };
    write_file_atomic(dir / "huge.npy", npy_with("(4294967296, 4294967296)", 16));
    CHECK_THROWS_WITH_AS(read_candidate(dir / "huge.npy"),
                         doctest::Contains("more than 2^63 elements"), InputError);
    write_file_atomic(dir / "empty.npy", npy_with("(0, 8)", 0));
    const auto empty = read_candidate(dir / "empty.npy");
    REQUIRE(empty.size() == 1);
    CHECK(empty[0].elements() == 0);
    CHECK(empty[0].bytes.empty());
    fs::remove_all(dir);
}

TEST_CASE("tolerance profiles: configs/check-profiles.json matches its derivation") {
    const fs::path file = fs::path(DSSIM_SOURCE_DIR) / "configs" / "check-profiles.json";
    const auto profiles = load_profiles(file);
    REQUIRE(profiles.size() >= 3);
    CHECK(find_profile(profiles, "exact").rtol == 0.0);
    CHECK_THROWS_AS(find_profile(profiles, "nope"), InputError);
    // Recompute each profile from its derivation inputs (docs/numerics.md, "Tolerance
    // profiles"): rtol = atol_rms = 2u + sum(level error); stored values are rounded up to 3
    // significant digits.
    const Json root = load_json_file(file);
    for (const auto& p : profiles) {
        const Json& d = root["profiles"][p.name]["derivation"];
        const double lambda = d["lambda"].get<double>();
        double e = 2.0 * d["output_unit_roundoff"].get<double>();
        for (const char* side : {"golden_accumulation", "candidate_accumulation"}) {
            for (const auto& level : d[side]) {
                const double n = level[0].get<double>(), u = level[1].get<double>();
                e += level[2] == "worst" ? n * u : lambda * std::sqrt(n) * u;
            }
        }
        INFO(p.name);
        CHECK(p.tolerance.rtol >= e);
        CHECK(p.tolerance.rtol <= e * 1.01 + 1e-300);
        CHECK(p.tolerance.atol_rms == p.tolerance.rtol);
        CHECK(p.tolerance.atol == 0.0);
    }
}
