// Runtime options shared by `dssim run` and `dssim golden`: the checkpoint, the prompts
// (--tokens / --tokens-file as ids; --prompt / --prompts-file as text through the tokenizer,
// --chat for the chat template), the numerics mode, MLA form, threads, streaming and MTP. Both
// commands declare them through add_runtime_options() so names, help texts and error messages
// stay identical, and turn them into reference::RuntimeOptions with the same validation; the
// parts of the run's summary they both print are here too, so they print them alike.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <optional>

#include <CLI/CLI.hpp>

#include "dssim/base/json_reader.h"
#include "dssim/reference.h"
#include "dssim/tokenizer/tokenizer.h"

namespace dssim::cli {

struct RuntimeArgs {
    std::string checkpoint;
    std::vector<std::string> tokens;  // one comma-separated prompt per --tokens
    std::string tokens_file;
    std::vector<std::string> prompts;  // text prompts, one per --prompt
    std::string prompts_file;          // JSONL: {"prompt": ...} or {"messages": [...]} per line
    bool chat = false;                 // --prompt / "prompt" lines through the chat template
    std::string tokenizer;             // empty: the checkpoint directory
    int64_t max_new_tokens = 16;
    int threads = 0;  // 0: all hardware threads
    std::string mode = "demo";
    std::string scale_fmt;  // empty: the checkpoint config's
    std::string attention = "absorbed";
    int64_t max_seq_len = 16384;
    std::string stream = "auto";
    bool mtp = false;
};

// The per-command part of the help texts.
struct RuntimeArgsHelp {
    std::string threads_identical;  // what is identical for any --threads
    std::string mtp;                // what --mtp does in this command
};

// Declares --checkpoint, --tokens, --tokens-file, --max-new-tokens, --threads, --mode,
// --scale-fmt, --attention, --max-seq-len, --stream and --mtp on `cmd`, bound to `args`.
void add_runtime_options(CLI::App& cmd, RuntimeArgs& args, const RuntimeArgsHelp& help);

// Validated runtime options (throws InputError naming the option for a bad value).
reference::RuntimeOptions runtime_options(const RuntimeArgs& args);

// The prompts: every --tokens, then every non-blank line of --tokens-file, every --prompt, then
// every non-blank line of --prompts-file. Text prompts load the tokenizer (--tokenizer, or the
// checkpoint directory) and make the run a text run: `texts` holds every prompt's text (for
// id prompts, their decoding) and decode() gives the generated text. Throws InputError when a
// token is not an integer, a JSONL line is malformed or has no prompt, a prompt is longer
// than --max-seq-len, or no prompt is given (errors name the file and line).
struct Prompts {
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::string> texts;  // empty unless a text run
    std::optional<tokenizer::Tokenizer> tokenizer;
    std::string tokenizer_dir;
    [[nodiscard]] bool text() const { return tokenizer.has_value(); }
};
Prompts prompts_of(const RuntimeArgs& args);

// Prints "dssim[ <command>]: warning: <where>: invalid UTF-8 at byte N replaced by U+FFFD" on
// stderr when `text` is not valid UTF-8 (the tokenizer replaces it; docs/tokenizer.md).
void warn_invalid_utf8(std::string_view text, std::string_view where, std::string_view command);

// "1,2,3" (blanks allowed around commas) -> ids. `where` names the source in errors.
std::vector<int64_t> parse_token_list(std::string_view text, const std::string& where);

// Output both commands share. Logit rows over all steps of `r`:
int64_t logit_rows(const reference::GenerateResult& r);
// With --mtp, the MTP counts: JSON fields mtp_drafted, mtp_accepted and mtp_acceptance_rate,
// or the text line "mtp acceptance <accepted>/<drafted>". Without --mtp, nothing.
void add_mtp_json(const RuntimeArgs& args, const reference::GenerateResult& r, OrderedJson& j);
void print_mtp_line(const RuntimeArgs& args, const reference::GenerateResult& r, std::ostream& out);

}  // namespace dssim::cli
