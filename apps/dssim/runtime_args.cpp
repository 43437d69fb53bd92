// Shared runtime options of `dssim run` and `dssim golden` (see runtime_args.h).
#include "runtime_args.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <utility>

#include "dssim/base.h"
#include "dssim/tokenizer/chat_template.h"

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
    cmd.add_option("--prompt", a.prompts,
                   "Prompt text, encoded with the checkpoint's tokenizer (BOS first when "
                   "tokenizer_config.json says add_bos_token); repeat for more sequences. The "
                   "generated text is printed and stored");
    cmd.add_option("--prompts-file", a.prompts_file,
                   "JSONL file, one prompt per line: {\"prompt\": TEXT} or {\"messages\": "
                   "[{\"role\": ..., \"content\": ...}, ...]} (always through the chat "
                   "template); after --prompt");
    cmd.add_flag("--chat", a.chat,
                 "Send --prompt texts and \"prompt\" lines through the chat template as one user "
                 "turn, with the generation prompt");
    cmd.add_option("--tokenizer", a.tokenizer,
                   "Directory with tokenizer.json and tokenizer_config.json (default: the "
                   "checkpoint directory)");
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

namespace {

// The value of an option that takes one of a few names; any other is an InputError listing
// them ("--mode: expected demo or fp8, got 'x'").
template <typename T>
T choose(std::string_view option,
         const std::string& value,
         std::initializer_list<std::pair<std::string_view, T>> choices) {
    std::string names;
    size_t i = 0;
    for (const auto& [name, result] : choices) {
        if (value == name) return result;
        names += (i == 0 ? "" : (i + 1 == choices.size() ? " or " : ", "));
        names += name;
        ++i;
    }
    throw InputError(std::string(option) + ": expected " + names + ", got '" + value + "'");
}

}  // namespace

reference::RuntimeOptions runtime_options(const RuntimeArgs& a) {
    reference::RuntimeOptions ro;
    ro.mode = choose<reference::NumericsMode>(
        "--mode", a.mode,
        {{"demo", reference::NumericsMode::Demo}, {"fp8", reference::NumericsMode::Fp8}});
    if (!a.scale_fmt.empty()) {  // empty: the checkpoint config's
        ro.scale_fmt = choose<models::ScaleFmt>(
            "--scale-fmt", a.scale_fmt,
            {{"ue8m0", models::ScaleFmt::UE8M0}, {"f32", models::ScaleFmt::F32}});
    }
    ro.attention = choose<models::AttentionMode>(
        "--attention", a.attention,
        {{"absorbed", models::AttentionMode::Absorbed}, {"naive", models::AttentionMode::Naive}});
    if (a.threads < 0) throw InputError("--threads: must be >= 1 (0: all hardware threads)");
    if (a.max_new_tokens < 0) throw InputError("--max-new-tokens: must be >= 0");
    ro.threads = a.threads == 0 ? hardware_threads() : a.threads;
    ro.max_seq_len = a.max_seq_len;
    // auto: the runtime decides from the checkpoint size and the physical memory.
    ro.stream_weights = choose<std::optional<bool>>(
        "--stream", a.stream, {{"auto", std::nullopt}, {"on", true}, {"off", false}});
    return ro;
}

void warn_invalid_utf8(std::string_view text, std::string_view where, std::string_view command) {
    const size_t bad = tokenizer::find_invalid_utf8(text);
    if (bad != std::string::npos) {
        std::fprintf(stderr,
                     "dssim%s%.*s: warning: %.*s: invalid UTF-8 at byte %zu replaced by U+FFFD\n",
                     command.empty() ? "" : " ", static_cast<int>(command.size()), command.data(),
                     static_cast<int>(where.size()), where.data(), bad);
    }
}

