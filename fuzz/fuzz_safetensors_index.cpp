// libFuzzer target: the model.safetensors.index.json parser on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dssim/base/error.h"
#include "dssim/models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto index = dssim::models::parse_safetensors_index(
            std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
        for (const auto& [name, file] : index.weight_map) {
            if (file.empty() || file.find('/') != std::string::npos) {
                __builtin_trap();  // shard names must stay inside the directory
            }
        }
    } catch (const dssim::InputError&) {
    }
    return 0;
}
