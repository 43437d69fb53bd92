// The synthetic checkpoints' tokenizer (see synth_tokenizer.h). Training is plain BPE on the
// pieces of DeepSeek's pre-tokenizer over kTrainingText: repeatedly merge the most frequent
// adjacent pair (ties: the smallest pair of ids), so the result depends on nothing but the
// vocabulary size.
#include "dssim/tokenizer/synth_tokenizer.h"

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "dssim/base.h"
#include "pcre_regex.h"

namespace dssim::tokenizer {

namespace {

// DeepSeek-V3's Split patterns, as in its tokenizer.json.
const char* const kPatterns[] = {
    "\\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
    "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};

// What the merges are learned from: English prose, code, digits, Chinese and Japanese, so
// every pre-tokenizer pattern sees some input.
const char* const kTrainingText =
    "The quick brown fox jumps over the lazy dog. DeepSeek-V3 is a strong Mixture-of-Experts "
    "language model with 671B total parameters, of which 37B are activated for each token. It "
    "adopts Multi-head Latent Attention and DeepSeekMoE architectures, an auxiliary-loss-free "
    "strategy for load balancing, and a multi-token prediction training objective. The model "
    "was pre-trained on 14.8 trillion diverse and high-quality tokens, followed by supervised "
    "fine-tuning and reinforcement learning stages to fully harness its capabilities.\n"
    "A deterministic simulator answers, before silicon or a cluster exists, how fast the model "
    "will run on a chip and whether its numbers are right. The reference runtime executes the "
    "complete model on the CPU with identical bits on every run and thread count; it writes "
    "golden outputs for backend testing and checks the tensors that real backends dump.\n"
    "Hello, world! How are you today? I am fine, thank you. What is the capital of France? "
    "The capital of France is Paris. Please write a short poem about the sea and the sky.\n"
    "def greet(name):\n    return f\"Hello, {name}!\"\n\nfor i in range(10):\n    "
    "print(greet(str(i)))\n\nint main(int argc, char** argv) {\n    std::vector<int> v = {1, 2, "
    "3};\n    return static_cast<int>(v.size());\n}\n"
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 2048 3.14159 2026-12-07 12:30 $19.99 50%\n"
    "你好，世界！今天天气很好。我们一起学习机器学习和深度学习。模型的参数和计算都很重要。\n"
    "こんにちは、世界。カタカナとひらがなのテキストです。\n"
    "Bonjour le monde, ça va? Größe, Straße, naïve café. Привет, мир! مرحبا بالعالم\n"
    "Once upon a time, in a small village by the mountains, there lived an old clockmaker who "
    "repaired watches for everybody. Every morning she opened her workshop, brewed strong "
    "coffee, and listened to the radio while gears, springs and tiny screws waited on the "
    "bench. Children visited after school, asking questions about planets, oceans, volcanoes, "
    "dinosaurs, rockets and computers; she answered patiently, drawing diagrams on yellow "
    "paper. Questions: why? where? when? which one? Answers: because, here, yesterday, "
    "tomorrow, always, never, sometimes, probably, certainly, exactly, approximately.\n";

// Recursively applies the Split stages (Isolated) and counts the final pieces.
void split(std::string_view text,
           size_t stage,
           const std::vector<std::unique_ptr<detail::Regex>>& regexes,
           std::map<std::string, int64_t>& pieces) {
    if (text.empty()) return;
    if (stage == regexes.size()) {
        ++pieces[std::string(text)];
        return;
    }
    detail::Regex::Matcher m(*regexes[stage]);
    size_t pos = 0, b = 0, e = 0;
    while (pos < text.size() && m.find(text, pos, b, e) && e > b) {
        split(text.substr(pos, b - pos), stage + 1, regexes, pieces);
        split(text.substr(b, e - b), stage + 1, regexes, pieces);
        pos = e;
    }
    split(text.substr(pos), stage + 1, regexes, pieces);
}

std::string byte_level(std::string_view bytes) {
    std::string out;
    for (char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        uint32_t cp = b;
        if (!printable) {
            uint32_t extra = 0;
            for (uint32_t k = 0; k < b; ++k) {
                if (!((k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || k >= 0xAE)) ++extra;
            }
            cp = 256 + extra;
        }
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    return out;
}

OrderedJson added_token(int64_t id, const std::string& content, bool special) {
    OrderedJson t;
    t["id"] = id;
    t["content"] = content;
    t["single_word"] = false;
    t["lstrip"] = false;
    t["rstrip"] = false;
    t["normalized"] = !special;
    t["special"] = special;
    return t;
}

OrderedJson config_token(const std::string& content) {
    OrderedJson t;
    t["__type"] = "AddedToken";
    t["content"] = content;
    t["lstrip"] = false;
    t["normalized"] = true;
    t["rstrip"] = false;
    t["single_word"] = false;
    return t;
}

}  // namespace

const std::string& deepseek_v3_chat_template() {
    static const std::string t =
        R"tpl({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '

' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '
' + '```json' + '
' + tool['function']['arguments'] + '
' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'
' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '
' + '```json' + '
' + tool['function']['arguments'] + '
' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'
<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %})tpl";
    return t;
}

std::optional<SynthTokenizerFiles> synth_tokenizer(int64_t vocab_size) {
    if (vocab_size < kSynthMinVocab) return std::nullopt;
    const std::vector<std::string> specials = {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                                               "<｜▁pad▁｜>"};
    const std::vector<std::pair<std::string, bool>> chat = {
        {"<｜User｜>", false}, {"<｜Assistant｜>", false}, {"<think>", false}, {"</think>", false}};
    const int64_t merge_end = vocab_size - static_cast<int64_t>(chat.size());

    std::vector<std::string> token_bytes;  // by id, raw bytes (specials: their content)
    std::map<std::string, int32_t> by_bytes;
    for (const auto& s : specials)
        token_bytes.push_back(s);
    for (int b = 0; b < 256; ++b) {
        by_bytes.emplace(std::string(1, static_cast<char>(b)),
                         static_cast<int32_t>(token_bytes.size()));
        token_bytes.emplace_back(1, static_cast<char>(b));
    }

    std::vector<std::unique_ptr<detail::Regex>> regexes;
    for (const char* p : kPatterns)
        regexes.push_back(std::make_unique<detail::Regex>(p, false, "synthetic tokenizer"));
    std::map<std::string, int64_t> pieces;
    split(kTrainingText, 0, regexes, pieces);
    std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
    for (const auto& [piece, count] : pieces) {
        std::vector<int32_t> syms;
        for (char ch : piece)
            syms.push_back(by_bytes.at(std::string(1, ch)));
        words.emplace_back(std::move(syms), count);
    }

    std::vector<std::pair<int32_t, int32_t>> merges;
    while (static_cast<int64_t>(token_bytes.size()) < merge_end) {
        std::map<std::pair<int32_t, int32_t>, int64_t> counts;
        for (const auto& [syms, count] : words)
            for (size_t i = 0; i + 1 < syms.size(); ++i)
                counts[{syms[i], syms[i + 1]}] += count;
        if (counts.empty()) break;
        auto best = counts.begin();
        for (auto it = counts.begin(); it != counts.end(); ++it)
            if (it->second > best->second) best = it;  // ties keep the smallest pair
        const auto [a, b] = best->first;
        const std::string joined = token_bytes[a] + token_bytes[b];
        auto [it, fresh] = by_bytes.emplace(joined, static_cast<int32_t>(token_bytes.size()));
        if (fresh) token_bytes.push_back(joined);
        const int32_t merged = it->second;
        merges.emplace_back(a, b);
        for (auto& [syms, count] : words) {
            std::vector<int32_t> next;
            for (size_t i = 0; i < syms.size(); ++i) {
                if (i + 1 < syms.size() && syms[i] == a && syms[i + 1] == b) {
                    next.push_back(merged);
                    ++i;
                } else {
                    next.push_back(syms[i]);
                }
            }
            syms = std::move(next);
        }
    }

    SynthTokenizerFiles files;
    files.merges = static_cast<int64_t>(merges.size());
    OrderedJson added = OrderedJson::array();
    for (size_t i = 0; i < specials.size(); ++i)
        added.push_back(added_token(static_cast<int64_t>(i), specials[i], true));
    // Ids the merges did not fill: placeholders, as DeepSeek's own vocabulary has.
    for (int64_t id = static_cast<int64_t>(token_bytes.size()); id < merge_end; ++id) {
        added.push_back(added_token(
            id, "<｜place▁holder▁no▁" + std::to_string(files.placeholders++) + "｜>", true));
    }
    for (size_t i = 0; i < chat.size(); ++i)
        added.push_back(
            added_token(merge_end + static_cast<int64_t>(i), chat[i].first, chat[i].second));

    OrderedJson vocab = OrderedJson::object();
    for (size_t id = 0; id < token_bytes.size(); ++id) {
        vocab[id < specials.size() ? token_bytes[id] : byte_level(token_bytes[id])] =
            static_cast<int64_t>(id);
    }
    OrderedJson merge_list = OrderedJson::array();
    for (const auto& [a, b] : merges)
        merge_list.push_back(byte_level(token_bytes[a]) + " " + byte_level(token_bytes[b]));

    OrderedJson pre;
    pre["type"] = "Sequence";
    pre["pretokenizers"] = OrderedJson::array();
    for (const char* p : kPatterns) {
        OrderedJson s;
        s["type"] = "Split";
        s["pattern"]["Regex"] = p;
        s["behavior"] = "Isolated";
        s["invert"] = false;
        pre["pretokenizers"].push_back(s);
    }
    OrderedJson bl;
    bl["type"] = "ByteLevel";
    bl["add_prefix_space"] = false;
    bl["trim_offsets"] = true;
    bl["use_regex"] = false;
    pre["pretokenizers"].push_back(bl);

    OrderedJson tj;
    tj["version"] = "1.0";
    tj["truncation"] = nullptr;
    tj["padding"] = nullptr;
    tj["added_tokens"] = added;
    tj["normalizer"] = {{"type", "Sequence"}, {"normalizers", OrderedJson::array()}};
    tj["pre_tokenizer"] = pre;
    tj["post_processor"] = {{"type", "ByteLevel"},
                            {"add_prefix_space", true},
                            {"trim_offsets", false},
                            {"use_regex", true}};
    tj["decoder"] = {{"type", "ByteLevel"},
                     {"add_prefix_space", true},
                     {"trim_offsets", true},
                     {"use_regex", true}};
    OrderedJson model;
    model["type"] = "BPE";
    model["dropout"] = nullptr;
    model["unk_token"] = nullptr;
    model["continuing_subword_prefix"] = nullptr;
    model["end_of_word_suffix"] = nullptr;
    model["fuse_unk"] = false;
    model["byte_fallback"] = false;
    model["vocab"] = vocab;
    model["merges"] = merge_list;
    tj["model"] = model;
    files.tokenizer_json = tj.dump(1) + "\n";

    OrderedJson cfg;
    cfg["add_bos_token"] = true;
    cfg["add_eos_token"] = false;
    cfg["bos_token"] = config_token(specials[0]);
    cfg["clean_up_tokenization_spaces"] = false;
    cfg["eos_token"] = config_token(specials[1]);
    cfg["legacy"] = true;
    cfg["model_max_length"] = 16384;
    cfg["pad_token"] = config_token(specials[1]);
    cfg["sp_model_kwargs"] = OrderedJson::object();
    cfg["unk_token"] = nullptr;
    cfg["tokenizer_class"] = "LlamaTokenizerFast";
    cfg["chat_template"] = deepseek_v3_chat_template();
    files.tokenizer_config_json = cfg.dump(2) + "\n";
    return files;
}

bool write_synth_tokenizer(const std::filesystem::path& dir, int64_t vocab_size) {
    const auto files = synth_tokenizer(vocab_size);
    if (!files) return false;
    write_file_atomic(dir / "tokenizer.json", files->tokenizer_json);
    write_file_atomic(dir / "tokenizer_config.json", files->tokenizer_config_json);
    return true;
}

}  // namespace dssim::tokenizer
