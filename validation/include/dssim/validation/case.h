// Validation cases as data (configs/validation/*.json): a published figure, its exact
// citation, the tolerance, whether dssim's calibration was read from it, the status the case is
// expected to have, and the setup that reproduces it. load_cases() checks every field and
// throws InputError naming file and field (docs/validation.md, "Case files").
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dssim/base/json_reader.h"

namespace dssim::validation {

enum class CaseKind { Kernel, System };
// What the case is expected to do. `Pass`: a miss fails CI. `KnownGap`: out of tolerance for a
// documented missing mechanism (`explanation`); reported, does not fail. `Pending`: cannot be
// predicted yet (`explanation` says why); not run.
enum class Expected { Pass, KnownGap, Pending };
std::string_view expected_name(Expected e);

// What is measured (fixes the unit the published value must carry).
enum class Metric {
    Tflops,               // achieved matrix TFLOPS of a kernel
    Gbps,                 // achieved memory GB/s of a kernel
    BottleneckGbps,       // collective: bytes over its bottleneck link / time
    LatencyUs,            // collective: time of one call
    TokensPerSecPerNode,  // serving throughput per 8-GPU node
    GpuHoursPerTrillion,  // training cost
    ChunkPairMs,          // training: one DualPipe forward+backward chunk pair
    TableLatencyUs,       // a measured table: per-row call time, judged by the median error
};
std::string_view metric_name(Metric m);
std::string_view metric_unit(Metric m);

struct GemmSetup {
    std::string device;
    int64_t m = 0, n = 0, k = 0;
    std::string dtype = "fp8";
    std::string out_dtype = "bf16";
};
struct GroupedGemmSetup {
    std::string device;
    int64_t groups = 1, m_per_group = 0, n = 0, k = 0;
    std::string dtype = "fp8";
    std::string out_dtype = "bf16";
};
struct AttentionDecodeSetup {
    std::string device;
    int64_t batch = 1, q_len = 1, kv_len = 0, heads = 0, qk_head_dim = 0, v_head_dim = 0;
    double kv_bytes_per_token = 0;
};
// A DeepEP all-to-all benchmark call: `tokens` per rank of `hidden` values routed to `topk` of
// `experts` experts. The benchmark's routing keeps `kept_groups` groups of experts, one group per
// node (DeepEP's tests), from which the top-k are drawn.
struct CollectiveSetup {
    std::string system;
    std::string kind;    // dispatch | combine
    std::string kernel;  // normal | low_latency
    int64_t tokens = 0, hidden = 0, topk = 0, participants = 0, experts = 0, kept_groups = 1;
};
// A measured table of DeepEP calls (aiconfigurator's CSV): every row predicted with its own
// tokens, hidden size, top-k, experts and SMs on `system`; rows are one node of 8 ranks.
struct DeepepTableSetup {
    std::string system;
    std::string kind;         // dispatch | combine
    std::string kernel;       // normal | low_latency
    int64_t min_experts = 1;  // rows of smaller MoEs are left out (and counted)
};
// A measured GEMM table (aiconfigurator's CSV: gemm_dtype, m, n, k, latency in ms): the rows of
// one dtype, each predicted with gemm_time on `device`; rows under `min_flops` are left out.
struct GemmTableSetup {
    std::string device;
    std::string dtype;  // the table's gemm_dtype: fp8_block | bfloat16
    double min_flops = 0;
};
// Serving and training cases name a deployment.
struct DeploymentSetup {
    std::string deployment;
};
using Setup = std::variant<GemmSetup,
                           GroupedGemmSetup,
                           AttentionDecodeSetup,
                           CollectiveSetup,
                           DeploymentSetup,
                           DeepepTableSetup,
                           GemmTableSetup>;

struct Case {
    std::string name;
    std::string file;
    CaseKind kind = CaseKind::Kernel;
    std::string source;    // exact citation of the published value
    double published = 0;  // 0 for table cases (the table holds the measurements)
    // Table cases: the measured table (a CSV; path resolved against the case file's directory).
    std::string table;
    std::string unit;
    double tolerance = 0;  // relative, e.g. 0.15
    bool calibrated = false;
    std::string calibration_note;  // which curve the figure set (calibrated cases)
    Expected expected = Expected::Pass;
    std::string explanation;  // required for KnownGap and Pending
    std::string op;           // setup.op
    Metric metric = Metric::Tflops;
    Setup setup;
    std::string setup_note;
};

// Parses one case file (object with "schema" and "cases"); errors name `file` and the field.
std::vector<Case> parse_case_file(const Json& json, const std::string& file);
// A case file, or every *.json of a directory in name order. Duplicate names are an error.
std::vector<Case> load_cases(const std::filesystem::path& file_or_dir);
// configs/validation.
std::filesystem::path default_case_dir();

}  // namespace dssim::validation
