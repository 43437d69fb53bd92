// libFuzzer target: the safetensors file parser on arbitrary bytes. Any outcome other than a
// parsed header or an InputError (crash, sanitizer report, other exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "dssim/base/error.h"
#include "dssim/models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto h = dssim::models::parse_safetensors(
            std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz");
        // A header that passed validation describes bytes inside the input.
        for (const auto& t : h.tensors) {
            if (t.end > h.data_size || t.begin > t.end) {
                __builtin_trap();
            }
        }
    } catch (const dssim::InputError&) {
    }
    return 0;
}
