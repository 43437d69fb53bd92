// Loading and checking validation case files (configs/validation/*.json).
#include "dssim/validation/case.h"

#include <algorithm>
#include <set>

#include "dssim/base/error.h"
#include "dssim/base/paths.h"

namespace dssim::validation {

namespace {

constexpr const char* kCaseSchema = "dssim-validation/1";

struct MetricInfo {
    Metric metric;
    const char* name;
    const char* unit;
};
constexpr MetricInfo kMetrics[] = {
    {Metric::Tflops, "tflops", "TFLOPS"},
    {Metric::Gbps, "gbps", "GB/s"},
    {Metric::BottleneckGbps, "bottleneck_gbps", "GB/s"},
    {Metric::LatencyUs, "latency_us", "us"},
    {Metric::TokensPerSecPerNode, "tokens_per_s_per_node", "tokens/s/node"},
    {Metric::GpuHoursPerTrillion, "gpu_hours_per_trillion_tokens", "GPU-hours/T tokens"},
    {Metric::ChunkPairMs, "chunk_pair_ms", "ms"},
    {Metric::TableLatencyUs, "table_latency_us", "us"},
};

Metric parse_metric(JsonFields& f, std::string_view key, const std::vector<Metric>& allowed) {
    const std::string s = f.string(key);
    std::string list;
    for (Metric m : allowed) {
        if (metric_name(m) == s) return m;
        list += (list.empty() ? "" : ", ") + std::string(metric_name(m));
    }
    f.fail(key, "'" + s + "' is not one of: " + list);
}

int64_t positive(JsonFields& f, std::string_view key) {
    const int64_t v = f.integer(key);
    if (v < 1) f.fail(key, "must be >= 1 (got " + std::to_string(v) + ")");
    return v;
}

std::string precision_field(JsonFields& f, std::string_view key, std::string_view fallback) {
    const std::string s = f.string_or(key, fallback);
    if (s != "fp8" && s != "bf16" && s != "fp16" && s != "int8" && s != "fp32") {
        f.fail(key, "'" + s + "' is not one of: fp8, bf16, fp16, int8, fp32");
    }
    return s;
}

// Parses `setup`, returning the op name and the metric it measures.
Setup parse_setup(JsonFields& s, Case& c) {
    c.op = s.string("op");
    c.setup_note = s.string_or("note", "");
    if (c.op == "gemm") {
        GemmSetup g;
        g.device = s.string("device");
        g.m = positive(s, "m");
        g.n = positive(s, "n");
        g.k = positive(s, "k");
        g.dtype = precision_field(s, "dtype", "fp8");
        g.out_dtype = precision_field(s, "out_dtype", "bf16");
        c.metric = s.has("metric") ? parse_metric(s, "metric", {Metric::Tflops}) : Metric::Tflops;
        return g;
    }
    if (c.op == "grouped_gemm") {
        GroupedGemmSetup g;
        g.device = s.string("device");
        g.groups = positive(s, "groups");
        g.m_per_group = positive(s, "m_per_group");
        g.n = positive(s, "n");
        g.k = positive(s, "k");
        g.dtype = precision_field(s, "dtype", "fp8");
        g.out_dtype = precision_field(s, "out_dtype", "bf16");
        c.metric = s.has("metric") ? parse_metric(s, "metric", {Metric::Tflops}) : Metric::Tflops;
        return g;
    }
    if (c.op == "attention_decode") {
        AttentionDecodeSetup a;
        a.device = s.string("device");
        a.batch = positive(s, "batch");
        a.q_len = positive(s, "q_len");
        a.kv_len = positive(s, "kv_len");
        a.heads = positive(s, "heads");
        a.qk_head_dim = positive(s, "qk_head_dim");
        a.v_head_dim = positive(s, "v_head_dim");
        a.kv_bytes_per_token = s.number("kv_bytes_per_token");
        if (!(a.kv_bytes_per_token > 0)) s.fail("kv_bytes_per_token", "must be > 0");
        if (a.kv_len < a.q_len) s.fail("kv_len", "must be >= q_len (it counts the new tokens)");
        c.metric = parse_metric(s, "metric", {Metric::Tflops, Metric::Gbps});
        return a;
    }
    if (c.op == "collective") {
        CollectiveSetup k;
        k.system = s.string("system");
        k.kind = s.string("kind");
        if (k.kind != "dispatch" && k.kind != "combine") {
            s.fail("kind", "'" + k.kind + "' is not one of: dispatch, combine");
        }
        k.kernel = s.string("kernel");
        if (k.kernel != "normal" && k.kernel != "low_latency") {
            s.fail("kernel", "'" + k.kernel + "' is not one of: normal, low_latency");
        }
        k.tokens = positive(s, "tokens");
        k.hidden = positive(s, "hidden");
        k.topk = positive(s, "topk");
        k.participants = positive(s, "participants");
        k.experts = positive(s, "experts");
        k.kept_groups = positive(s, "kept_groups");
        if (k.topk > k.experts) s.fail("topk", "exceeds experts");
        c.metric = parse_metric(s, "metric", {Metric::BottleneckGbps, Metric::LatencyUs});
        return k;
    }
    if (c.op == "deepep_table") {
        DeepepTableSetup t;
        t.system = s.string("system");
        t.kind = s.string("kind");
        if (t.kind != "dispatch" && t.kind != "combine") {
            s.fail("kind", "'" + t.kind + "' is not one of: dispatch, combine");
        }
        t.kernel = s.string("kernel");
        if (t.kernel != "normal" && t.kernel != "low_latency") {
            s.fail("kernel", "'" + t.kernel + "' is not one of: normal, low_latency");
        }
        t.min_experts = positive(s, "min_experts");
        c.metric = parse_metric(s, "metric", {Metric::TableLatencyUs});
        if (c.table.empty()) s.fail("op", "a deepep_table case needs published.table");
        return t;
    }
    if (c.op == "gemm_table") {
        GemmTableSetup t;
        t.device = s.string("device");
        t.dtype = s.string("dtype");
        if (t.dtype != "fp8_block" && t.dtype != "bfloat16") {
            s.fail("dtype", "'" + t.dtype + "' is not one of: fp8_block, bfloat16");
        }
        t.min_flops = s.number("min_flops");
        if (!(t.min_flops >= 0)) s.fail("min_flops", "must be >= 0");
        c.metric = parse_metric(s, "metric", {Metric::TableLatencyUs});
        if (c.table.empty()) s.fail("op", "a gemm_table case needs published.table");
        return t;
    }
    if (c.op == "serving") {
        DeploymentSetup d{s.string("deployment")};
        c.metric = parse_metric(s, "metric", {Metric::TokensPerSecPerNode});
        return d;
    }
    if (c.op == "training") {
        DeploymentSetup d{s.string("deployment")};
        c.metric = parse_metric(s, "metric", {Metric::GpuHoursPerTrillion, Metric::ChunkPairMs});
        return d;
    }
    s.fail("op", "'" + c.op +
                     "' is not one of: gemm, grouped_gemm, attention_decode, collective, "
                     "deepep_table, gemm_table, serving, training");
}

Case parse_case(JsonFields& f, const std::string& file) {
    Case c;
    c.file = file;
    c.name = f.string("name");
    if (c.name.empty() || c.name.find_first_of(" \t\n") != std::string::npos) {
        f.fail("name", "must be non-empty without whitespace");
    }
    const std::string kind = f.string("kind");
    if (kind == "kernel") {
        c.kind = CaseKind::Kernel;
    } else if (kind == "system") {
        c.kind = CaseKind::System;
    } else {
        f.fail("kind", "'" + kind + "' is not one of: kernel, system");
    }
    c.source = f.string("source");
    if (c.source.empty()) f.fail("source", "must cite where the published value comes from");
    {
        JsonFields p = f.object("published");
        if (p.has("table")) {
            // A measured table instead of one figure: the file must exist next to the case.
            const std::string rel = p.string("table");
            const std::filesystem::path path =
                std::filesystem::path(file).parent_path() / std::filesystem::path(rel);
            std::error_code ec;
            if (rel.empty() || !std::filesystem::is_regular_file(path, ec)) {
                p.fail("table", "'" + rel + "' is not a file next to the case file");
            }
            c.table = path.string();
        } else {
            c.published = p.number("value");
            if (!(c.published > 0)) p.fail("value", "must be > 0");
        }
        c.unit = p.string("unit");
        p.reject_unknown();
    }
    c.tolerance = f.number("tolerance");
    if (!(c.tolerance > 0 && c.tolerance < 1)) {
        f.fail("tolerance", "must be a relative tolerance in (0, 1)");
    }
    const std::string cal = f.string("calibration");
    if (cal == "calibrated") {
        c.calibrated = true;
    } else if (cal != "predicted") {
        f.fail("calibration", "'" + cal + "' is not one of: calibrated, predicted");
    }
    c.calibration_note = f.string_or("calibration_note", "");
    if (c.calibrated && c.calibration_note.empty()) {
        f.fail("calibration_note", "a calibrated case must say which curve it set");
    }
    const std::string expected = f.string("expected");
    if (expected == "pass") {
        c.expected = Expected::Pass;
    } else if (expected == "known_gap") {
        c.expected = Expected::KnownGap;
    } else if (expected == "pending") {
        c.expected = Expected::Pending;
    } else {
        f.fail("expected", "'" + expected + "' is not one of: pass, known_gap, pending");
    }
    c.explanation = f.string_or("explanation", "");
    if (c.expected != Expected::Pass && c.explanation.empty()) {
        f.fail("explanation", "required when expected is '" + expected + "'");
    }
    JsonFields s = f.object("setup");
    c.setup = parse_setup(s, c);
    s.reject_unknown();
    if (c.unit != metric_unit(c.metric)) {
        f.fail("published.unit", "'" + c.unit + "' does not match metric " +
                                     std::string(metric_name(c.metric)) + " (expected '" +
                                     std::string(metric_unit(c.metric)) + "')");
    }
    const bool deployment_op = c.op == "serving" || c.op == "training";
    if (deployment_op != (c.kind == CaseKind::System)) {
        f.fail("kind", "'" + kind + "' does not fit op '" + c.op +
                           "' (serving and training cases are system cases)");
    }
    f.reject_unknown();
    return c;
}

}  // namespace

std::string_view expected_name(Expected e) {
    switch (e) {
        case Expected::Pass:
            return "pass";
        case Expected::KnownGap:
            return "known_gap";
        case Expected::Pending:
            return "pending";
    }
    return "?";
}

std::string_view metric_name(Metric m) {
    for (const auto& i : kMetrics)
        if (i.metric == m) return i.name;
    return "?";
}

std::string_view metric_unit(Metric m) {
    for (const auto& i : kMetrics)
        if (i.metric == m) return i.unit;
    return "?";
}

std::vector<Case> parse_case_file(const Json& json, const std::string& file) {
    JsonFields root(json, file);
    const std::string schema = root.string("schema");
    if (schema != kCaseSchema) {
        root.fail("schema",
                  "expected \"" + std::string(kCaseSchema) + "\", got \"" + schema + "\"");
    }
    root.ignore({"description"});
    const Json& list = root.value("cases");
    if (!list.is_array()) root.fail("cases", "expected an array of case objects");
    std::vector<Case> out;
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
        const std::string path = "cases[" + std::to_string(i) + "]";
        if (!list[i].is_object()) throw_input_error(file, path, "expected an object");
        JsonFields f(list[i], file, path);
        Case c = parse_case(f, file);
        if (!names.insert(c.name).second) {
            throw_input_error(file, path + ".name", "duplicate case name '" + c.name + "'");
        }
        out.push_back(std::move(c));
    }
    root.reject_unknown();
    return out;
}

std::vector<Case> load_cases(const std::filesystem::path& file_or_dir) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    if (std::filesystem::is_directory(file_or_dir, ec)) {
        for (const auto& e : std::filesystem::directory_iterator(file_or_dir, ec)) {
            if (e.path().extension() == ".json") files.push_back(e.path());
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) {
            throw_input_error(file_or_dir.string(), "", "no case files (*.json) in directory");
        }
    } else {
        files.push_back(file_or_dir);
    }
    std::vector<Case> all;
    std::set<std::string> names;
    for (const auto& p : files) {
        for (Case& c : parse_case_file(load_json_file(p), p.string())) {
            if (!names.insert(c.name).second) {
                throw_input_error(p.string(), "name", "case '" + c.name + "' is defined twice");
            }
            all.push_back(std::move(c));
        }
    }
    return all;
}

std::filesystem::path default_case_dir() {
    return config_dir() / "validation";
}

}  // namespace dssim::validation
