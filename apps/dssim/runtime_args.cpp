// Shared runtime options of `dssim run` and `dssim golden` (see runtime_args.h).
#include "runtime_args.h"

#include <charconv>

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

reference::RuntimeOptions runtime_options(const RuntimeArgs& a) {
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
    if (a.max_new_tokens < 0) throw InputError("--max-new-tokens: must be >= 0");
    ro.threads = a.threads == 0 ? hardware_threads() : a.threads;
    ro.max_seq_len = a.max_seq_len;
    if (a.stream == "on") {
        ro.stream_weights = true;
    } else if (a.stream == "off") {
        ro.stream_weights = false;
    } else if (a.stream != "auto") {
        throw InputError("--stream: expected auto, on or off, got '" + a.stream + "'");
    }
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

}  // namespace dssim::cli
