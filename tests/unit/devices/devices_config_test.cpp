// Device, system and calibration configs: every built-in file loads and round-trips, and each
// kind of schema error is an InputError naming the file and the field.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <string>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/base/paths.h"
#include "dssim/devices.h"

namespace dev = dssim::devices;
namespace fs = std::filesystem;

namespace {

const fs::path kData = fs::path(DSSIM_SOURCE_DIR) / "tests/unit/devices/data";

// Expects `fn` to throw InputError whose message contains every fragment.
template <class F>
void expect_input_error(F&& fn, std::initializer_list<std::string> fragments) {
    try {
        fn();
        FAIL("expected InputError");
    } catch (const dssim::InputError& e) {
        std::string msg = e.what();
        for (const auto& f : fragments) {
            CHECK_MESSAGE(msg.find(f) != std::string::npos, "'" << f << "' not in: " << msg);
        }
        CHECK(msg.find('\n') == std::string::npos);
    }
}

}  // namespace

TEST_CASE("the 15 devices of the DeepSeek race are all present") {
    auto names = dev::list_devices();
    for (const char* n : {"h100", "h800", "h20", "h200", "b200", "a100", "ascend-910b",
                          "ascend-910c", "ascend-950pr", "mlu370-x8", "kunlun-p800", "mtt-s4000",
                          "metax-c500", "biren-br100", "hygon-k100"}) {
        CHECK_MESSAGE(std::find(names.begin(), names.end(), n) != names.end(), n);
    }
}

TEST_CASE("every device config loads, is named after its file, and round-trips") {
    for (const auto& name : dev::list_devices()) {
        CAPTURE(name);
        fs::path path = dssim::config_dir() / "devices" / (name + ".json");
        dssim::Json original = dssim::load_json_file(path);
        dev::DeviceSpec d = dev::parse_device(original, path.string());
        CHECK(d.name == name);
        dssim::Json again = dssim::Json::parse(dev::device_to_json(d).dump());
        CHECK(again == original);
        // Its calibration exists; unknown figures are exactly the null ones.
        CHECK_NOTHROW(dev::load_calibration(d.calibration));
        for (const auto& f : d.facts()) {
            if (f.quantity != nullptr) {
                CHECK(f.quantity->known() == (f.quantity->confidence != dev::Confidence::Unknown));
                CHECK(f.quantity->unit == f.expected_unit);
                CHECK(!d.source_text(f.quantity->source).empty());
            }
        }
        // Non-native FP8 devices do not claim an FP8 rate.
        if (!d.compute.fp8_native.value.value_or(true)) {
            CHECK_FALSE(d.compute.peak_fp8.known());
        }
    }
}

TEST_CASE("every system config loads, names a built-in device, and round-trips") {
    auto names = dev::list_systems();
    for (const char* n : {"hgx-h800-8", "atlas-800-a2", "cloudmatrix-384", "h800-cluster-2048"}) {
        CHECK(std::find(names.begin(), names.end(), n) != names.end());
    }
    for (const auto& name : names) {
        CAPTURE(name);
        fs::path path = dssim::config_dir() / "systems" / (name + ".json");
        dssim::Json original = dssim::load_json_file(path);
        dev::SystemSpec s = dev::parse_system(original, path.string());
        CHECK(s.name == name);
        CHECK_NOTHROW(dev::load_device(s.device));
        dssim::Json again = dssim::Json::parse(dev::system_to_json(s).dump());
        CHECK(again == original);
    }
    dev::SystemSpec cm = dev::load_system("cloudmatrix-384");
    CHECK(cm.total_devices() == 384);
    CHECK(*cm.scale_up_domain.value == 384);
    CHECK(dev::load_device(cm.device).topology() == dev::Topology::TwoTier);
    CHECK(dev::load_device("ascend-910b").topology() == dev::Topology::FullMesh);
}

TEST_CASE("every calibration file loads, round-trips, and states its provenance") {
    auto names = dev::list_calibrations();
    CHECK(std::find(names.begin(), names.end(), "default") != names.end());
    for (const auto& name : names) {
        CAPTURE(name);
        fs::path path = dssim::config_dir() / "calibration" / (name + ".json");
        dssim::Json original = dssim::load_json_file(path);
        dev::Calibration c = dev::parse_calibration(original, path.string());
        dssim::Json again = dssim::Json::parse(dev::calibration_to_json(c).dump());
        CHECK(again == original);
        for (const auto* op :
             {&c.gemm, &c.attention_decode, &c.attention_prefill, &c.elementwise}) {
            for (const auto* eff : {&op->compute, &op->memory}) {
                for (const auto& curve : eff->curves) {
                    CHECK(!curve.derivation.empty());
                    CHECK(c.sources.count(curve.source) == 1);
                }
            }
        }
    }
    CHECK(dev::load_calibration("default").status == "default");
    CHECK(dev::load_calibration("nvidia-hopper").status == "calibrated");
}

