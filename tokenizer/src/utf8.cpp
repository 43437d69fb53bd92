// UTF-8 validation with U+FFFD substitution of maximal subparts (Unicode ch. 3, "U+FFFD
// Substitution of Maximal Subparts"; the WHATWG decoder follows it), so a byte string gives the
// same text here as in Python, JavaScript and Rust.
#include <string>
#include <string_view>

#include "dssim/tokenizer/tokenizer.h"

namespace dssim::tokenizer {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid sequence at text[i], or 0 with `consumed` set to the length of the
// maximal invalid subpart (at least 1).
size_t valid_length(std::string_view text, size_t i, size_t& consumed) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) return 1;
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        consumed = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; ++k) {
        if (i + k >= text.size()) {
            consumed = k;
            return 0;
        }
        const auto b = static_cast<unsigned char>(text[i + k]);
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) {
            consumed = k;
            return 0;
        }
    }
    return need + 1;
}

}  // namespace

size_t find_invalid_utf8(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        size_t consumed = 0;
        const size_t n = valid_length(text, i, consumed);
        if (n == 0) return i;
        i += n;
    }
    return std::string::npos;
}

std::string sanitize_utf8(std::string_view text, size_t* first_invalid) {
    if (first_invalid) *first_invalid = std::string::npos;
    std::string out;
    size_t copied = 0;  // text[copied, i) is valid and not yet appended
    size_t i = 0;
    while (i < text.size()) {
        // ASCII fast path.
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        size_t consumed = 0;
        const size_t n = valid_length(text, i, consumed);
        if (n > 0) {
            i += n;
            continue;
        }
        if (first_invalid && *first_invalid == std::string::npos) *first_invalid = i;
        if (out.empty()) out.reserve(text.size() + 16);
        out.append(text.substr(copied, i - copied));
        out.append(kReplacement);
        i += consumed;
        copied = i;
    }
    if (copied == 0) return std::string(text);
    out.append(text.substr(copied));
    return out;
}

}  // namespace dssim::tokenizer
