// `dssim checkpoint`: write synthetic DeepSeek checkpoints in HF layout (synth) and list and
// check existing ones against the tensors their config expects (inspect).
#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/models.h"
#include "dssim/tokenizer/synth_tokenizer.h"

namespace dssim::cli {

namespace {

using models::Checkpoint;
using models::LayerRange;
using models::TensorSpec;

int64_t parse_int(std::string_view text, std::string_view option) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        throw InputError(std::string(option) + ": expected an integer, got '" + std::string(text) +
                         "'");
    }
    return v;
}

// "A-B" or "A" (inclusive, 0-based stored-layer indices; MTP layers follow the main layers).
LayerRange parse_layers(const std::string& text) {
    LayerRange r;
    auto dash = text.find('-');
    if (dash == std::string::npos) {
        r.first = r.last = parse_int(text, "--layers");
    } else {
        r.first = parse_int(std::string_view(text).substr(0, dash), "--layers");
        r.last = parse_int(std::string_view(text).substr(dash + 1), "--layers");
    }
    if (r.first < 0 || r.last < r.first) {
        throw InputError("--layers: expected A-B with 0 <= A <= B, got '" + text + "'");
    }
    return r;
}

// Plain bytes or a decimal (KB, MB, GB) or binary (KiB, MiB, GiB) suffix.
uint64_t parse_size(const std::string& text) {
    static const std::pair<std::string_view, uint64_t> kSuffixes[] = {
        {"KiB", 1ull << 10}, {"MiB", 1ull << 20},   {"GiB", 1ull << 30}, {"KB", 1000ull},
        {"MB", 1000000ull},  {"GB", 1000000000ull}, {"B", 1ull}};
    std::string_view t(text);
    uint64_t mult = 1;
    for (const auto& [suffix, m] : kSuffixes) {
        if (t.size() > suffix.size() && t.substr(t.size() - suffix.size()) == suffix) {
            t.remove_suffix(suffix.size());
            mult = m;
            break;
        }
    }
    int64_t v = parse_int(t, "--shard-size");
    if (v <= 0 || static_cast<uint64_t>(v) > UINT64_MAX / mult) {
        throw InputError("--shard-size: must be a positive size, got '" + text + "'");
    }
    return static_cast<uint64_t>(v) * mult;
}

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        s += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return s + "]";
}

struct SynthArgs {
    std::string model;
    uint64_t seed = 0;
    std::string out;
    std::string dtype;
    std::string layers;
    std::string shard_size = "5GB";
    int threads = 0;
};

void run_synth(const SynthArgs& a) {
    models::ModelConfig config = models::resolve_model_config(a.model);
    models::SynthOptions o;
    o.seed = a.seed;
    if (a.dtype == "fp8") {
        o.weight_format = models::WeightFormat::FP8;
    } else if (a.dtype == "bf16") {
        o.weight_format = models::WeightFormat::BF16;
    } else if (!a.dtype.empty()) {
        throw InputError("--dtype: expected fp8 or bf16, got '" + a.dtype + "'");
    }
    if (!a.layers.empty()) {
        o.layers = parse_layers(a.layers);
    }
    o.shard_size = parse_size(a.shard_size);
    if (a.threads < 0) {
        throw InputError("--threads: must be >= 1 (0: all hardware threads)");
    }
    o.threads = a.threads == 0 ? hardware_threads() : a.threads;
    models::SynthResult r = models::synth_checkpoint(config, a.out, o);
    std::printf("wrote %zu tensors (%llu bytes, %s) in %zu shard%s to %s\n", r.tensors,
                static_cast<unsigned long long>(r.bytes),
                human_bytes(static_cast<double>(r.bytes)).c_str(), r.shards,
                r.shards == 1 ? "" : "s", a.out.c_str());
    // A tokenizer sized to the vocabulary, so text prompts run on synthetic checkpoints too.
    const int64_t vocab = config.vocab_size;  // layering-ok: the tokenizer covers every id
    if (tokenizer::write_synth_tokenizer(a.out, vocab)) {
        std::printf("wrote tokenizer.json and tokenizer_config.json (%lld ids)\n",
                    static_cast<long long>(vocab));
    } else {
        std::printf("no tokenizer: the vocabulary (%lld ids) is smaller than %lld\n",
                    static_cast<long long>(vocab),
                    static_cast<long long>(tokenizer::kSynthMinVocab));
    }
}

struct InspectArgs {
    std::string dir;
    std::string model;
    bool json = false;
};

