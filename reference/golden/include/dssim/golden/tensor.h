// HostTensor: a named tensor held in memory with its element type, as the golden reader and
// the candidate readers (HDF5, safetensors, .npy, .npz) return it. The checker compares
// tensors of different storage types (a BF16 golden against an FP32 candidate), so every
// element can be read as a double and re-encoded into another floating type for ULP distances.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/numerics/formats.h"

namespace dssim::golden {

// Element types a file can hold. Superset of numerics::DType's storage types: candidates may
// be FP64 or unsigned (numpy writes both).
enum class ElemType : uint8_t {
    F64,
    F32,
    F16,
    BF16,
    E4M3,
    E5M2,
    I64,
    I32,
    I16,
    I8,
    U64,
    U32,
    U16,
    U8
};

// Names as written in the golden "dtype" attribute: f64 f32 f16 bf16 e4m3 e5m2 i64 i32 i16 i8
// u64 u32 u16 u8.
std::string_view elem_type_name(ElemType type);
std::optional<ElemType> parse_elem_type(std::string_view name);
size_t elem_size(ElemType type);
bool is_float(ElemType type);
// The golden file type of a runtime dtype (UE8M0 scales are stored as u8 bit patterns).
ElemType elem_type_of(numerics::DType type);

struct HostTensor {
    std::string name;
    ElemType type = ElemType::F32;
    std::vector<int64_t> shape;    // row-major
    std::vector<std::byte> bytes;  // little-endian, shape-product elements
    int64_t order = -1;            // golden execution index (-1: not an op output)

    [[nodiscard]] int64_t elements() const;
    // Element i as a double (exact for every type except I64/U64 beyond 2^53).
    [[nodiscard]] double value(size_t i) const;
    // Raw bits of element i, right-aligned (integers: two's complement in the low bits).
    [[nodiscard]] uint64_t raw_bits(size_t i) const;
};

// "[2, 3, 4]"
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace dssim::golden
