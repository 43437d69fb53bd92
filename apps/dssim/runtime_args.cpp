// Shared runtime options of `dssim run` and `dssim golden` (see runtime_args.h).
#include "runtime_args.h"

#include <charconv>
#include <initializer_list>
#include <optional>
#include <utility>

#include "dssim/base.h"

namespace dssim::cli {

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

void add_runtime_options(CLI::App& cmd, RuntimeArgs& a, const RuntimeArgsHelp& help) {
    cmd.add_option("--checkpoint", a.checkpoint,
                   "Checkpoint directory in HF layout (config.json + safetensors), e.g. from "
                   "`dssim checkpoint synth`")
        ->required();
    cmd.add_option("--tokens", a.tokens,
                   "Prompt token ids, comma-separated (1,2,3); repeat the option for more "
                   "sequences of any lengths");
    cmd.add_option("--tokens-file", a.tokens_file,
                   "File with one prompt per line (comma-separated token ids), after --tokens");
    cmd.add_option("--max-new-tokens", a.max_new_tokens,
                   "Tokens to generate per sequence (0: prefill only)")
        ->capture_default_str();
    cmd.add_option("--threads", a.threads,
                   "Worker threads (default 0: all hardware threads); " + help.threads_identical +
                       " for any value");
    cmd.add_option("--mode", a.mode,
                   "demo: FP8 weights dequantised to BF16 + BF16 GEMM (the official demo); fp8: "
                   "1x128 activation quantisation + FP8 block GEMM")
        ->capture_default_str();
    cmd.add_option("--scale-fmt", a.scale_fmt,
                   "Activation scale format in fp8 mode: ue8m0 (powers of two, V3.1) or f32; "
                   "default: the checkpoint config's");
    cmd.add_option("--attention", a.attention,
                   "MLA form: absorbed (latent KV cache, the demo's default) or naive (full K/V)")
        ->capture_default_str();
    cmd.add_flag("--mtp", a.mtp, help.mtp);
    cmd.add_option("--max-seq-len", a.max_seq_len,
                   "The demo's max_seq_len: longest sequence, and YaRN/mscale are active when it "
                   "exceeds original_max_position_embeddings")
        ->capture_default_str();
    cmd.add_option("--stream", a.stream,
                   "Weight streaming: on drops each weight's pages after use so the resident set "
                   "stays near one op's weights (for checkpoints larger than memory); auto: on "
                   "when the checkpoint exceeds half the physical memory")
        ->capture_default_str();
}

namespace {

// The value of an option that takes one of a few names; any other is an InputError listing
// them ("--mode: expected demo or fp8, got 'x'").
template <typename T>
T choose(std::string_view option,
         const std::string& value,
         std::initializer_list<std::pair<std::string_view, T>> choices) {
    std::string names;
    size_t i = 0;
    for (const auto& [name, result] : choices) {
        if (value == name) return result;
        names += (i == 0 ? "" : (i + 1 == choices.size() ? " or " : ", "));
        names += name;
        ++i;
    }
    throw InputError(std::string(option) + ": expected " + names + ", got '" + value + "'");
}

}  // namespace

reference::RuntimeOptions runtime_options(const RuntimeArgs& a) {
    reference::RuntimeOptions ro;
    ro.mode = choose<reference::NumericsMode>(
        "--mode", a.mode,
        {{"demo", reference::NumericsMode::Demo}, {"fp8", reference::NumericsMode::Fp8}});
    if (!a.scale_fmt.empty()) {  // empty: the checkpoint config's
        ro.scale_fmt = choose<models::ScaleFmt>(
            "--scale-fmt", a.scale_fmt,
            {{"ue8m0", models::ScaleFmt::UE8M0}, {"f32", models::ScaleFmt::F32}});
    }
    ro.attention = choose<models::AttentionMode>(
        "--attention", a.attention,
        {{"absorbed", models::AttentionMode::Absorbed}, {"naive", models::AttentionMode::Naive}});
    if (a.threads < 0) throw InputError("--threads: must be >= 1 (0: all hardware threads)");
    if (a.max_new_tokens < 0) throw InputError("--max-new-tokens: must be >= 0");
    ro.threads = a.threads == 0 ? hardware_threads() : a.threads;
    ro.max_seq_len = a.max_seq_len;
    // auto: the runtime decides from the checkpoint size and the physical memory.
    ro.stream_weights = choose<std::optional<bool>>(
        "--stream", a.stream, {{"auto", std::nullopt}, {"on", true}, {"off", false}});
    return ro;
}

std::vector<std::vector<int64_t>> prompts_of(const RuntimeArgs& a) {
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
    return prompts;
}

int64_t logit_rows(const reference::GenerateResult& r) {
    int64_t rows = 0;
    for (const auto& s : r.steps)
        rows += static_cast<int64_t>(s.rows());
    return rows;
}

void add_mtp_json(const RuntimeArgs& args, const reference::GenerateResult& r, OrderedJson& j) {
    if (!args.mtp) return;
    j["mtp_drafted"] = r.mtp_drafted;
    j["mtp_accepted"] = r.mtp_accepted;
    j["mtp_acceptance_rate"] = r.mtp_acceptance_rate();
}

void print_mtp_line(const RuntimeArgs& args,
                    const reference::GenerateResult& r,
                    std::ostream& out) {
    if (args.mtp) out << "mtp acceptance " << r.mtp_accepted << "/" << r.mtp_drafted << "\n";
}

}  // namespace dssim::cli
