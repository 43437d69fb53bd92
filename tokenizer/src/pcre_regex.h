// A compiled PCRE2 regex (UTF + Unicode properties, JIT when available) that lists the matches
// in a byte range, for the Split pre-tokenizers. Private to the tokenizer library.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dssim::tokenizer::detail {

class Regex {
  public:
    // `literal`: match the pattern as plain text (HF's {"String": ...} patterns). Throws
    // InputError "<where>: <PCRE2 message> at offset N" for a pattern PCRE2 rejects.
    Regex(const std::string& pattern, bool literal, const std::string& where);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Per-thread match state (PCRE2 match data).
    class Matcher {
      public:
        explicit Matcher(const Regex& re);
        ~Matcher();
        Matcher(const Matcher&) = delete;
        Matcher& operator=(const Matcher&) = delete;
        // First match in subject[start, size) of the subject subject[0, size) (which must be
        // valid UTF-8); false when there is none. Lookarounds see only the subject.
        bool find(std::string_view subject, size_t start, size_t& begin, size_t& end);

      private:
        const Regex& re_;
        void* match_data_;
        void* context_ = nullptr;  // owns the JIT stack
        void* jit_stack_ = nullptr;
    };

  private:
    void* code_ = nullptr;
    bool jit_ = false;
};

}  // namespace dssim::tokenizer::detail
