// Byte-level BPE as HF `tokenizers` runs DeepSeek's tokenizer.json (docs/tokenizer.md):
//   added tokens (leftmost-longest) -> Split pre-tokenizers in sequence -> BPE per piece.
// BPE works on raw bytes: the vocabulary's byte-level strings (GPT-2's bytes_to_unicode
// alphabet) are mapped back to bytes at load time, so encoding never builds the mapped text.
#include "dssim/tokenizer/tokenizer.h"

#include <algorithm>
#include <array>
#include <memory>
#include <queue>
#include <unordered_map>

#include "dssim/base.h"
#include "pcre_regex.h"

namespace dssim::tokenizer {

namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order.
std::array<uint32_t, 256> byte_to_codepoint() {
    std::array<uint32_t, 256> map{};
    uint32_t extra = 0;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        map[b] = printable ? b : 256 + extra++;
    }
    return map;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// A byte-level vocabulary string back to the bytes it stands for. Characters outside the
// byte-level alphabet keep their UTF-8 bytes (HF's ByteLevel decoder does the same).
std::string byte_level_to_bytes(std::string_view s) {
    static const auto inverse = [] {
        std::array<int, 324> inv{};
        inv.fill(-1);
        const auto fwd = byte_to_codepoint();
        for (int b = 0; b < 256; ++b)
            inv[fwd[b]] = b;
        return inv;
    }();
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        n = std::min(n, s.size() - i);
        uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
        for (size_t k = 1; k < n; ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        if (cp < inverse.size() && inverse[cp] >= 0) {
            out += static_cast<char>(inverse[cp]);
        } else {
            out.append(s.substr(i, n));
        }
        i += n;
    }
    return out;
}

// Merge ranks keyed by the pair of symbol ids: open addressing, linear probing. Looked up for
// every adjacent pair of every piece, so it is the hot path of BPE.
class MergeTable {
  public:
    struct Merge {
        int32_t rank;
        int32_t id;  // the merged symbol
    };
    void reserve(size_t n) {
        size_t cap = 16;
        while (cap < n * 2)
            cap <<= 1;
        keys_.assign(cap, kEmpty);
        values_.assign(cap, Merge{-1, -1});
        mask_ = cap - 1;
    }
    // Keeps the first (best-ranked) merge of a pair.
    void insert(int32_t a, int32_t b, Merge m) {
        const uint64_t key = pack(a, b);
        for (size_t i = hash(key);; i = (i + 1) & mask_) {
            if (keys_[i] == key) return;
            if (keys_[i] == kEmpty) {
                keys_[i] = key;
                values_[i] = m;
                return;
            }
        }
    }
    [[nodiscard]] const Merge* find(int32_t a, int32_t b) const {
        const uint64_t key = pack(a, b);
        for (size_t i = hash(key);; i = (i + 1) & mask_) {
            if (keys_[i] == key) return &values_[i];
            if (keys_[i] == kEmpty) return nullptr;
        }
    }

  private:
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    static uint64_t pack(int32_t a, int32_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }
    [[nodiscard]] size_t hash(uint64_t key) const {
        return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 17) & mask_;
    }
    std::vector<uint64_t> keys_;
    std::vector<Merge> values_;
    size_t mask_ = 0;
};