void run_inspect(const InspectArgs& a) {
    namespace fs = std::filesystem;
    Checkpoint ck = Checkpoint::open(a.dir);
    models::ModelConfig config;
    if (!a.model.empty()) {
        config = models::resolve_model_config(a.model);
    } else {
        fs::path cfg = fs::is_directory(a.dir) ? fs::path(a.dir) / "config.json"
                                               : fs::path(a.dir).parent_path() / "config.json";
        if (!fs::is_regular_file(cfg)) {
            throw_input_error(cfg.string(), "",
                              "missing: the check needs the checkpoint's config.json (or --model)");
        }
        config = models::load_model_config(cfg);
    }
    LayerRange range;
    std::string partial;
    if (ck.index()) {
        auto it = ck.index()->metadata.find("dssim_layers");
        if (it != ck.index()->metadata.end()) {
            partial = it->second;
            range = parse_layers(partial);
        }
    }
    // A recorded subset that the config does not have is itself a difference (exit 1).
    bool range_ok = range.last < config.stored_layers();
    if (!range_ok) {
        range = LayerRange{};
    }
    std::vector<TensorSpec> expected = models::tensor_inventory(config, range);

    // Compare.
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    struct Mismatch {
        const TensorSpec* spec;
        const models::TensorInfo* info;
    };
    std::vector<Mismatch> mismatched;
    std::map<std::string, const TensorSpec*, std::less<>> by_name;
    for (const auto& s : expected) {
        by_name.emplace(s.name, &s);
        const Checkpoint::Entry* e = ck.find(s.name);
        if (e == nullptr) {
            missing.push_back(s.name);
        } else if (e->info->dtype != s.dtype || e->info->shape != s.shape) {
            mismatched.push_back({&s, e->info});
        }
    }
    std::map<std::string, std::pair<uint64_t, uint64_t>> by_dtype;  // tensors, bytes
    uint64_t total_bytes = 0;
    uint64_t total_elements = 0;
    for (const auto& [name, e] : ck.tensors()) {
        if (by_name.find(name) == by_name.end()) {
            extra.push_back(name);
        }
        auto& d = by_dtype[std::string(models::safetensors_dtype_name(e.info->dtype))];
        d.first += 1;
        d.second += e.info->num_bytes();
        total_bytes += e.info->num_bytes();
        total_elements += e.info->num_elements();
    }
    bool ok = range_ok && missing.empty() && extra.empty() && mismatched.empty();

    if (a.json) {
        OrderedJson j;
        j["directory"] = ck.directory().string();
        j["model"] = std::string(config.short_name());
        j["layers"] = partial.empty() ? OrderedJson(nullptr) : OrderedJson(partial);
        j["shards"] = ck.shards().size();
        OrderedJson tensors = OrderedJson::array();
        for (const auto& [name, e] : ck.tensors()) {
            OrderedJson t;
            t["name"] = name;
            t["dtype"] = std::string(models::safetensors_dtype_name(e.info->dtype));
            t["shape"] = e.info->shape;
            t["bytes"] = e.info->num_bytes();
            t["file"] = e.file->path().filename().string();
            tensors.push_back(t);
        }
        j["tensors"] = tensors;
        OrderedJson totals;
        totals["tensors"] = ck.tensors().size();
        totals["elements"] = total_elements;
        totals["bytes"] = total_bytes;
        OrderedJson dt = OrderedJson::object();
        for (const auto& [name, v] : by_dtype) {
            dt[name] = {{"tensors", v.first}, {"bytes", v.second}};
        }
        totals["by_dtype"] = dt;
        j["totals"] = totals;
        OrderedJson check;
        check["ok"] = ok;
        check["layers_exist"] = range_ok;
        check["expected_tensors"] = expected.size();
        check["missing"] = missing;
        check["extra"] = extra;
        OrderedJson mm = OrderedJson::array();
        for (const auto& m : mismatched) {
            OrderedJson x;
            x["name"] = m.spec->name;
            x["expected_dtype"] = std::string(models::safetensors_dtype_name(m.spec->dtype));
            x["expected_shape"] = m.spec->shape;
            x["dtype"] = std::string(models::safetensors_dtype_name(m.info->dtype));
            x["shape"] = m.info->shape;
            mm.push_back(x);
        }
        check["mismatched"] = mm;
        j["check"] = check;
        std::cout << j.dump(2) << "\n";
    } else {
        for (const auto& [name, e] : ck.tensors()) {
            std::printf("%-64s %-8s %-22s %14llu  %s\n", name.c_str(),
                        std::string(models::safetensors_dtype_name(e.info->dtype)).c_str(),
                        shape_string(e.info->shape).c_str(),
                        static_cast<unsigned long long>(e.info->num_bytes()),
                        e.file->path().filename().string().c_str());
        }
        std::printf("\ncheckpoint %s: %zu tensors, %llu elements, %llu bytes in %zu shard%s\n",
                    ck.directory().string().c_str(), ck.tensors().size(),
                    static_cast<unsigned long long>(total_elements),
                    static_cast<unsigned long long>(total_bytes), ck.shards().size(),
                    ck.shards().size() == 1 ? "" : "s");
        for (const auto& [name, v] : by_dtype) {
            std::printf("  %-8s %8llu tensors %16llu bytes\n", name.c_str(),
                        static_cast<unsigned long long>(v.first),
                        static_cast<unsigned long long>(v.second));
        }
        std::printf("check against %s%s: %zu expected tensors\n",
                    std::string(config.short_name()).c_str(),
                    partial.empty() ? "" : (" (layers " + partial + ")").c_str(), expected.size());
        if (!range_ok) {
            std::printf("  layers %s recorded in the index do not exist in %s (%lld stored)\n",
                        partial.c_str(), std::string(config.short_name()).c_str(),
                        static_cast<long long>(config.stored_layers()));
        }
        for (const auto& n : missing) {
            std::printf("  missing: %s\n", n.c_str());
        }
        for (const auto& n : extra) {
            std::printf("  extra: %s\n", n.c_str());
        }
        for (const auto& m : mismatched) {
            std::printf("  mismatch: %s: expected %s %s, found %s %s\n", m.spec->name.c_str(),
                        std::string(models::safetensors_dtype_name(m.spec->dtype)).c_str(),
                        shape_string(m.spec->shape).c_str(),
                        std::string(models::safetensors_dtype_name(m.info->dtype)).c_str(),
                        shape_string(m.info->shape).c_str());
        }
        std::printf("%s: %zu missing, %zu extra, %zu mismatched\n", ok ? "OK" : "DIFFERENCES",
                    missing.size(), extra.size(), mismatched.size());
    }
    if (!ok) {
        throw ExitWith{1};
    }
}

}  // namespace

