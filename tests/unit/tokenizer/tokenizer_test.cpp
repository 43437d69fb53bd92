// dssim_tokenizer on the committed synthetic tokenizer (no npm needed): encode/decode round
// trips over the corpus, added tokens before splitting, the pre-tokenizer's pieces, the UTF-8
// repair rule, the chat template against Jinja2's renderings (chat_expected.json), the
// synthetic tokenizer's determinism, and one-line errors for bad tokenizer files.
#include <doctest/doctest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dssim/base.h"
#include "dssim/tokenizer/chat_template.h"
#include "dssim/tokenizer/synth_tokenizer.h"
#include "dssim/tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using namespace dssim;
using namespace dssim::tokenizer;

namespace {

const fs::path kData = fs::path(DSSIM_SOURCE_DIR) / "tests/data/tokenizer";

const Tokenizer& tiny() {
    static const Tokenizer t = Tokenizer::load(kData / "tiny");
    return t;
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

// Every corpus text (invalid UTF-8 cases decoded from hex).
std::vector<std::pair<std::string, std::string>> corpus() {
    std::vector<std::pair<std::string, std::string>> out;
    std::ifstream in(kData / "corpus.jsonl");
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const Json c = Json::parse(line);
        out.emplace_back(c["name"].get<std::string>(), c.contains("hex")
                                                           ? from_hex(c["hex"].get<std::string>())
                                                           : c["text"].get<std::string>());
    }
    return out;
}

// The message of the InputError `f` throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

fs::path temp_dir(const std::string& name) {
    const fs::path d =
        fs::temp_directory_path() / ("dssim_tokenizer_test_" + std::to_string(::getpid())) / name;
    fs::create_directories(d);
    return d;
}

}  // namespace

TEST_CASE("the committed synthetic tokenizer is what checkpoint synth writes for deepseek-tiny") {
    const auto files = synth_tokenizer(1024);
    REQUIRE(files.has_value());
    CHECK(files->tokenizer_json == read_file(kData / "tiny/tokenizer.json"));
    CHECK(files->tokenizer_config_json == read_file(kData / "tiny/tokenizer_config.json"));
    CHECK(files->placeholders == 0);
    CHECK(!synth_tokenizer(kSynthMinVocab - 1).has_value());
    // Every id of the vocabulary has a token, at any size.
    for (int64_t v : {kSynthMinVocab, int64_t{512}, int64_t{1024}, int64_t{5000}}) {
        const auto f = synth_tokenizer(v);
        REQUIRE(f.has_value());
        const Tokenizer t =
            Tokenizer::from_json(f->tokenizer_json, "synth", f->tokenizer_config_json);
        CHECK(t.size() == v);
        for (int64_t id = 0; id < v; ++id)
            REQUIRE(t.contains(id));
    }
}

TEST_CASE("decode(encode(x)) == x over the corpus, invalid UTF-8 repaired") {
    for (const auto& [name, text] : corpus()) {
        CAPTURE(name);
        const auto ids = tiny().encode(text);
        CHECK(tiny().decode(ids) == sanitize_utf8(text));
        for (int64_t id : ids)
            CHECK(tiny().contains(id));
    }
}

TEST_CASE("BOS comes from tokenizer_config.json") {
    const Tokenizer& t = tiny();
    CHECK(t.config().add_bos_token);
    REQUIRE(t.bos_id().has_value());
    CHECK(*t.bos_id() == 0);
    CHECK(*t.eos_id() == 1);
    const auto plain = t.encode("hello");
    const auto with_bos = t.encode("hello", true);
    REQUIRE(with_bos.size() == plain.size() + 1);
    CHECK(with_bos[0] == 0);
    CHECK(t.decode(with_bos) == "<｜begin▁of▁sentence｜>hello");
    CHECK(t.decode(with_bos, /*skip_special=*/true) == "hello");
}

TEST_CASE("added tokens are matched before splitting, leftmost-longest") {
    const Tokenizer& t = tiny();
    const int64_t user = *t.token_id("<｜User｜>"), assistant = *t.token_id("<｜Assistant｜>");
    const auto ids = t.encode("a<｜User｜>b<｜Assistant｜><｜User｜>");
    REQUIRE(ids.size() == 5);
    CHECK(ids[1] == user);
    CHECK(ids[3] == assistant);
    CHECK(ids[4] == user);
    // A near miss is ordinary text.
    const auto near = t.encode("<｜User|>");
    CHECK(std::find(near.begin(), near.end(), user) == near.end());
    // Not special: kept by skip_special.
    CHECK(t.decode(ids, true) == "a<｜User｜>b<｜Assistant｜><｜User｜>");
}

