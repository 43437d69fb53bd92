// Loading and evaluating efficiency curves.
#include "dssim/devices/calibration.h"

#include <cmath>

#include "dssim/base/error.h"
#include "dssim/base/paths.h"
#include "dssim/devices/device_spec.h"

namespace dssim::devices {

namespace {
constexpr const char* kCalibrationSchema = "dssim-calibration/1";

constexpr CurveAxis kAxes[] = {CurveAxis::Constant,    CurveAxis::M,
                               CurveAxis::N,           CurveAxis::K,
                               CurveAxis::Bytes,       CurveAxis::ArithmeticIntensity,
                               CurveAxis::Participants};
}  // namespace

std::string_view curve_axis_name(CurveAxis a) {
    switch (a) {
        case CurveAxis::Constant:
            return "constant";
        case CurveAxis::M:
            return "m";
        case CurveAxis::N:
            return "n";
        case CurveAxis::K:
            return "k";
        case CurveAxis::Bytes:
            return "bytes";
        case CurveAxis::ArithmeticIntensity:
            return "arithmetic_intensity";
        case CurveAxis::Participants:
            return "participants";
    }
    return "?";
}

double CurveInputs::get(CurveAxis axis) const {
    switch (axis) {
        case CurveAxis::Constant:
            return 1.0;
        case CurveAxis::M:
            return m;
        case CurveAxis::N:
            return n;
        case CurveAxis::K:
            return k;
        case CurveAxis::Bytes:
            return bytes;
        case CurveAxis::ArithmeticIntensity:
            return arithmetic_intensity;
        case CurveAxis::Participants:
            return participants;
    }
    return 1.0;
}

double EfficiencyCurve::at(double x) const {
    if (points.size() == 1 || !(x > points.front().first)) {
        return points.front().second;
    }
    if (x >= points.back().first) {
        return points.back().second;
    }
    double lx = std::log2(x);
    for (size_t i = 1; i < points.size(); ++i) {
        if (x <= points[i].first) {
            double x0 = std::log2(points[i - 1].first);
            double x1 = std::log2(points[i].first);
            double t = (lx - x0) / (x1 - x0);
            return points[i - 1].second + t * (points[i].second - points[i - 1].second);
        }
    }
    return points.back().second;
}

double Efficiency::at(const CurveInputs& in) const {
    double e = 1.0;
    for (const auto& c : curves) {
        e *= c.at(in.get(c.axis));
    }
    return e;
}

namespace {

void check_source(JsonFields& f, const std::string& id, const Json& sources) {
    if (!sources.contains(id)) {
        f.fail("source", "'" + id + "' is not declared in the file's \"sources\" table");
    }
}

CalibratedValue parse_value(JsonFields& parent,
                            std::string_view key,
                            std::string_view unit,
                            const Json& sources,
                            bool zero_allowed,
                            double max_inclusive) {
    JsonFields f = parent.object(key);
    CalibratedValue v;
    if (!f.json().contains("unit")) {
        f.fail("unit", "missing unit (expected \"" + std::string(unit) + "\")");
    }
    v.unit = f.string("unit");
    if (v.unit != unit) {
        f.fail("unit", "unit \"" + v.unit + "\" is not accepted here (expected \"" +
                           std::string(unit) + "\")");
    }
    v.value = f.number("value");
    bool low_ok = zero_allowed ? v.value >= 0.0 : v.value > 0.0;
    if (!low_ok || !(v.value <= max_inclusive)) {
        f.fail("value", std::string(zero_allowed ? "must be in [0, " : "must be in (0, ") +
                            std::to_string(max_inclusive) + "] (got " +
                            f.json().at("value").dump() + ")");
    }
    v.source = f.string("source");
    check_source(f, v.source, sources);
    v.derivation = f.string("derivation");
    f.reject_unknown();
    return v;
}

Efficiency parse_efficiency(JsonFields& parent, std::string_view key, const Json& sources) {
    Efficiency e;
    const Json& arr = parent.value(key);
    std::string path = parent.field_path(key);
    if (!arr.is_array()) {
        throw_input_error(parent.file(), path, "expected an array of curves");
    }
    for (size_t i = 0; i < arr.size(); ++i) {
        std::string item_path = path + "[" + std::to_string(i) + "]";
        JsonFields f(arr[i], parent.file(), item_path);
        EfficiencyCurve c;
        std::string axis = f.string("axis");
        bool found = false;
        for (CurveAxis a : kAxes) {
            if (curve_axis_name(a) == axis) {
                c.axis = a;
                found = true;
            }
        }
        if (!found) {
            f.fail("axis", "unknown axis '" + axis +
                               "' (expected constant, m, n, k, bytes, arithmetic_intensity, "
                               "participants)");
        }
        const Json& pts = f.value("points");
        if (!pts.is_array() || pts.empty()) {
            f.fail("points", "expected a non-empty array of [x, efficiency] pairs");
        }
        for (size_t p = 0; p < pts.size(); ++p) {
            std::string pp = "points[" + std::to_string(p) + "]";
            const Json& pt = pts[p];
            if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number()) {
                f.fail(pp, "expected [x, efficiency]");
            }
            double x = pt[0].get<double>();
            double y = pt[1].get<double>();
            if (!std::isfinite(x) || !(x > 0.0)) {
                f.fail(pp, "x must be positive and finite");
            }
            if (!std::isfinite(y) || !(y > 0.0) || y > 1.0) {
                f.fail(pp, "efficiency must be in (0, 1] (got " + pt[1].dump() + ")");
            }
            if (!c.points.empty() && !(x > c.points.back().first)) {
                f.fail(pp, "x values must increase");
            }
            c.points.emplace_back(x, y);
        }
        if (c.axis == CurveAxis::Constant && c.points.size() != 1) {
            f.fail("points", "a constant curve has exactly one point");
        }
        c.source = f.string("source");
        check_source(f, c.source, sources);
        c.derivation = f.string("derivation");
        f.reject_unknown();
        e.curves.push_back(std::move(c));
    }
    return e;
}

OpCalibration parse_op(JsonFields& root, std::string_view key, const Json& sources) {
    JsonFields f = root.object(key);
    OpCalibration op;
    op.compute = parse_efficiency(f, "compute_efficiency", sources);
    op.memory = parse_efficiency(f, "memory_efficiency", sources);
    op.overhead = parse_value(f, "overhead", "us", sources, true, 1e6);
    f.reject_unknown();
    return op;
}

OrderedJson value_to_json(const CalibratedValue& v) {
    OrderedJson j;
    j["value"] = v.value;
    j["unit"] = v.unit;
    j["source"] = v.source;
    j["derivation"] = v.derivation;
    return j;
}

OrderedJson efficiency_to_json(const Efficiency& e) {
    OrderedJson arr = OrderedJson::array();
    for (const auto& c : e.curves) {
        OrderedJson j;
        j["axis"] = curve_axis_name(c.axis);
        OrderedJson pts = OrderedJson::array();
        for (const auto& [x, y] : c.points) {
            pts.push_back(OrderedJson::array({x, y}));
        }
        j["points"] = pts;
        j["source"] = c.source;
        j["derivation"] = c.derivation;
        arr.push_back(j);
    }
    return arr;
}

EpKernelCalibration parse_ep_kernel(JsonFields& root, std::string_view key, const Json& sources) {
    JsonFields f = root.object(key);
    EpKernelCalibration k;
    k.scale_up_efficiency = parse_value(f, "scale_up_efficiency", "fraction", sources, false, 1.0);
    k.scale_out_efficiency =
        parse_value(f, "scale_out_efficiency", "fraction", sources, false, 1.0);
    k.dispatch_overhead = parse_value(f, "dispatch_overhead", "us", sources, true, 1e6);
    k.combine_overhead = parse_value(f, "combine_overhead", "us", sources, true, 1e6);
    k.compute_units = parse_value(f, "compute_units", "count", sources, true, 1e6);
    k.dispatch_unit_bandwidth =
        parse_value(f, "dispatch_unit_bandwidth", "GB/s", sources, true, 1e6);
    k.combine_unit_bandwidth = parse_value(f, "combine_unit_bandwidth", "GB/s", sources, true, 1e6);
    if (k.compute_units.value > 0 &&
        !(k.dispatch_unit_bandwidth.value > 0 && k.combine_unit_bandwidth.value > 0)) {
        f.fail("compute_units",
               "a kernel holding compute units needs dispatch_unit_bandwidth and "
               "combine_unit_bandwidth > 0");
    }
    f.reject_unknown();
    return k;
}

OrderedJson ep_kernel_to_json(const EpKernelCalibration& k) {
    OrderedJson j;
    j["scale_up_efficiency"] = value_to_json(k.scale_up_efficiency);
    j["scale_out_efficiency"] = value_to_json(k.scale_out_efficiency);
    j["dispatch_overhead"] = value_to_json(k.dispatch_overhead);
    j["combine_overhead"] = value_to_json(k.combine_overhead);
    j["compute_units"] = value_to_json(k.compute_units);
    j["dispatch_unit_bandwidth"] = value_to_json(k.dispatch_unit_bandwidth);
    j["combine_unit_bandwidth"] = value_to_json(k.combine_unit_bandwidth);
    return j;
}

OrderedJson op_to_json(const OpCalibration& op) {
    OrderedJson j;
    j["compute_efficiency"] = efficiency_to_json(op.compute);
    j["memory_efficiency"] = efficiency_to_json(op.memory);
    j["overhead"] = value_to_json(op.overhead);
    return j;
}

}  // namespace