void add_checkpoint_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand(
        "checkpoint", "DeepSeek checkpoints in HF safetensors layout: synthesise and inspect.");
    cmd->require_subcommand(1);

    auto synth = std::make_shared<SynthArgs>();
    CLI::App* s = cmd->add_subcommand(
        "synth",
        "Write a synthetic checkpoint (config.json, model.safetensors.index.json, shards) with "
        "exactly DeepSeek's HF tensor names, shapes and dtypes. Values come from a seeded "
        "counter-based generator (docs/config-formats.md): identical bytes for any --threads.");
    s->add_option("--model", synth->model,
                  "Built-in model name (configs/models/<name>.json, e.g. deepseek-tiny) or a path "
                  "to an HF config.json / demo config")
        ->required();
    s->add_option("--seed", synth->seed, "Generator seed (unsigned 64-bit integer)")
        ->required()
        ->check(unsigned_integer());
    s->add_option("--out", synth->out, "Output directory (created if missing)")->required();
    s->add_option("--dtype", synth->dtype,
                  "Linear weight storage: fp8 (E4M3 + 128x128 F32 weight_scale_inv) or bf16; "
                  "default: what the config says (quantization_config present -> fp8)");
    s->add_option("--layers", synth->layers,
                  "Only stored layers A-B (inclusive, 0-based; MTP layers follow the main ones) "
                  "plus the top-level embed_tokens, norm and lm_head; e.g. 3-3 for one MoE layer");
    s->add_option("--shard-size", synth->shard_size,
                  "Tensor bytes per shard before starting a new one; integer with optional "
                  "KB/MB/GB or KiB/MiB/GiB suffix (default 5GB)");
    s->add_option("--threads", synth->threads,
                  "Generator threads (default 0: all hardware threads); output is identical for "
                  "any value");
    s->callback([synth] { run_synth(*synth); });

    auto inspect = std::make_shared<InspectArgs>();
    CLI::App* i = cmd->add_subcommand(
        "inspect",
        "List tensors (dtype, shape, bytes, shard) and totals, and check them against the "
        "tensors the config expects. Exit 0: consistent; 1: missing, extra or mismatched "
        "tensors; 2: malformed files.");
    i->add_option("dir", inspect->dir,
                  "Checkpoint directory (model.safetensors.index.json or model.safetensors) or a "
                  "single .safetensors file")
        ->required();
    i->add_option("--model", inspect->model,
                  "Config to check against (built-in name or config.json path); default: the "
                  "checkpoint's config.json");
    i->add_flag("--json", inspect->json, "Print one JSON document instead of the table");
    i->callback([inspect] { run_inspect(*inspect); });
}

}  // namespace dssim::cli
