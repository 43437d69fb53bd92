// The golden HDF5 writer: records what the reference runtime computed (tokens, logits and the
// selected intermediate tensors) into one self-describing, byte-reproducible HDF5 file. It is
// a TensorSink, so it depends only on the sink interface, not on the runtime library.
// docs/golden-and-check.md documents the file layout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/atomic_file.h"
#include "dssim/reference/tensor_sink.h"

namespace dssim::golden {

// Which intermediate tensors go under /tensors:
//   Logits  none (only /tokens and /logits);
//   Layers  the block boundaries: embed, every layers.<L>.attn_residual and
//           layers.<L>.ffn_residual (the residual stream after attention and after the FFN),
//           the final norm, head and sampling outputs, and the same names under mtp.<k>.;
//   All     every op output the runtime produces.
enum class TensorSelection : uint8_t { Logits, Layers, All };
std::string_view tensor_selection_name(TensorSelection selection);
std::optional<TensorSelection> parse_tensor_selection(std::string_view name);
// Whether the runtime tensor "step<k>/<op tensor>" belongs to the selection.
bool is_selected(TensorSelection selection, std::string_view name);

// Root attributes (docs/golden-and-check.md, "Root attributes"). The writer adds the dssim
// version, the numerics spec version, the tensor selection and the layout version itself.
struct GoldenMetadata {
    std::string config_json;        // the checkpoint's config.json, verbatim
    std::string mode;               // "demo" | "fp8"
    std::string attention;          // "absorbed" | "naive"
    std::string scale_fmt;          // activation scale format used in fp8 mode ("f32"|"ue8m0")
    std::string checkpoint_digest;  // checkpoint_digest() of the checkpoint
    std::vector<std::vector<int64_t>> prompts;
    int64_t max_new_tokens = 0;
    // MTP speculative decoding ran (`golden --mtp`): the attributes mtp_drafted and
    // mtp_accepted are written (the file then also holds /mtp_logits if any MTP row ran).
    bool mtp = false;
    int64_t mtp_drafted = 0;
    int64_t mtp_accepted = 0;
    // Text runs (`golden --prompt/--prompts-file`): /prompt_texts and /generated_texts, one
    // UTF-8 string per sequence, and the tokenizer_sha256 attribute. A run from ids
    // alone leaves them empty and the file as it was before text runs existed.
    std::vector<std::string> prompt_texts;
    std::vector<std::string> generated_texts;
    std::string tokenizer_digest;
};

// Version of the file layout below; bump when a dataset or attribute changes meaning.
inline constexpr int64_t kGoldenLayoutVersion = 1;

class GoldenWriter : public reference::TensorSink {
  public:
    // Opens the temporary file next to `out` at once (so a bad path fails before any work).
    GoldenWriter(std::filesystem::path out, TensorSelection selection);
    ~GoldenWriter() override;
    GoldenWriter(const GoldenWriter&) = delete;
    GoldenWriter& operator=(const GoldenWriter&) = delete;

    [[nodiscard]] bool wants(std::string_view name) const override;
    // Writes /tensors/<name> at once (the runtime's buffer may be reused after the call),
    // with "order" = number of tensors written before it.
    void on_tensor(const reference::TensorView& tensor) override;

    // Appends the logits rows of one step: `sequence` and `position` per row, `logits` is
    // [rows, vocab]. Steps must arrive in order.
    void add_logits(int64_t step,
                    std::span<const int64_t> sequence,
                    std::span<const int64_t> position,
                    std::span<const float> logits,
                    int64_t vocab);
    // The same for the MTP module's draft logits (/mtp_logits, /mtp_logits_index); only
    // written when at least one row was added.
    void add_mtp_logits(int64_t step,
                        std::span<const int64_t> sequence,
                        std::span<const int64_t> position,
                        std::span<const float> logits,
                        int64_t vocab);
    // Every sequence's full token list (prompt followed by generated tokens).
    void set_tokens(const std::vector<std::vector<int64_t>>& sequences,
                    const std::vector<int64_t>& prompt_lengths);

    // Writes /tokens, /logits and the attributes, closes the file and renames it onto `out`.
    // Without commit() (an exception, say) no file is left behind.
    void commit(const GoldenMetadata& metadata);

    [[nodiscard]] int64_t tensors_written() const { return next_order_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    TensorSelection selection_;
    int64_t next_order_ = 0;
};

// SHA-256 identity of a checkpoint directory (or single .safetensors file): over config.json
// (if present), model.safetensors.index.json (if present) and every shard, in that order,
// shards in byte-sorted file-name order; each file contributes its name, a NUL, its size as 8
// little-endian bytes and its content.
std::string checkpoint_digest(const std::filesystem::path& checkpoint);

}  // namespace dssim::golden
