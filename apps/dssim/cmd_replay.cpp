// `dssim replay`: re-time a recorded profiler trace on another device, or compare two traces.
//   dssim replay --trace T.json --from DEVICE --to DEVICE [--model M] [--deployment NAME|FILE]
//                --out DIR
//   dssim replay --diff A.json B.json --out DIR
// --deployment takes a replay deployment file (dssim-replay-deployment/1) or a general
// deployment (dssim-deployment/1 file or configs/deployments name); the second is parsed by
// dssim_validation and handed to dssim_traces as plain values, because only this executable
// may see both libraries (validation links the SystemC simulator, traces must not).
// Writes DIR/replayed.json (re-timed Chrome/Perfetto trace; replay only), DIR/report.md,
// DIR/report.html (SVG timelines of both sides) and DIR/report.json. docs/replay.md.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/base/paths.h"
#include "dssim/traces.h"
#include "dssim/validation/deployment.h"

namespace dssim::cli {
namespace {

struct ReplayOptions {
    std::string trace;
    std::string from;
    std::string to;
    std::string model;
    std::string deployment;
    std::vector<std::string> diff;
    std::string out;
    std::string rules = "default";
    bool json = false;
};

std::string ms(traces::Ns ns) {
    char b[48];
    std::snprintf(b, sizeof b, "%.3f ms", static_cast<double>(ns) / 1e6);
    return b;
}

void add_import_notes(traces::Comparison& c, const traces::Trace& t, const std::string& who) {
    std::string info = who + ": " + t.origin + " (" + t.info.format + " trace";
    if (!t.info.device_name.empty()) info += ", recorded on " + t.info.device_name;
    if (t.info.world_size > 0) info += ", world size " + std::to_string(t.info.world_size);
    info += "): " + std::to_string(t.stats.kernels) + " device events on " +
            std::to_string(t.streams.size()) + " streams, " + std::to_string(t.stats.host_events) +
            " host events counted";
    c.notes.push_back(info);
    for (const auto& [kind, n] : t.stats.warnings)
        c.notes.push_back(who + " import warning: " + kind + ": " + std::to_string(n));
}

void add_dependency_notes(traces::Comparison& c,
                          const traces::Trace& t,
                          const traces::Dependencies& d,
                          const std::string& who) {
    c.notes.push_back(
        who + " dependencies: stream order, " + std::to_string(d.inferred_edges) +
        " inferred cross-stream waits, " + std::to_string(d.flow_edges) + " flow arrows" +
        (d.dropped_edges > 0 ? ", " + std::to_string(d.dropped_edges) + " backward flows dropped"
                             : std::string()) +
        (t.stats.stream_waits > 0 ? "; the trace recorded " + std::to_string(t.stats.stream_waits) +
                                        " cudaStreamWaitEvent calls"
                                  : std::string()));
}

void write_outputs(const std::filesystem::path& dir,
                   const traces::Comparison& c,
                   const std::string* trace_json) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw_input_error(dir.string(), "--out", "cannot create directory: " + ec.message());
    // Render everything first so that a failure leaves no partial set of files.
    std::string md = traces::report_markdown(c);
    std::string html = traces::report_html(c);
    std::string json = traces::report_json(c);
    if (trace_json != nullptr) write_file_atomic(dir / "replayed.json", *trace_json);
    write_file_atomic(dir / "report.md", md);
    write_file_atomic(dir / "report.html", html);
    write_file_atomic(dir / "report.json", json);
}

void print_summary(const traces::Comparison& c, const ReplayOptions& o) {
    if (o.json) {
        std::fputs(traces::report_json(c).c_str(), stdout);
        return;
    }
    const auto& a = c.before.metrics;
    const auto& b = c.after.metrics;
    double change =
        a.span > 0 ? (static_cast<double>(b.span) / static_cast<double>(a.span) - 1) * 100 : 0.0;
    std::printf("span: %s (%s) -> %s (%s), %+.2f%%\n", ms(a.span).c_str(), c.before.label.c_str(),
                ms(b.span).c_str(), c.after.label.c_str(), change);
    std::printf("exposed communication: %s -> %s; overlap %.1f%% -> %.1f%%\n",
                ms(a.exposed_comm).c_str(), ms(b.exposed_comm).c_str(), a.overlap_ratio * 100,
                b.overlap_ratio * 100);
    int64_t unknown = c.before.cls.unknown_kernels +
                      (c.after.trace != c.before.trace ? c.after.cls.unknown_kernels : 0);
    int64_t warnings = c.before.trace->stats.warning_count() +
                       (c.after.trace != c.before.trace ? c.after.trace->stats.warning_count() : 0);
    std::printf("unknown kernels: %lld; import warnings: %lld\n", static_cast<long long>(unknown),
                static_cast<long long>(warnings));
    std::printf("wrote %s/{%sreport.md,report.html,report.json}\n", o.out.c_str(),
                c.after.trace == c.before.trace ? "replayed.json," : "");
}

constexpr const char* kReplaySchema = "dssim-replay-deployment/1";
constexpr const char* kDeploymentSchema = "dssim-deployment/1";

// What --deployment resolved to: the replay fields, and the model a general deployment names
// (empty for replay files, which name none).
struct ResolvedDeployment {
    traces::ReplayDeployment replay;
    std::string model;
    std::string device;  // the machine a general deployment names
    std::string system;
    traces::DeploymentStep step;
};

traces::DeploymentStep step_of(const validation::DeploymentConfig& d) {
    traces::DeploymentStep s;
    s.file = d.file;
    s.name = d.name;
    s.phase = d.phase;
    s.tp = d.parallel.tp;
    s.ep = d.parallel.ep;
    s.micro_batches = d.parallel.micro_batches;
    s.batch = d.workload.batch;
    s.input_len = d.workload.input_len;
    s.context = d.workload.context;
    s.mtp = d.workload.mtp;
    s.absorbed = d.workload.attention == models::AttentionMode::Absorbed;
    return s;
}

ResolvedDeployment general_deployment(const validation::DeploymentConfig& d) {
    ResolvedDeployment r;
    r.model = d.model;
    r.device = d.device;
    r.system = d.system;
    r.step = step_of(d);
    return r;
}

// A file, or a built-in name (configs/deployments), dispatched on its `schema`.
ResolvedDeployment resolve_deployment(const std::string& arg) {
    std::filesystem::path p;
    try {
        p = resolve_config("deployments", arg, "deployment");
    } catch (const InputError& e) {
        throw InputError(std::string("replay: --deployment: ") + e.what());
    }
    const std::string file = p.string();
    const Json j = load_json_file(p);
    std::string schema;
    if (j.is_object()) {
        auto it = j.find("schema");
        if (it != j.end() && it->is_string()) schema = it->get<std::string>();
    }
    if (schema == kReplaySchema) {
        ResolvedDeployment r;
        r.replay = traces::parse_replay_deployment(j, file);
        return r;
    }
    if (schema == kDeploymentSchema)
        return general_deployment(validation::parse_deployment(j, file));
    throw_input_error(
        file, "schema",
        std::string("expected \"") + kReplaySchema + "\" or \"" + kDeploymentSchema + "\"" +
            (schema.empty() ? std::string(" (missing)") : " (got \"" + schema + "\")"));
}

// The model the work comes from: --model, else the one a general deployment names. With both,
// their shapes must agree in everything replay reads (the deployment's figures are for its
// model); a different name with the same shapes (deepseek-r1 for deepseek-v3) is noted.
models::ModelConfig replay_model(const std::string& arg,
                                 const ResolvedDeployment& d,
                                 std::vector<std::string>& notes) {
    if (d.model.empty()) {
        if (arg.empty()) {
            throw_input_error(d.replay.file, "schema",
                              std::string(kReplaySchema) +
                                  " names no model: give --model (or use a " + kDeploymentSchema +
                                  " deployment)");
        }
        return models::resolve_model_config(arg);
    }
    const std::string& file = d.step.file;
    models::ModelConfig named;
    try {
        named = models::resolve_model_config(d.model);
    } catch (const InputError& e) {
        throw_input_error(file, "model", e.what());
    }
    if (arg.empty()) return named;
    models::ModelConfig given = models::resolve_model_config(arg);
    const std::string diff = traces::replay_shape_difference(named, given);
    if (!diff.empty()) {
        throw_input_error(file, "model",
                          "the deployment is for " + d.model + "; --model " + arg +
                              " has other shapes (" + diff + ")");
    }
    if (given.short_name() != named.short_name()) {
        notes.push_back("--model " + arg + " has the shapes of the deployment's model " + d.model);
    }
    return given;
}

void run_replay(const ReplayOptions& o) {
    traces::RuleTable rules = traces::load_rule_table(o.rules);
    if (!o.model.empty() && o.deployment.empty())
        throw InputError(
            "replay: --model and --deployment go together (model-derived work needs "
            "both)");
    std::optional<models::ModelConfig> model;
    std::optional<traces::ReplayDeployment> dep;
    std::vector<std::string> dep_notes;
    std::string model_name = o.model;
    if (!o.deployment.empty()) {
        ResolvedDeployment r = resolve_deployment(o.deployment);
        model = replay_model(o.model, r, dep_notes);
        if (r.model.empty()) {
            dep = r.replay;
        } else {
            dep = traces::replay_deployment_from(r.step, *model);
            if (model_name.empty()) model_name = r.model;
            dep_notes.push_back("deployment " + dep->name + " (" + dep->schema + ", " +
                                std::string(models::phase_name(r.step.phase)) + " on " + r.device +
                                " / " + r.system +
                                "): one micro-batch of its step; EP members per scale-up domain "
                                "as many as fit on each device");
            // Not an error: --from may name the same machine by a file path or another system.
            if (o.from != r.device && o.from != r.system)
                dep_notes.push_back("the deployment names device " + r.device + " and system " +
                                    r.system + "; the trace is replayed from " + o.from);
        }
    }
    devices::CostModel from = traces::load_cost_model(o.from);
    devices::CostModel to = traces::load_cost_model(o.to);
    traces::Trace trace = traces::import_trace_file(o.trace);

    traces::Comparison c;
    c.rules = &rules;
    c.title = "Trace replay: " + std::filesystem::path(o.trace).filename().string() + ", " +
              o.from + " -> " + o.to;
    c.before.label = o.from + " (recorded)";
    c.after.label = o.to + " (replayed)";
    c.before.trace = &trace;
    c.after.trace = &trace;
    c.before.cls = traces::classify(trace, rules);
    c.after.cls = c.before.cls;
    traces::Dependencies deps = traces::infer_dependencies(trace, c.before.cls, rules);
    c.before.schedule = traces::recorded_schedule(trace, deps);
    traces::Retimer rt(from, to, rules, model, dep, trace.info.world_size);
    c.after.schedule = traces::list_schedule(trace, deps, rt.retime_all(trace, c.before.cls));
    c.before.metrics = traces::measure(trace, c.before.cls, rules, c.before.schedule);
    c.after.metrics = traces::measure(trace, c.after.cls, rules, c.after.schedule);
    traces::match_kernels(c);

    add_import_notes(c, trace, "trace");
    add_dependency_notes(c, trace, deps, "trace");
    c.notes.push_back("rule table: " + rules.file);
    if (model) {
        c.notes.push_back("work from the model " + model_name + " and deployment " +
                          (dep->schema == kReplaySchema ? dep->file : dep->name) + " (" +
                          traces::describe(*dep) + ")");
        for (const auto& n : dep_notes)
            c.notes.push_back(n);
    } else
        c.notes.push_back(
            "work from measured durations through the cost models' probe ops "
            "(no --model/--deployment)");
    for (size_t i = 0; i < rules.categories.size(); ++i) {
        if (c.before.metrics.category_count[i] == 0) continue;
        const traces::CategoryScaling& s = rt.scaling()[i];
        char b[96];
        std::snprintf(b, sizeof b, "x%.4f, fixed %.2f -> %.2f us per kernel", s.ratio,
                      s.fixed_from_us, s.fixed_to_us);
        c.notes.push_back("scaling " + rules.categories[i].name + ": " + b + "; " + s.basis);
    }
    std::string trace_json = traces::chrome_trace(c.after, rules, &deps);
    write_outputs(o.out, c, &trace_json);
    print_summary(c, o);
}

void run_diff(const ReplayOptions& o) {
    traces::RuleTable rules = traces::load_rule_table(o.rules);
    traces::Trace a = traces::import_trace_file(o.diff[0]);
    traces::Trace b = traces::import_trace_file(o.diff[1]);
    traces::Comparison c;
    c.rules = &rules;
    c.title = "Trace comparison: " + std::filesystem::path(o.diff[0]).filename().string() + " vs " +
              std::filesystem::path(o.diff[1]).filename().string();
    // Label by file name, or by parent/name when both files have the same name.
    std::filesystem::path pa(o.diff[0]), pb(o.diff[1]);
    bool same = pa.filename() == pb.filename();
    auto label = [&](const std::filesystem::path& p) {
        return same ? (p.parent_path().filename() / p.filename()).string() : p.filename().string();
    };
    c.before.label = "A: " + label(pa);
    c.after.label = "B: " + label(pb);
    c.before.trace = &a;
    c.after.trace = &b;
    c.before.cls = traces::classify(a, rules);
    c.after.cls = traces::classify(b, rules);
    traces::Dependencies da = traces::infer_dependencies(a, c.before.cls, rules);
    traces::Dependencies db = traces::infer_dependencies(b, c.after.cls, rules);
    c.before.schedule = traces::recorded_schedule(a, da);
    c.after.schedule = traces::recorded_schedule(b, db);
    c.before.metrics = traces::measure(a, c.before.cls, rules, c.before.schedule);
    c.after.metrics = traces::measure(b, c.after.cls, rules, c.after.schedule);
    traces::match_kernels(c);
    add_import_notes(c, a, "A");
    add_import_notes(c, b, "B");
    add_dependency_notes(c, a, da, "A");
    add_dependency_notes(c, b, db, "B");
    c.notes.push_back("kernels paired by name and occurrence: " + std::to_string(c.matched));
    c.notes.push_back("rule table: " + rules.file);
    write_outputs(o.out, c, nullptr);
    print_summary(c, o);
}

}  // namespace

