// DeepSeek's chat template, implemented as behaviour rather than as a Jinja engine: the V3
// and R1 forms of tokenizer_config.json's `chat_template` (docs/tokenizer.md). Rendering gives
// the same string as the template with `bos_token`, `messages` and `add_generation_prompt`.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/tokenizer/tokenizer.h"

namespace dssim::tokenizer {

struct ChatMessage {
    std::string role;  // system, user or assistant
    std::string content;
};

enum class ChatForm {
    V3,  // DeepSeek-V3: the generation prompt is <｜Assistant｜>
    R1,  // DeepSeek-R1: assistant turns lose their reasoning (text up to the last </think>),
         // and the generation prompt may open a <think> block
};

struct ChatTemplate {
    ChatForm form = ChatForm::V3;
    std::string bos_token;
    std::string generation_prompt = "<｜Assistant｜>";
};

// Recognises the template of `config` (throws InputError naming `origin` and chat_template
// when there is none or it is not a DeepSeek V3/R1 template).
ChatTemplate chat_template_of(const TokenizerConfig& config, std::string_view origin);

// The prompt text. A role other than system, user or assistant throws InputError naming
// `where` (tool calls and outputs are not implemented).
std::string render_chat(const ChatTemplate& t,
                        std::span<const ChatMessage> messages,
                        bool add_generation_prompt,
                        std::string_view where = "messages");

}  // namespace dssim::tokenizer
