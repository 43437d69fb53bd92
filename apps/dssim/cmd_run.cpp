// `dssim run`: execute a checkpoint with the reference runtime and print the generated tokens
// and the SHA-256 digest of every logit (docs/reference-runtime.md). Timing goes to stderr so
// stdout is byte-identical across runs and thread counts.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/reference.h"

namespace dssim::cli {

namespace {

struct RunArgs {
    std::string checkpoint;
    std::vector<std::string> tokens;
    std::string tokens_file;
    int64_t max_new_tokens = 16;
    int threads = 0;
    std::string mode = "demo";
    std::string scale_fmt;
    std::string attention = "absorbed";
    double temperature = 0.0;
    uint64_t seed = 0;
    bool mtp = false;
    int64_t max_seq_len = 16384;
    bool json = false;
    std::string stream = "auto";
};

// "1,2,3" (spaces allowed around commas) -> ids. `where` names the source in errors.
std::vector<int64_t> parse_token_list(std::string_view text, const std::string& where) {
    std::vector<int64_t> ids;
    size_t i = 0;
    while (i <= text.size()) {
        size_t j = text.find(',', i);
        if (j == std::string_view::npos) j = text.size();
        std::string_view item = text.substr(i, j - i);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() &&
               (item.back() == ' ' || item.back() == '\t' || item.back() == '\r')) {
            item.remove_suffix(1);
        }
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (item.empty() || ec != std::errc() || ptr != item.data() + item.size()) {
            throw InputError(where + ": expected comma-separated integer token ids, got '" +
                             std::string(item) + "'");
        }
        ids.push_back(v);
        i = j + 1;
    }
    return ids;
}

void run(const RunArgs& a) {
    reference::RuntimeOptions ro;
    if (a.mode == "demo") {
        ro.mode = reference::NumericsMode::Demo;
    } else if (a.mode == "fp8") {
        ro.mode = reference::NumericsMode::Fp8;
    } else {
        throw InputError("--mode: expected demo or fp8, got '" + a.mode + "'");
    }
    if (a.scale_fmt == "ue8m0") {
        ro.scale_fmt = models::ScaleFmt::UE8M0;
    } else if (a.scale_fmt == "f32") {
        ro.scale_fmt = models::ScaleFmt::F32;
    } else if (!a.scale_fmt.empty()) {
        throw InputError("--scale-fmt: expected ue8m0 or f32, got '" + a.scale_fmt + "'");
    }
    if (a.attention == "absorbed") {
        ro.attention = models::AttentionMode::Absorbed;
    } else if (a.attention == "naive") {
        ro.attention = models::AttentionMode::Naive;
    } else {
        throw InputError("--attention: expected absorbed or naive, got '" + a.attention + "'");
    }
    if (a.threads < 0) throw InputError("--threads: must be >= 1 (0: all hardware threads)");
    ro.threads = a.threads == 0 ? hardware_threads() : a.threads;
    ro.max_seq_len = a.max_seq_len;
    if (a.stream == "on") {
        ro.stream_weights = true;
    } else if (a.stream == "off") {
        ro.stream_weights = false;
    } else if (a.stream != "auto") {
        throw InputError("--stream: expected auto, on or off, got '" + a.stream + "'");
    }

    std::vector<std::vector<int64_t>> prompts;
    for (const auto& t : a.tokens)
        prompts.push_back(parse_token_list(t, "--tokens"));
    if (!a.tokens_file.empty()) {
        const std::string text = read_file(a.tokens_file);
        size_t line_no = 0, i = 0;
        while (i < text.size()) {
            size_t j = text.find('\n', i);
            if (j == std::string::npos) j = text.size();
            ++line_no;
            std::string_view line(text.data() + i, j - i);
            if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
                prompts.push_back(
                    parse_token_list(line, a.tokens_file + ": line " + std::to_string(line_no)));
            }
            i = j + 1;
        }
    }
    if (prompts.empty())
        throw InputError("--tokens: give at least one sequence (or --tokens-file)");

    reference::GenerateOptions go;
    go.max_new_tokens = a.max_new_tokens;
    go.temperature = a.temperature;
    go.seed = a.seed;
    go.mtp = a.mtp;

    const auto t0 = std::chrono::steady_clock::now();
    reference::Runtime runtime(a.checkpoint, ro);
    const auto t1 = std::chrono::steady_clock::now();
    const reference::GenerateResult r = runtime.generate(prompts, go);
    const auto t2 = std::chrono::steady_clock::now();
    const double open_s = std::chrono::duration<double>(t1 - t0).count();
    const double run_s = std::chrono::duration<double>(t2 - t1).count();
    int64_t rows = 0;
    for (const auto& s : r.steps)
        rows += static_cast<int64_t>(s.rows());

