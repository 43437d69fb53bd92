// `dssim devices`: the accelerators dssim knows, with every figure's source.
//   dssim devices [--json]              one line per device with the key figures
//   dssim devices --show NAME [--json]  every field: value, unit, confidence, source, note
//   dssim devices --check FILE          validate a user device file (exit 2 on any schema error)
//   dssim devices --systems [--json]    node / supernode / cluster configs
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/devices.h"

namespace dssim::cli {
namespace {

using devices::Confidence;
using devices::DeviceSpec;
using devices::Quantity;

struct DevicesOptions {
    bool json = false;
    std::string show;
    std::string check;
    bool systems = false;
};

std::string num(const Quantity& q) {
    if (!q.value) {
        return "?";
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", *q.value);
    return buf;
}

OrderedJson num_json(const Quantity& q) {
    return q.value ? OrderedJson(*q.value) : OrderedJson(nullptr);
}

std::string fp8_cell(const DeviceSpec& d) {
    if (d.compute.fp8_native.value.value_or(false)) {
        return num(d.compute.peak_fp8);
    }
    return "-> " + std::string(devices::precision_name(d.compute.fp8_fallback));
}

void list_devices(bool json) {
    OrderedJson out = OrderedJson::array();
    std::string text;
    char line[512];
    std::snprintf(line, sizeof line, "%-13s %-38s %8s %8s %7s %7s %8s %6s %s\n", "name", "device",
                  "bf16", "fp8", "HBM", "HBM", "scale-up", "domain", "fp8");
    text += line;
    std::snprintf(line, sizeof line, "%-13s %-38s %8s %8s %7s %7s %8s %6s %s\n", "", "", "TFLOPS",
                  "TFLOPS", "GB", "GB/s", "GB/s/dir", "", "native");
    text += line;
    for (const std::string& name : devices::list_devices()) {
        DeviceSpec d = devices::load_device(name);
        const auto& c = d.compute;
        std::string native = c.fp8_native.value ? (*c.fp8_native.value ? "yes" : "no") : "?";
        std::snprintf(line, sizeof line, "%-13s %-38s %8s %8s %7s %7s %8s %6s %s\n", d.name.c_str(),
                      d.display_name.c_str(), num(c.peak_bf16).c_str(), fp8_cell(d).c_str(),
                      num(d.memory.capacity).c_str(), num(d.memory.bandwidth).c_str(),
                      num(d.scale_up.bandwidth_per_direction).c_str(),
                      num(d.scale_up.domain_size).c_str(), native.c_str());
        text += line;
        OrderedJson j;
        j["name"] = d.name;
        j["display_name"] = d.display_name;
        j["vendor"] = d.vendor;
        j["bf16_tflops"] = num_json(c.peak_bf16);
        j["fp8_tflops"] = num_json(c.peak_fp8);
        j["int8_tops"] = num_json(c.peak_int8);
        j["fp8_native"] = c.fp8_native.value ? OrderedJson(*c.fp8_native.value) : nullptr;
        j["fp8_fallback"] = devices::precision_name(c.fp8_fallback);
        j["hbm_gb"] = num_json(d.memory.capacity);
        j["hbm_gbps"] = num_json(d.memory.bandwidth);
        j["scale_up_gbps_per_direction"] = num_json(d.scale_up.bandwidth_per_direction);
        j["scale_up_domain"] = num_json(d.scale_up.domain_size);
        j["calibration"] = d.calibration;
        out.push_back(j);
    }
    if (json) {
        std::printf("%s\n", out.dump(2).c_str());
    } else {
        std::fputs(text.c_str(), stdout);
        std::printf(
            "\n'?' = no published figure (see --show NAME); '-> int8' = FP8 layers run as "
            "INT8 (not native)\n");
    }
}

template <class Spec>
void print_facts(Spec& spec) {
    for (const devices::FactRef& f : spec.facts()) {
        std::string value;
        std::string unit;
        std::string source;
        Confidence conf = Confidence::Unknown;
        std::string note;
        if (f.quantity != nullptr) {
            value = f.quantity->value ? num(*f.quantity) : "unknown";
            unit = f.quantity->unit;
            source = f.quantity->source;
            conf = f.quantity->confidence;
            note = f.quantity->note;
        } else if (f.flag != nullptr) {
            value = f.flag->value ? (*f.flag->value ? "true" : "false") : "unknown";
            source = f.flag->source;
            conf = f.flag->confidence;
            note = f.flag->note;
        } else {
            value = f.label->value.value_or("unknown");
            source = f.label->source;
            conf = f.label->confidence;
            note = f.label->note;
        }
        std::printf("  %-34s %-28s %-9s [%s] %s\n", f.path.c_str(),
                    (value + (unit.empty() || unit == "count" ? "" : " " + unit)).c_str(),
                    std::string(devices::confidence_name(conf)).c_str(), source.c_str(),
                    note.c_str());
    }
    std::printf("sources:\n");
    for (const auto& [id, text] : spec.sources) {
        std::printf("  [%s] %s\n", id.c_str(), text.c_str());
    }
}

void show_device(const std::string& name, bool json) {
    DeviceSpec d = devices::load_device(name);
    if (json) {
        std::printf("%s\n", devices::device_to_json(d).dump(2).c_str());
        return;
    }
    std::printf("%s (%s): %s\n", d.display_name.c_str(), d.name.c_str(), d.description.c_str());
    std::printf("file: %s\ncalibration: %s\nfp8 fallback: %s\n", d.file.c_str(),
                d.calibration.c_str(),
                std::string(devices::precision_name(d.compute.fp8_fallback)).c_str());
    print_facts(d);
}

void check_device(const std::string& file) {
    DeviceSpec d = devices::parse_device(load_json_file(file), file);
    // The calibration it names must exist and be valid too.
    devices::load_calibration(d.calibration);
    int known = 0;
    int unknown = 0;
    for (const auto& f : d.facts()) {
        bool k = f.quantity ? f.quantity->known()
                 : f.flag   ? f.flag->value.has_value()
                            : f.label->value.has_value();
        (k ? known : unknown)++;
    }
    std::printf("ok: %s: device '%s', %d figures known, %d unknown, calibration '%s'\n",
                file.c_str(), d.name.c_str(), known, unknown, d.calibration.c_str());
}

void list_systems(bool json) {
    OrderedJson out = OrderedJson::array();
    std::printf("%s", json ? ""
                           : "name                 kind       device        devices/node "
                             "nodes domain  NIC Gb/s/device\n");
    for (const std::string& name : devices::list_systems()) {
        devices::SystemSpec s = devices::load_system(name);
        if (json) {
            out.push_back(devices::system_to_json(s));
            continue;
        }
        std::printf("%-20s %-10s %-13s %12s %5s %6s %s\n", s.name.c_str(), s.kind.c_str(),
                    s.device.c_str(), num(s.devices_per_node).c_str(), num(s.nodes).c_str(),
                    num(s.scale_up_domain).c_str(),
                    num(s.scale_out.nic_bandwidth_per_device).c_str());
    }
    if (json) {
        std::printf("%s\n", out.dump(2).c_str());
    }
}

}  // namespace

void add_devices_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "devices",
        "Accelerators and systems dssim can simulate, with the source and confidence of every "
        "figure (configs/devices, configs/systems; docs/devices.md).\n"
        "Usage: dssim devices [--json] | --show NAME [--json] | --check FILE | --systems [--json]");
    auto opt = std::make_shared<DevicesOptions>();
    cmd->add_flag("--json", opt->json, "Print JSON instead of a table.");
    cmd->add_option("--show", opt->show,
                    "Print every field of device NAME (a built-in name or a file path): value, "
                    "unit, confidence (primary/secondary/derived/unknown), source and note.");
    cmd->add_option("--check", opt->check,
                    "Validate the device file FILE against the schema (units, positive figures, "
                    "known confidence, declared sources); exit 2 naming file and field on error.");
    cmd->add_flag("--systems", opt->systems,
                  "List the node / supernode / cluster configs in configs/systems instead.");
    cmd->footer(
        "Examples:\n"
        "  dssim devices\n"
        "  dssim devices --show h800\n"
        "  dssim devices --check my-chip.json\n"
        "  dssim devices --systems --json");
    cmd->callback([opt] {
        int modes = (!opt->show.empty()) + (!opt->check.empty()) + (opt->systems ? 1 : 0);
        if (modes > 1) {
            throw InputError("devices: use only one of --show, --check, --systems");
        }
        if (!opt->check.empty()) {
            check_device(opt->check);
        } else if (!opt->show.empty()) {
            show_device(opt->show, opt->json);
        } else if (opt->systems) {
            list_systems(opt->json);
        } else {
            list_devices(opt->json);
        }
    });
}

}  // namespace dssim::cli
