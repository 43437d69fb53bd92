// `dssim tokenize`: text to DeepSeek token ids and back with the checkpoint's tokenizer
// (docs/tokenizer.md). Ids print comma-separated, ready for `dssim run --tokens`.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/tokenizer/chat_template.h"
#include "dssim/tokenizer/tokenizer.h"
#include "runtime_args.h"

namespace dssim::cli {

namespace {

struct TokenizeArgs {
    CLI::Option* text_given = nullptr;  // TEXT may be "", so presence is the option's count
    std::string tokenizer;
    std::string text;
    std::string file;
    std::string decode;
    bool json = false;
    bool chat = false;
    bool no_bos = false;
};

void tokenize(const TokenizeArgs& a) {
    const int given = static_cast<int>(a.text_given->count() > 0) +
                      static_cast<int>(!a.file.empty()) + static_cast<int>(!a.decode.empty());
    if (given != 1)
        throw InputError("tokenize: give exactly one of TEXT, --file F or --decode IDS");
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(a.tokenizer);

    if (!a.decode.empty()) {
        const std::vector<int64_t> ids = parse_token_list(a.decode, "--decode");
        for (size_t i = 0; i < ids.size(); ++i) {
            if (!tok.contains(ids[i])) {
                throw InputError("--decode: id " + std::to_string(ids[i]) + " (position " +
                                 std::to_string(i) + ") is not a token of " + a.tokenizer +
                                 "/tokenizer.json");
            }
        }
        const std::string text = tok.decode(ids);
        if (a.json) {
            OrderedJson j;
            j["text"] = text;
            std::cout << j.dump() << "\n";
        } else {
            std::cout << text << "\n";
        }
        return;
    }

    const std::string where = a.file.empty() ? "TEXT" : a.file;
    std::string text = a.file.empty() ? a.text : read_file(a.file);
    warn_invalid_utf8(text, where, "tokenize");
    std::vector<int64_t> ids;
    if (a.chat) {
        const auto tmpl =
            tokenizer::chat_template_of(tok.config(), a.tokenizer + "/tokenizer_config.json");
        const std::vector<tokenizer::ChatMessage> messages = {
            {"user", tokenizer::sanitize_utf8(text)}};
        ids = tok.encode(tokenizer::render_chat(tmpl, messages, true));
    } else {
        ids = tok.encode(text, tok.config().add_bos_token && !a.no_bos);
    }
    if (a.json) {
        OrderedJson j;
        j["ids"] = ids;
        std::cout << j.dump() << "\n";
    } else {
        for (size_t i = 0; i < ids.size(); ++i)
            std::cout << (i ? "," : "") << ids[i];
        std::cout << "\n";
    }
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
    auto args = std::make_shared<TokenizeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "tokenize",
        "Text to token ids with DeepSeek's tokenizer (tokenizer.json + tokenizer_config.json), "
        "printed comma-separated for `run --tokens`; --decode turns ids back into text. Invalid "
        "UTF-8 is replaced by U+FFFD (with a warning on stderr); docs/tokenizer.md.");
    args->text_given = cmd->add_option("text", args->text, "The text to encode");
    cmd->add_option("--file", args->file, "Encode this file's bytes (all of them, newlines too)");
    cmd->add_option("--decode", args->decode, "Decode these comma-separated ids instead");
    cmd->add_option("--tokenizer", args->tokenizer,
                    "Directory with tokenizer.json (and tokenizer_config.json): a checkpoint "
                    "directory, e.g. from `dssim checkpoint synth`")
        ->required();
    cmd->add_flag("--chat", args->chat,
                  "Encode the text as one user turn of the chat template, with the generation "
                  "prompt");
    cmd->add_flag("--no-bos", args->no_bos,
                  "Do not prepend BOS (by default it is, when tokenizer_config.json says "
                  "add_bos_token)");
    cmd->add_flag("--json", args->json,
                  "Print {\"ids\": [...]} (or {\"text\": ...} with --decode)");
    cmd->callback([args] { tokenize(*args); });
}

}  // namespace dssim::cli
