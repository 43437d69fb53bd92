// The comparison engine of `dssim check`: per-tensor error statistics of a candidate against a
// golden file, tolerance verdicts, logits agreement and the first diverging tensor in
// execution order. Tolerance profiles live in configs/check-profiles.json and are derived in
// docs/numerics.md ("Tolerance profiles").
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dssim/golden/golden_reader.h"
#include "dssim/golden/tensor.h"

namespace dssim::golden {

// An element passes iff |c - g| <= atol + atol_rms * rms(golden tensor) + rtol * |g|
// (both finite), or both are NaN, or both are the same infinity.
struct Tolerance {
    std::string profile;  // profile name, or "custom"
    double rtol = 0.0;
    double atol = 0.0;
    double atol_rms = 0.0;
};

struct ToleranceProfile {
    std::string name;
    std::string description;
    Tolerance tolerance;
};

// Reads a profile file ({"profiles": {name: {"description", "rtol", "atol", "atol_rms",
// "derivation"}}}); the default is configs/check-profiles.json.
std::vector<ToleranceProfile> load_profiles(const std::filesystem::path& file);
std::filesystem::path default_profiles_path();
// Throws InputError listing the available names if `name` is unknown.
Tolerance find_profile(const std::vector<ToleranceProfile>& profiles, const std::string& name);

struct LogitsAgreement {
    int64_t rows = 0;
    int64_t top1_agree = 0;        // rows whose argmax matches (ties: lowest index)
    double top5_overlap = 0.0;     // mean over rows of |top5(g) & top5(c)| / 5
    int64_t top5_overlap_min = 0;  // smallest |top5(g) & top5(c)| over rows
};

struct TensorReport {
    std::string name;
    int64_t order = -1;
    ElemType golden_type = ElemType::F32;
    ElemType candidate_type = ElemType::F32;
    std::vector<int64_t> shape;
    int64_t elements = 0;
    int64_t mismatches = 0;  // elements outside tolerance (NaN/inf disagreements included)
    int64_t nonfinite = 0;   // of which: NaN or inf in one of the two only
    int64_t differing = 0;   // elements not bit-identical in the golden's type
    double max_abs = 0.0;    // over finite pairs
    double max_rel = 0.0;    // over finite pairs with g != 0
    double cosine = 1.0;     // over finite pairs
    // Distances between ordered bit patterns in the golden's type (pairs with no NaN);
    // p50/p99 by nearest rank.
    uint64_t ulp_p50 = 0;
    uint64_t ulp_p99 = 0;
    uint64_t ulp_max = 0;
    // for "logits", "mtp_logits" and <..>head tensors of rank 2
    std::optional<LogitsAgreement> logits;
    [[nodiscard]] bool pass() const { return mismatches == 0; }
};

struct CheckReport {
    std::string golden;
    std::string candidate;
    Tolerance tolerance;
    std::vector<TensorReport> tensors;  // execution order ("logits", "mtp_logits" last)
    int64_t golden_tensors = 0;         // comparable tensors in the golden file
    // Golden tensors the candidate does not provide, in execution order. A candidate may cover
    // any subset, so these are reported ("missing") but do not fail the check.
    std::vector<std::string> missing;
    std::optional<size_t> first_divergence;  // first tensor outside tolerance
    std::optional<size_t> first_difference;  // first tensor with any differing element
    [[nodiscard]] bool pass() const { return !first_divergence.has_value(); }
    [[nodiscard]] nlohmann::ordered_json to_json() const;
    [[nodiscard]] std::string table() const;
};

// Compares one tensor (shapes must already agree). Unsigned candidates without a declared
// type are read as the golden's 16/8-bit float type (bf16/e4m3/...), as the golden stores them.
TensorReport compare_tensor(const HostTensor& golden,
                            const HostTensor& candidate,
                            const Tolerance& tolerance);

// Candidate names are looked up through `name_map` (candidate -> golden name) first. Throws
// InputError for a candidate tensor with no golden counterpart, a map entry naming no
// candidate tensor, two candidates for one golden tensor, a shape mismatch, or no tensors.
CheckReport compare(const GoldenFile& golden,
                    std::vector<HostTensor> candidates,
                    const std::map<std::string, std::string>& name_map,
                    const Tolerance& tolerance,
                    const std::string& candidate_path,
                    int threads = 1);

// Reads a --map file: a JSON object of candidate name -> golden name.
std::map<std::string, std::string> load_name_map(const std::filesystem::path& file);

}  // namespace dssim::golden
