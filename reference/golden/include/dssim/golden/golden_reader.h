// Reading golden files back (the checker's reference side) and candidate files produced by a
// backend: HDF5 (the golden layout or flat datasets), safetensors, .npy and .npz. Every
// structural problem is an InputError naming the file and the tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "dssim/golden/tensor.h"

namespace dssim::golden {

struct GoldenFile {
    std::filesystem::path path;
    std::map<std::string, std::string> string_attributes;  // root attributes
    std::map<std::string, int64_t> int_attributes;
    // What a candidate can be compared against, in execution order: /tensors/<name> sorted by
    // their "order" attribute, then "logits" (the /logits dataset, order -1), then
    // "mtp_logits" (/mtp_logits, order -1) when the file has it (`dssim golden --mtp`).
    std::vector<HostTensor> tensors;
    HostTensor tokens;  // /tokens
    [[nodiscard]] const HostTensor* find(std::string_view name) const;
};

// Reads a golden file written by GoldenWriter; rejects files that are not one.
GoldenFile read_golden(const std::filesystem::path& path);

// Reads every tensor of a candidate file, chosen by extension:
//   .h5/.hdf5  with a /tensors group: /tensors/<name> plus "logits" from /logits and
//              "mtp_logits" from /mtp_logits (each if present); otherwise
//              every dataset, named by its path without the leading '/';
//   .safetensors  every tensor, by its name;
//   .npy       one tensor named by the file stem;
//   .npz       every member, named by its file name without ".npy".
std::vector<HostTensor> read_candidate(const std::filesystem::path& path);

// The .npy format (version 1, 2 or 3; little-endian or byte-sized types; C order).
HostTensor parse_npy(std::string_view bytes, std::string_view origin, std::string name);

}  // namespace dssim::golden
