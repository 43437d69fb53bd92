// SystemSpec: how devices are put together (configs/systems/<name>.json): a node (8-GPU HGX
// with NVSwitch, Atlas 800 A2 with an HCCS mesh), a supernode (CloudMatrix384 on the Unified
// Bus) or a cluster of nodes on a scale-out fabric (InfiniBand / RoCE fat tree). A system names
// its device; the device config supplies the link technology and per-device figures.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/json_reader.h"
#include "dssim/devices/device_spec.h"
#include "dssim/devices/quantity.h"

namespace dssim::devices {

struct ScaleOutFabric {
    Label type;                         // infiniband_ndr, roce, ...
    Label topology;                     // fat_tree | multi_plane_fat_tree | none
    Quantity nic_bandwidth_per_device;  // Gb/s injected by one device into the fabric
    Quantity latency;                   // us, one network traversal
    Quantity tiers;                     // count of switch layers
};

struct SystemSpec {
    std::string name;
    std::string display_name;
    std::string kind;    // node | supernode | cluster
    std::string device;  // device config name
    std::string description;
    std::map<std::string, std::string> sources;
    std::string file;

    Quantity devices_per_node;  // count
    Quantity nodes;             // count (1 for a node config)
    Quantity scale_up_domain;   // count of devices sharing one scale-up fabric
    // Share of each device's memory the serving runtime keeps besides weights and KV cache
    // (CUDA graphs, communication buffers, allocator slack); unknown: the calibration's estimate.
    Quantity runtime_memory_reserve;  // fraction
    ScaleOutFabric scale_out;

    [[nodiscard]] std::vector<FactRef> facts();
    [[nodiscard]] int64_t total_devices() const;
    [[nodiscard]] std::string source_text(std::string_view id) const;
};

SystemSpec parse_system(const Json& json, const std::string& file);
// Built-in name (configs/systems/<name>.json) or a path; unknown -> InputError listing names.
SystemSpec load_system(std::string_view name_or_path);
OrderedJson system_to_json(const SystemSpec& spec);
std::vector<std::string> list_systems();

// A single node built from a device's own figures, for devices without a system config: the
// scale-up domain is the device's domain (1 when unknown) and the NIC is the device's NIC.
// Each figure keeps the device's source and confidence.
SystemSpec single_node_system(const DeviceSpec& device);

}  // namespace dssim::devices
