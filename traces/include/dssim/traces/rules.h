// The kernel classification rule table (configs/kernel-rules/<name>.json): data, not code.
// Each rule is a regular expression over the kernel name (or the trace's own "cat") mapped
// to a category; the first matching rule wins; a kernel no rule matches goes to the table's
// fallback category and is counted and listed as unknown, never dropped. A category says
// which resource of a device its time scales with (compute, memory, network) and gives the
// probe op the cost model times on both devices when the kernel's own work is unknown
// (docs/replay.md, "Work per kernel"). The file also holds the parameters of the cross-stream
// dependency inference.
#pragma once

#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "dssim/base/json_reader.h"

namespace dssim::traces {

enum class Resource { Compute, Memory, Network };
std::string_view resource_name(Resource r);

enum class StreamClass { Compute, Communication };

// The op the cost model times to get a category's speed ratio between two devices.
struct Probe {
    std::string op;  // gemm | grouped_gemm | attention | memory | collective
    // gemm / grouped_gemm
    int64_t m = 0, n = 0, k = 0, groups = 1;
    std::string dtype = "bf16";
    // attention
    std::string phase = "prefill";
    int64_t batch = 1, q_len = 0, kv_len = 0, heads = 0, qk_head_dim = 0, v_head_dim = 0;
    bool causal = true;
    // memory
    double bytes_read = 0, bytes_written = 0;
    // collective
    std::string kind = "all_to_all";
    double bytes = 0;
    int64_t participants = 0;  // 0: the trace's world size, else this
    int64_t members_per_domain = 0;
};

struct Category {
    std::string name;
    std::string description;
    Resource resource = Resource::Memory;
    StreamClass stream_class = StreamClass::Compute;
    // How the model derives this category's work with --model/--deployment ("" = probe only):
    // dense_gemm | expert_gemm | attention | dispatch | combine.
    std::string model_work;
    Probe probe;
};

struct Rule {
    std::string pattern;  // ECMAScript regex, searched in the field
    std::string field;    // "name" or "cat"
    std::string category;
    std::string note;
    std::regex re;
};

// Cross-stream dependency inference (docs/replay.md, "Dependencies").
struct InferenceParams {
    double idle_gap_us = 5;       // a kernel whose stream was idle longer than this before it
    double ended_before_us = 10;  // is attributed to a kernel of another stream that ended
    double ended_after_us = 25;   // up to this long before / after it started (after: compute
                                  // kernels handing over SMs, only between compute classes)
};

struct RuleTable {
    std::string name;
    std::string file;
    std::string description;
    std::vector<Category> categories;  // report order
    std::vector<Rule> rules;
    std::string fallback;  // category of unmatched kernels
    InferenceParams inference;

    // Index of a category by name; InputError naming the file when absent.
    [[nodiscard]] size_t category_index(std::string_view name) const;
    // Category index for a kernel name and source cat; `matched` false when no rule matched.
    [[nodiscard]] size_t classify(std::string_view name, std::string_view cat, bool& matched) const;
};

RuleTable parse_rule_table(const Json& json, const std::string& file);
// Built-in name (configs/kernel-rules/<name>.json) or a path.
RuleTable load_rule_table(std::string_view name_or_path = "default");

}  // namespace dssim::traces
