// Loading, validating and serialising node / supernode / cluster configs.
#include "dssim/devices/system_spec.h"

#include <cmath>

#include "dssim/base/error.h"
#include "dssim/base/paths.h"

namespace dssim::devices {

namespace {
constexpr const char* kSystemSchema = "dssim-system/1";
}  // namespace

std::vector<FactRef> SystemSpec::facts() {
    return {
        FactRef{"devices_per_node", "count", &devices_per_node, nullptr, nullptr},
        FactRef{"nodes", "count", &nodes, nullptr, nullptr},
        FactRef{"scale_up_domain", "count", &scale_up_domain, nullptr, nullptr},
        FactRef{"runtime_memory_reserve", "fraction", &runtime_memory_reserve, nullptr, nullptr},
        FactRef{"scale_out.type", "", nullptr, nullptr, &scale_out.type},
        FactRef{"scale_out.topology", "", nullptr, nullptr, &scale_out.topology},
        FactRef{"scale_out.nic_bandwidth_per_device", "Gb/s", &scale_out.nic_bandwidth_per_device,
                nullptr, nullptr},
        FactRef{"scale_out.latency", "us", &scale_out.latency, nullptr, nullptr},
        FactRef{"scale_out.tiers", "count", &scale_out.tiers, nullptr, nullptr},
    };
}

int64_t SystemSpec::total_devices() const {
    return static_cast<int64_t>(devices_per_node.value.value_or(1.0) * nodes.value.value_or(1.0));
}

std::string SystemSpec::source_text(std::string_view id) const {
    auto it = sources.find(std::string(id));
    return it == sources.end() ? std::string() : it->second;
}

SystemSpec parse_system(const Json& json, const std::string& file) {
    JsonFields root(json, file);
    std::string schema = root.string("schema");
    if (schema != kSystemSchema) {
        root.fail("schema",
                  "expected \"" + std::string(kSystemSchema) + "\", got \"" + schema + "\"");
    }
    SystemSpec s;
    s.file = file;
    s.name = root.string("name");
    s.display_name = root.string("display_name");
    s.kind = root.string("kind");
    if (s.kind != "node" && s.kind != "supernode" && s.kind != "cluster") {
        root.fail("kind", "'" + s.kind + "' is not one of: node, supernode, cluster");
    }
    s.device = root.string("device");
    s.description = root.string_or("description", "");
    const Json& sources = root.value("sources");
    {
        JsonFields src(sources, file, "sources");
        for (const auto& [id, text] : sources.items()) {
            std::string citation = src.string(id);
            if (citation.empty()) {
                src.fail(id, "citation must not be empty");
            }
            s.sources[id] = citation;
        }
    }
    s.devices_per_node = parse_quantity(root, "devices_per_node", "count", sources);
    s.nodes = parse_quantity(root, "nodes", "count", sources);
    s.scale_up_domain = parse_quantity(root, "scale_up_domain", "count", sources);
    s.runtime_memory_reserve = parse_quantity(root, "runtime_memory_reserve", "fraction", sources);
    if (s.runtime_memory_reserve.known() &&
        !(*s.runtime_memory_reserve.value >= 0 && *s.runtime_memory_reserve.value < 1)) {
        throw_input_error(file, "runtime_memory_reserve.value", "must be in [0, 1)");
    }
    JsonFields out = root.object("scale_out");
    s.scale_out.type = parse_label(out, "type", sources);
    s.scale_out.topology =
        parse_label(out, "topology", sources, {"fat_tree", "multi_plane_fat_tree", "none"});
    s.scale_out.nic_bandwidth_per_device =
        parse_quantity(out, "nic_bandwidth_per_device", "Gb/s", sources);
    s.scale_out.latency = parse_quantity(out, "latency", "us", sources);
    s.scale_out.tiers = parse_quantity(out, "tiers", "count", sources);
    out.reject_unknown();
    root.reject_unknown();

    for (const char* f : {"devices_per_node", "nodes", "scale_up_domain"}) {
        const Quantity& q = f == std::string_view("devices_per_node") ? s.devices_per_node
                            : f == std::string_view("nodes")          ? s.nodes
                                                                      : s.scale_up_domain;
        if (!q.known()) {
            throw_input_error(file, f, "must be known (a system's shape cannot be unknown)");
        }
    }
    // A scale-up domain is either part of a node or a whole number of nodes.
    double dom = *s.scale_up_domain.value;
    double per_node = *s.devices_per_node.value;
    if (dom < per_node ? std::fmod(per_node, dom) != 0.0 : std::fmod(dom, per_node) != 0.0) {
        throw_input_error(file, "scale_up_domain",
                          "must divide devices_per_node or be a multiple of it");
    }
    return s;
}

SystemSpec load_system(std::string_view name_or_path) {
    std::filesystem::path path = resolve_config("systems", name_or_path, "system");
    return parse_system(load_json_file(path), path.string());
}

OrderedJson system_to_json(const SystemSpec& s) {
    OrderedJson j;
    j["schema"] = kSystemSchema;
    j["name"] = s.name;
    j["display_name"] = s.display_name;
    j["kind"] = s.kind;
    j["device"] = s.device;
    if (!s.description.empty()) {
        j["description"] = s.description;
    }
    OrderedJson sources = OrderedJson::object();
    for (const auto& [id, text] : s.sources) {
        sources[id] = text;
    }
    j["sources"] = sources;
    j["devices_per_node"] = quantity_to_json(s.devices_per_node);
    j["nodes"] = quantity_to_json(s.nodes);
    j["scale_up_domain"] = quantity_to_json(s.scale_up_domain);
    j["runtime_memory_reserve"] = quantity_to_json(s.runtime_memory_reserve);
    OrderedJson out;
    out["type"] = label_to_json(s.scale_out.type);
    out["topology"] = label_to_json(s.scale_out.topology);
    out["nic_bandwidth_per_device"] = quantity_to_json(s.scale_out.nic_bandwidth_per_device);
    out["latency"] = quantity_to_json(s.scale_out.latency);
    out["tiers"] = quantity_to_json(s.scale_out.tiers);
    j["scale_out"] = out;
    return j;
}

std::vector<std::string> list_systems() {
    return list_config_names("systems");
}

SystemSpec single_node_system(const DeviceSpec& device) {
    SystemSpec s;
    s.name = device.name + "-node";
    s.display_name = "one scale-up domain of " + device.display_name;
    s.kind = "node";
    s.device = device.name;
    s.description = "built from the device config's own scale-up and NIC figures";
    s.sources = device.sources;
    s.sources["device-derived"] = "built by single_node_system() from " + device.file;
    s.file = device.file;
    Quantity one;
    one.value = 1.0;
    one.unit = "count";
    one.source = "device-derived";
    one.confidence = Confidence::Derived;
    if (device.scale_up.domain_size.known()) {
        s.scale_up_domain = device.scale_up.domain_size;
    } else {
        s.scale_up_domain = one;
        s.scale_up_domain.note = "scale-up domain unknown: one device per domain";
    }
    s.devices_per_node = s.scale_up_domain;
    s.nodes = one;
    s.scale_out.type = device.scale_out.nic_type;
    s.scale_out.topology.value = "none";
    s.scale_out.topology.source = "device-derived";
    s.scale_out.topology.confidence = Confidence::Derived;
    s.scale_out.nic_bandwidth_per_device = device.scale_out.nic_bandwidth;
    s.scale_out.latency.unit = "us";
    s.scale_out.latency.source = "device-derived";
    s.scale_out.tiers.unit = "count";
    s.scale_out.tiers.source = "device-derived";
    s.runtime_memory_reserve.unit = "fraction";
    s.runtime_memory_reserve.source = "device-derived";
    return s;
}

}  // namespace dssim::devices