Calibration parse_calibration(const Json& json, const std::string& file) {
    JsonFields root(json, file);
    std::string schema = root.string("schema");
    if (schema != kCalibrationSchema) {
        root.fail("schema",
                  "expected \"" + std::string(kCalibrationSchema) + "\", got \"" + schema + "\"");
    }
    Calibration c;
    c.file = file;
    c.name = root.string("name");
    c.status = root.string("status");
    if (c.status != "calibrated" && c.status != "default") {
        root.fail("status", "'" + c.status + "' is not one of: calibrated, default");
    }
    c.description = root.string("description");
    const Json& sources = root.value("sources");
    {
        JsonFields src(sources, file, "sources");
        for (const auto& [id, text] : sources.items()) {
            c.sources[id] = src.string(id);
        }
    }
    c.gemm = parse_op(root, "gemm", sources);
    {
        JsonFields t = root.object("gemm_tiling");
        c.gemm_tiling.k_tile = parse_value(t, "k_tile", "elements", sources, false, 1e6);
        c.gemm_tiling.granule = parse_value(t, "granule", "elements", sources, false, 1e6);
        c.gemm_tiling.usable_fraction =
            parse_value(t, "usable_fraction", "fraction", sources, false, 1.0);
        t.reject_unknown();
    }
    c.attention_decode = parse_op(root, "attention_decode", sources);
    c.attention_prefill = parse_op(root, "attention_prefill", sources);
    c.elementwise = parse_op(root, "elementwise", sources);
    {
        JsonFields col = root.object("collective");
        c.collective.scale_up_efficiency =
            parse_value(col, "scale_up_efficiency", "fraction", sources, false, 1.0);
        c.collective.scale_out_efficiency =
            parse_value(col, "scale_out_efficiency", "fraction", sources, false, 1.0);
        c.collective.overhead = parse_value(col, "overhead", "us", sources, true, 1e6);
        col.reject_unknown();
    }
    c.ep_normal = parse_ep_kernel(root, "ep_normal", sources);
    c.ep_low_latency = parse_ep_kernel(root, "ep_low_latency", sources);
    {
        JsonFields a = root.object("assumptions");
        c.assumptions.onchip_buffer = parse_value(a, "onchip_buffer", "MB", sources, false, 1e6);
        c.assumptions.nic_bandwidth = parse_value(a, "nic_bandwidth", "Gb/s", sources, false, 1e6);
        c.assumptions.scale_up_latency =
            parse_value(a, "scale_up_latency", "us", sources, false, 1e6);
        c.assumptions.scale_out_latency =
            parse_value(a, "scale_out_latency", "us", sources, false, 1e6);
        c.assumptions.runtime_memory_reserve =
            parse_value(a, "runtime_memory_reserve", "fraction", sources, true, 0.9);
        JsonFields topo = a.object("unknown_topology");
        c.assumptions.unknown_topology = topo.string("value");
        if (!parse_topology(c.assumptions.unknown_topology)) {
            topo.fail("value", "'" + c.assumptions.unknown_topology +
                                   "' is not one of: switch, full_mesh, two_tier");
        }
        c.assumptions.unknown_topology_reason = topo.string("derivation");
        topo.reject_unknown();
        a.reject_unknown();
    }
    root.reject_unknown();
    return c;
}

