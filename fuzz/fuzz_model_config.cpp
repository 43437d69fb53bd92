// libFuzzer target: the model config parser (HF config.json and demo ModelArgs) on arbitrary
// text. Accepted configs must round-trip through the HF writer unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/models/model_config.h"
#include "dssim/models/tensor_inventory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace dssim;
    try {
        Json j = parse_json_text(std::string_view(reinterpret_cast<const char*>(data), size),
                                 "fuzz.json");
        models::ModelConfig c = models::model_config_from_json(j, "fuzz.json");
        models::ModelConfig back = models::model_config_from_json(
            parse_json_text(models::model_config_to_json(c).dump(), "rt.json"), "rt.json");
        if (!(back == c)) {
            __builtin_trap();
        }
        // Small accepted configs also get their tensor inventory built.
        if (c.stored_layers() * (c.n_routed_experts + 8) < 4096) {
            (void)models::tensor_inventory(c);
        }
    } catch (const InputError&) {
    }
    return 0;
}