TEST_CASE("pre-tokenizer: digits in groups of up to three, CJK runs, no merge across pieces") {
    const Tokenizer& t = tiny();
    // "1234567" splits into 123|456|7: no token spans two groups.
    auto pieces = [&](const std::string& text) {
        std::vector<std::string> out;
        for (int64_t id : t.encode(text))
            out.push_back(t.decode(std::vector<int64_t>{id}));
        return out;
    };
    std::string joined;
    size_t boundary_ok = 0;
    for (const auto& p : pieces("1234567")) {
        joined += p;
        if (joined.size() == 3 || joined.size() == 6 || joined.size() == 7) ++boundary_ok;
    }
    CHECK(joined == "1234567");
    CHECK(boundary_ok == 3);
    // A CJK run is its own piece: the space before it stays apart from it.
    for (const auto& p : pieces("ab 你好")) {
        CHECK(!(p.find(' ') != std::string::npos && p.find("你") != std::string::npos));
    }
}

TEST_CASE("whitespace is Unicode's White_Space (U+0085 yes, U+FEFF no), as in Oniguruma") {
    // \s+(?!\S) keeps two spaces together before a White_Space character and splits them
    // before a non-space one. JavaScript's \s has it the other way round for these two
    // characters (docs/tokenizer.md, "Unicode"); "  " is one token (288) of the tiny vocabulary.
    const Tokenizer& t = tiny();
    const int64_t two_spaces = *t.token_id("  ");
    const auto nel = t.encode("x  \u0085y");
    CHECK(std::count(nel.begin(), nel.end(), two_spaces) == 1);
    const auto bom = t.encode("x  \uFEFFy");
    CHECK(std::count(bom.begin(), bom.end(), two_spaces) == 0);
    CHECK(t.decode(bom) == "x  \uFEFFy");
}

