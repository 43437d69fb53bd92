// Study files (docs/studies.md): parsing with errors that name the field, and expansion of
// the axes (cartesian grid) or the explicit list into points.
#include <cmath>
#include <filesystem>
#include <set>

#include "dssim/base/error.h"
#include "dssim/base/paths.h"
#include "dssim/devices/device_spec.h"
#include "dssim/sweep.h"

namespace dssim::sweep {

namespace {

std::string fmt_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

models::Phase parse_phase(const std::string& s, const std::string& file, const std::string& f) {
    if (s == "prefill") return models::Phase::Prefill;
    if (s == "decode") return models::Phase::Decode;
    throw_input_error(file, f, "expected \"prefill\" or \"decode\", got \"" + s + "\"");
}

devices::Fp8Mode parse_fp8(const std::string& s, const std::string& file, const std::string& f) {
    auto m = devices::parse_fp8_mode(s);
    if (!m) throw_input_error(file, f, "expected auto, native, int8 or bf16, got \"" + s + "\"");
    return *m;
}

int64_t as_int(const Json& v, const std::string& file, const std::string& f) {
    if (!v.is_number_integer() && !v.is_number_unsigned())
        throw_input_error(file, f, "expected an integer, got " + v.dump());
    return v.get<int64_t>();
}
double as_number(const Json& v, const std::string& file, const std::string& f) {
    if (!v.is_number()) throw_input_error(file, f, "expected a number, got " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw_input_error(file, f, "not a finite number");
    return x;
}
std::string as_string(const Json& v, const std::string& file, const std::string& f) {
    if (!v.is_string()) throw_input_error(file, f, "expected a string, got " + v.dump());
    return v.get<std::string>();
}
bool as_bool(const Json& v, const std::string& file, const std::string& f) {
    if (!v.is_boolean()) throw_input_error(file, f, "expected true or false, got " + v.dump());
    return v.get<bool>();
}

const std::vector<std::string> kDeploymentKeys = {
    "devices", "ep", "tp", "dp", "batch", "micro_batches", "redundant_experts"};
const std::vector<std::string> kWorkloadKeys = {"phase", "input_len", "context", "mtp", "gemm"};

// Applies `param` = `v` (a factor when `factor`) to a point. `f` names the field for errors.
void apply(PointSpec& p,
           const std::string& param,
           const Json& v,
           bool factor,
           const std::string& file,
           const std::string& f) {
    auto dot = param.find('.');
    const std::string head = param.substr(0, dot);
    const std::string rest = dot == std::string::npos ? "" : param.substr(dot + 1);
    if (factor && head != "device")
        throw_input_error(file, f, "factors apply to device figures only (param " + param + ")");
    if (param == "device") {
        p.device = as_string(v, file, f);
    } else if (param == "fp8") {
        p.fp8 = parse_fp8(as_string(v, file, f), file, f);
    } else if (head == "device" && rest == "fp8_native") {
        p.fp8_native = as_bool(v, file, f);
    } else if (head == "device" && !rest.empty()) {
        const double x = as_number(v, file, f);
        if (x < 0) throw_input_error(file, f, "must not be negative");
        (factor ? p.device_factors : p.device_values).emplace_back(rest, x);
    } else if (head == "deployment") {
        if (rest == "batch_candidates") {
            if (!v.is_array() || v.empty())
                throw_input_error(file, f, "expected a non-empty array of integers");
            p.batch_candidates.clear();
            for (const auto& b : v)
                p.batch_candidates.push_back(as_int(b, file, f));
            return;
        }
        const int64_t x = as_int(v, file, f);
        if (x < 0 || (x == 0 && rest != "dp" && rest != "ep" && rest != "micro_batches"))
            throw_input_error(file, f, "must be positive");
        auto& d = p.deployment;
        if (rest == "devices")
            d.devices = x;
        else if (rest == "ep")
            d.ep = x;
        else if (rest == "tp")
            d.tp = x;
        else if (rest == "dp")
            d.dp = x;
        else if (rest == "batch") {
            p.workload.batch = x;
            p.batch_candidates.clear();
        } else if (rest == "micro_batches") {
            // 0: the simulator runs 1 and 2 and keeps the faster (its default).
            if (x > 2) throw_input_error(file, f, "must be 0 (auto), 1 or 2");
            d.micro_batches = static_cast<int>(x);
        } else if (rest == "redundant_experts")
            d.redundant_experts = x;
        else
            throw_input_error(file, f, "unknown deployment parameter '" + rest + "'");
    } else if (head == "workload") {
        auto& w = p.workload;
        if (rest == "phase")
            w.phase = parse_phase(as_string(v, file, f), file, f);
        else if (rest == "input_len") {
            w.input_len = as_int(v, file, f);
            if (w.input_len <= 0) throw_input_error(file, f, "must be positive");
        } else if (rest == "context") {
            w.context = as_int(v, file, f);
            if (w.context < 0) throw_input_error(file, f, "must not be negative");
        } else if (rest == "tpot_slo_ms" || rest == "ttft_slo_ms") {
            const double x = as_number(v, file, f);
            if (x <= 0) throw_input_error(file, f, "must be positive");
            (rest == "tpot_slo_ms" ? p.tpot_slo_ms : p.ttft_slo_ms) = x;
        } else if (rest == "mtp")
            w.mtp = as_bool(v, file, f);
        else if (rest == "gemm") {
            const std::string g = as_string(v, file, f);
            if (g == "fp8")
                w.gemm = models::GemmMode::Fp8;
            else if (g == "bf16")
                w.gemm = models::GemmMode::Bf16;
            else
                throw_input_error(file, f, "expected \"fp8\" or \"bf16\", got \"" + g + "\"");
        } else
            throw_input_error(file, f, "unknown workload parameter '" + rest + "'");
    } else {
        throw_input_error(file, f,
                          "unknown parameter '" + param +
                              "' (device, fp8, device.<quantity path>, device.fp8_native, "
                              "deployment.<name>, workload.<name>)");
    }
}

std::string label_of(const Json& v, bool factor) {
    std::string s = v.is_string()   ? v.get<std::string>()
                    : v.is_number() ? fmt_number(v.get<double>())
                    : v.is_array()  ? "search"
                                    : v.dump();
    return factor ? "x" + s : s;
}

// Checks the device exists and the quantity paths are valid, naming the study field.
void check_point(const PointSpec& p, const std::string& file, const std::string& f) {
    devices::DeviceSpec spec;
    try {
        spec = devices::load_device(p.device);
    } catch (const InputError& e) {
        throw_input_error(file, f, "device '" + p.device + "': " + e.what());
    }
    for (const auto& list : {p.device_factors, p.device_values}) {
        for (const auto& [path, x] : list) {
            try {
                (void)spec.quantity(path);
            } catch (const InputError& e) {
                throw_input_error(file, f, "device." + path + ": " + e.what());
            }
        }
    }
}

}  // namespace

Study parse_study(const Json& json, const std::string& file) {
    if (!json.is_object()) throw_input_error(file, "", "a study must be a JSON object");
    JsonFields root(json, file);
    Study st;
    st.file = file;
    const std::string schema = root.string("schema");
    if (schema != "dssim-study/1")
        root.fail("schema", "expected \"dssim-study/1\", got \"" + schema + "\"");
    st.name = root.string("name");
    st.question = root.string("question");
    st.model = root.string("model");
    st.baseline_device = root.string_or("baseline_device", "");
    st.answer = root.string_or("answer", "max_throughput");
    if (st.answer != "max_throughput" && st.answer != "min_devices")
        root.fail("answer",
                  "expected \"max_throughput\" or \"min_devices\", got \"" + st.answer + "\"");

    PointSpec base;
    base.device = root.string("device");
    base.fp8 = parse_fp8(root.string_or("fp8", "auto"), file, "fp8");
    {
        JsonFields dep = root.object("deployment");
        for (const auto& k : kDeploymentKeys) {
            if (dep.has(k))
                apply(base, "deployment." + k, dep.value(k), false, file, dep.field_path(k));
        }
        if (dep.has("batch_candidates"))
            apply(base, "deployment.batch_candidates", dep.value("batch_candidates"), false, file,
                  dep.field_path("batch_candidates"));
        dep.reject_unknown();
    }
    {
        JsonFields wl = root.object("workload");
        for (const auto& k : kWorkloadKeys) {
            if (wl.has(k)) apply(base, "workload." + k, wl.value(k), false, file, wl.field_path(k));
        }
        st.output_len = wl.integer_or("output_len", 0);
        if (st.output_len < 0) wl.fail("output_len", "must not be negative");
        if (wl.has("tpot_slo_ms")) {
            st.tpot_slo_ms = wl.number("tpot_slo_ms");
            if (*st.tpot_slo_ms <= 0) wl.fail("tpot_slo_ms", "must be positive");
        }
        if (wl.has("ttft_slo_ms")) {
            st.ttft_slo_ms = wl.number("ttft_slo_ms");
            if (*st.ttft_slo_ms <= 0) wl.fail("ttft_slo_ms", "must be positive");
        }
        base.tpot_slo_ms = st.tpot_slo_ms;
        base.ttft_slo_ms = st.ttft_slo_ms;
        wl.reject_unknown();
    }

    const bool has_axes = root.has("axes");
    const bool has_points = root.has("points");
    if (has_axes && has_points)
        root.fail("points", "give either axes (a grid) or points, not both");
    if (has_axes) {
        const Json& axes = root.value("axes");
        if (!axes.is_array()) root.fail("axes", "expected an array of axes");
        for (size_t i = 0; i < axes.size(); ++i) {
            const std::string ap = "axes[" + std::to_string(i) + "]";
            if (!axes[i].is_object()) throw_input_error(file, ap, "expected an object");
            JsonFields a(axes[i], file, ap);
            Axis axis;
            axis.param = a.string("param");
            const bool has_f = a.has("factors");
            const bool has_v = a.has("values");
            if (has_f == has_v) a.fail("values", "give exactly one of values or factors");
            axis.factor = has_f;
            const char* key = has_f ? "factors" : "values";
            const Json& vals = a.value(key);
            if (!vals.is_array() || vals.empty()) a.fail(key, "expected a non-empty array");
            for (size_t j = 0; j < vals.size(); ++j) {
                // Validate now so the error names this field.
                PointSpec probe = base;
                apply(probe, axis.param, vals[j], axis.factor, file,
                      a.field_path(key) + "[" + std::to_string(j) + "]");
                axis.values.push_back(AxisValue{vals[j], label_of(vals[j], axis.factor)});
            }
            a.reject_unknown();
            st.axes.push_back(std::move(axis));
        }
        // Cartesian grid, first axis outermost, last axis fastest.
        size_t total = 1;
        for (const auto& ax : st.axes)
            total *= ax.values.size();
        for (size_t n = 0; n < total; ++n) {
            PointSpec p = base;
            p.labels.resize(st.axes.size());
            size_t rem = n;
            for (size_t k = st.axes.size(); k-- > 0;) {
                const Axis& ax = st.axes[k];
                const size_t j = rem % ax.values.size();
                rem /= ax.values.size();
                p.labels[k] = ax.values[j].label;
            }
            rem = n;
            std::vector<size_t> idx(st.axes.size());
            for (size_t k = st.axes.size(); k-- > 0;) {
                idx[k] = rem % st.axes[k].values.size();
                rem /= st.axes[k].values.size();
            }
            for (size_t k = 0; k < st.axes.size(); ++k)
                apply(p, st.axes[k].param, st.axes[k].values[idx[k]].value, st.axes[k].factor, file,
                      "axes[" + std::to_string(k) + "]");
            st.points.push_back(std::move(p));
        }
    } else if (has_points) {
        const Json& pts = root.value("points");
        if (!pts.is_array() || pts.empty()) root.fail("points", "expected a non-empty array");
        // The list's parameters become the table's columns, in first-seen order.
        for (size_t i = 0; i < pts.size(); ++i) {
            const std::string pp = "points[" + std::to_string(i) + "]";
            if (!pts[i].is_object()) throw_input_error(file, pp, "expected an object");
            for (auto it = pts[i].begin(); it != pts[i].end(); ++it) {
                bool seen = false;
                for (const auto& a : st.axes)
                    seen = seen || a.param == it.key();
                if (!seen) st.axes.push_back(Axis{it.key(), false, {}});
            }
        }
        for (size_t i = 0; i < pts.size(); ++i) {
            PointSpec p = base;
            for (auto& ax : st.axes) {
                const std::string f = "points[" + std::to_string(i) + "]." + ax.param;
                if (!pts[i].contains(ax.param)) {
                    p.labels.push_back("-");
                    continue;
                }
                Json v = pts[i][ax.param];
                bool factor = false;
                if (v.is_object()) {
                    if (!v.contains("factor") || v.size() != 1)
                        throw_input_error(file, f, "expected a value or {\"factor\": x}");
                    v = v["factor"];
                    factor = true;
                }
                apply(p, ax.param, v, factor, file, f);
                p.labels.push_back(label_of(v, factor));
            }
            st.points.push_back(std::move(p));
        }
    } else {
        st.points.push_back(base);
    }
    root.reject_unknown();

    // Every distinct device / figure combination must resolve (named errors before any work).
    std::set<std::string> checked;
    for (size_t i = 0; i < st.points.size(); ++i) {
        std::string key = st.points[i].device;
        for (const auto& list : {st.points[i].device_factors, st.points[i].device_values})
            for (const auto& pv : list)
                key += "|" + pv.first;
        if (!checked.insert(key).second) continue;
        const std::string f = has_axes     ? "axes"
                              : has_points ? "points[" + std::to_string(i) + "]"
                                           : "device";
        check_point(st.points[i], file, f);
    }
    st.canonical = json.dump();
    return st;
}

Study load_study(const std::string& name_or_path) {
    const std::filesystem::path path = resolve_config("studies", name_or_path, "study");
    return parse_study(load_json_file(path), path.string());
}

}  // namespace dssim::sweep
