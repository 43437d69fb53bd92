// DeviceSpec: one accelerator as published (configs/devices/<name>.json). Every figure is a
// sourced Quantity; unknown figures stay unknown. The cost models and the simulator read a
// DeviceSpec; what-if studies copy and modify one (scaled, with_value, with_fp8_native).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/devices/quantity.h"

namespace dssim::devices {

// Precisions a device's matrix units are rated for (peak_dense.<name> in the config).
enum class Precision { FP32, BF16, FP16, FP8, INT8 };
std::string_view precision_name(Precision p);  // fp32 bf16 fp16 fp8 int8
std::optional<Precision> parse_precision(std::string_view name);
// Bytes per element of an operand stored in this precision.
int precision_bytes(Precision p);

// How FP8 layers run on the device. Auto: native FP8 where the device has it, otherwise the
// device's configured fallback. The others force one way (what-if or a user choice).
enum class Fp8Mode { Auto, Native, Int8, Bf16 };
std::string_view fp8_mode_name(Fp8Mode m);
std::optional<Fp8Mode> parse_fp8_mode(std::string_view name);

// Scale-up fabric shapes: one switch layer (NVSwitch), peer links to every member (HCCS,
// MetaXLink), or a two-level switched fabric spanning nodes (Huawei Unified Bus).
enum class Topology { Switch, FullMesh, TwoTier };
std::string_view topology_name(Topology t);
std::optional<Topology> parse_topology(std::string_view name);

struct ComputeSpec {
    Quantity peak_fp32;  // TFLOPS, dense (no 2:4 sparsity)
    Quantity peak_bf16;  // TFLOPS
    Quantity peak_fp16;  // TFLOPS
    Quantity peak_fp8;   // TFLOPS
    Quantity peak_int8;  // TOPS
    Flag fp8_native;
    Precision fp8_fallback = Precision::BF16;  // INT8 or BF16: how FP8 layers run if not native
    Quantity compute_units;                    // count
    std::string compute_unit_kind;             // "SM", "AI core", ... (descriptive)
    Quantity clock;                            // GHz

    [[nodiscard]] const Quantity& peak(Precision p) const;
    [[nodiscard]] Quantity& peak(Precision p);
};

struct MemorySpec {
    Label type;          // HBM3, HBM2e, LPDDR5, GDDR6 ...
    Quantity capacity;   // GB
    Quantity bandwidth;  // GB/s
    Quantity latency;    // ns
};

struct OnChipSpec {
    Quantity l2;    // MB, last-level cache
    Quantity sram;  // MB, software-managed on-chip memory (where the vendor quotes a total)
};

struct ScaleUpSpec {
    Label link_type;                   // NVLink4, HCCS, UB ...
    Quantity bandwidth_per_direction;  // GB/s per device, all links together
    Quantity latency;                  // us
    Label topology;                    // switch | full_mesh | two_tier
    Quantity domain_size;              // count of devices in one scale-up domain
};

struct ScaleOutSpec {
    Label nic_type;
    Quantity nic_bandwidth;  // Gb/s per device
};

struct PowerSpec {
    Quantity tdp;  // W
};

// A reference to one fact of a spec, for generic listing (show) and what-if access.
struct FactRef {
    std::string path;           // "memory.bandwidth"
    std::string expected_unit;  // "" for flags and labels
    Quantity* quantity = nullptr;
    Flag* flag = nullptr;
    Label* label = nullptr;
};

struct DeviceSpec {
    std::string name;          // file stem: "h800"
    std::string display_name;  // "NVIDIA H800 SXM5"
    std::string vendor;
    std::string calibration;  // configs/calibration/<name>.json holding its efficiency curves
    std::string description;
    std::map<std::string, std::string> sources;  // id -> citation
    std::string file;                            // where it was loaded from (errors, show)

    ComputeSpec compute;
    MemorySpec memory;
    OnChipSpec on_chip;
    ScaleUpSpec scale_up;
    ScaleOutSpec scale_out;
    PowerSpec power;

    // Every fact in display order (quantities, flags and labels).
    [[nodiscard]] std::vector<FactRef> facts();
    // Dotted paths of every numeric field ("compute.peak_dense.bf16", "memory.bandwidth", ...).
    [[nodiscard]] std::vector<std::string> quantity_fields() const;
    // The quantity at a dotted path; unknown path -> InputError listing the valid paths.
    [[nodiscard]] const Quantity& quantity(std::string_view path) const;
    [[nodiscard]] Quantity& quantity(std::string_view path);

    // What-if copies. The changed figure is marked derived, with source "what-if" and a note.
    // Scaling an unknown figure is an InputError (there is nothing to scale).
    [[nodiscard]] DeviceSpec scaled(std::string_view path, double factor) const;
    [[nodiscard]] DeviceSpec with_value(std::string_view path, double value) const;
    [[nodiscard]] DeviceSpec with_fp8_native(bool native) const;

    // The topology as an enum, or nullopt when the config does not know it.
    [[nodiscard]] std::optional<Topology> topology() const;
    // The citation for a source id ("" if absent).
    [[nodiscard]] std::string source_text(std::string_view id) const;
};

// Parses and validates a device config object; `file` names it in errors.
DeviceSpec parse_device(const Json& json, const std::string& file);
// Loads a built-in device by name (configs/devices/<name>.json) or a file path. Unknown name ->
// InputError listing the built-in devices.
DeviceSpec load_device(std::string_view name_or_path);
// Serialises back to the config form (parse -> serialise reproduces the file's JSON value).
OrderedJson device_to_json(const DeviceSpec& spec);
// Names of the built-in devices, sorted.
std::vector<std::string> list_devices();

// Names of files (stems) in configs/<subdir>, sorted; shared by devices, systems, calibration.
std::vector<std::string> list_config_names(std::string_view subdir);

}  // namespace dssim::devices