// Added tokens as a byte trie; match() finds the longest token starting at a position.
class AddedTrie {
  public:
    void add(std::string_view content, int32_t id) {
        if (content.empty()) return;
        first_[static_cast<unsigned char>(content[0])] = true;
        uint32_t node = 0;
        for (char ch : content) {
            const uint64_t key =
                (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(ch);
            auto it = edges_.find(key);
            if (it == edges_.end()) {
                it = edges_.emplace(key, static_cast<uint32_t>(ids_.size())).first;
                ids_.push_back(-1);
            }
            node = it->second;
        }
        if (ids_[node] < 0) ids_[node] = id;  // the first of duplicate contents wins
    }
    [[nodiscard]] bool empty() const { return ids_.size() == 1; }
    [[nodiscard]] bool may_start(unsigned char c) const { return first_[c]; }
    // Length of the longest token at text[i] (0: none) and its id.
    size_t match(std::string_view text, size_t i, int32_t& id) const {
        uint32_t node = 0;
        size_t best = 0;
        for (size_t k = i; k < text.size(); ++k) {
            const uint64_t key =
                (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[k]);
            auto it = edges_.find(key);
            if (it == edges_.end()) break;
            node = it->second;
            if (ids_[node] >= 0) {
                best = k + 1 - i;
                id = ids_[node];
            }
        }
        return best;
    }

  private:
    std::unordered_map<uint64_t, uint32_t> edges_;
    std::vector<int32_t> ids_{-1};  // per node: the token ending here, or -1
    std::array<bool, 256> first_{};
};

// One pre-tokenizer stage of the Sequence (only what DeepSeek's tokenizer.json uses).
struct Stage {
    std::unique_ptr<detail::Regex> regex;  // Split, behavior Isolated
};

struct Entry {
    std::string bytes;  // vocabulary tokens: the raw bytes; added tokens: the content
    bool present = false;
    bool added = false;
    bool special = false;
};

// Field access that names the file and the JSON path in errors.
struct Reader {
    std::string file;
    [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
        throw_input_error(file, path, problem);
    }
    const Json& get(const Json& obj, const std::string& path, const char* key) const {
        if (!obj.is_object()) fail(path, "expected an object");
        auto it = obj.find(key);
        if (it == obj.end()) fail(join(path, key), "missing");
        return *it;
    }
    std::string string(const Json& obj, const std::string& path, const char* key) const {
        const Json& v = get(obj, path, key);
        if (!v.is_string()) fail(join(path, key), "expected a string");
        return v.get<std::string>();
    }
    bool boolean_or(const Json& obj, const std::string& path, const char* key, bool dflt) const {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return dflt;
        if (!it->is_boolean()) fail(join(path, key), "expected true or false");
        return it->get<bool>();
    }
    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }
};

}  // namespace

struct Tokenizer::Impl {
    std::string file;
    TokenizerConfig config;
    std::vector<Entry> entries;  // by id
    std::unordered_map<std::string, int32_t> by_content;
    std::vector<AddedToken> added;
    AddedTrie trie;
    std::vector<Stage> stages;
    std::array<int32_t, 256> byte_id{};
    MergeTable merges;
    std::optional<int64_t> bos, eos;

    void parse(const Json& root, const Reader& r);
    void parse_pre_tokenizer(const Json& pt, const std::string& path, const Reader& r);
    void parse_model(const Json& model, const Reader& r);
    void parse_config(const Json& cfg, const Reader& r);

    // Per-call state: regex match data, BPE scratch and a cache of pieces already seen.
    struct Scratch {
        std::vector<std::unique_ptr<detail::Regex::Matcher>> matchers;
        struct Sym {
            int32_t id, prev, next;
        };
        std::vector<Sym> syms;
        std::vector<uint64_t> heap;
        std::unordered_map<std::string, std::vector<int32_t>> cache;
    };
    void split(std::string_view text,
               size_t stage,
               size_t begin,
               size_t end,
               Scratch& s,
               std::vector<int64_t>& out) const;
    void bpe(std::string_view piece, Scratch& s, std::vector<int64_t>& out) const;
    void bpe_uncached(std::string_view piece, Scratch& s, std::vector<int32_t>& out) const;
};