TEST_CASE("schema errors name the file and the field") {
    auto load = [](const char* file) {
        return [file] { (void)dev::load_device((kData / file).string()); };
    };
    expect_input_error(load("bad_unknown_field.json"),
                       {"bad_unknown_field.json", "memory.bandwidth.speed", "unknown field"});
    expect_input_error(load("bad_missing_unit.json"),
                       {"bad_missing_unit.json", "memory.bandwidth.unit", "missing unit", "GB/s"});
    expect_input_error(load("bad_wrong_unit.json"),
                       {"bad_wrong_unit.json", "memory.bandwidth.unit", "TB/s", "GB/s"});
    expect_input_error(load("bad_negative_bandwidth.json"),
                       {"bad_negative_bandwidth.json", "scale_up.bandwidth_per_direction.value",
                        "must be positive"});
    expect_input_error(load("bad_zero_bandwidth.json"),
                       {"bad_zero_bandwidth.json", "memory.bandwidth.value", "must be positive"});
    expect_input_error(
        load("bad_unknown_confidence.json"),
        {"bad_unknown_confidence.json", "compute.peak_dense.bf16.confidence", "probably"});
    expect_input_error(load("bad_undeclared_source.json"),
                       {"bad_undeclared_source.json", "compute.peak_dense.fp8.source", "rumour"});
    expect_input_error(load("bad_malformed.json"), {"bad_malformed.json", "malformed JSON"});
    expect_input_error([] { (void)dev::load_device("h900"); }, {"unknown device 'h900'", "h800"});
}

TEST_CASE("more schema errors: null with a confidence, non-finite, fractional count") {
    fs::path path = dssim::config_dir() / "devices/h800.json";
    dssim::Json base = dssim::load_json_file(path);
    {
        dssim::Json j = base;
        j["memory"]["latency"]["confidence"] = "primary";
        expect_input_error([&] { (void)dev::parse_device(j, "x.json"); },
                           {"x.json", "memory.latency.value", "null"});
    }
    {
        dssim::Json j = base;
        j["compute"]["clock"]["value"] = std::numeric_limits<double>::infinity();
        expect_input_error([&] { (void)dev::parse_device(j, "x.json"); },
                           {"x.json", "compute.clock.value", "finite"});
    }
    {
        dssim::Json j = base;
        j["compute"]["compute_units"]["value"] = 131.5;
        expect_input_error([&] { (void)dev::parse_device(j, "x.json"); },
                           {"x.json", "compute.compute_units.value", "whole number"});
    }
    {
        dssim::Json j = base;
        j["scale_up"]["topology"]["value"] = "ring";
        expect_input_error([&] { (void)dev::parse_device(j, "x.json"); },
                           {"x.json", "scale_up.topology.value", "ring"});
    }
    {
        dssim::Json j = base;
        j["compute"]["fp8_fallback"] = "fp4";
        expect_input_error([&] { (void)dev::parse_device(j, "x.json"); },
                           {"x.json", "compute.fp8_fallback", "fp4"});
    }
}

TEST_CASE("what-if edits mark the figure as derived and keep the rest") {
    dev::DeviceSpec h800 = dev::load_device("h800");
    dev::DeviceSpec fast = h800.scaled("memory.bandwidth", 2.0);
    CHECK(*fast.memory.bandwidth.value == 2.0 * *h800.memory.bandwidth.value);
    CHECK(fast.memory.bandwidth.confidence == dev::Confidence::Derived);
    CHECK(fast.memory.bandwidth.source == "what-if");
    CHECK(*fast.compute.peak_bf16.value == *h800.compute.peak_bf16.value);
    // A what-if spec still serialises to a valid config.
    CHECK_NOTHROW(dev::parse_device(dssim::Json::parse(dev::device_to_json(fast).dump()), "w"));
    dev::DeviceSpec set = h800.with_value("memory.latency", 500.0);
    CHECK(*set.memory.latency.value == 500.0);
    expect_input_error([&] { (void)h800.scaled("memory.latency", 2.0); },
                       {"memory.latency", "unknown"});
    expect_input_error([&] { (void)h800.scaled("memory.speed", 2.0); },
                       {"memory.speed", "memory.bandwidth"});
    expect_input_error([&] { (void)h800.scaled("memory.bandwidth", -1.0); }, {"positive"});
    CHECK(h800.quantity_fields().size() == 17);
}

TEST_CASE("calibration schema errors name the file and the field") {
    fs::path path = dssim::config_dir() / "calibration/nvidia-hopper.json";
    dssim::Json base = dssim::load_json_file(path);
    {
        dssim::Json j = base;
        j["gemm"]["compute_efficiency"][0]["points"][0][1] = 1.5;
        expect_input_error([&] { (void)dev::parse_calibration(j, "c.json"); },
                           {"c.json", "gemm.compute_efficiency[0].points[0]", "(0, 1]"});
    }
    {
        dssim::Json j = base;
        j["gemm"]["compute_efficiency"][0]["axis"] = "temperature";
        expect_input_error([&] { (void)dev::parse_calibration(j, "c.json"); },
                           {"c.json", "gemm.compute_efficiency[0].axis", "temperature"});
    }
    {
        dssim::Json j = base;
        j["collective"]["overhead"]["value"] = -1;
        expect_input_error([&] { (void)dev::parse_calibration(j, "c.json"); },
                           {"c.json", "collective.overhead.value", "[0,"});
    }
    {
        dssim::Json j = base;
        j["elementwise"]["memory_efficiency"][0]["source"] = "folklore";
        expect_input_error([&] { (void)dev::parse_calibration(j, "c.json"); },
                           {"c.json", "elementwise.memory_efficiency[0].source", "folklore"});
    }
    {
        dssim::Json j = base;
        j["gemm"]["memory_efficiency"][0]["points"] = dssim::Json::parse("[[2, 0.5], [1, 0.6]]");
        expect_input_error([&] { (void)dev::parse_calibration(j, "c.json"); },
                           {"c.json", "points[1]", "increase"});
    }
}
