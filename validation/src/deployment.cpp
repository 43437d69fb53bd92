// Loading and checking deployment configs (configs/deployments/*.json).
#include "dssim/validation/deployment.h"

#include "dssim/base/error.h"
#include "dssim/base/paths.h"
#include "dssim/devices/device_spec.h"

namespace dssim::validation {

namespace {

constexpr const char* kDeploymentSchema = "dssim-deployment/1";

std::string source_ref(JsonFields& f, const std::map<std::string, std::string>& sources) {
    const std::string id = f.string("source");
    if (!sources.count(id)) f.fail("source", "'" + id + "' is not in the file's sources table");
    return id;
}

int64_t at_least(JsonFields& f, std::string_view key, int64_t min) {
    const int64_t v = f.integer(key);
    if (v < min) {
        f.fail(key, "must be >= " + std::to_string(min) + " (got " + std::to_string(v) + ")");
    }
    return v;
}

// The simulator's fixed precision choices (docs/simulator.md); a deployment asking for others
// cannot be simulated faithfully, so it is refused rather than silently run differently.
void check_precision(JsonFields& p, sim::Workload& w) {
    const std::string gemm = p.string("gemm");
    if (gemm == "fp8") {
        w.gemm = models::GemmMode::Fp8;
    } else if (gemm == "bf16") {
        w.gemm = models::GemmMode::Bf16;
    } else {
        p.fail("gemm", "'" + gemm + "' is not one of: fp8, bf16");
    }
    if (p.string("dispatch") != "fp8") p.fail("dispatch", "the simulator dispatches FP8 tokens");
    if (p.string("combine") != "bf16") p.fail("combine", "the simulator combines in BF16");
    if (p.string("attention") != "bf16") {
        p.fail("attention", "the simulator runs the attention core in BF16");
    }
}

}  // namespace

DeploymentConfig parse_deployment(const Json& json, const std::string& file) {
    JsonFields root(json, file);
    const std::string schema = root.string("schema");
    if (schema != kDeploymentSchema) {
        root.fail("schema",
                  "expected \"" + std::string(kDeploymentSchema) + "\", got \"" + schema + "\"");
    }
    DeploymentConfig d;
    d.file = file;
    d.name = root.string("name");
    d.description = root.string_or("description", "");
    {
        const Json& src = root.value("sources");
        JsonFields s(src, file, "sources");
        for (const auto& [id, text] : src.items()) {
            const std::string citation = s.string(id);
            if (citation.empty()) s.fail(id, "empty citation");
            d.sources[id] = citation;
        }
    }
    d.model = root.string("model");
    d.device = root.string("device");
    d.system = root.string("system");
    const std::string phase = root.string("phase");
    if (auto p = models::phase_from_name(phase)) {
        d.phase = *p;
    } else {
        root.fail("phase", "'" + phase + "' is not one of: prefill, decode, train");
    }
    {
        JsonFields p = root.object("parallel");
        d.parallel.devices = at_least(p, "devices", 1);
        d.parallel.tp = at_least(p, "tp", 1);
        d.parallel.ep = at_least(p, "ep", 1);
        d.parallel.dp = at_least(p, "dp", 1);
        d.parallel.redundant_experts = at_least(p, "redundant_experts", 0);
        d.parallel.micro_batches = static_cast<int>(at_least(p, "micro_batches", 1));
        if (d.parallel.micro_batches > 2) p.fail("micro_batches", "must be 1 or 2");
        source_ref(p, d.sources);
        p.ignore({"note"});
        p.reject_unknown();
        if (d.phase != models::Phase::Train &&
            d.parallel.tp * d.parallel.dp != d.parallel.devices) {
            p.fail("dp", "tp x dp must equal devices");
        }
    }
    {
        JsonFields p = root.object("precision");
        check_precision(p, d.workload);
        source_ref(p, d.sources);
        p.ignore({"note"});
        p.reject_unknown();
    }
    {
        JsonFields w = root.object("workload");
        d.workload.phase =
            d.phase == models::Phase::Decode ? models::Phase::Decode : models::Phase::Prefill;
        d.workload.batch = at_least(w, "batch", 1);
        d.workload.input_len = at_least(w, "input_len", 1);
        d.workload.context = at_least(w, "context", 0);
        const std::string att = w.string("attention");
        if (att == "absorbed") {
            d.workload.attention = models::AttentionMode::Absorbed;
        } else if (att == "naive") {
            d.workload.attention = models::AttentionMode::Naive;
        } else {
            w.fail("attention", "'" + att + "' is not one of: absorbed, naive");
        }
        d.workload.mtp = w.boolean_or("mtp", false);
        if (d.phase == models::Phase::Decode && d.workload.input_len != 1) {
            w.fail("input_len", "decode steps add one token per sequence (use 1)");
        }
        source_ref(w, d.sources);
        w.ignore({"note"});
        w.reject_unknown();
    }
    if (auto h = root.object_if("cache_hit_rate")) {
        const double v = h->number("value");
        if (!(v >= 0 && v < 1)) h->fail("value", "must be in [0, 1)");
        if (d.phase != models::Phase::Prefill) h->fail("value", "only prefill counts cache hits");
        d.cache_hit_rate = v;
        source_ref(*h, d.sources);
        h->ignore({"note"});
        h->reject_unknown();
    }
    if (auto u = root.object_if("comm_compute_units")) {
        d.comm_compute_units = at_least(*u, "value", 0);
        source_ref(*u, d.sources);
        u->ignore({"note"});
        u->reject_unknown();
    }
    if (auto t = root.object_if("training")) {
        if (d.phase != models::Phase::Train) t->fail("pipeline_parallel", "only for phase train");
        TrainingSpec s;
        s.pipeline_parallel = at_least(*t, "pipeline_parallel", 1);
        s.schedule = t->string("schedule");
        if (s.schedule != "dualpipe") t->fail("schedule", "only 'dualpipe' is modelled");
        if (s.pipeline_parallel % 2 != 0) t->fail("pipeline_parallel", "DualPipe needs an even PP");
        s.zero_stage = at_least(*t, "zero_stage", 0);
        s.layers_per_chunk = at_least(*t, "layers_per_chunk", 1);
        s.sequence_length = at_least(*t, "sequence_length", 1);
        s.global_batch_sequences = at_least(*t, "global_batch_sequences", 1);
        source_ref(*t, d.sources);
        t->ignore({"note"});
        t->reject_unknown();
        if (d.parallel.devices != d.parallel.dp * s.pipeline_parallel * d.parallel.tp) {
            root.fail("parallel.dp", "devices must equal tp x dp x pipeline_parallel");
        }
        if (s.sequence_length != d.workload.input_len) {
            t->fail("sequence_length", "must equal workload.input_len");
        }
        d.training = s;
    } else if (d.phase == models::Phase::Train) {
        root.fail("training", "a train deployment needs a training block");
    }
    root.reject_unknown();
    return d;
}

DeploymentConfig load_deployment(std::string_view name_or_path) {
    const auto path = resolve_config("deployments", name_or_path, "deployment");
    return parse_deployment(load_json_file(path), path.string());
}

std::vector<std::string> list_deployments() {
    return devices::list_config_names("deployments");
}

}  // namespace dssim::validation