namespace {

// One text prompt: raw (BOS per tokenizer_config.json) or through the chat template.
struct TextPrompt {
    std::string where;  // "--prompt 2", "prompts.jsonl: line 3"
    std::string text;
    std::vector<tokenizer::ChatMessage> messages;  // non-empty: a chat
    bool chat = false;
};

std::vector<TextPrompt> read_prompts_file(const std::string& path, bool chat) {
    std::vector<TextPrompt> out;
    const std::string text = read_file(path);
    size_t line_no = 0, i = 0;
    while (i < text.size()) {
        size_t j = text.find('\n', i);
        if (j == std::string::npos) j = text.size();
        ++line_no;
        const std::string_view line(text.data() + i, j - i);
        i = j + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        const std::string where = path + ": line " + std::to_string(line_no);
        Json j_line;
        try {
            j_line = Json::parse(line);
        } catch (const Json::exception& e) {
            throw InputError(where + ": malformed JSON (" + std::string(e.what()) + ")");
        }
        TextPrompt p;
        p.where = where;
        if (!j_line.is_object()) throw InputError(where + ": expected a JSON object");
        if (auto it = j_line.find("prompt"); it != j_line.end()) {
            if (!it->is_string()) throw InputError(where + ": prompt: expected a string");
            p.text = it->get<std::string>();
            p.chat = chat;
            if (chat) p.messages = {{"user", p.text}};
        } else if (auto m = j_line.find("messages"); m != j_line.end()) {
            if (!m->is_array() || m->empty()) {
                throw InputError(where + ": messages: expected a non-empty array");
            }
            for (size_t k = 0; k < m->size(); ++k) {
                const Json& msg = (*m)[k];
                const std::string field = "messages[" + std::to_string(k) + "]";
                if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string() ||
                    !msg.contains("content") || !msg["content"].is_string()) {
                    throw InputError(where + ": " + field +
                                     ": expected {\"role\": string, \"content\": string}");
                }
                p.messages.push_back(
                    {msg["role"].get<std::string>(), msg["content"].get<std::string>()});
            }
            p.chat = true;
        } else {
            throw InputError(where +
                             ": no prompt: expected {\"prompt\": TEXT} or "
                             "{\"messages\": [...]}");
        }
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace

Prompts prompts_of(const RuntimeArgs& a) {
    Prompts prompts;
    for (const auto& t : a.tokens)
        prompts.ids.push_back(parse_token_list(t, "--tokens"));
    if (!a.tokens_file.empty()) {
        const std::string text = read_file(a.tokens_file);
        size_t line_no = 0, i = 0;
        while (i < text.size()) {
            size_t j = text.find('\n', i);
            if (j == std::string::npos) j = text.size();
            ++line_no;
            std::string_view line(text.data() + i, j - i);
            if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
                prompts.ids.push_back(
                    parse_token_list(line, a.tokens_file + ": line " + std::to_string(line_no)));
            }
            i = j + 1;
        }
    }
    std::vector<TextPrompt> texts;
    for (size_t k = 0; k < a.prompts.size(); ++k) {
        TextPrompt p;
        p.where = "--prompt " + std::to_string(k + 1);
        warn_invalid_utf8(a.prompts[k], p.where, "");
        p.text = a.prompts[k];
        p.chat = a.chat;
        if (a.chat) p.messages = {{"user", tokenizer::sanitize_utf8(p.text)}};
        texts.push_back(std::move(p));
    }
    if (!a.prompts_file.empty()) {
        auto more = read_prompts_file(a.prompts_file, a.chat);
        texts.insert(texts.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
    }
    if (prompts.ids.empty() && texts.empty()) {
        throw InputError(
            "--tokens: give at least one sequence (or --tokens-file, --prompt, "
            "--prompts-file)");
    }
    if (texts.empty()) return prompts;

    // A text run: load the tokenizer, give id prompts their text, encode the text prompts.
    namespace fs = std::filesystem;
    if (!a.tokenizer.empty()) {
        prompts.tokenizer_dir = a.tokenizer;
    } else {
        const fs::path ckpt(a.checkpoint);
        prompts.tokenizer_dir =
            fs::is_directory(ckpt) ? ckpt.string() : ckpt.parent_path().string();
    }
    prompts.tokenizer.emplace(tokenizer::Tokenizer::load(prompts.tokenizer_dir));
    const tokenizer::Tokenizer& tok = *prompts.tokenizer;
    for (const auto& ids : prompts.ids)
        prompts.texts.push_back(tok.decode(ids));
    std::optional<tokenizer::ChatTemplate> tmpl;
    for (const TextPrompt& p : texts) {
        std::string text;
        std::vector<int64_t> ids;
        if (p.chat) {
            if (!tmpl) {
                tmpl = tokenizer::chat_template_of(
                    tok.config(),
                    (fs::path(prompts.tokenizer_dir) / "tokenizer_config.json").string());
            }
            text = tokenizer::render_chat(*tmpl, p.messages, true, p.where + ": messages");
            ids = tok.encode(text);
        } else {
            text = tokenizer::sanitize_utf8(p.text);
            ids = tok.encode(text, tok.config().add_bos_token);
        }
        if (ids.empty()) throw InputError(p.where + ": the prompt encodes to no tokens");
        if (static_cast<int64_t>(ids.size()) > a.max_seq_len) {
            throw InputError(p.where + ": the prompt is " + std::to_string(ids.size()) +
                             " tokens, longer than --max-seq-len " + std::to_string(a.max_seq_len));
        }
        prompts.ids.push_back(std::move(ids));
        prompts.texts.push_back(std::move(text));
    }
    return prompts;
}

int64_t logit_rows(const reference::GenerateResult& r) {
    int64_t rows = 0;
    for (const auto& s : r.steps)
        rows += static_cast<int64_t>(s.rows());
    return rows;
}

void add_mtp_json(const RuntimeArgs& args, const reference::GenerateResult& r, OrderedJson& j) {
    if (!args.mtp) return;
    j["mtp_drafted"] = r.mtp_drafted;
    j["mtp_accepted"] = r.mtp_accepted;
    j["mtp_acceptance_rate"] = r.mtp_acceptance_rate();
}

void print_mtp_line(const RuntimeArgs& args,
                    const reference::GenerateResult& r,
                    std::ostream& out) {
    if (args.mtp) out << "mtp acceptance " << r.mtp_accepted << "/" << r.mtp_drafted << "\n";
}

}  // namespace dssim::cli
