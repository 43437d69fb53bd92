// `dssim checkpoint synth` / `inspect` end to end: tiny configs written fully and read back
// tensor by tensor, determinism across --threads, FP8 block properties, and the large configs
// checked through their tensor list (sparse files: the layout is real, the data is holes).
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "dssim/base.h"
#include "dssim/models.h"

using namespace dssim;
using namespace dssim::models;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
    fs::path p = fs::path(DSSIM_BINARY_DIR) / "test_scratch" / "models_synth" / name;
    fs::remove_all(p);
    fs::create_directories(p.parent_path());
    return p;
}

int run_dssim(const std::string& args) {
    std::string cmd = std::string(DSSIM_EXE) + " " + args + " > /dev/null 2>&1";
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

float bf16(const std::byte* p) {
    uint16_t b = 0;
    std::memcpy(&b, p, 2);
    return numerics::f32_from_bf16(b);
}

float f32(const std::byte* p) {
    float f = 0;
    std::memcpy(&f, p, 4);
    return f;
}

// Reads every tensor back and compares it with the generator, plus value-level properties.
void check_fully(const fs::path& dir, uint64_t seed) {
    ModelConfig c = load_model_config(dir / "config.json");
    Checkpoint ck = Checkpoint::open(dir);
    std::vector<TensorSpec> inv = tensor_inventory(c);
    REQUIRE(ck.tensors().size() == inv.size());
    for (const TensorSpec& s : inv) {
        CAPTURE(s.name);
        TensorView v = ck.tensor(s.name);
        REQUIRE(v.info->dtype == s.dtype);
        REQUIRE(v.info->shape == s.shape);
        std::vector<std::byte> expect(s.num_bytes());
        synth_tensor_bytes(c, s, seed, 0, expect);
        REQUIRE(std::memcmp(expect.data(), v.data.data(), expect.size()) == 0);

        if (s.role == TensorRole::Linear && s.dtype == numerics::DType::F8E4M3) {
            // Every 128x128 block (ragged at the edges) uses the full E4M3 range: its largest
            // code is +-448, and no code is NaN.
            const int64_t b = c.weight_block_size;
            const int64_t rows = s.shape[0], cols = s.shape[1];
            int nan_codes = 0;
            int bad_blocks = 0;
            for (int64_t br = 0; br * b < rows; ++br) {
                for (int64_t bc = 0; bc * b < cols; ++bc) {
                    float amax = 0;
                    for (int64_t r = br * b; r < std::min(rows, (br + 1) * b); ++r) {
                        for (int64_t col = bc * b; col < std::min(cols, (bc + 1) * b); ++col) {
                            uint8_t code = static_cast<uint8_t>(v.data[r * cols + col]);
                            nan_codes += (code & 0x7f) == 0x7f ? 1 : 0;
                            amax = std::max(amax, std::fabs(numerics::f32_from_e4m3(code)));
                        }
                    }
                    bool full = c.scale_fmt == ScaleFmt::F32 ? amax == 448.0f
                                                             : (amax >= 224.0f && amax <= 448.0f);
                    bad_blocks += full ? 0 : 1;
                }
            }
            CHECK(nan_codes == 0);
            CHECK(bad_blocks == 0);
        }
        if (s.role == TensorRole::WeightScale) {
            int bad = 0;
            for (uint64_t i = 0; i < s.num_elements(); ++i) {
                float sc = f32(v.data.data() + 4 * i);
                int e = 0;
                bool ok = std::isfinite(sc) && sc > 0 &&
                          (c.scale_fmt == ScaleFmt::F32 || std::frexp(sc, &e) == 0.5f);
                bad += ok ? 0 : 1;
            }
            CHECK(bad == 0);
        }
        if (s.role == TensorRole::Norm) {
            int bad = 0;
            for (uint64_t i = 0; i < s.num_elements(); ++i) {
                float x = bf16(v.data.data() + 2 * i);
                bad += (x > 0.7f && x < 1.3f) ? 0 : 1;
            }
            CHECK(bad == 0);
        }
    }
    // The MTP module stores physical copies of the shared embedding and head.
    for (int64_t l = c.num_hidden_layers; l < c.stored_layers(); ++l) {
        std::string p = "model.layers." + std::to_string(l);
        TensorView e = ck.tensor(p + ".embed_tokens.weight");
        TensorView e0 = ck.tensor("model.embed_tokens.weight");
        CHECK(std::memcmp(e.data.data(), e0.data.data(), e0.data.size()) == 0);
        TensorView h = ck.tensor(p + ".shared_head.head.weight");
        TensorView h0 = ck.tensor("lm_head.weight");
        CHECK(std::memcmp(h.data.data(), h0.data.data(), h0.data.size()) == 0);
    }
}

}  // namespace

