// libFuzzer target: the streaming trace importer on arbitrary bytes. Any input must either
// import (then classify, infer dependencies and schedule without trouble) or throw
// dssim::InputError; anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dssim/base/error.h"
#include "dssim/traces.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const dssim::traces::RuleTable rules = dssim::traces::load_rule_table("default");
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        dssim::traces::Trace t = dssim::traces::import_trace_text(text, "fuzz");
        dssim::traces::Classification c = dssim::traces::classify(t, rules);
        dssim::traces::Dependencies d = dssim::traces::infer_dependencies(t, c, rules);
        dssim::traces::Schedule s = dssim::traces::recorded_schedule(t, d);
        (void)dssim::traces::measure(t, c, rules, s);
    } catch (const dssim::InputError&) {
        // rejected with a message: fine
    }
    return 0;
}
