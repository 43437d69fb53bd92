// The reference runtime: executes a DeepSeek checkpoint on the CPU by interpreting the models/
// op graph, with the official demo's numerics (docs/numerics.md, "Runtime") and bit-identical
// results for any thread count. Prefill and decode with a KV cache, batches of sequences of
// different lengths, MLA absorbed or naive, demo (BF16) or FP8 GEMMs, greedy or seeded
// sampling, MTP speculative decoding. Every intermediate tensor can be handed to a TensorSink.
// docs/reference-runtime.md describes the execution model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dssim/models/model_config.h"
#include "dssim/models/op_graph.h"
#include "dssim/reference/tensor_sink.h"

namespace dssim::reference {

// How FP8 linears are computed. Demo: weight_dequant to BF16, then a BF16 GEMM with FP32
// accumulation (the shipped demo, gemm_impl="bf16"). Fp8: act_quant (1x128) + FP8 block GEMM
// (the demo's gemm_impl="fp8" path). BF16 checkpoints run the BF16 GEMM in both modes.
enum class NumericsMode : uint8_t { Demo, Fp8 };
std::string_view numerics_mode_name(NumericsMode mode);  // "demo" / "fp8"

struct RuntimeOptions {
    NumericsMode mode = NumericsMode::Demo;
    // Activation scale format in Fp8 mode; nullopt: the checkpoint config's scale_fmt.
    std::optional<models::ScaleFmt> scale_fmt;
    models::AttentionMode attention = models::AttentionMode::Absorbed;
    // The demo's max_seq_len: longest sequence (prompt + generated) and the switch for YaRN
    // frequencies and the softmax mscale (active iff > original_max_position_embeddings).
    int64_t max_seq_len = 16384;
    int threads = 1;  // results are identical for any value
    // Streaming: after each weight is used its mapped pages are dropped from the process
    // (madvise DONTNEED; the page cache keeps them), so the resident set holds about one op's
    // weights. nullopt: on when the checkpoint is larger than half the physical memory.
    std::optional<bool> stream_weights;
    // Benchmarks and layer-subset checkpoints (`checkpoint synth --layers A-B`): execute only
    // main layers [first, last]; every other main layer passes its input through unchanged.
    // The results are then not the model's. nullopt: all layers.
    std::optional<std::pair<int64_t, int64_t>> only_layers;
};

struct GenerateOptions {
    int64_t max_new_tokens = 0;  // 0: prefill only
    double temperature = 0.0;    // 0: greedy (argmax, lower index on ties)
    uint64_t seed = 0;           // sampling RNG key (see sampling.h)
    bool mtp = false;            // MTP speculative decoding (needs num_nextn_predict_layers > 0)
};

// The main-model logits of one step: one row per token that went through the model in that
// step, sequences in order, positions ascending within a sequence. Values are the head's BF16
// outputs widened to FP32 (exact).
struct StepLogits {
    int64_t step = 0;               // 0: prefill, then one per decode step
    std::vector<int64_t> sequence;  // [rows] index into the prompts
    std::vector<int64_t> position;  // [rows] position of the row's input token
    std::vector<float> logits;      // [rows, vocab]
    // With GenerateOptions::mtp: the MTP module's draft logits of this step (FP32 widened
    // BF16), one row per MTP row: the main rows whose next token is known, in the same order.
    // A row at position p reads the main hidden state at p and the token at p + 1, and
    // predicts the token at p + 2. Not part of logits_sha256.
    std::vector<int64_t> mtp_sequence;  // [mtp rows]
    std::vector<int64_t> mtp_position;  // [mtp rows]
    std::vector<float> mtp_logits;      // [mtp rows, vocab]
    [[nodiscard]] size_t rows() const { return sequence.size(); }
};

struct GenerateResult {
    std::vector<std::vector<int64_t>> generated;  // new tokens per sequence
    std::vector<StepLogits> steps;
    // Lower-case hex SHA-256 of the FP32 logits bytes (little-endian) of every step in order,
    // rows in StepLogits order (docs/reference-runtime.md, "Logits digest").
    std::string logits_sha256;
    int64_t mtp_drafted = 0;   // draft tokens the main model verified
    int64_t mtp_accepted = 0;  // of which accepted
    [[nodiscard]] double mtp_acceptance_rate() const {
        return mtp_drafted > 0 ? static_cast<double>(mtp_accepted) / mtp_drafted : 0.0;
    }
};

// A checkpoint opened for execution. Weights stay memory-mapped; FP8 weights are dequantised
// block by block while a GEMM runs (never the whole model at once).
class Runtime {
  public:
    // `checkpoint`: a directory with config.json and safetensors (HF layout). Throws
    // InputError for a bad checkpoint (missing/mis-shaped tensors are reported when first
    // needed, naming the tensor) or bad options.
    Runtime(const std::filesystem::path& checkpoint, const RuntimeOptions& options);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    [[nodiscard]] const models::ModelConfig& config() const;
    [[nodiscard]] const RuntimeOptions& options() const;
    // The activation scale format actually used in Fp8 mode.
    [[nodiscard]] models::ScaleFmt scale_fmt() const;
    // Whether weights are streamed (RuntimeOptions::stream_weights after the automatic choice).
    [[nodiscard]] bool streaming() const;

    // Prefills every prompt (all positions, in one step), then decodes max_new_tokens tokens
    // per sequence. Tokens outside [0, vocab) or a sequence longer than max_seq_len throw
    // InputError. If `sink` is given, every intermediate tensor it wants is passed to it as
    // "step<k>/<tensor name>" (names of the op graph's output tensors) in execution order.
    GenerateResult generate(const std::vector<std::vector<int64_t>>& prompts,
                            const GenerateOptions& options,
                            TensorSink* sink = nullptr);

    struct Impl;  // opaque (declared public so the implementation's helpers can name it)

  private:
    std::unique_ptr<Impl> impl_;
};

// SHA-256 (lower-case hex) of the logits of `steps` as GenerateResult::logits_sha256 defines.
std::string logits_digest(const std::vector<StepLogits>& steps);

}  // namespace dssim::reference
