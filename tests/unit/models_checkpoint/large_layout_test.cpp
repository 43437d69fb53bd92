// Large configs checked through their tensor list: DeepSeek's full checkpoint layout is written
// as sparse files (real headers and index, data left as holes) and opened and inspected like a
// real download. Several seconds per model, so it runs in the regression tier.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "dssim/base.h"
#include "dssim/models.h"

using namespace dssim;
using namespace dssim::models;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
    fs::path p = fs::path(DSSIM_BINARY_DIR) / "test_scratch" / "models_large" / name;
    fs::remove_all(p);
    fs::create_directories(p.parent_path());
    return p;
}

int run_dssim(const std::string& args) {
    std::string cmd = std::string(DSSIM_EXE) + " " + args + " > /dev/null 2>&1";
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("large configs: inventory layout opens and inspects clean (sparse shards)") {
    // R1 and V3.1 store exactly V3's tensors; V2 has V2-Lite's structure plus q_lora and groups.
    auto names = [](const char* m) {
        std::vector<std::pair<std::string, std::vector<int64_t>>> out;
        for (const auto& s : tensor_inventory(resolve_model_config(m))) {
            out.emplace_back(s.name, s.shape);
        }
        return out;
    };
    CHECK(names("deepseek-r1") == names("deepseek-v3"));
    CHECK(names("deepseek-v3.1") == names("deepseek-v3"));
    for (const char* model : {"deepseek-v3", "deepseek-v2", "deepseek-v2-lite"}) {
        CAPTURE(model);
        ModelConfig c = resolve_model_config(model);
        std::vector<TensorSpec> inv = tensor_inventory(c);
        std::vector<TensorToWrite> ts;
        for (const auto& s : inv) {
            TensorToWrite t;
            t.name = s.name;
            t.dtype = s.dtype;
            t.shape = s.shape;
            ts.push_back(std::move(t));
        }
        // Real headers and index, data left as holes: the reader sees DeepSeek's full layout.
        fs::path d = scratch(std::string(model) + "_layout");
        fs::create_directories(d);
        std::vector<ShardPlan> plans = plan_shards(ts, 5'000'000'000ull);
        Json wm = Json::object();
        std::map<std::string, std::string> sorted;
        uint64_t total = 0;
        for (const auto& p : plans) {
            std::vector<const TensorToWrite*> list;
            for (size_t i : p.tensor_indices) {
                list.push_back(&ts[i]);
                sorted[ts[i].name] = p.file_name;
            }
            std::string header = safetensors_header_json(list, {});
            std::string head(8, '\0');
            for (int i = 0; i < 8; ++i) {
                head[i] = static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
            }
            write_file_atomic(d / p.file_name, head + header);
            fs::resize_file(d / p.file_name, 8 + header.size() + p.bytes);
            total += p.bytes;
        }
        for (const auto& [k, v] : sorted) {
            wm[k] = v;
        }
        Json index;
        index["metadata"] = {{"total_size", total}};
        index["weight_map"] = wm;
        write_file_atomic(d / "model.safetensors.index.json", index.dump());
        write_file_atomic(d / "config.json", model_config_to_json(c).dump(2));
        CHECK(run_dssim("checkpoint inspect " + d.string()) == 0);
        Checkpoint ck = Checkpoint::open(d);
        CHECK(ck.tensors().size() == inv.size());
        // The generator can produce any slice of a full-size tensor on its own.
        for (const auto& s : inv) {
            if (s.role == TensorRole::Linear && s.layer == c.stored_layers() - 1) {
                std::vector<std::byte> slice(4096 * numerics::dtype_size(s.dtype));
                uint64_t off = s.num_bytes() - slice.size();
                synth_tensor_bytes(c, s, 1, off, slice, 2);
                std::vector<std::byte> again(slice.size());
                synth_tensor_bytes(c, s, 1, off, again, 1);
                CHECK(slice == again);
                break;
            }
        }
        fs::remove_all(d);
    }
}
