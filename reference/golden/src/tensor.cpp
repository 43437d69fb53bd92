// Element access and type names of HostTensor.
#include "dssim/golden/tensor.h"

#include <array>
#include <cstring>

#include "dssim/base/error.h"

namespace dssim::golden {

namespace {
constexpr std::array<std::string_view, 14> kNames = {"f64",  "f32", "f16", "bf16", "e4m3",
                                                     "e5m2", "i64", "i32", "i16",  "i8",
                                                     "u64",  "u32", "u16", "u8"};
constexpr std::array<size_t, 14> kSizes = {8, 4, 2, 2, 1, 1, 8, 4, 2, 1, 8, 4, 2, 1};

template <typename T>
T load(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}
}  // namespace

std::string_view elem_type_name(ElemType type) {
    return kNames[static_cast<size_t>(type)];
}

std::optional<ElemType> parse_elem_type(std::string_view name) {
    for (size_t i = 0; i < kNames.size(); ++i) {
        if (kNames[i] == name) return static_cast<ElemType>(i);
    }
    return std::nullopt;
}

size_t elem_size(ElemType type) {
    return kSizes[static_cast<size_t>(type)];
}

bool is_float(ElemType type) {
    switch (type) {
        case ElemType::F64:
        case ElemType::F32:
        case ElemType::F16:
        case ElemType::BF16:
        case ElemType::E4M3:
        case ElemType::E5M2:
            return true;
        default:
            return false;
    }
}

ElemType elem_type_of(numerics::DType type) {
    using numerics::DType;
    switch (type) {
        case DType::F32:
            return ElemType::F32;
        case DType::F16:
            return ElemType::F16;
        case DType::BF16:
            return ElemType::BF16;
        case DType::F8E4M3:
            return ElemType::E4M3;
        case DType::F8E5M2:
            return ElemType::E5M2;
        case DType::UE8M0:
            return ElemType::U8;
        case DType::I8:
            return ElemType::I8;
        case DType::I32:
            return ElemType::I32;
        case DType::I64:
            return ElemType::I64;
        case DType::U8:
            return ElemType::U8;
    }
    return ElemType::U8;
}

int64_t HostTensor::elements() const {
    // A shape read from a file may claim more elements than any file holds: refuse it rather
    // than overflow (signed overflow is undefined behaviour).
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
            throw InputError(name + ": shape " + shape_string(shape) +
                             " has a negative dimension or more than 2^63 elements");
        }
    }
    return n;
}

uint64_t HostTensor::raw_bits(size_t i) const {
    const std::byte* p = bytes.data() + i * elem_size(type);
    switch (elem_size(type)) {
        case 1:
            return load<uint8_t>(p);
        case 2:
            return load<uint16_t>(p);
        case 4:
            return load<uint32_t>(p);
        default:
            return load<uint64_t>(p);
    }
}

double HostTensor::value(size_t i) const {
    const std::byte* p = bytes.data() + i * elem_size(type);
    switch (type) {
        case ElemType::F64:
            return load<double>(p);
        case ElemType::F32:
            return load<float>(p);
        case ElemType::F16:
            return numerics::f32_from_f16(load<uint16_t>(p));
        case ElemType::BF16:
            return numerics::f32_from_bf16(load<uint16_t>(p));
        case ElemType::E4M3:
            return numerics::f32_from_e4m3(load<uint8_t>(p));
        case ElemType::E5M2:
            return numerics::f32_from_e5m2(load<uint8_t>(p));
        case ElemType::I64:
            return static_cast<double>(load<int64_t>(p));
        case ElemType::I32:
            return load<int32_t>(p);
        case ElemType::I16:
            return load<int16_t>(p);
        case ElemType::I8:
            return load<int8_t>(p);
        case ElemType::U64:
            return static_cast<double>(load<uint64_t>(p));
        case ElemType::U32:
            return load<uint32_t>(p);
        case ElemType::U16:
            return load<uint16_t>(p);
        case ElemType::U8:
            return load<uint8_t>(p);
    }
    return 0.0;
}

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

}  // namespace dssim::golden
