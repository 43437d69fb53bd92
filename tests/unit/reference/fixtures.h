// Synthetic tiny checkpoints for the runtime tests, written once per test process into the
// build tree with `checkpoint synth`'s generator (models/synth.h).
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "dssim/models/model_config.h"
#include "dssim/models/safetensors.h"
#include "dssim/models/synth.h"
#include "dssim/reference/tensor_sink.h"

namespace dssim::reference::test {

inline std::filesystem::path checkpoint_dir(const std::string& model, uint64_t seed) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(DSSIM_BINARY_DIR) / "test_tmp" / "reference" /
                         (model + "-seed" + std::to_string(seed));
    if (!fs::exists(dir / "model.safetensors.index.json")) {
        models::ModelConfig c = models::resolve_model_config(model);
        models::SynthOptions o;
        o.seed = seed;
        models::synth_checkpoint(c, dir, o);
    }
    return dir;
}

// Overwrites the data of `tensor` in a checkpoint with zero bytes (for crafted checkpoints).
inline void zero_tensor(const std::filesystem::path& dir, const std::string& tensor) {
    const models::Checkpoint ck = models::Checkpoint::open(dir);
    const models::Checkpoint::Entry* e = ck.find(tensor);
    REQUIRE(e != nullptr);
    const uint64_t offset = 8 + e->file->header().header_size + e->info->begin;
    const std::string zeros(e->info->num_bytes(), '\0');
    std::fstream f(e->file->path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    REQUIRE(f.good());
}

// Records every tensor whose name contains `filter` (all if empty).
class RecordingSink : public TensorSink {
  public:
    explicit RecordingSink(std::string filter = "") : filter_(std::move(filter)) {}
    struct Record {
        numerics::DType dtype;
        std::vector<int64_t> shape;
        std::vector<unsigned char> bytes;
    };
    [[nodiscard]] bool wants(std::string_view name) const override {
        return filter_.empty() || name.find(filter_) != std::string_view::npos;
    }
    void on_tensor(const TensorView& t) override {
        Record r{t.dtype, std::vector<int64_t>(t.shape.begin(), t.shape.end()), {}};
        size_t n = numerics::dtype_size(t.dtype);
        for (int64_t d : r.shape)
            n *= static_cast<size_t>(d);
        const auto* p = static_cast<const unsigned char*>(t.data);
        r.bytes.assign(p, p + n);
        order.emplace_back(t.name);
        tensors[std::string(t.name)] = std::move(r);
    }
    std::vector<std::string> order;
    std::map<std::string, Record> tensors;

  private:
    std::string filter_;
};

}  // namespace dssim::reference::test