void Tokenizer::Impl::parse_pre_tokenizer(const Json& pt,
                                          const std::string& path,
                                          const Reader& r) {
    if (pt.is_null()) return;
    const std::string type = r.string(pt, path, "type");
    if (type == "Sequence") {
        const Json& list = r.get(pt, path, "pretokenizers");
        if (!list.is_array()) r.fail(path + ".pretokenizers", "expected an array");
        for (size_t i = 0; i < list.size(); ++i) {
            parse_pre_tokenizer(list[i], path + ".pretokenizers[" + std::to_string(i) + "]", r);
        }
    } else if (type == "Split") {
        const std::string behavior = r.string(pt, path, "behavior");
        if (behavior != "Isolated") {
            r.fail(path + ".behavior",
                   "unsupported '" + behavior + "' (dssim implements Isolated, as DeepSeek uses)");
        }
        if (r.boolean_or(pt, path, "invert", false)) r.fail(path + ".invert", "unsupported true");
        const Json& pattern = r.get(pt, path, "pattern");
        const std::string ppath = path + ".pattern";
        Stage st;
        if (pattern.is_object() && pattern.contains("Regex")) {
            st.regex = std::make_unique<detail::Regex>(r.string(pattern, ppath, "Regex"), false,
                                                       r.file + ": " + ppath + ".Regex");
        } else if (pattern.is_object() && pattern.contains("String")) {
            st.regex = std::make_unique<detail::Regex>(r.string(pattern, ppath, "String"), true,
                                                       r.file + ": " + ppath + ".String");
        } else {
            r.fail(ppath, "expected {\"Regex\": ...} or {\"String\": ...}");
        }
        stages.push_back(std::move(st));
    } else if (type == "ByteLevel") {
        // Without its own regex and prefix space the ByteLevel pre-tokenizer only maps bytes to
        // the byte-level alphabet, which dssim's BPE on raw bytes does not need.
        if (r.boolean_or(pt, path, "add_prefix_space", true)) {
            r.fail(path + ".add_prefix_space", "unsupported true (DeepSeek's is false)");
        }
        if (r.boolean_or(pt, path, "use_regex", true)) {
            r.fail(path + ".use_regex", "unsupported true (DeepSeek's is false)");
        }
    } else {
        r.fail(path + ".type", "unsupported pre-tokenizer '" + type +
                                   "' (dssim implements DeepSeek's Sequence of Split and "
                                   "ByteLevel)");
    }
}

void Tokenizer::Impl::parse_model(const Json& model, const Reader& r) {
    const std::string type = r.string(model, "model", "type");
    if (type != "BPE") r.fail("model.type", "unsupported '" + type + "' (dssim implements BPE)");
    if (r.boolean_or(model, "model", "byte_fallback", false)) {
        r.fail("model.byte_fallback", "unsupported true");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        auto it = model.find(key);
        if (it != model.end() && !it->is_null() &&
            !(it->is_string() && it->get_ref<const std::string&>().empty())) {
            r.fail(std::string("model.") + key, "unsupported (DeepSeek's is null)");
        }
    }
    const Json& vocab = r.get(model, "model", "vocab");
    if (!vocab.is_object()) r.fail("model.vocab", "expected an object of token: id");
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
            it.value().get<int64_t>() >= (int64_t{1} << 30)) {
            r.fail("model.vocab." + it.key(), "expected a non-negative integer id");
        }
        const auto id = it.value().get<int64_t>();
        if (static_cast<size_t>(id) >= entries.size()) entries.resize(id + 1);
        Entry& e = entries[id];
        e.bytes = byte_level_to_bytes(it.key());
        e.present = true;
        by_content.emplace(e.bytes, static_cast<int32_t>(id));
    }
    const auto fwd = byte_to_codepoint();
    for (int b = 0; b < 256; ++b) {
        const std::string single(1, static_cast<char>(b));
        auto it = by_content.find(single);
        if (it == by_content.end()) {
            std::string mapped;
            append_utf8(mapped, fwd[b]);
            r.fail("model.vocab", "no token for byte " + std::to_string(b) + " ('" + mapped +
                                      "'): a byte-level BPE vocabulary has all 256");
        }
        byte_id[b] = it->second;
    }
    const Json& merge_list = r.get(model, "model", "merges");
    if (!merge_list.is_array()) r.fail("model.merges", "expected an array");
    merges.reserve(merge_list.size());
    for (size_t i = 0; i < merge_list.size(); ++i) {
        const Json& m = merge_list[i];
        const std::string where = "model.merges[" + std::to_string(i) + "]";
        std::string left, right;
        // Two forms: "a b" (older files, DeepSeek's) and ["a", "b"].
        if (m.is_string()) {
            const auto& s = m.get_ref<const std::string&>();
            const size_t space = s.find(' ', 1);
            if (space == std::string::npos) r.fail(where, "expected \"left right\"");
            left = s.substr(0, space);
            right = s.substr(space + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            left = m[0].get<std::string>();
            right = m[1].get<std::string>();
        } else {
            r.fail(where, "expected \"left right\" or [left, right]");
        }
        const std::string lb = byte_level_to_bytes(left), rb = byte_level_to_bytes(right);
        auto a = by_content.find(lb), b = by_content.find(rb), c = by_content.find(lb + rb);
        if (a == by_content.end() || b == by_content.end() || c == by_content.end()) {
            r.fail(where, "'" + left + " " + right +
                              "': a part or the merged token is not in "
                              "model.vocab");
        }
        merges.insert(a->second, b->second, {static_cast<int32_t>(i), c->second});
    }
}

