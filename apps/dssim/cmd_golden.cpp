// `dssim golden`: runs the reference runtime and records tokens, logits and the selected
// intermediate tensors into a byte-reproducible HDF5 golden file (docs/golden-and-check.md).
#include <charconv>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/golden/golden.h"
#include "dssim/reference.h"

namespace dssim::cli {

namespace {

struct GoldenArgs {
    std::string checkpoint;
    std::vector<std::string> tokens;
    int64_t max_new_tokens = 16;
    std::string out;
    std::string tensors = "layers";
    std::string mode = "demo";
    std::string scale_fmt;
    std::string attention = "absorbed";
    int64_t max_seq_len = 16384;
    int threads = 0;
    bool json = false;
};

std::vector<int64_t> parse_tokens(std::string_view text) {
    std::vector<int64_t> ids;
    size_t i = 0;
    while (i <= text.size()) {
        size_t j = text.find(',', i);
        if (j == std::string_view::npos) j = text.size();
        std::string_view item = text.substr(i, j - i);
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ')
            item.remove_suffix(1);
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
        if (item.empty() || ec != std::errc() || ptr != item.data() + item.size()) {
            throw InputError("--tokens: expected comma-separated integer token ids, got '" +
                             std::string(item) + "'");
        }
        ids.push_back(v);
        i = j + 1;
    }
    return ids;
}

// Forwards to the writer and advances a progress bar once per runtime step.
class ProgressSink : public reference::TensorSink {
  public:
    ProgressSink(golden::GoldenWriter& writer, size_t steps)
        : writer_(writer), progress_("golden", steps) {}
    [[nodiscard]] bool wants(std::string_view name) const override {
        note_step(name);
        return writer_.wants(name);
    }
    void on_tensor(const reference::TensorView& tensor) override { writer_.on_tensor(tensor); }
    void finish() { progress_.finish(); }

