// safetensors checkpoints: a strict reader (memory-mapped, single file or sharded through
// model.safetensors.index.json) and a streaming, atomic, deterministic writer.
//
// File layout: u64 little-endian header length N, N bytes of JSON header
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the
// data section; offsets are relative to the start of the data section. The reader validates
// every structural property (see docs/config-formats.md, "safetensors") and reports each defect
// as an InputError naming the file, the tensor and the problem.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/numerics/formats.h"

namespace dssim::models {

using numerics::DType;

// Largest JSON header accepted (the reference safetensors implementation uses the same cap).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

// safetensors dtype names: F32 F16 BF16 F8_E4M3 F8_E5M2 I8 I32 I64 U8.
std::string_view safetensors_dtype_name(DType type);
std::optional<DType> parse_safetensors_dtype(std::string_view name);

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // byte offsets relative to the data section
    uint64_t end = 0;

    [[nodiscard]] uint64_t num_elements() const;
    [[nodiscard]] uint64_t num_bytes() const { return end - begin; }
};

struct SafetensorsHeader {
    uint64_t header_size = 0;         // JSON bytes (N)
    uint64_t data_size = 0;           // bytes after the header
    std::vector<TensorInfo> tensors;  // in data-offset order
    std::map<std::string, std::string> metadata;
};

// Validates a whole safetensors file held in memory (the reader maps the file and calls this;
// fuzzers call it on arbitrary bytes). `origin` names the file in errors.
SafetensorsHeader parse_safetensors(std::span<const std::byte> file, std::string_view origin);

// A view of one tensor inside a mapped file.
struct TensorView {
    const TensorInfo* info = nullptr;
    std::span<const std::byte> data;  // raw little-endian C-order bytes
};

// One memory-mapped .safetensors file.
class SafetensorsFile {
  public:
    explicit SafetensorsFile(const std::filesystem::path& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] const SafetensorsHeader& header() const { return header_; }
    [[nodiscard]] uint64_t file_size() const { return size_; }
    // nullptr if absent.
    [[nodiscard]] const TensorInfo* find(std::string_view name) const;
    [[nodiscard]] TensorView view(const TensorInfo& info) const;

  private:
    std::filesystem::path path_;
    const std::byte* map_ = nullptr;
    uint64_t size_ = 0;
    SafetensorsHeader header_;
    std::map<std::string, size_t, std::less<>> by_name_;
};

// Validates an index file's JSON against the shard names found on disk. Returns
// tensor -> shard file name. Shard names must be plain file names inside the directory.
struct SafetensorsIndex {
    std::optional<uint64_t> total_size;
    std::map<std::string, std::string> metadata;  // other metadata entries (string values)
    std::map<std::string, std::string, std::less<>> weight_map;
};
SafetensorsIndex parse_safetensors_index(std::string_view text, std::string_view origin);

// A checkpoint: a directory with model.safetensors.index.json (sharded) or model.safetensors,
// or a single .safetensors file. Opening validates every shard and the index completely:
// every index entry exists in its shard, every shard tensor is listed, total_size matches.
class Checkpoint {
  public:
    static Checkpoint open(const std::filesystem::path& path);

    struct Entry {
        const TensorInfo* info;
        const SafetensorsFile* file;
    };

    [[nodiscard]] const std::filesystem::path& directory() const { return dir_; }
    [[nodiscard]] const std::optional<SafetensorsIndex>& index() const { return index_; }
    [[nodiscard]] const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const {
        return shards_;
    }
    // All tensors sorted by name.
    [[nodiscard]] const std::map<std::string, Entry, std::less<>>& tensors() const {
        return tensors_;
    }
    [[nodiscard]] const Entry* find(std::string_view name) const;
    // Throws InputError naming the checkpoint if the tensor is missing.
    [[nodiscard]] TensorView tensor(std::string_view name) const;

  private:
    std::filesystem::path dir_;
    std::optional<SafetensorsIndex> index_;
    std::vector<std::unique_ptr<SafetensorsFile>> shards_;
    std::map<std::string, Entry, std::less<>> tensors_;
};

// ---- Writer ----

struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    // Fills `out` with the bytes [offset, offset + out.size()) of the tensor. Called with
    // chunks in increasing order; must not depend on how the tensor is chunked.
    std::function<void(uint64_t offset, std::span<std::byte> out)> fill;
    [[nodiscard]] uint64_t num_bytes() const;
};

// Serialises one file's header exactly as write_safetensors_file() does: "__metadata__" first
// (if non-empty), then tensors in the given order, compact JSON, padded with spaces to a
// multiple of 8 bytes so the data section is 8-byte aligned.
std::string safetensors_header_json(const std::vector<const TensorToWrite*>& tensors,
                                    const std::map<std::string, std::string>& metadata);

// Writes one file atomically, streaming each tensor in chunks of at most `chunk_bytes`.
// `on_bytes` (optional) is told how many data bytes were written (for progress bars).
void write_safetensors_file(const std::filesystem::path& path,
                            const std::vector<const TensorToWrite*>& tensors,
                            const std::map<std::string, std::string>& metadata,
                            uint64_t chunk_bytes = 64ull << 20,
                            const std::function<void(uint64_t)>& on_bytes = {});

struct ShardPlan {
    std::string file_name;               // model-00001-of-00003.safetensors
    std::vector<size_t> tensor_indices;  // into the tensor list, in order
    uint64_t bytes = 0;                  // data bytes
};
// Greedy sharding in list order: a new shard starts when the next tensor would push the
// current one past `shard_size` bytes (a tensor larger than shard_size gets its own shard).
std::vector<ShardPlan> plan_shards(const std::vector<TensorToWrite>& tensors, uint64_t shard_size);

// Writes every shard plus model.safetensors.index.json ({"metadata": {"total_size", extra...},
// "weight_map": {...}} with sorted keys), each file atomically; the index is written last.
void write_sharded_checkpoint(const std::filesystem::path& dir,
                              const std::vector<TensorToWrite>& tensors,
                              uint64_t shard_size,
                              const std::map<std::string, std::string>& index_metadata = {},
                              const std::function<void(uint64_t)>& on_bytes = {});

}  // namespace dssim::models
