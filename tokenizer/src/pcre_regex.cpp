// PCRE2 (8-bit) behind detail::Regex; see pcre_regex.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pcre_regex.h"

#include <pcre2.h>

#include "dssim/base.h"

namespace dssim::tokenizer::detail {

Regex::Regex(const std::string& pattern, bool literal, const std::string& where) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     options, &error, &offset, nullptr);
    if (code == nullptr) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof(message));
        throw InputError(where + ": " + reinterpret_cast<const char*>(message) + " at offset " +
                         std::to_string(offset));
    }
    code_ = code;
    // JIT makes matching several times faster; without it (unsupported CPU) PCRE2 interprets.
    jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
}

Regex::Matcher::Matcher(const Regex& re)
    : re_(re),
      match_data_(
          pcre2_match_data_create_from_pattern(static_cast<pcre2_code*>(re.code_), nullptr)) {
    if (match_data_ == nullptr) throw std::bad_alloc();
    if (re.jit_) {
        // The default 32 KiB JIT stack runs out on long whitespace runs, where `\s+(?!\S)`
        // backtracks one character at a time; 64 MiB covers any prompt dssim can run.
        jit_stack_ = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
        context_ = pcre2_match_context_create(nullptr);
        if (jit_stack_ == nullptr || context_ == nullptr) throw std::bad_alloc();
        pcre2_jit_stack_assign(static_cast<pcre2_match_context*>(context_), nullptr, jit_stack_);
    }
}

Regex::Matcher::~Matcher() {
    pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_));
    pcre2_match_context_free(static_cast<pcre2_match_context*>(context_));
    pcre2_jit_stack_free(static_cast<pcre2_jit_stack*>(jit_stack_));
}

bool Regex::Matcher::find(std::string_view subject, size_t start, size_t& begin, size_t& end) {
    auto* code = static_cast<pcre2_code*>(re_.code_);
    auto* md = static_cast<pcre2_match_data*>(match_data_);
    const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    // The text was validated (and repaired) once before splitting, so PCRE2 need not check it.
    const int rc =
        re_.jit_ ? pcre2_jit_match(code, s, subject.size(), start, 0, md,
                                   static_cast<pcre2_match_context*>(context_))
                 : pcre2_match(code, s, subject.size(), start, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof(message));
        throw std::runtime_error(std::string("PCRE2 match failed: ") +
                                 reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    begin = ov[0];
    end = ov[1];
    return true;
}

}  // namespace dssim::tokenizer::detail
