// Synthetic checkpoints in DeepSeek's HF layout. Every element comes from a counter-based
// generator keyed by (seed, tensor name, element index), so any tensor (or any slice of one)
// can be produced independently, in parallel, with the same bytes for any thread count.
// The generator is specified in docs/config-formats.md ("Synthetic checkpoints") precisely
// enough to re-implement it in Python.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "dssim/models/model_config.h"
#include "dssim/models/tensor_inventory.h"

namespace dssim::models {

// Generator primitives (exposed for tests and for re-implementations).
uint64_t synth_mix64(uint64_t z);                // SplitMix64 output function
uint64_t synth_fnv1a64(std::string_view bytes);  // FNV-1a, 64-bit
uint64_t synth_key(uint64_t seed, std::string_view name);
uint64_t synth_draw(uint64_t key, uint64_t index);  // the index-th SplitMix64 output
double synth_normal(uint64_t draw);                 // Irwin-Hall(4) scaled to variance 1

// Fills `out` with bytes [byte_offset, byte_offset + out.size()) of tensor `spec` as stored
// for `config` (the config decides block size and scale format). byte_offset and out.size()
// must be multiples of the element size.
void synth_tensor_bytes(const ModelConfig& config,
                        const TensorSpec& spec,
                        uint64_t seed,
                        uint64_t byte_offset,
                        std::span<std::byte> out,
                        int threads = 1);

struct SynthOptions {
    uint64_t seed = 0;
    std::optional<WeightFormat> weight_format;  // override the config's (fp8 / bf16)
    LayerRange layers;
    uint64_t shard_size = 5'000'000'000;  // bytes of tensor data per shard (HF uses ~5 GB)
    int threads = 1;
};

struct SynthResult {
    size_t tensors = 0;
    size_t shards = 0;
    uint64_t bytes = 0;
};

// Writes config.json, the shards and model.safetensors.index.json into `out_dir` (created if
// needed). With a layer subset the index metadata records "dssim_layers": "A-B".
SynthResult synth_checkpoint(const ModelConfig& config,
                             const std::filesystem::path& out_dir,
                             const SynthOptions& options);

}  // namespace dssim::models