void add_replay_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "replay",
        "Re-time a recorded profiler trace (PyTorch/Kineto, Chrome/Perfetto JSON, dssim traces) "
        "on another device, keeping streams, dependencies and overlap; or compare two traces "
        "(docs/replay.md).\n"
        "Usage: dssim replay --trace T.json --from DEVICE --to DEVICE [--model M] [--deployment "
        "NAME|FILE] --out DIR\n"
        "       dssim replay --diff A.json B.json --out DIR");
    auto opt = std::make_shared<ReplayOptions>();
    cmd->add_option("--trace", opt->trace,
                    "The recorded trace to replay (Chrome trace-event JSON: an object with "
                    "traceEvents or a bare event array).");
    cmd->add_option("--from", opt->from,
                    "The device (configs/devices name or file) or system (configs/systems) the "
                    "trace was recorded on.");
    cmd->add_option("--to", opt->to,
                    "The device or system to replay on; a system sets the scale-up domain the "
                    "expert-parallel traffic sees.");
    cmd->add_option("--model", opt->model,
                    "Model (configs/models name or config.json) whose shapes give the work of "
                    "GEMM, attention and dispatch/combine kernels; needs --deployment (default: "
                    "the model a dssim-deployment/1 deployment names).");
    cmd->add_option("--deployment", opt->deployment,
                    "The deployment the trace was recorded under: a configs/deployments name or "
                    "dssim-deployment/1 file (ep, tokens and sequence derived from its parallel "
                    "layout and workload), or a replay deployment file (dssim-replay-deployment/1:"
                    " ep, tokens_per_micro_batch, seq_len, ...; needs --model).");
    cmd->add_option("--diff", opt->diff, "Compare two traces A and B instead of replaying one.")
        ->expected(2);
    cmd->add_option("--out", opt->out,
                    "Output directory for replayed.json, report.md, report.html and report.json "
                    "(created; files are written atomically).")
        ->required();
    cmd->add_option("--rules", opt->rules,
                    "Kernel classification rule table (configs/kernel-rules name or file).")
        ->capture_default_str();
    cmd->add_flag("--json", opt->json, "Print report.json to stdout instead of a summary.");
    cmd->footer(
        "Examples:\n"
        "  dssim replay --trace train.json --from h800 --to h100 --out out/h100\n"
        "  dssim replay --trace train.json --from h800 --to cloudmatrix-384 --out out/cm384\n"
        "  dssim replay --trace train.json --from h800 --to ascend-910c --deployment "
        "deepseek-v3-pretrain-h800 --out out/910c\n"
        "  dssim replay --diff out/h100/replayed.json out/cm384/replayed.json --out out/diff");
    cmd->callback([opt] {
        if (!opt->diff.empty()) {
            if (!opt->trace.empty() || !opt->from.empty() || !opt->to.empty())
                throw InputError(
                    "replay: --diff compares two traces; do not combine it with "
                    "--trace/--from/--to");
            run_diff(*opt);
            return;
        }
        if (opt->trace.empty() || opt->from.empty() || opt->to.empty())
            throw InputError("replay: needs --trace, --from and --to (or --diff A B)");
        run_replay(*opt);
    });
}

}  // namespace dssim::cli