TEST_CASE("sanitize_utf8 replaces maximal invalid subparts") {
    size_t bad = 0;
    CHECK(sanitize_utf8("plain ascii", &bad) == "plain ascii");
    CHECK(bad == std::string::npos);
    CHECK(sanitize_utf8("你好🙂") == "你好🙂");
    CHECK(sanitize_utf8("a\x80z", &bad) == "a\xEF\xBF\xBDz");
    CHECK(bad == 1);
    // A truncated 3-byte sequence is one maximal subpart: one U+FFFD.
    CHECK(sanitize_utf8("\xE4\xBD") == "\xEF\xBF\xBD");
    // Overlong and surrogate forms: every byte is its own subpart.
    CHECK(sanitize_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(sanitize_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(sanitize_utf8("\xF4\x90\x80\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(sanitize_utf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
    CHECK(find_invalid_utf8("你好 ok") == std::string::npos);
    CHECK(find_invalid_utf8("ok\xE4\xBD") == 2);
    // encode repairs the same way.
    CHECK(tiny().encode("x\xFFy") == tiny().encode("x\xEF\xBF\xBDy"));
}

TEST_CASE("decode: a character cut between tokens is repaired, unknown ids skipped") {
    const Tokenizer& t = tiny();
    const auto ids = t.encode("🙂");
    REQUIRE(ids.size() > 1);  // 4 bytes, not merged in the tiny vocabulary
    CHECK(t.decode(std::vector<int64_t>{ids[0]}) == "\xEF\xBF\xBD");
    CHECK(t.decode(std::vector<int64_t>{-1, 5000000}).empty());
    CHECK(!t.contains(1024));
}

TEST_CASE("long inputs: whitespace runs and a long word") {
    const Tokenizer& t = tiny();
    const std::string spaces(200000, ' ');
    CHECK(t.decode(t.encode("a" + spaces + "b")) == "a" + spaces + "b");
    std::string word;
    for (int i = 0; i < 20000; ++i)
        word += "abcdefghij"[i % 10];
    CHECK(t.decode(t.encode(word)) == word);
}

TEST_CASE("chat template: V3 and R1 renderings equal Jinja2's (chat_expected.json)") {
    const Json cases = load_json_file(kData / "chat_cases.json");
    const Json expected = load_json_file(kData / "chat_expected.json");
    REQUIRE(cases.size() == expected.size());
    const ChatTemplate v3 = chat_template_of(tiny().config(), "tiny");
    CHECK(v3.form == ChatForm::V3);
    TokenizerConfig r1_config = tiny().config();
    r1_config.chat_template = read_file(kData / "r1_chat_template.jinja");
    const ChatTemplate r1 = chat_template_of(r1_config, "r1");
    CHECK(r1.form == ChatForm::R1);
    CHECK(r1.generation_prompt == "<｜Assistant｜><think>\n");
    for (size_t i = 0; i < cases.size(); ++i) {
        const Json& c = cases[i];
        CAPTURE(c["name"].get<std::string>());
        std::vector<ChatMessage> messages;
        for (const Json& m : c["messages"])
            messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
        const bool gen = c["add_generation_prompt"].get<bool>();
        CHECK(render_chat(v3, messages, gen) == expected[i]["v3"].get<std::string>());
        CHECK(render_chat(r1, messages, gen) == expected[i]["r1"].get<std::string>());
    }
}

TEST_CASE("chat template: unsupported roles and templates are input errors") {
    const ChatTemplate v3 = chat_template_of(tiny().config(), "tiny");
    const std::vector<ChatMessage> tool = {{"user", "x"}, {"tool", "y"}};
    CHECK(error_of([&] { (void)render_chat(v3, tool, true, "p.jsonl: line 2: messages"); }) ==
          "p.jsonl: line 2: messages: [1].role: unsupported 'tool' (system, user or assistant)");
    TokenizerConfig c = tiny().config();
    c.chat_template = "{{ messages }}";
    CHECK(error_of([&] {
              (void)chat_template_of(c, "x.json");
          }).find("x.json: chat_template: not DeepSeek's V3 or R1 template") == 0);
    c.chat_template.clear();
    CHECK(error_of([&] { (void)chat_template_of(c, "x.json"); }) ==
          "x.json: chat_template: missing: --chat needs one");
}

TEST_CASE("bad tokenizer files: one line naming the file and the field") {
    const fs::path dir = temp_dir("bad");
    CHECK(error_of([&] {
              (void)Tokenizer::load(dir);
          }).find((dir / "tokenizer.json").string() + ": missing") == 0);
    const std::string good = read_file(kData / "tiny/tokenizer.json");
    auto load_text = [](const std::string& text) {
        return error_of([&] { (void)Tokenizer::from_json(text, "t.json"); });
    };
    CHECK(load_text("{\"model\": ").find("t.json") == 0);
    CHECK(load_text("[]") == "t.json: expected a JSON object");
    Json j = Json::parse(good);
    Json k = j;
    k["model"]["type"] = "Unigram";
    CHECK(load_text(k.dump()) ==
          "t.json: model.type: unsupported 'Unigram' (dssim implements BPE)");
    k = j;
    k["pre_tokenizer"]["pretokenizers"][2]["pattern"]["Regex"] = "(unclosed";
    CHECK(load_text(k.dump()).find("t.json: pre_tokenizer.pretokenizers[2].pattern.Regex: ") == 0);
    k = j;
    k["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
    CHECK(load_text(k.dump()).find(
              "t.json: pre_tokenizer.pretokenizers[0].behavior: unsupported") == 0);
    k = j;
    k["model"]["merges"][5] = "nosuchtoken x";
    CHECK(load_text(k.dump()).find("t.json: model.merges[5]: 'nosuchtoken x'") == 0);
    k = j;
    k["model"]["vocab"].erase("a");
    CHECK(load_text(k.dump()).find("t.json: model.vocab: no token for byte 97") == 0);
    k = j;
    k["added_tokens"][0]["lstrip"] = true;
    CHECK(load_text(k.dump()) ==
          "t.json: added_tokens[0].lstrip: unsupported true (DeepSeek's are false)");
    k = j;
    k.erase("model");
    CHECK(load_text(k.dump()) == "t.json: model: missing");
    // tokenizer_config.json naming a BOS the tokenizer lacks.
    CHECK(error_of([&] {
              (void)Tokenizer::from_json(good, "t.json", R"({"bos_token": "<nope>"})", "c.json");
          }) == "c.json: bos_token: '<nope>' is not a token of tokenizer.json");
    fs::remove_all(dir.parent_path());
}