void Tokenizer::Impl::parse(const Json& root, const Reader& r) {
    if (!root.is_object()) r.fail("", "expected a JSON object");
    if (auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
        const std::string type = r.string(*it, "normalizer", "type");
        const bool empty_sequence = type == "Sequence" && it->contains("normalizers") &&
                                    (*it)["normalizers"].is_array() && (*it)["normalizers"].empty();
        if (!empty_sequence) {
            r.fail("normalizer", "unsupported '" + type + "' (DeepSeek's is an empty Sequence)");
        }
    }
    parse_pre_tokenizer(r.get(root, "", "pre_tokenizer"), "pre_tokenizer", r);
    parse_model(r.get(root, "", "model"), r);
    if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
        const std::string type = r.string(*it, "decoder", "type");
        if (type != "ByteLevel") {
            r.fail("decoder.type", "unsupported '" + type + "' (dssim implements ByteLevel)");
        }
    }
    // The post-processor only adds offsets (ByteLevel) or tokens dssim adds from
    // tokenizer_config.json (BOS), so it is not read.
    if (auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
        if (!it->is_array()) r.fail("added_tokens", "expected an array");
        for (size_t i = 0; i < it->size(); ++i) {
            const Json& t = (*it)[i];
            const std::string path = "added_tokens[" + std::to_string(i) + "]";
            const Json& idv = r.get(t, path, "id");
            if (!idv.is_number_integer() || idv.get<int64_t>() < 0 ||
                idv.get<int64_t>() >= (int64_t{1} << 30)) {
                r.fail(path + ".id", "expected a non-negative integer");
            }
            AddedToken a;
            a.id = idv.get<int64_t>();
            a.content = r.string(t, path, "content");
            a.special = r.boolean_or(t, path, "special", false);
            for (const char* flag : {"single_word", "lstrip", "rstrip"}) {
                if (r.boolean_or(t, path, flag, false)) {
                    r.fail(path + "." + flag, "unsupported true (DeepSeek's are false)");
                }
            }
            if (a.content.empty()) r.fail(path + ".content", "must not be empty");
            if (static_cast<size_t>(a.id) >= entries.size()) entries.resize(a.id + 1);
            Entry& e = entries[a.id];
            e.bytes = a.content;
            e.present = e.added = true;
            e.special = a.special;
            trie.add(a.content, static_cast<int32_t>(a.id));
            added.push_back(std::move(a));
        }
    }
}

void Tokenizer::Impl::parse_config(const Json& cfg, const Reader& r) {
    if (!cfg.is_object()) r.fail("", "expected a JSON object");
    // A token is a string or {"__type": "AddedToken", "content": ...}.
    auto token = [&](const char* key) -> std::string {
        auto it = cfg.find(key);
        if (it == cfg.end() || it->is_null()) return "";
        if (it->is_string()) return it->get<std::string>();
        if (it->is_object()) return r.string(*it, key, "content");
        r.fail(key, "expected a string or an object with \"content\"");
    };
    config.bos_token = token("bos_token");
    config.eos_token = token("eos_token");
    config.add_bos_token = r.boolean_or(cfg, "", "add_bos_token", false);
    if (auto it = cfg.find("chat_template"); it != cfg.end() && !it->is_null()) {
        if (it->is_string()) {
            config.chat_template = it->get<std::string>();
        } else if (it->is_array()) {  // [{"name": "default", "template": ...}, ...]
            for (const Json& t : *it) {
                if (t.is_object() && t.value("name", "") == "default" && t.contains("template") &&
                    t["template"].is_string()) {
                    config.chat_template = t["template"].get<std::string>();
                }
            }
        } else {
            r.fail("chat_template", "expected a string");
        }
    }
    auto lookup = [&](const std::string& content, const char* key) -> std::optional<int64_t> {
        if (content.empty()) return std::nullopt;
        auto it = by_content.find(content);
        for (const auto& a : added)
            if (a.content == content) return a.id;
        if (it != by_content.end()) return it->second;
        r.fail(key, "'" + content + "' is not a token of tokenizer.json");
    };
    bos = lookup(config.bos_token, "bos_token");
    eos = lookup(config.eos_token, "eos_token");
    if (config.add_bos_token && !bos) r.fail("add_bos_token", "true but there is no bos_token");
}

