// DeepSeek's tokenizer: HF `tokenizer.json` as DeepSeek-V3/R1 ship it (byte-level BPE with
// ranked merges, a `Sequence` of `Split` regex pre-tokenizers, added and special tokens matched
// before splitting, the ByteLevel decoder) plus BOS and the chat template from
// `tokenizer_config.json`. Regexes run on PCRE2 with Unicode properties (docs/tokenizer.md).
//
// Invalid UTF-8 in the input is replaced, never an error: each maximal invalid subsequence
// becomes U+FFFD (the Unicode/WHATWG rule that Python's errors="replace", JavaScript's
// TextDecoder and Rust's from_utf8_lossy follow), so dssim's ids equal those of a text that a
// UTF-8 decoder would have produced from the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dssim::tokenizer {

struct AddedToken {
    int64_t id = 0;
    std::string content;
    bool special = false;
};

// The parts of tokenizer_config.json dssim uses.
struct TokenizerConfig {
    std::string bos_token;  // empty: none
    std::string eos_token;
    bool add_bos_token = false;
    std::string chat_template;  // empty: none
};

class Tokenizer {
  public:
    // Reads DIR/tokenizer.json and, if present, DIR/tokenizer_config.json. A missing or
    // malformed file, or a construct dssim does not implement, throws InputError naming the file
    // and the field.
    static Tokenizer load(const std::filesystem::path& dir);
    // From the texts of the two files; `origin` names tokenizer.json in errors. An empty
    // `config_json` means no tokenizer_config.json.
    static Tokenizer from_json(std::string_view tokenizer_json,
                               std::string_view origin,
                               std::string_view config_json = {},
                               std::string_view config_origin = "tokenizer_config.json");

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // Text to ids. `add_bos`: prepend the BOS id, as HF's encode() does when
    // tokenizer_config.json says add_bos_token (the chat template writes BOS itself, so chat
    // prompts are encoded without). Invalid UTF-8 is replaced (see above). Thread-safe.
    [[nodiscard]] std::vector<int64_t> encode(std::string_view text, bool add_bos = false) const;

    // Ids to text: byte-level tokens are joined and decoded as UTF-8 (an invalid sequence, for
    // example a character cut between tokens, becomes U+FFFD), added tokens give their content
    // (or nothing with `skip_special`, for special ones). Ids the tokenizer does not have are
    // skipped, as HF does; contains() tells them.
    [[nodiscard]] std::string decode(std::span<const int64_t> ids, bool skip_special = false) const;

    [[nodiscard]] bool contains(int64_t id) const;
    // One past the largest id.
    [[nodiscard]] int64_t size() const;
    [[nodiscard]] const TokenizerConfig& config() const;
    [[nodiscard]] std::optional<int64_t> bos_id() const;
    [[nodiscard]] std::optional<int64_t> eos_id() const;
    // The id of an added token or vocabulary entry with this text, if any.
    [[nodiscard]] std::optional<int64_t> token_id(std::string_view content) const;
    [[nodiscard]] const std::vector<AddedToken>& added_tokens() const;

  private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Byte offset of the first invalid UTF-8 sequence in `text`, or npos when it is valid.
size_t find_invalid_utf8(std::string_view text);

// Replaces every maximal invalid UTF-8 subsequence by U+FFFD. `first_invalid` (if given)
// receives the byte offset of the first one, or npos when the text is valid.
std::string sanitize_utf8(std::string_view text, size_t* first_invalid = nullptr);

}  // namespace dssim::tokenizer
