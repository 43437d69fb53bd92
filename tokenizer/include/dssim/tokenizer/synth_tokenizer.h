// The small tokenizer of synthetic checkpoints: DeepSeek's tokenizer.json structure (the same
// pre-tokenizer regexes, byte-level BPE, BOS/EOS/pad, <｜User｜>/<｜Assistant｜>, <think>)
// with merges learned deterministically from a fixed built-in text, sized to the model's
// vocabulary, and DeepSeek-V3's tokenizer_config.json with its chat template. Text runs then
// work on deepseek-tiny as on a real checkpoint (docs/tokenizer.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace dssim::tokenizer {

struct SynthTokenizerFiles {
    std::string tokenizer_json;
    std::string tokenizer_config_json;
    int64_t merges = 0;        // learned merges
    int64_t placeholders = 0;  // ids filled with <｜place▁holder▁no▁N｜> when merges ran out
};

// The smallest vocabulary a synthetic tokenizer fits in: 3 special tokens, 256 bytes, 4 chat
// tokens.
constexpr int64_t kSynthMinVocab = 263;

// The files for a vocabulary of `vocab_size` ids (every id gets a token); nullopt when
// vocab_size < kSynthMinVocab. The same size always gives the same bytes.
std::optional<SynthTokenizerFiles> synth_tokenizer(int64_t vocab_size);

// Writes DIR/tokenizer.json and DIR/tokenizer_config.json atomically; false (nothing written)
// when the vocabulary is too small.
bool write_synth_tokenizer(const std::filesystem::path& dir, int64_t vocab_size);

// DeepSeek-V3's chat template, verbatim from its tokenizer_config.json.
const std::string& deepseek_v3_chat_template();

}  // namespace dssim::tokenizer