void Tokenizer::Impl::bpe_uncached(std::string_view piece,
                                   Scratch& s,
                                   std::vector<int32_t>& out) const {
    const auto n = static_cast<int32_t>(piece.size());
    auto& syms = s.syms;
    syms.resize(piece.size());
    for (int32_t i = 0; i < n; ++i) {
        syms[i] = {byte_id[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
    }
    // Min-heap of (rank, position of the left symbol): the best-ranked pair merges first, the
    // leftmost among equals, exactly as HF's Word::merge_all.
    auto& heap = s.heap;
    heap.clear();
    auto push = [&](int32_t pos) {
        const int32_t nx = syms[pos].next;
        if (nx < 0) return;
        if (const auto* m = merges.find(syms[pos].id, syms[nx].id)) {
            heap.push_back((static_cast<uint64_t>(m->rank) << 32) | static_cast<uint32_t>(pos));
            std::push_heap(heap.begin(), heap.end(), std::greater<>());
        }
    };
    for (int32_t i = 0; i + 1 < n; ++i)
        push(i);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>());
        const uint64_t top = heap.back();
        heap.pop_back();
        const auto rank = static_cast<int32_t>(top >> 32);
        const auto pos = static_cast<int32_t>(top & 0xFFFFFFFFu);
        Scratch::Sym& sym = syms[pos];
        if (sym.id < 0 || sym.next < 0) continue;  // merged away, or now the last symbol
        const auto* m = merges.find(sym.id, syms[sym.next].id);
        if (m == nullptr || m->rank != rank) continue;  // stale: a neighbour changed
        const int32_t gone = sym.next;
        sym.id = m->id;
        sym.next = syms[gone].next;
        syms[gone].id = -1;
        if (sym.next >= 0) syms[sym.next].prev = pos;
        if (sym.prev >= 0) push(sym.prev);
        push(pos);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next)
        out.push_back(syms[i].id);
}

void Tokenizer::Impl::bpe(std::string_view piece, Scratch& s, std::vector<int64_t>& out) const {
    if (piece.size() == 1) {
        out.push_back(byte_id[static_cast<unsigned char>(piece[0])]);
        return;
    }
    // Whole pieces that are vocabulary tokens are common (words with their space); BPE would
    // rebuild them, but only through the merges, so the cache, not a vocabulary shortcut, is
    // what saves the time (a shortcut could differ from the merges' result).
    constexpr size_t kCacheable = 64;
    if (piece.size() <= kCacheable) {
        auto it = s.cache.find(std::string(piece));
        if (it == s.cache.end()) {
            std::vector<int32_t> ids;
            bpe_uncached(piece, s, ids);
            if (s.cache.size() > 200000) s.cache.clear();
            it = s.cache.emplace(std::string(piece), std::move(ids)).first;
        }
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
    }
    std::vector<int32_t> ids;
    bpe_uncached(piece, s, ids);
    out.insert(out.end(), ids.begin(), ids.end());
}

