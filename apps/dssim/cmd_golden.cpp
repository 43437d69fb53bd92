// `dssim golden`: runs the reference runtime and records tokens, logits and the selected
// intermediate tensors into a byte-reproducible HDF5 golden file (docs/golden-and-check.md).
#include <algorithm>
#include <charconv>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/golden/golden.h"
#include "dssim/reference.h"
#include "runtime_args.h"

namespace dssim::cli {

namespace {

struct GoldenArgs {
    RuntimeArgs rt;
    std::string out;
    std::string tensors = "layers";
    bool json = false;
};

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
    // Generation is over: the bar reaches its end even if the last step wrote no tensor.
    void finish() { progress_.complete(); }

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

void golden_run(const GoldenArgs& args) {
    const RuntimeArgs& a = args.rt;
    const reference::RuntimeOptions ro = runtime_options(a);
    const auto selection = golden::parse_tensor_selection(args.tensors);
    if (!selection) {
        throw InputError("--tensors: expected logits, layers or all, got '" + args.tensors + "'");
    }
    const Prompts p = prompts_of(a);
    const std::vector<std::vector<int64_t>>& prompts = p.ids;

    reference::Runtime runtime(a.checkpoint, ro);
    golden::GoldenWriter writer(args.out, *selection);
    reference::GenerateOptions go;
    go.max_new_tokens = a.max_new_tokens;
    go.mtp = a.mtp;
    // One step per generated token (the prefill gives the first).
    ProgressSink sink(writer, static_cast<size_t>(std::max<int64_t>(1, a.max_new_tokens)));
    const reference::GenerateResult r = runtime.generate(prompts, go, &sink);
    sink.finish();

    for (const auto& step : r.steps) {
        const auto vocab =
            step.rows() > 0 ? static_cast<int64_t>(step.logits.size() / step.rows()) : 0;
        if (step.rows() > 0) {
            writer.add_logits(step.step, step.sequence, step.position, step.logits, vocab);
        }
        if (!step.mtp_sequence.empty()) {
            writer.add_mtp_logits(step.step, step.mtp_sequence, step.mtp_position, step.mtp_logits,
                                  vocab);
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
    meta.mtp = a.mtp;
    meta.mtp_drafted = r.mtp_drafted;
    meta.mtp_accepted = r.mtp_accepted;
    if (p.text()) {
        meta.prompt_texts = p.texts;
        for (const auto& g : r.generated)
            meta.generated_texts.push_back(p.tokenizer->decode(g));
        // Which tokenizer turned the texts into ids: its two files, in this order.
        Sha256 sha;
        const std::filesystem::path dir(p.tokenizer_dir);
        for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) {
            if (std::filesystem::exists(dir / name)) {
                const std::string bytes = read_file(dir / name);
                sha.update(name);
                sha.update(std::string_view("\0", 1));
                sha.update(bytes);
            }
        }
        meta.tokenizer_digest = sha.hex_digest();
    }
    const int64_t tensors = writer.tensors_written();
    writer.commit(meta);

    const int64_t rows = logit_rows(r);
    if (args.json) {
        OrderedJson j;
        j["out"] = args.out;
        j["tensors"] = tensors;
        j["logit_rows"] = rows;
        j["generated"] = r.generated;
        if (p.text()) {
            j["prompt_texts"] = meta.prompt_texts;
            j["texts"] = meta.generated_texts;
        }
        j["logits_sha256"] = r.logits_sha256;
        j["checkpoint_sha256"] = meta.checkpoint_digest;
        add_mtp_json(a, r, j);
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << "wrote " << args.out << ": " << tensors << " tensors (" << args.tensors
                  << "), " << rows << " logit rows\n"
                  << "logits_sha256 " << r.logits_sha256 << "\n"
                  << "checkpoint_sha256 " << meta.checkpoint_digest << "\n";
        print_mtp_line(a, r, std::cout);
        for (size_t i = 0; i < meta.generated_texts.size(); ++i) {
            std::cout << "text " << i << ": " << Json(meta.generated_texts[i]).dump() << "\n";
        }
    }
}

}  // namespace

void add_golden_command(CLI::App& app) {
    auto args = std::make_shared<GoldenArgs>();
    CLI::App* cmd = app.add_subcommand(
        "golden",
        "Run a checkpoint with the reference runtime and write a golden HDF5 file: /tokens, "
        "/logits and intermediate tensors under /tensors/step<k>/<name> in the runtime dtype, "
        "with the config, mode and versions as attributes; text prompts add /prompt_texts and "
        "/generated_texts. Rerunning gives a byte-identical "
        "file for any --threads (layout: docs/golden-and-check.md).");
    add_runtime_options(
        *cmd, args->rt,
        {"the file is byte-identical",
         "Run the MTP module as in `dssim run --mtp` (speculative decoding): its tensors are "
         "stored as step<k>/mtp.0.* and its draft logits as /mtp_logits"});
    cmd->add_option("--out", args->out, "Golden HDF5 file to write (atomically)")->required();
    cmd->add_option("--tensors", args->tensors,
                    "Intermediate tensors to store: logits (none), layers (embed, every "
                    "layer's attn_residual and ffn_residual, norm, head, sampling), all (every "
                    "op output)")
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "Print a JSON summary instead of text");
    cmd->callback([args] { golden_run(*args); });
}

}  // namespace dssim::cli
