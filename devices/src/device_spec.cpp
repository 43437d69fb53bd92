// Loading, validating, serialising and what-if editing of device configs.
#include "dssim/devices/device_spec.h"

#include <algorithm>
#include <sstream>

#include "dssim/base/error.h"
#include "dssim/base/paths.h"

namespace dssim::devices {

namespace {
constexpr const char* kDeviceSchema = "dssim-device/1";
}  // namespace

std::string_view precision_name(Precision p) {
    switch (p) {
        case Precision::FP32:
            return "fp32";
        case Precision::BF16:
            return "bf16";
        case Precision::FP16:
            return "fp16";
        case Precision::FP8:
            return "fp8";
        case Precision::INT8:
            return "int8";
    }
    return "?";
}

std::optional<Precision> parse_precision(std::string_view name) {
    for (Precision p :
         {Precision::FP32, Precision::BF16, Precision::FP16, Precision::FP8, Precision::INT8}) {
        if (precision_name(p) == name) {
            return p;
        }
    }
    return std::nullopt;
}

int precision_bytes(Precision p) {
    switch (p) {
        case Precision::FP32:
            return 4;
        case Precision::BF16:
        case Precision::FP16:
            return 2;
        case Precision::FP8:
        case Precision::INT8:
            return 1;
    }
    return 4;
}

std::string_view fp8_mode_name(Fp8Mode m) {
    switch (m) {
        case Fp8Mode::Auto:
            return "auto";
        case Fp8Mode::Native:
            return "native";
        case Fp8Mode::Int8:
            return "int8";
        case Fp8Mode::Bf16:
            return "bf16";
    }
    return "?";
}

std::optional<Fp8Mode> parse_fp8_mode(std::string_view name) {
    for (Fp8Mode m : {Fp8Mode::Auto, Fp8Mode::Native, Fp8Mode::Int8, Fp8Mode::Bf16}) {
        if (fp8_mode_name(m) == name) {
            return m;
        }
    }
    return std::nullopt;
}

std::string_view topology_name(Topology t) {
    switch (t) {
        case Topology::Switch:
            return "switch";
        case Topology::FullMesh:
            return "full_mesh";
        case Topology::TwoTier:
            return "two_tier";
    }
    return "?";
}

std::optional<Topology> parse_topology(std::string_view name) {
    for (Topology t : {Topology::Switch, Topology::FullMesh, Topology::TwoTier}) {
        if (topology_name(t) == name) {
            return t;
        }
    }
    return std::nullopt;
}

const Quantity& ComputeSpec::peak(Precision p) const {
    switch (p) {
        case Precision::FP32:
            return peak_fp32;
        case Precision::BF16:
            return peak_bf16;
        case Precision::FP16:
            return peak_fp16;
        case Precision::FP8:
            return peak_fp8;
        case Precision::INT8:
            return peak_int8;
    }
    return peak_bf16;
}

Quantity& ComputeSpec::peak(Precision p) {
    return const_cast<Quantity&>(static_cast<const ComputeSpec&>(*this).peak(p));
}

std::vector<FactRef> DeviceSpec::facts() {
    auto q = [](std::string path, std::string unit, Quantity& x) {
        return FactRef{std::move(path), std::move(unit), &x, nullptr, nullptr};
    };
    auto l = [](std::string path, Label& x) {
        return FactRef{std::move(path), "", nullptr, nullptr, &x};
    };
    return {
        q("compute.peak_dense.fp32", "TFLOPS", compute.peak_fp32),
        q("compute.peak_dense.bf16", "TFLOPS", compute.peak_bf16),
        q("compute.peak_dense.fp16", "TFLOPS", compute.peak_fp16),
        q("compute.peak_dense.fp8", "TFLOPS", compute.peak_fp8),
        q("compute.peak_dense.int8", "TOPS", compute.peak_int8),
        FactRef{"compute.fp8_native", "", nullptr, &compute.fp8_native, nullptr},
        q("compute.compute_units", "count", compute.compute_units),
        q("compute.clock", "GHz", compute.clock),
        l("memory.type", memory.type),
        q("memory.capacity", "GB", memory.capacity),
        q("memory.bandwidth", "GB/s", memory.bandwidth),
        q("memory.latency", "ns", memory.latency),
        q("on_chip.l2", "MB", on_chip.l2),
        q("on_chip.sram", "MB", on_chip.sram),
        l("scale_up.link_type", scale_up.link_type),
        q("scale_up.bandwidth_per_direction", "GB/s", scale_up.bandwidth_per_direction),
        q("scale_up.latency", "us", scale_up.latency),
        l("scale_up.topology", scale_up.topology),
        q("scale_up.domain_size", "count", scale_up.domain_size),
        l("scale_out.nic_type", scale_out.nic_type),
        q("scale_out.nic_bandwidth", "Gb/s", scale_out.nic_bandwidth),
        q("power.tdp", "W", power.tdp),
    };
}

std::vector<std::string> DeviceSpec::quantity_fields() const {
    std::vector<std::string> out;
    for (const FactRef& f : const_cast<DeviceSpec*>(this)->facts()) {
        if (f.quantity != nullptr) {
            out.push_back(f.path);
        }
    }
    return out;
}

Quantity& DeviceSpec::quantity(std::string_view path) {
    for (FactRef& f : facts()) {
        if (f.quantity != nullptr && f.path == path) {
            return *f.quantity;
        }
    }
    std::string list;
    for (const auto& p : quantity_fields()) {
        list += (list.empty() ? "" : ", ") + p;
    }
    throw InputError("unknown device field '" + std::string(path) + "' (fields: " + list + ")");
}

const Quantity& DeviceSpec::quantity(std::string_view path) const {
    return const_cast<DeviceSpec*>(this)->quantity(path);
}

namespace {
std::string format_number(double v) {
    std::ostringstream s;
    s.precision(10);
    s << v;
    return s.str();
}
}  // namespace

DeviceSpec DeviceSpec::scaled(std::string_view path, double factor) const {
    if (!(factor > 0.0) || !std::isfinite(factor)) {
        throw InputError("what-if scale of " + std::string(path) +
                         ": factor must be a positive finite number (got " + format_number(factor) +
                         ")");
    }
    DeviceSpec out = *this;
    Quantity& q = out.quantity(path);
    if (!q.value) {
        throw InputError(name + ": " + std::string(path) +
                         ": cannot scale an unknown figure (set a value with with_value)");
    }
    q.note = "what-if: x" + format_number(factor) + " of " + format_number(*q.value) + " " +
             q.unit + " (" + q.source + ", " + std::string(confidence_name(q.confidence)) + ")";
    q.value = *q.value * factor;
    q.source = "what-if";
    q.confidence = Confidence::Derived;
    out.sources["what-if"] = "changed by a what-if study, not a published figure";
    return out;
}

DeviceSpec DeviceSpec::with_value(std::string_view path, double value) const {
    DeviceSpec out = *this;
    Quantity& q = out.quantity(path);
    if (!(value > 0.0) || !std::isfinite(value)) {
        throw InputError("what-if value of " + std::string(path) +
                         ": must be a positive finite number (got " + format_number(value) + ")");
    }
    q.note = "what-if: set to " + format_number(value) + " " + q.unit +
             (q.value ? " (was " + format_number(*q.value) + ")" : " (was unknown)");
    q.value = value;
    q.source = "what-if";
    q.confidence = Confidence::Derived;
    out.sources["what-if"] = "changed by a what-if study, not a published figure";
    return out;
}

DeviceSpec DeviceSpec::with_fp8_native(bool native) const {
    DeviceSpec out = *this;
    out.compute.fp8_native.value = native;
    out.compute.fp8_native.source = "what-if";
    out.compute.fp8_native.confidence = Confidence::Derived;
    out.compute.fp8_native.note = "what-if: FP8 support set by a study";
    out.sources["what-if"] = "changed by a what-if study, not a published figure";
    return out;
}

std::optional<Topology> DeviceSpec::topology() const {
    if (!scale_up.topology.value) {
        return std::nullopt;
    }
    return parse_topology(*scale_up.topology.value);
}

std::string DeviceSpec::source_text(std::string_view id) const {
    auto it = sources.find(std::string(id));
    return it == sources.end() ? std::string() : it->second;
}

DeviceSpec parse_device(const Json& json, const std::string& file) {
    JsonFields root(json, file);
    std::string schema = root.string("schema");
    if (schema != kDeviceSchema) {
        root.fail("schema",
                  "expected \"" + std::string(kDeviceSchema) + "\", got \"" + schema + "\"");
    }
    DeviceSpec d;
    d.file = file;
    d.name = root.string("name");
    if (d.name.empty()) {
        root.fail("name", "must not be empty");
    }
    d.display_name = root.string("display_name");
    d.vendor = root.string("vendor");
    d.calibration = root.string("calibration");
    d.description = root.string_or("description", "");

    const Json& sources = root.value("sources");
    {
        JsonFields s(sources, file, "sources");
        for (const auto& [id, text] : sources.items()) {
            std::string citation = s.string(id);
            if (citation.empty()) {
                s.fail(id, "citation must not be empty");
            }
            d.sources[id] = citation;
        }
    }

    JsonFields compute = root.object("compute");
    {
        JsonFields peak = compute.object("peak_dense");
        d.compute.peak_fp32 = parse_quantity(peak, "fp32", "TFLOPS", sources);
        d.compute.peak_bf16 = parse_quantity(peak, "bf16", "TFLOPS", sources);
        d.compute.peak_fp16 = parse_quantity(peak, "fp16", "TFLOPS", sources);
        d.compute.peak_fp8 = parse_quantity(peak, "fp8", "TFLOPS", sources);
        d.compute.peak_int8 = parse_quantity(peak, "int8", "TOPS", sources);
        peak.reject_unknown();
    }
    d.compute.fp8_native = parse_flag(compute, "fp8_native", sources);
    {
        std::string fb = compute.string("fp8_fallback");
        if (fb == "int8") {
            d.compute.fp8_fallback = Precision::INT8;
        } else if (fb == "bf16") {
            d.compute.fp8_fallback = Precision::BF16;
        } else {
            compute.fail("fp8_fallback", "'" + fb + "' is not one of: int8, bf16");
        }
    }
    d.compute.compute_units = parse_quantity(compute, "compute_units", "count", sources);
    d.compute.compute_unit_kind = compute.string_or("compute_unit_kind", "");
    d.compute.clock = parse_quantity(compute, "clock", "GHz", sources);
    compute.reject_unknown();

    JsonFields memory = root.object("memory");
    d.memory.type = parse_label(memory, "type", sources);
    d.memory.capacity = parse_quantity(memory, "capacity", "GB", sources);
    d.memory.bandwidth = parse_quantity(memory, "bandwidth", "GB/s", sources);
    d.memory.latency = parse_quantity(memory, "latency", "ns", sources);
    memory.reject_unknown();

    JsonFields on_chip = root.object("on_chip");
    d.on_chip.l2 = parse_quantity(on_chip, "l2", "MB", sources);
    d.on_chip.sram = parse_quantity(on_chip, "sram", "MB", sources);
    on_chip.reject_unknown();

    JsonFields up = root.object("scale_up");
    d.scale_up.link_type = parse_label(up, "link_type", sources);
    d.scale_up.bandwidth_per_direction =
        parse_quantity(up, "bandwidth_per_direction", "GB/s", sources);
    d.scale_up.latency = parse_quantity(up, "latency", "us", sources);
    d.scale_up.topology = parse_label(up, "topology", sources, {"switch", "full_mesh", "two_tier"});
    d.scale_up.domain_size = parse_quantity(up, "domain_size", "count", sources);
    up.reject_unknown();

    JsonFields out = root.object("scale_out");
    d.scale_out.nic_type = parse_label(out, "nic_type", sources);
    d.scale_out.nic_bandwidth = parse_quantity(out, "nic_bandwidth", "Gb/s", sources);
    out.reject_unknown();

    JsonFields power = root.object("power");
    d.power.tdp = parse_quantity(power, "tdp", "W", sources);
    power.reject_unknown();

    root.reject_unknown();

    // Memory capacity and bandwidth are the two figures every cost model needs; a device
    // config without them cannot be simulated at all, so they are required to be known.
    if (!d.memory.bandwidth.known()) {
        throw_input_error(file, "memory.bandwidth", "must be known (every cost model needs it)");
    }
    if (!d.memory.capacity.known()) {
        throw_input_error(file, "memory.capacity", "must be known (every cost model needs it)");
    }
    return d;
}

DeviceSpec load_device(std::string_view name_or_path) {
    std::filesystem::path path = resolve_config("devices", name_or_path, "device");
    return parse_device(load_json_file(path), path.string());
}

OrderedJson device_to_json(const DeviceSpec& d) {
    OrderedJson j;
    j["schema"] = kDeviceSchema;
    j["name"] = d.name;
    j["display_name"] = d.display_name;
    j["vendor"] = d.vendor;
    j["calibration"] = d.calibration;
    if (!d.description.empty()) {
        j["description"] = d.description;
    }
    OrderedJson sources = OrderedJson::object();
    for (const auto& [id, text] : d.sources) {
        sources[id] = text;
    }
    j["sources"] = sources;

    OrderedJson peak;
    peak["fp32"] = quantity_to_json(d.compute.peak_fp32);
    peak["bf16"] = quantity_to_json(d.compute.peak_bf16);
    peak["fp16"] = quantity_to_json(d.compute.peak_fp16);
    peak["fp8"] = quantity_to_json(d.compute.peak_fp8);
    peak["int8"] = quantity_to_json(d.compute.peak_int8);
    OrderedJson compute;
    compute["peak_dense"] = peak;
    compute["fp8_native"] = flag_to_json(d.compute.fp8_native);
    compute["fp8_fallback"] = precision_name(d.compute.fp8_fallback);
    compute["compute_units"] = quantity_to_json(d.compute.compute_units);
    if (!d.compute.compute_unit_kind.empty()) {
        compute["compute_unit_kind"] = d.compute.compute_unit_kind;
    }
    compute["clock"] = quantity_to_json(d.compute.clock);
    j["compute"] = compute;

    OrderedJson memory;
    memory["type"] = label_to_json(d.memory.type);
    memory["capacity"] = quantity_to_json(d.memory.capacity);
    memory["bandwidth"] = quantity_to_json(d.memory.bandwidth);
    memory["latency"] = quantity_to_json(d.memory.latency);
    j["memory"] = memory;

    OrderedJson on_chip;
    on_chip["l2"] = quantity_to_json(d.on_chip.l2);
    on_chip["sram"] = quantity_to_json(d.on_chip.sram);
    j["on_chip"] = on_chip;

    OrderedJson up;
    up["link_type"] = label_to_json(d.scale_up.link_type);
    up["bandwidth_per_direction"] = quantity_to_json(d.scale_up.bandwidth_per_direction);
    up["latency"] = quantity_to_json(d.scale_up.latency);
    up["topology"] = label_to_json(d.scale_up.topology);
    up["domain_size"] = quantity_to_json(d.scale_up.domain_size);
    j["scale_up"] = up;

    OrderedJson out;
    out["nic_type"] = label_to_json(d.scale_out.nic_type);
    out["nic_bandwidth"] = quantity_to_json(d.scale_out.nic_bandwidth);
    j["scale_out"] = out;

    OrderedJson power;
    power["tdp"] = quantity_to_json(d.power.tdp);
    j["power"] = power;
    return j;
}

std::vector<std::string> list_config_names(std::string_view subdir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(config_dir() / subdir, ec)) {
        if (entry.path().extension() == ".json") {
            names.push_back(entry.path().stem().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<std::string> list_devices() {
    return list_config_names("devices");
}

}  // namespace dssim::devices
