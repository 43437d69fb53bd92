// Internal helpers over the HDF5 C API: RAII handles, reproducible creation property lists
// (no object timestamps, fixed format version bounds) and typed attribute/dataset access that
// turns every HDF5 failure into an InputError naming the file and the object.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/golden/tensor.h"

namespace dssim::golden::h5 {

// Owns one hid_t and closes it with H5Idec_ref (works for every object kind).
class Handle {
  public:
    Handle() = default;
    explicit Handle(hid_t id) : id_(id) {}
    ~Handle() { reset(); }
    Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            reset();
            id_ = other.id_;
            other.id_ = H5I_INVALID_HID;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    [[nodiscard]] hid_t get() const { return id_; }
    [[nodiscard]] bool valid() const { return id_ >= 0; }
    void reset();
    // Gives up ownership (the caller closes the id).
    hid_t release() {
        const hid_t id = id_;
        id_ = H5I_INVALID_HID;
        return id;
    }

  private:
    hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's automatic error printing (errors become InputErrors instead).
void silence_errors();

// File creation/access property lists that make output byte-reproducible.
Handle reproducible_fapl();
Handle reproducible_gcpl();
Handle reproducible_dcpl();

// The HDF5 memory/file type of an element type (BF16 -> uint16 little-endian).
hid_t native_type(ElemType type);
// Element type of a dataset's stored type, or nullopt if unsupported.
std::optional<ElemType> elem_type_of_h5(hid_t type);

// Creates every missing group along `path` ("a/b/c" creates a, a/b, a/b/c) under `parent`.
void ensure_groups(hid_t parent, std::string_view path, std::string_view file);

// Writes a dataset with "dtype" and "order" attributes.
void write_dataset(hid_t parent,
                   const std::string& path,
                   ElemType type,
                   const std::vector<int64_t>& shape,
                   const void* data,
                   int64_t order,
                   std::string_view file);

// A 1-D dataset of fixed-length UTF-8 strings (null-padded to the longest; fixed length for
// the reason given at write_string_attr), e.g. the prompt and generated texts of a text run.
void write_string_dataset(hid_t parent,
                          const std::string& path,
                          const std::vector<std::string>& values,
                          std::string_view file);

// Scalar attributes.
void write_string_attr(hid_t object,
                       const char* name,
                       std::string_view value,
                       std::string_view file);
void write_int_attr(hid_t object, const char* name, int64_t value, std::string_view file);
std::optional<std::string> read_string_attr(hid_t object, const char* name, std::string_view where);
std::optional<int64_t> read_int_attr(hid_t object, const char* name, std::string_view where);

// Reads a whole dataset. `hint` resolves a uint16 dataset without "dtype" attribute: BF16 if
// the hint says so. Throws InputError naming `file` and the dataset path.
HostTensor read_dataset(hid_t parent,
                        const std::string& path,
                        std::string_view file,
                        std::optional<ElemType> uint16_hint = std::nullopt);

// Paths (relative to `group`, without leading '/') of every dataset below it, in name order.
std::vector<std::string> list_datasets(hid_t group, std::string_view file);

bool exists(hid_t parent, const std::string& path);

}  // namespace dssim::golden::h5
