// Internals of the reference runtime shared by its source files (and its benchmark): weights
// resolved from a memory-mapped checkpoint, the streaming linear layer, the MLA attention core
// and the KV cache. Not a public interface.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dssim/kernels/quant.h"
#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/models/safetensors.h"

namespace dssim::reference::detail {

using numerics::DType;

// Anonymous memory; from 2 MiB up on a 2 MiB boundary with transparent huge pages requested
// (madvise MADV_HUGEPAGE), for weight copies the runtime keeps: decode streams gigabytes of weights
// per step, and with 4 KiB pages every 4 KiB costs a TLB miss (a two-level walk under
// virtualisation).
class HugePageBuffer {
  public:
    HugePageBuffer() = default;
    explicit HugePageBuffer(size_t bytes);
    ~HugePageBuffer();
    HugePageBuffer(const HugePageBuffer&) = delete;
    HugePageBuffer& operator=(const HugePageBuffer&) = delete;
    HugePageBuffer(HugePageBuffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    HugePageBuffer& operator=(HugePageBuffer&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(bytes_, o.bytes_);
        return *this;
    }
    [[nodiscard]] uint8_t* data() const { return data_; }

  private:
    uint8_t* data_ = nullptr;
    size_t bytes_ = 0;
};

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
    // Data derived from the weight once and kept (resident mode only), e.g. absorbed MLA's
    // per-head transposed W_UK; built under `derived_once`.
    mutable std::once_flag derived_once;
    mutable std::vector<uint8_t> derived;
    mutable std::vector<float> derived_scale;
    mutable HugePageBuffer derived_interleaved;  // `derived` interleaved, when the kernels read it
    // Resident mode: read ahead (and mapped) once; later requests are no-ops.
    mutable std::atomic<bool> prefetched{false};
    // Resident FP8 weights: the codes in kernels::interleave_e4m3's layout, made by linear() on
    // first use when the kernels read that layout (kernels::e4m3_interleaved_active()).
    bool interleave = false;
    mutable std::once_flag interleaved_once;
    mutable HugePageBuffer interleaved;

    [[nodiscard]] const uint16_t* bf16() const { return static_cast<const uint16_t*>(data); }
    [[nodiscard]] const uint8_t* fp8() const { return static_cast<const uint8_t*>(data); }
    [[nodiscard]] const float* f32() const { return static_cast<const float*>(data); }
};

// Resolves graph parameter names (WeightRef names, "layers.7.attn.wkv_a") to checkpoint
// tensors, checking dtype and shape once; thread-safe.
class WeightStore {
  public:
    WeightStore(const models::ModelConfig& config, const models::Checkpoint& checkpoint);
    ~WeightStore();
    WeightStore(const WeightStore&) = delete;
    WeightStore& operator=(const WeightStore&) = delete;
    // `param` in the graph scheme; `dtype`/`shape` expected (from the op's WeightRef).
    const Weight& get(const std::string& param, DType dtype, const std::vector<int64_t>& shape);
    // Like get(), but returns nullptr instead of throwing (for read-ahead of weights whose
    // errors must surface only when the op that uses them runs).
    const Weight* try_get(const std::string& param,
                          DType dtype,
                          const std::vector<int64_t>& shape) noexcept;
    // Tells the kernel the mapped pages of every resolved weight are not needed now (streaming:
    // keeps the resident set to the weights of the op being executed).
    void release_pages(const Weight& w) const;
    // Asks a helper thread to read the weight's pages ahead of use (madvise MADV_WILLNEED:
    // the kernel starts reading them into the page cache; the calling thread never waits, so
    // disk reads of the next weights overlap the current op's compute). Pages already
    // cached cost one madvise call. In resident mode the pages are also mapped ahead
    // (MADV_POPULATE_READ), which replaces the compute threads' first-touch page faults.
    // DSSIM_PREFETCH=off disables it, =willneed skips the mapping (for measurements).
    void prefetch(const Weight& w);
    // The interleaved copy of a resident FP8 weight (kernels::interleave_e4m3), made on the first
    // call; nullptr when the weight is not FP8, the weights stream, or the kernels on this thread
    // read the plain layout.
    const uint8_t* interleaved(const Weight& w, int threads);
    void set_streaming(bool on) { streaming_ = on; }
    [[nodiscard]] bool streaming() const { return streaming_; }

  private:
    void prefetch_loop();
    static void drop_mapped_pages(const Weight& w);

    const models::ModelConfig& config_;
    const models::Checkpoint& ckpt_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::unique_ptr<Weight>> cache_;
    bool streaming_ = true;
    // Read-ahead queue served by prefetch_thread_ (started on first use).
    bool prefetch_on_ = true;
    bool populate_ = true;  // resident mode: also map the read-ahead pages (MADV_POPULATE_READ)
    std::mutex prefetch_mutex_;
    std::condition_variable prefetch_cv_;
    std::deque<std::span<const std::byte>> prefetch_queue_;
    bool prefetch_stop_ = false;
    std::thread prefetch_thread_;
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
// FP8 weight: kernels::gemm_dequant (the demo's weight_dequant + F.linear; the BF16 weight is
// formed while packing or decoding a row, never stored). FP8 input: fp8_gemm with the demo's
// Triton promotion order. One kernel call over all N columns, which the kernels split over
// `threads` (small-M rows take their decode path); every element is one sequential FP32
// reduction, so the result does not depend on the thread count or on how rows are grouped.
// `interleaved`: WeightStore::interleaved(w) (or nullptr), read instead of the plain codes.
void linear(const LinearInput& x,
            size_t m,
            const Weight& w,
            const uint8_t* interleaved,
            uint16_t* y,
            int threads);

// Rows [row0, row0 + count) of a weight as BF16 [count, cols]: a pointer into the mapping for
// BF16 weights; FP8 weights are dequantised into `buf` (weight_dequant of the 128-row blocks
// covering the rows; the dequantisation is elementwise, so the bits equal the same rows of a
// whole-tensor weight_dequant).
const uint16_t* weight_rows_bf16(const Weight& w,
                                 size_t row0,
                                 size_t count,
                                 std::vector<uint16_t>& buf);

}  // namespace dssim::reference::detail