TEST_CASE("generator primitives are the documented SplitMix64 / FNV-1a / Irwin-Hall") {
    // Reference values: SplitMix64 with state 0 produces 0xe220a8397b1dcdaf first.
    CHECK(synth_draw(0, 0) == 0xe220a8397b1dcdafull);
    CHECK(synth_fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(synth_fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(synth_normal(0) == doctest::Approx((4 * 0.5 / 65536.0 - 2.0) * std::sqrt(3.0)));
    double sum = 0, sum2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        double x = synth_normal(synth_draw(12345, static_cast<uint64_t>(i)));
        sum += x;
        sum2 += x * x;
    }
    CHECK(std::fabs(sum / n) < 0.01);
    CHECK(sum2 / n == doctest::Approx(1.0).epsilon(0.01));
}

TEST_CASE("synth -> inspect for every tiny config, read back fully") {
    for (const char* model : {"deepseek-tiny", "deepseek-tiny-v2lite"}) {
        CAPTURE(model);
        fs::path d = scratch(std::string(model) + "_full");
        REQUIRE(run_dssim("checkpoint synth --model " + std::string(model) + " --seed 11 --out " +
                          d.string() + " --shard-size 2MB --threads 2") == 0);
        CHECK(run_dssim("checkpoint inspect " + d.string()) == 0);
        CHECK(run_dssim("checkpoint inspect " + d.string() + " --json") == 0);
        check_fully(d, 11);
    }
}

TEST_CASE("synth variants: bf16 storage, UE8M0 scales, layer subsets") {
    fs::path bf = scratch("tiny_bf16");
    REQUIRE(run_dssim("checkpoint synth --model deepseek-tiny --seed 5 --dtype bf16 --out " +
                      bf.string()) == 0);
    CHECK(run_dssim("checkpoint inspect " + bf.string()) == 0);
    ModelConfig c = load_model_config(bf / "config.json");
    CHECK(c.weight_format == WeightFormat::BF16);
    check_fully(bf, 5);

    // FP8 of a BF16 model (V2-Lite path) gets quantization_config and scales.
    fs::path f8 = scratch("tiny_v2lite_fp8");
    REQUIRE(run_dssim("checkpoint synth --model deepseek-tiny-v2lite --seed 5 --dtype fp8 --out " +
                      f8.string()) == 0);
    CHECK(run_dssim("checkpoint inspect " + f8.string()) == 0);
    check_fully(f8, 5);

    // UE8M0: V3.1-style scales on the tiny model, through a user config.json.
    Json j = load_json_file(fs::path(DSSIM_SOURCE_DIR) / "configs/models/deepseek-tiny.json");
    j["quantization_config"]["scale_fmt"] = "ue8m0";
    fs::path cfg = scratch("tiny_ue8m0.json");
    write_file_atomic(cfg, j.dump(2));
    fs::path ue = scratch("tiny_ue8m0");
    REQUIRE(run_dssim("checkpoint synth --model " + cfg.string() + " --seed 9 --out " +
                      ue.string()) == 0);
    CHECK(load_model_config(ue / "config.json").scale_fmt == ScaleFmt::UE8M0);
    check_fully(ue, 9);

    // A layer subset (MoE layer + MTP layer) is consistent on its own and recorded.
    fs::path sub = scratch("tiny_layers");
    REQUIRE(run_dssim("checkpoint synth --model deepseek-tiny --seed 5 --layers 3-4 --out " +
                      sub.string()) == 0);
    CHECK(run_dssim("checkpoint inspect " + sub.string()) == 0);
    Checkpoint ck = Checkpoint::open(sub);
    CHECK(ck.index()->metadata.at("dssim_layers") == "3-4");
    CHECK(ck.find("model.layers.4.eh_proj.weight") != nullptr);
    CHECK(ck.find("model.layers.2.input_layernorm.weight") == nullptr);
    CHECK(ck.find("lm_head.weight") != nullptr);
    // Against the full config it is incomplete: exit 1.
    CHECK(run_dssim("checkpoint inspect " + sub.string() + " --model deepseek-tiny-v2lite") == 1);
}

TEST_CASE("synth output is byte-identical for --threads 1 and 3") {
    fs::path a = scratch("tiny_t1");
    fs::path b = scratch("tiny_t3");
    REQUIRE(
        run_dssim("checkpoint synth --model deepseek-tiny --seed 3 --threads 1 --shard-size 1MB "
                  "--out " +
                  a.string()) == 0);
    REQUIRE(
        run_dssim("checkpoint synth --model deepseek-tiny --seed 3 --threads 3 --shard-size 1MB "
                  "--out " +
                  b.string()) == 0);
    int files = 0;
    for (const auto& e : fs::directory_iterator(a)) {
        CAPTURE(e.path().filename().string());
        CHECK(read_file(e.path()) == read_file(b / e.path().filename()));
        ++files;
    }
    CHECK(files >= 5);  // config, index and several shards
    // A different seed changes the data.
    fs::path c = scratch("tiny_seed4");
    REQUIRE(
        run_dssim("checkpoint synth --model deepseek-tiny --seed 4 --threads 1 --shard-size 1MB "
                  "--out " +
                  c.string()) == 0);
    std::string first = Checkpoint::open(a).tensors().begin()->second.file->path().filename();
    CHECK(read_file(a / first) != read_file(c / first));
}
