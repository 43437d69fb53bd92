// libFuzzer target: the tokenizer on arbitrary bytes, with the committed synthetic tokenizer
// (tests/data/tokenizer/tiny). Every input must encode to known ids that decode to the input
// with invalid UTF-8 repaired (docs/tokenizer.md), with and without BOS.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dssim/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using dssim::tokenizer::Tokenizer;
    static const Tokenizer tok = Tokenizer::load(DSSIM_SOURCE_DIR "/tests/data/tokenizer/tiny");
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto ids = tok.encode(text);
    for (int64_t id : ids)
        if (!tok.contains(id)) std::abort();
    if (tok.decode(ids) != dssim::tokenizer::sanitize_utf8(text)) std::abort();
    const auto with_bos = tok.encode(text, true);
    if (with_bos.size() != ids.size() + 1 || with_bos[0] != *tok.bos_id()) std::abort();
    return 0;
}