    if (a.json) {
        OrderedJson j;
        j["model"] = std::string(runtime.config().short_name());
        j["mode"] = std::string(reference::numerics_mode_name(ro.mode));
        j["scale_fmt"] = runtime.scale_fmt() == models::ScaleFmt::UE8M0 ? "ue8m0" : "f32";
        j["attention"] = std::string(models::attention_mode_name(ro.attention));
        j["temperature"] = a.temperature;
        j["seed"] = a.seed;
        j["mtp"] = a.mtp;
        j["max_seq_len"] = a.max_seq_len;
        j["prompts"] = prompts;
        j["generated"] = r.generated;
        j["steps"] = static_cast<int64_t>(r.steps.size());
        j["logit_rows"] = rows;
        j["logits_sha256"] = r.logits_sha256;
        if (a.mtp) {
            j["mtp_drafted"] = r.mtp_drafted;
            j["mtp_accepted"] = r.mtp_accepted;
            j["mtp_acceptance_rate"] = r.mtp_acceptance_rate();
        }
        std::cout << j.dump(2) << "\n";
    } else {
        for (size_t s = 0; s < r.generated.size(); ++s) {
            std::cout << "sequence " << s << ":";
            for (int64_t t : r.generated[s])
                std::cout << " " << t;
            std::cout << "\n";
        }
        std::cout << "logits_sha256 " << r.logits_sha256 << "  (" << r.steps.size() << " steps, "
                  << rows << " rows)\n";
        if (a.mtp) {
            std::cout << "mtp acceptance " << r.mtp_accepted << "/" << r.mtp_drafted << "\n";
        }
    }
    std::cout.flush();
    std::fprintf(stderr, "dssim run: open %.3f s, generate %.3f s (%lld logit rows, %d threads)\n",
                 open_s, run_s, static_cast<long long>(rows), ro.threads);
}

}  // namespace

void add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand(
        "run",
        "Run a checkpoint with the bit-exact reference runtime: prefill the prompts, generate "
        "tokens, print them and a SHA-256 digest of every logit (FP32 bytes of each step's "
        "logits in order; docs/reference-runtime.md). Timing goes to stderr.");
    cmd->add_option("--checkpoint", args->checkpoint,
                    "Checkpoint directory in HF layout (config.json + safetensors), e.g. from "
                    "`dssim checkpoint synth`")
        ->required();
    cmd->add_option("--tokens", args->tokens,
                    "Prompt token ids, comma-separated (1,2,3); repeat the option for more "
                    "sequences of any lengths");
    cmd->add_option("--tokens-file", args->tokens_file,
                    "File with one prompt per line (comma-separated token ids), after --tokens");
    cmd->add_option("--max-new-tokens", args->max_new_tokens,
                    "Tokens to generate per sequence (0: prefill only)")
        ->capture_default_str();
    cmd->add_option("--threads", args->threads,
                    "Worker threads (default 0: all hardware threads); results are identical for "
                    "any value");
    cmd->add_option("--mode", args->mode,
                    "demo: FP8 weights dequantised to BF16 + BF16 GEMM (the official demo); fp8: "
                    "1x128 activation quantisation + FP8 block GEMM")
        ->capture_default_str();
    cmd->add_option("--scale-fmt", args->scale_fmt,
                    "Activation scale format in fp8 mode: ue8m0 (powers of two, V3.1) or f32; "
                    "default: the checkpoint config's");
    cmd->add_option("--attention", args->attention,
                    "MLA form: absorbed (latent KV cache, the demo's default) or naive (full K/V)")
        ->capture_default_str();
    cmd->add_option("--temperature", args->temperature, "Sampling temperature (0: greedy argmax)")
        ->capture_default_str();
    cmd->add_option("--seed", args->seed,
                    "Seed of the counter-based sampling RNG (used when --temperature > 0)")
        ->capture_default_str();
    cmd->add_flag("--mtp", args->mtp,
                  "Speculative decoding: the MTP module drafts one token per step, the main model "
                  "verifies it (same tokens as without; reports the acceptance rate)");
    cmd->add_option("--max-seq-len", args->max_seq_len,
                    "The demo's max_seq_len: longest sequence, and YaRN/mscale are active when it "
                    "exceeds original_max_position_embeddings")
        ->capture_default_str();
    cmd->add_option("--stream", args->stream,
                    "Weight streaming: on drops each weight's pages after use so the resident set "
                    "stays near one op's weights (for checkpoints larger than memory); auto: on "
                    "when the checkpoint exceeds half the physical memory")
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "Print one JSON document instead of text");
    cmd->callback([args] { run(*args); });
}

}  // namespace dssim::cli
