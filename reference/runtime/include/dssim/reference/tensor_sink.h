// TensorSink: how the reference runtime hands every intermediate tensor to whoever records it
// (the golden HDF5 writer, a digest, a test). The runtime calls on_tensor once per tensor, in
// execution order, with the tensor's stable name. Names follow the op graph's scheme
// (docs/model-graph.md), prefixed by the step: "step0/layers.7.attn.wkv_a" for the prefill,
// "step1/..." for the first decode step, and so on. Golden files store each under
// /tensors/<name>, so names map 1:1 to HDF5 dataset paths.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dssim/numerics/formats.h"

namespace dssim::reference {

struct TensorView {
    std::string_view name;           // "step0/layers.7.attn.wkv_a"
    numerics::DType dtype;           // runtime dtype: BF16 (uint16 bits), F32, I64, ...
    std::span<const int64_t> shape;  // row-major
    const void* data;                // shape-product elements of dtype
};

class TensorSink {
  public:
    virtual ~TensorSink() = default;
    // Whether the runtime should produce this tensor at all (lets "--tensors logits" skip work).
    [[nodiscard]] virtual bool wants(std::string_view name) const = 0;
    virtual void on_tensor(const TensorView& tensor) = 0;
};

}  // namespace dssim::reference