  private:
    void note_step(std::string_view name) const {
        int64_t step = 0;
        if (name.starts_with("step")) {
            std::from_chars(name.data() + 4, name.data() + name.size(), step);
        }
        while (step > step_) {
            ++step_;
            progress_.advance();
        }
    }
    golden::GoldenWriter& writer_;
    mutable Progress progress_;
    mutable int64_t step_ = 0;
};

void golden_run(const GoldenArgs& a) {
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
    const auto selection = golden::parse_tensor_selection(a.tensors);
    if (!selection) {
        throw InputError("--tensors: expected logits, layers or all, got '" + a.tensors + "'");
    }
    if (a.threads < 0) throw InputError("--threads: must be >= 1 (0: all hardware threads)");
    if (a.max_new_tokens < 0) throw InputError("--max-new-tokens: must be >= 0");
    ro.threads = a.threads == 0 ? hardware_threads() : a.threads;
    ro.max_seq_len = a.max_seq_len;

    std::vector<std::vector<int64_t>> prompts;
    for (const auto& t : a.tokens)
        prompts.push_back(parse_tokens(t));
    if (prompts.empty()) throw InputError("--tokens: give at least one sequence");

    reference::Runtime runtime(a.checkpoint, ro);
    golden::GoldenWriter writer(a.out, *selection);
    reference::GenerateOptions go;
    go.max_new_tokens = a.max_new_tokens;
    ProgressSink sink(writer, static_cast<size_t>(a.max_new_tokens) + 1);
    const reference::GenerateResult r = runtime.generate(prompts, go, &sink);
    sink.finish();

    for (const auto& step : r.steps) {
        const auto vocab =
            step.rows() > 0 ? static_cast<int64_t>(step.logits.size() / step.rows()) : 0;
        if (step.rows() > 0) {
            writer.add_logits(step.step, step.sequence, step.position, step.logits, vocab);
        }
    }
    std::vector<std::vector<int64_t>> sequences = prompts;
    std::vector<int64_t> prompt_lengths;
    for (size_t i = 0; i < sequences.size(); ++i) {
        prompt_lengths.push_back(static_cast<int64_t>(prompts[i].size()));
        if (i < r.generated.size()) {
            sequences[i].insert(sequences[i].end(), r.generated[i].begin(), r.generated[i].end());
        }
    }
    writer.set_tokens(sequences, prompt_lengths);

    golden::GoldenMetadata meta;
    const std::filesystem::path ckpt(a.checkpoint);
    if (std::filesystem::is_directory(ckpt) && std::filesystem::exists(ckpt / "config.json")) {
        meta.config_json = read_file(ckpt / "config.json");
    }
    meta.mode = std::string(reference::numerics_mode_name(ro.mode));
    meta.attention = std::string(models::attention_mode_name(ro.attention));
    meta.scale_fmt = runtime.scale_fmt() == models::ScaleFmt::UE8M0 ? "ue8m0" : "f32";
    meta.checkpoint_digest = golden::checkpoint_digest(ckpt);
    meta.prompts = prompts;
    meta.max_new_tokens = a.max_new_tokens;
    const int64_t tensors = writer.tensors_written();
    writer.commit(meta);

    int64_t rows = 0;
    for (const auto& s : r.steps)
        rows += static_cast<int64_t>(s.rows());
    if (a.json) {
        OrderedJson j;
        j["out"] = a.out;
        j["tensors"] = tensors;
        j["logit_rows"] = rows;
        j["generated"] = r.generated;
        j["logits_sha256"] = r.logits_sha256;
        j["checkpoint_sha256"] = meta.checkpoint_digest;
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << "wrote " << a.out << ": " << tensors << " tensors (" << a.tensors << "), "
                  << rows << " logit rows\n"
                  << "logits_sha256 " << r.logits_sha256 << "\n"
                  << "checkpoint_sha256 " << meta.checkpoint_digest << "\n";
    }
}

}  // namespace

void add_golden_command(CLI::App& app) {
    auto args = std::make_shared<GoldenArgs>();
    CLI::App* cmd = app.add_subcommand(
        "golden",
        "Run a checkpoint with the reference runtime and write a golden HDF5 file: /tokens, "
        "/logits and intermediate tensors under /tensors/step<k>/<name> in the runtime dtype, "
        "with the config, mode and versions as attributes. Rerunning gives a byte-identical "
        "file for any --threads (layout: docs/golden-and-check.md).");
    cmd->add_option("--checkpoint", args->checkpoint,
                    "Checkpoint directory in HF layout (config.json + safetensors), e.g. from "
                    "`dssim checkpoint synth`")
        ->required();
    cmd->add_option("--tokens", args->tokens,
                    "Prompt token ids, comma-separated (1,2,3); repeat the option for more "
                    "sequences of any lengths")
        ->required();
    cmd->add_option("--max-new-tokens", args->max_new_tokens,
                    "Tokens to generate per sequence (0: prefill only)")
        ->capture_default_str();
    cmd->add_option("--out", args->out, "Golden HDF5 file to write (atomically)")->required();
    cmd->add_option("--tensors", args->tensors,
                    "Intermediate tensors to store: logits (none), layers (embed, every "
                    "layer's attn_residual and ffn_residual, norm, head, sampling), all (every "
                    "op output)")
        ->capture_default_str();
    cmd->add_option("--mode", args->mode,
                    "demo: FP8 weights dequantised to BF16 + BF16 GEMM (the official demo); fp8: "
                    "1x128 activation quantisation + FP8 block GEMM")
        ->capture_default_str();
    cmd->add_option("--scale-fmt", args->scale_fmt,
                    "Activation scale format in fp8 mode: ue8m0 or f32; default: the checkpoint "
                    "config's");
    cmd->add_option("--attention", args->attention,
                    "MLA form: absorbed (latent KV cache, the demo's default) or naive (full K/V)")
        ->capture_default_str();
    cmd->add_option("--max-seq-len", args->max_seq_len,
                    "The demo's max_seq_len (longest sequence; switches YaRN/mscale on above "
                    "original_max_position_embeddings)")
        ->capture_default_str();
    cmd->add_option("--threads", args->threads,
                    "Worker threads (default 0: all hardware threads); the file is byte-identical "
                    "for any value");
    cmd->add_flag("--json", args->json, "Print a JSON summary instead of text");
    cmd->callback([args] { golden_run(*args); });
}

}  // namespace dssim::cli