// Splits text[begin, end) with stage `stage` (Isolated: matches and the gaps between them are
// pieces) and passes every piece on to the next stage; after the last, BPE.
void Tokenizer::Impl::split(std::string_view text,
                            size_t stage,
                            size_t begin,
                            size_t end,
                            Scratch& s,
                            std::vector<int64_t>& out) const {
    if (begin == end) return;
    if (stage == stages.size()) {
        bpe(text.substr(begin, end - begin), s, out);
        return;
    }
    // The regex sees only this piece: HF runs each stage on the pieces of the previous one, so
    // a lookahead such as \s+(?!\S) stops at the piece's end.
    const std::string_view piece = text.substr(begin, end - begin);
    auto& matcher = *s.matchers[stage];
    size_t pos = 0, mb = 0, me = 0;
    while (pos < piece.size() && matcher.find(piece, pos, mb, me)) {
        if (me == mb) {  // an empty match splits nothing; step over one character
            size_t next = mb + 1;
            while (next < piece.size() && (static_cast<unsigned char>(piece[next]) & 0xC0) == 0x80)
                ++next;
            if (next >= piece.size()) break;
            split(text, stage + 1, begin + pos, begin + next, s, out);
            pos = next;
            continue;
        }
        split(text, stage + 1, begin + pos, begin + mb, s, out);
        split(text, stage + 1, begin + mb, begin + me, s, out);
        pos = me;
    }
    split(text, stage + 1, begin + pos, end, s, out);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json,
                               std::string_view origin,
                               std::string_view config_json,
                               std::string_view config_origin) {
    auto impl = std::make_unique<Impl>();
    impl->file = std::string(origin);
    const Json root = parse_json_text(tokenizer_json, origin);
    impl->parse(root, Reader{std::string(origin)});
    if (!config_json.empty()) {
        const Json cfg = parse_json_text(config_json, config_origin);
        impl->parse_config(cfg, Reader{std::string(config_origin)});
    }
    return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load(const std::filesystem::path& dir) {
    const auto tj = dir / "tokenizer.json";
    if (!std::filesystem::is_regular_file(tj)) {
        throw_input_error(tj.string(), "",
                          "missing: text prompts need the checkpoint's tokenizer (or --tokenizer "
                          "DIR)");
    }
    const auto tc = dir / "tokenizer_config.json";
    const std::string config = std::filesystem::is_regular_file(tc) ? read_file(tc) : std::string();
    return from_json(read_file(tj), tj.string(), config, tc.string());
}

std::vector<int64_t> Tokenizer::encode(std::string_view input, bool add_bos) const {
    const Impl& m = *impl_;
    std::vector<int64_t> out;
    if (add_bos) {
        if (!m.bos) throw InputError(m.file + ": no bos_token (tokenizer_config.json) to add");
        out.push_back(*m.bos);
    }
    // Valid text (the common case) is used in place; only invalid text is copied and repaired.
    std::string repaired;
    if (find_invalid_utf8(input) != std::string::npos) repaired = sanitize_utf8(input);
    const std::string_view text = repaired.empty() ? input : std::string_view(repaired);
    out.reserve(out.size() + text.size() / 3);

    Impl::Scratch s;
    for (const auto& st : m.stages)
        s.matchers.push_back(std::make_unique<detail::Regex::Matcher>(*st.regex));
    // Added and special tokens first: leftmost, longest at that position.
    size_t start = 0;
    if (!m.trie.empty()) {
        for (size_t i = 0; i < text.size(); ++i) {
            if (!m.trie.may_start(static_cast<unsigned char>(text[i]))) continue;
            int32_t id = -1;
            const size_t len = m.trie.match(text, i, id);
            if (len == 0) continue;
            m.split(text, 0, start, i, s, out);
            out.push_back(id);
            start = i + len;
            i = start - 1;
        }
    }
    m.split(text, 0, start, text.size(), s, out);
    return out;
}

std::string Tokenizer::decode(std::span<const int64_t> ids, bool skip_special) const {
    const Impl& m = *impl_;
    std::string bytes;
    for (int64_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= m.entries.size()) continue;
        const Entry& e = m.entries[id];
        if (!e.present || (skip_special && e.special)) continue;
        bytes += e.bytes;
    }
    return sanitize_utf8(bytes);
}

bool Tokenizer::contains(int64_t id) const {
    return id >= 0 && static_cast<size_t>(id) < impl_->entries.size() && impl_->entries[id].present;
}
int64_t Tokenizer::size() const {
    return static_cast<int64_t>(impl_->entries.size());
}
const TokenizerConfig& Tokenizer::config() const {
    return impl_->config;
}
std::optional<int64_t> Tokenizer::bos_id() const {
    return impl_->bos;
}
std::optional<int64_t> Tokenizer::eos_id() const {
    return impl_->eos;
}
const std::vector<AddedToken>& Tokenizer::added_tokens() const {
    return impl_->added;
}
std::optional<int64_t> Tokenizer::token_id(std::string_view content) const {
    for (const auto& a : impl_->added)
        if (a.content == content) return a.id;
    auto it = impl_->by_content.find(std::string(content));
    if (it != impl_->by_content.end()) return it->second;
    return std::nullopt;
}

}  // namespace dssim::tokenizer