Calibration load_calibration(std::string_view name_or_path) {
    std::filesystem::path path = resolve_config("calibration", name_or_path, "calibration");
    return parse_calibration(load_json_file(path), path.string());
}

OrderedJson calibration_to_json(const Calibration& c) {
    OrderedJson j;
    j["schema"] = kCalibrationSchema;
    j["name"] = c.name;
    j["status"] = c.status;
    j["description"] = c.description;
    OrderedJson sources = OrderedJson::object();
    for (const auto& [id, text] : c.sources) {
        sources[id] = text;
    }
    j["sources"] = sources;
    j["gemm"] = op_to_json(c.gemm);
    OrderedJson t;
    t["k_tile"] = value_to_json(c.gemm_tiling.k_tile);
    t["granule"] = value_to_json(c.gemm_tiling.granule);
    t["usable_fraction"] = value_to_json(c.gemm_tiling.usable_fraction);
    j["gemm_tiling"] = t;
    j["attention_decode"] = op_to_json(c.attention_decode);
    j["attention_prefill"] = op_to_json(c.attention_prefill);
    j["elementwise"] = op_to_json(c.elementwise);
    OrderedJson col;
    col["scale_up_efficiency"] = value_to_json(c.collective.scale_up_efficiency);
    col["scale_out_efficiency"] = value_to_json(c.collective.scale_out_efficiency);
    col["overhead"] = value_to_json(c.collective.overhead);
    j["collective"] = col;
    j["ep_normal"] = ep_kernel_to_json(c.ep_normal);
    j["ep_low_latency"] = ep_kernel_to_json(c.ep_low_latency);
    OrderedJson a;
    a["onchip_buffer"] = value_to_json(c.assumptions.onchip_buffer);
    a["nic_bandwidth"] = value_to_json(c.assumptions.nic_bandwidth);
    a["scale_up_latency"] = value_to_json(c.assumptions.scale_up_latency);
    a["scale_out_latency"] = value_to_json(c.assumptions.scale_out_latency);
    a["runtime_memory_reserve"] = value_to_json(c.assumptions.runtime_memory_reserve);
    OrderedJson topo;
    topo["value"] = c.assumptions.unknown_topology;
    topo["derivation"] = c.assumptions.unknown_topology_reason;
    a["unknown_topology"] = topo;
    j["assumptions"] = a;
    return j;
}

std::vector<std::string> list_calibrations() {
    return list_config_names("calibration");
}

}  // namespace dssim::devices
