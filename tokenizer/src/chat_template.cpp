// The behaviour of DeepSeek's V3/R1 chat templates (see chat_template.h). Both:
//   bos_token + every system message's content joined by "\n\n" (wherever they stand), then
//   per message: user -> "<｜User｜>" + content; assistant -> "<｜Assistant｜>" + content +
//   "<｜end▁of▁sentence｜>"; and with add_generation_prompt the generation prompt at the end.
// R1 keeps only the text after the last "</think>" of an assistant turn (the template's
// content.split('</think>')[-1]).
#include "dssim/tokenizer/chat_template.h"

#include "dssim/base.h"

namespace dssim::tokenizer {

ChatTemplate chat_template_of(const TokenizerConfig& config, std::string_view origin) {
    const std::string& t = config.chat_template;
    if (t.empty()) throw_input_error(origin, "chat_template", "missing: --chat needs one");
    // The family's markers; V3.1's template (thinking flags) is a different one.
    const bool deepseek = t.find("<｜User｜>") != std::string::npos &&
                          t.find("<｜Assistant｜>") != std::string::npos &&
                          t.find("ns.system_prompt") != std::string::npos &&
                          t.find("thinking") == std::string::npos;
    if (!deepseek) {
        throw_input_error(origin, "chat_template",
                          "not DeepSeek's V3 or R1 template (dssim implements those, not Jinja)");
    }
    ChatTemplate c;
    c.bos_token = config.bos_token;
    if (t.find("split('</think>')") != std::string::npos) c.form = ChatForm::R1;
    // The R1 revision that opens the reasoning block for the model writes it in the template
    // as a Jinja string literal with an escaped newline.
    if (t.find("'<｜Assistant｜><think>\\n'") != std::string::npos ||
        t.find("'<｜Assistant｜><think>\n'") != std::string::npos) {
        c.generation_prompt = "<｜Assistant｜><think>\n";
    }
    return c;
}

std::string render_chat(const ChatTemplate& t,
                        std::span<const ChatMessage> messages,
                        bool add_generation_prompt,
                        std::string_view where) {
    std::string system;
    bool first_system = true;
    for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        if (m.role != "system" && m.role != "user" && m.role != "assistant") {
            const std::string field = std::string("[").append(std::to_string(i)).append("].role");
            throw_input_error(where, field,
                              "unsupported '" + m.role + "' (system, user or assistant)");
        }
        if (m.role != "system") continue;
        if (!first_system) system += "\n\n";
        system += m.content;
        first_system = false;
    }
    std::string out = t.bos_token;
    out += system;
    for (const ChatMessage& m : messages) {
        if (m.role == "user") {
            out += "<｜User｜>";
            out += m.content;
        } else if (m.role == "assistant") {
            std::string_view content = m.content;
            if (t.form == ChatForm::R1) {
                const size_t end = content.rfind("</think>");
                if (end != std::string_view::npos) content.remove_prefix(end + 8);
            }
            out += "<｜Assistant｜>";
            out += content;
            out += "<｜end▁of▁sentence｜>";
        }
    }
    if (add_generation_prompt) out += t.generation_prompt;
    return out;
}

}  // namespace dssim::tokenizer
