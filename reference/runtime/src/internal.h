// Internals of the reference runtime shared by its source files (and its benchmark): weights
// resolved from a memory-mapped checkpoint, the streaming linear layer, the MLA attention core
// and the KV cache. Not a public interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dssim/kernels/quant.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/safetensors.h"

namespace dssim::reference::detail {

using numerics::DType;

// One checkpoint tensor as the runtime reads it. `data` points into the mapping (or into
// `owned` if the mapping was not aligned for the element type).
struct Weight {
    std::string name;  // HF name of the weight
    DType dtype = DType::BF16;
    int64_t rows = 0;  // [rows, cols]; 1-D tensors have rows = 1
    int64_t cols = 0;
    const void* data = nullptr;
    const float* scale = nullptr;  // FP8: [ceil(rows/128), ceil(cols/128)]
    int64_t scale_cols = 0;
    std::vector<std::byte> owned;
    std::vector<float> owned_scale;
    std::span<const std::byte> mapped;  // the mapped bytes (for madvise after use)

    [[nodiscard]] const uint16_t* bf16() const { return static_cast<const uint16_t*>(data); }
    [[nodiscard]] const uint8_t* fp8() const { return static_cast<const uint8_t*>(data); }
    [[nodiscard]] const float* f32() const { return static_cast<const float*>(data); }
};

// Resolves graph parameter names (WeightRef names, "layers.7.attn.wkv_a") to checkpoint
// tensors, checking dtype and shape once; thread-safe.
class WeightStore {
  public:
    WeightStore(const models::ModelConfig& config, const models::Checkpoint& checkpoint)
        : config_(config), ckpt_(checkpoint) {}
    // `param` in the graph scheme; `dtype`/`shape` expected (from the op's WeightRef).
    const Weight& get(const std::string& param, DType dtype, const std::vector<int64_t>& shape);
    // Tells the kernel the mapped pages of every resolved weight are not needed now (streaming:
    // keeps the resident set to the weights of the op being executed).
    void release_pages(const Weight& w) const;
    void set_streaming(bool on) { streaming_ = on; }
    [[nodiscard]] bool streaming() const { return streaming_; }

  private:
    const models::ModelConfig& config_;
    const models::Checkpoint& ckpt_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::unique_ptr<Weight>> cache_;
    bool streaming_ = true;
};

enum class ActFormat : uint8_t { Bf16, Fp8 };

// Input of a linear layer: BF16 rows, or act_quant output (FP8 rows + [m, ceil(k/128)] scales).
struct LinearInput {
    ActFormat format = ActFormat::Bf16;
    const uint16_t* bf16 = nullptr;
    const uint8_t* fp8 = nullptr;
    const float* scale = nullptr;
};

// y[m, n] BF16 = x[m, k] . W[n, k]^T with W BF16 or FP8 (+ block scales). BF16 input with an
// FP8 weight: each 128-row block of W is dequantised (weight_dequant: bf16(f32(q) * s)) into a
// per-thread buffer just before its GEMM (the demo's weight_dequant + F.linear, streamed).
// FP8 input: fp8_gemm with the demo's Triton promotion order. Output columns are split into
// 128-wide blocks over `threads`; every element is one sequential FP32 reduction, so the result
// does not depend on the thread count or on how rows are grouped.
void linear(const LinearInput& x, size_t m, const Weight& w, uint16_t* y, int threads);

// The dequantised BF16 [rows, cols] copy of a weight (BF16 weights are copied).
std::vector<uint16_t> dequantize(const Weight& w, int threads);

}  // namespace dssim::reference::detail
