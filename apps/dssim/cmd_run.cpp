// `dssim run`: execute a checkpoint with the reference runtime and print the generated tokens
// and the SHA-256 digest of every logit (docs/reference-runtime.md). Timing goes to stderr so
// stdout is byte-identical across runs and thread counts.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/reference.h"
#include "runtime_args.h"

namespace dssim::cli {

namespace {

// Progress of generation on stderr (a bar per generated step, when stderr is a terminal or
// DSSIM_PROGRESS=1): it watches the step numbers of the tensors the runtime offers and takes
// none of them, so the run computes exactly what it would without it.
class StepProgress : public reference::TensorSink {
  public:
    explicit StepProgress(size_t steps) : progress_("run", steps) {}
    [[nodiscard]] bool wants(std::string_view name) const override {
        int64_t step = 0;
        if (name.starts_with("step"))
            std::from_chars(name.data() + 4, name.data() + name.size(), step);
        for (; step > step_; ++step_)
            progress_.advance();
        return false;
    }
    void on_tensor(const reference::TensorView&) override {}
    void finish() { progress_.complete(); }

  private:
    mutable Progress progress_;
    mutable int64_t step_ = 0;
};

struct RunArgs {
    RuntimeArgs rt;
    double temperature = 0.0;
    uint64_t seed = 0;
    bool json = false;
};

void run(const RunArgs& args) {
    const RuntimeArgs& a = args.rt;
    const reference::RuntimeOptions ro = runtime_options(a);
    const Prompts p = prompts_of(a);
    const std::vector<std::vector<int64_t>>& prompts = p.ids;

    reference::GenerateOptions go;
    go.max_new_tokens = a.max_new_tokens;
    go.temperature = args.temperature;
    go.seed = args.seed;
    go.mtp = a.mtp;

    const auto t0 = std::chrono::steady_clock::now();
    reference::Runtime runtime(a.checkpoint, ro);
    const auto t1 = std::chrono::steady_clock::now();
    // One step per generated token (the prefill gives the first).
    StepProgress progress(static_cast<size_t>(std::max<int64_t>(1, a.max_new_tokens)));
    const reference::GenerateResult r = runtime.generate(prompts, go, &progress);
    progress.finish();
    const auto t2 = std::chrono::steady_clock::now();
    const double open_s = std::chrono::duration<double>(t1 - t0).count();
    const double run_s = std::chrono::duration<double>(t2 - t1).count();
    const int64_t rows = logit_rows(r);
    // Text runs (--prompt, --prompts-file) also print the generated text.
    std::vector<std::string> texts;
    if (p.text()) {
        for (const auto& g : r.generated)
            texts.push_back(p.tokenizer->decode(g));
    }

    if (args.json) {
        OrderedJson j;
        j["model"] = std::string(runtime.config().short_name());
        j["mode"] = std::string(reference::numerics_mode_name(ro.mode));
        j["scale_fmt"] = runtime.scale_fmt() == models::ScaleFmt::UE8M0 ? "ue8m0" : "f32";
        j["attention"] = std::string(models::attention_mode_name(ro.attention));
        j["temperature"] = args.temperature;
        j["seed"] = args.seed;
        j["mtp"] = a.mtp;
        j["max_seq_len"] = a.max_seq_len;
        j["prompts"] = prompts;
        j["generated"] = r.generated;
        if (p.text()) {
            j["prompt_texts"] = p.texts;
            j["texts"] = texts;
        }
        j["steps"] = static_cast<int64_t>(r.steps.size());
        j["logit_rows"] = rows;
        j["logits_sha256"] = r.logits_sha256;
        add_mtp_json(a, r, j);
        std::cout << j.dump(2) << "\n";
    } else {
        for (size_t s = 0; s < r.generated.size(); ++s) {
            std::cout << "sequence " << s << ":";
            for (int64_t t : r.generated[s])
                std::cout << " " << t;
            std::cout << "\n";
            // As a JSON string, so newlines in the text keep one line per sequence.
            if (p.text()) std::cout << "text " << s << ": " << Json(texts[s]).dump() << "\n";
        }
        std::cout << "logits_sha256 " << r.logits_sha256 << "  (" << r.steps.size() << " steps, "
                  << rows << " rows)\n";
        print_mtp_line(a, r, std::cout);
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
    add_runtime_options(
        *cmd, args->rt,
        {"results are identical",
         "Speculative decoding: the MTP module drafts one token per step, the main model "
         "verifies it (same tokens as without; reports the acceptance rate)"});
    cmd->add_option("--temperature", args->temperature, "Sampling temperature (0: greedy argmax)")
        ->capture_default_str();
    cmd->add_option("--seed", args->seed,
                    "Seed of the counter-based sampling RNG (used when --temperature > 0)")
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "Print one JSON document instead of text");
    cmd->callback([args] { run(*args); });
}

}  // namespace dssim::cli
