// Comparison engine: error statistics per tensor, tolerance verdicts and the report.
#include "dssim/golden/compare.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>

#include "dssim/base/error.h"
#include "dssim/base/json_reader.h"
#include "dssim/base/parallel.h"
#include "dssim/base/paths.h"

namespace dssim::golden {

// ---- profiles ------------------------------------------------------------------------------

std::filesystem::path default_profiles_path() {
    return config_dir() / "check-profiles.json";
}

std::vector<ToleranceProfile> load_profiles(const std::filesystem::path& file) {
    const Json root = load_json_file(file);
    const std::string fn = file.string();
    if (!root.is_object()) throw_input_error(fn, "", "expected a JSON object");
    JsonFields top(root, fn);
    top.ignore({"$comment"});
    JsonFields list = top.object("profiles");
    std::vector<ToleranceProfile> out;
    for (const auto& [name, value] : list.json().items()) {
        JsonFields p = list.object(name);
        ToleranceProfile profile;
        profile.name = name;
        profile.description = p.string("description");
        profile.tolerance.profile = name;
        profile.tolerance.rtol = p.number("rtol");
        profile.tolerance.atol = p.number("atol");
        profile.tolerance.atol_rms = p.number("atol_rms");
        for (double v :
             {profile.tolerance.rtol, profile.tolerance.atol, profile.tolerance.atol_rms}) {
            if (!(v >= 0.0)) p.fail("rtol", "tolerances must be >= 0");
        }
        p.ignore({"derivation"});
        p.reject_unknown();
        out.push_back(std::move(profile));
    }
    top.reject_unknown();
    return out;
}

Tolerance find_profile(const std::vector<ToleranceProfile>& profiles, const std::string& name) {
    std::string names;
    for (const auto& p : profiles) {
        if (p.name == name) return p.tolerance;
        names += (names.empty() ? "" : ", ") + p.name;
    }
    throw_input_error("--profile", name, "unknown tolerance profile (available: " + names + ")");
}

std::map<std::string, std::string> load_name_map(const std::filesystem::path& file) {
    const Json root = load_json_file(file);
    const std::string fn = file.string();
    if (!root.is_object()) throw_input_error(fn, "", "expected a JSON object {candidate: golden}");
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : root.items()) {
        if (!value.is_string())
            throw_input_error(fn, key, "expected a golden tensor name (string)");
        out[key] = value.get<std::string>();
    }
    return out;
}

// ---- element comparison --------------------------------------------------------------------

namespace {

// A value's bit pattern in a float format as (sign, magnitude bits): adjacent representable
// values have adjacent magnitudes, so ULP distance is a difference of ordered integers.
struct Ordered {
    bool negative = false;
    uint64_t magnitude = 0;
};

Ordered ordered_float(ElemType type, double v) {
    uint64_t bits = 0;
    int width = 0;
    switch (type) {
        case ElemType::F64:
            bits = std::bit_cast<uint64_t>(v);
            width = 64;
            break;
        case ElemType::F32:
            bits = std::bit_cast<uint32_t>(static_cast<float>(v));
            width = 32;
            break;
        case ElemType::BF16:
            bits = numerics::bf16_from_f32(static_cast<float>(v), numerics::Overflow::Torch);
            width = 16;
            break;
        case ElemType::F16:
            bits = numerics::f16_from_f32(static_cast<float>(v), numerics::Overflow::Torch);
            width = 16;
            break;
        case ElemType::E4M3:
            bits = numerics::e4m3_from_f32(static_cast<float>(v), numerics::Overflow::SatFinite);
            width = 8;
            break;
        case ElemType::E5M2:
            bits = numerics::e5m2_from_f32(static_cast<float>(v), numerics::Overflow::SatFinite);
            width = 8;
            break;
        default:
            break;
    }
    const uint64_t sign_bit = uint64_t{1} << (width - 1);
    return Ordered{(bits & sign_bit) != 0, bits & (sign_bit - 1)};
}

uint64_t ulp_distance(const Ordered& a, const Ordered& b) {
    if (a.negative == b.negative)
        return a.magnitude > b.magnitude ? a.magnitude - b.magnitude : b.magnitude - a.magnitude;
    // Opposite signs: the distance passes through zero (+0 and -0 are the same point).
    const uint64_t sum = a.magnitude + b.magnitude;
    return sum < a.magnitude ? std::numeric_limits<uint64_t>::max() : sum;
}

// Indices of the k largest values, largest first, ties to the lower index; NaN ranks lowest.
std::vector<int64_t> top_k(const HostTensor& t, size_t row, int64_t cols, int64_t k) {
    std::vector<int64_t> idx(static_cast<size_t>(cols));
    std::iota(idx.begin(), idx.end(), 0);
    auto key = [&](int64_t j) {
        const double v = t.value(row * static_cast<size_t>(cols) + static_cast<size_t>(j));
        return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
    };
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
        const double ka = key(a), kb = key(b);
        return ka != kb ? ka > kb : a < b;
    });
    idx.resize(static_cast<size_t>(k));
    return idx;
}

bool is_logits_name(std::string_view name) {
    return name == "logits" || name == "mtp_logits" || name == "head" || name.ends_with("/head") ||
           name.ends_with(".head");
}

LogitsAgreement logits_agreement(const HostTensor& g, const HostTensor& c) {
    LogitsAgreement a;
    const int64_t rows = g.shape[0], cols = g.shape[1];
    a.rows = rows;
    a.top5_overlap_min = rows > 0 ? 5 : 0;
    const int64_t k = std::min<int64_t>(5, cols);
    double overlap_sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
        const auto tg = top_k(g, static_cast<size_t>(r), cols, k);
        const auto tc = top_k(c, static_cast<size_t>(r), cols, k);
        if (!tg.empty() && tg[0] == tc[0]) ++a.top1_agree;
        int64_t common = 0;
        for (int64_t x : tg)
            common += std::count(tc.begin(), tc.end(), x);
        overlap_sum += static_cast<double>(common) / static_cast<double>(std::max<int64_t>(k, 1));
        a.top5_overlap_min = std::min(a.top5_overlap_min, common);
    }
    a.top5_overlap = rows > 0 ? overlap_sum / static_cast<double>(rows) : 1.0;
    return a;
}

uint64_t nearest_rank(std::vector<uint64_t>& v, double p) {
    if (v.empty()) return 0;
    auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    rank = std::clamp<size_t>(rank, 1, v.size()) - 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank), v.end());
    return v[rank];
}

}  // namespace

TensorReport compare_tensor(const HostTensor& golden,
                            const HostTensor& candidate_in,
                            const Tolerance& tol) {
    HostTensor candidate_copy;
    const HostTensor* cand = &candidate_in;
    // A candidate that stored bf16/f16/fp8 as raw unsigned bits (as our own files do, without
    // the "dtype" attribute) is read as the golden's type.
    if (is_float(golden.type) && !is_float(candidate_in.type) &&
        (candidate_in.type == ElemType::U16 || candidate_in.type == ElemType::U8) &&
        elem_size(candidate_in.type) == elem_size(golden.type)) {
        candidate_copy = candidate_in;
        candidate_copy.type = golden.type;
        cand = &candidate_copy;
    }
    const HostTensor& c = *cand;
    TensorReport r;
    r.name = golden.name;
    r.order = golden.order;
    r.golden_type = golden.type;
    r.candidate_type = c.type;
    r.shape = golden.shape;
    r.elements = golden.elements();
    const auto n = static_cast<size_t>(r.elements);
    const bool float_golden = is_float(golden.type);

    double sum_sq = 0.0;
    int64_t finite = 0;
    for (size_t i = 0; i < n; ++i) {
        const double g = golden.value(i);
        if (std::isfinite(g)) {
            sum_sq += g * g;
            ++finite;
        }
    }
    const double rms = finite > 0 ? std::sqrt(sum_sq / static_cast<double>(finite)) : 0.0;
    const double abs_floor = tol.atol + tol.atol_rms * rms;

    std::vector<uint64_t> ulps;
    ulps.reserve(n);
    double dot = 0.0, norm_g = 0.0, norm_c = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double g = golden.value(i);
        const double v = c.value(i);
        const bool gn = std::isnan(g), cn = std::isnan(v);
        if (gn || cn) {
            if (gn != cn) {
                ++r.mismatches;
                ++r.nonfinite;
                ++r.differing;
            }
            continue;
        }
        uint64_t d = 0;
        if (float_golden) {
            d = ulp_distance(ordered_float(golden.type, g), ordered_float(golden.type, v));
        } else {
            const double diff = std::fabs(v - g);
            d = diff >= 1.8e19 ? std::numeric_limits<uint64_t>::max()
                               : static_cast<uint64_t>(std::ceil(diff));
        }
        ulps.push_back(d);
        if (d != 0) ++r.differing;
        if (std::isinf(g) || std::isinf(v)) {
            if (g != v) {
                ++r.mismatches;
                ++r.nonfinite;
            }
            continue;
        }
        const double diff = std::fabs(v - g);
        r.max_abs = std::max(r.max_abs, diff);
        if (g != 0.0) r.max_rel = std::max(r.max_rel, diff / std::fabs(g));
        dot += g * v;
        norm_g += g * g;
        norm_c += v * v;
        const bool bad = float_golden ? diff > abs_floor + tol.rtol * std::fabs(g) : v != g;
        if (bad) ++r.mismatches;
    }
    if (norm_g == 0.0 && norm_c == 0.0) {
        r.cosine = 1.0;
    } else if (norm_g == 0.0 || norm_c == 0.0) {
        r.cosine = 0.0;
    } else {
        r.cosine = dot / std::sqrt(norm_g * norm_c);
    }
    r.ulp_max = ulps.empty() ? 0 : *std::max_element(ulps.begin(), ulps.end());
    r.ulp_p99 = nearest_rank(ulps, 0.99);
    r.ulp_p50 = nearest_rank(ulps, 0.50);
    if (is_logits_name(golden.name) && golden.shape.size() == 2 && golden.shape[1] > 0) {
        r.logits = logits_agreement(golden, c);
    }
    return r;
}

CheckReport compare(const GoldenFile& golden,
                    std::vector<HostTensor> candidates,
                    const std::map<std::string, std::string>& name_map,
                    const Tolerance& tolerance,
                    const std::string& candidate_path,
                    int threads) {
    CheckReport report;
    report.golden = golden.path.string();
    report.candidate = candidate_path;
    report.tolerance = tolerance;
    report.golden_tensors = static_cast<int64_t>(golden.tensors.size());
    if (candidates.empty()) throw_input_error(candidate_path, "", "contains no tensors");

    std::set<std::string> candidate_names;
    for (const auto& t : candidates)
        candidate_names.insert(t.name);
    for (const auto& [from, to] : name_map) {
        if (!candidate_names.contains(from)) {
            throw_input_error(candidate_path, from, "named in --map but not in the candidate");
        }
    }
    // golden index -> candidate
    std::map<size_t, const HostTensor*> pairs;
    for (const auto& t : candidates) {
        const auto it = name_map.find(t.name);
        const std::string& target = it != name_map.end() ? it->second : t.name;
        size_t gi = golden.tensors.size();
        for (size_t i = 0; i < golden.tensors.size(); ++i) {
            if (golden.tensors[i].name == target) gi = i;
        }
        if (gi == golden.tensors.size()) {
            const std::string mapped = target == t.name ? "" : " (mapped to '" + target + "')";
            throw_input_error(candidate_path, t.name,
                              "tensor" + mapped + " not found in golden " + report.golden);
        }
        if (pairs.contains(gi)) {
            throw_input_error(candidate_path, t.name,
                              "second candidate tensor for golden tensor '" + target + "'");
        }
        const HostTensor& g = golden.tensors[gi];
        if (g.shape != t.shape) {
            throw_input_error(candidate_path, t.name,
                              "shape " + shape_string(t.shape) + " does not match golden '" +
                                  g.name + "' " + shape_string(g.shape));
        }
        pairs[gi] = &t;
    }
    // Golden tensors are in execution order, so map order is execution order.
    for (size_t i = 0; i < golden.tensors.size(); ++i) {
        if (!pairs.contains(i)) report.missing.push_back(golden.tensors[i].name);
    }
    std::vector<std::pair<size_t, const HostTensor*>> work(pairs.begin(), pairs.end());
    report.tensors.resize(work.size());
    parallel_for(work.size(), threads, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            report.tensors[i] =
                compare_tensor(golden.tensors[work[i].first], *work[i].second, tolerance);
        }
    });
    for (size_t i = 0; i < report.tensors.size(); ++i) {
        if (!report.first_divergence && !report.tensors[i].pass()) report.first_divergence = i;
        if (!report.first_difference && report.tensors[i].differing > 0) {
            report.first_difference = i;
        }
    }
    return report;
}

// ---- output --------------------------------------------------------------------------------

namespace {
nlohmann::ordered_json number_or_null(double v) {
    if (std::isfinite(v)) return v;
    return nullptr;
}

// Missing golden tensors named in the table; --json lists all.
constexpr size_t kMissingListed = 8;

std::string fmt(double v) {
    char buf[32];
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : "inf";
    std::snprintf(buf, sizeof(buf), "%.3g", v);
    return buf;
}
}  // namespace

nlohmann::ordered_json CheckReport::to_json() const {
    nlohmann::ordered_json j;
    j["golden"] = golden;
    j["candidate"] = candidate;
    j["tolerance"] = {{"profile", tolerance.profile},
                      {"rtol", tolerance.rtol},
                      {"atol", tolerance.atol},
                      {"atol_rms", tolerance.atol_rms}};
    j["golden_tensors"] = golden_tensors;
    j["compared_tensors"] = tensors.size();
    j["missing_tensors"] = missing;
    auto list = nlohmann::ordered_json::array();
    for (const auto& t : tensors) {
        nlohmann::ordered_json e;
        e["name"] = t.name;
        e["order"] = t.order;
        e["golden_dtype"] = elem_type_name(t.golden_type);
        e["candidate_dtype"] = elem_type_name(t.candidate_type);
        e["shape"] = t.shape;
        e["elements"] = t.elements;
        e["max_abs_error"] = number_or_null(t.max_abs);
        e["max_rel_error"] = number_or_null(t.max_rel);
        e["ulp_p50"] = t.ulp_p50;
        e["ulp_p99"] = t.ulp_p99;
        e["ulp_max"] = t.ulp_max;
        e["cosine"] = number_or_null(t.cosine);
        e["mismatches"] = t.mismatches;
        e["nonfinite_mismatches"] = t.nonfinite;
        e["differing"] = t.differing;
        if (t.logits) {
            e["logits"] = {{"rows", t.logits->rows},
                           {"top1_agree", t.logits->top1_agree},
                           {"top5_overlap", t.logits->top5_overlap},
                           {"top5_overlap_min", t.logits->top5_overlap_min}};
        }
        e["pass"] = t.pass();
        list.push_back(std::move(e));
    }
    j["tensors"] = std::move(list);
    j["first_divergence"] = first_divergence
                                ? nlohmann::ordered_json(tensors[*first_divergence].name)
                                : nlohmann::ordered_json(nullptr);
    j["first_difference"] = first_difference
                                ? nlohmann::ordered_json(tensors[*first_difference].name)
                                : nlohmann::ordered_json(nullptr);
    j["pass"] = pass();
    return j;
}

std::string CheckReport::table() const {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof(line),
                  "golden %s (%lld comparable tensors), candidate %s (%zu compared)\n"
                  "tolerance: %s (rtol %g, atol %g, atol_rms %g)\n",
                  golden.c_str(), static_cast<long long>(golden_tensors), candidate.c_str(),
                  tensors.size(), tolerance.profile.c_str(), tolerance.rtol, tolerance.atol,
                  tolerance.atol_rms);
    out += line;
    size_t width = 6;
    for (const auto& t : tensors)
        width = std::max(width, t.name.size());
    std::snprintf(line, sizeof(line), "%5s  %-*s  %-5s %-16s %9s %9s %20s %10s %16s  %s\n", "order",
                  static_cast<int>(width), "tensor", "dtype", "shape", "max_abs", "max_rel",
                  "ulp p50/p99/max", "cosine", "mismatches", "status");
    out += line;
    for (const auto& t : tensors) {
        const std::string ulp = std::to_string(t.ulp_p50) + "/" + std::to_string(t.ulp_p99) + "/" +
                                std::to_string(t.ulp_max);
        const std::string mism = std::to_string(t.mismatches) + "/" + std::to_string(t.elements);
        char cos[32];
        std::snprintf(cos, sizeof(cos), "%.6f", t.cosine);
        std::snprintf(line, sizeof(line), "%5s  %-*s  %-5s %-16s %9s %9s %20s %10s %16s  %s\n",
                      t.order >= 0 ? std::to_string(t.order).c_str() : "-", static_cast<int>(width),
                      t.name.c_str(), std::string(elem_type_name(t.golden_type)).c_str(),
                      shape_string(t.shape).c_str(), fmt(t.max_abs).c_str(), fmt(t.max_rel).c_str(),
                      ulp.c_str(), cos, mism.c_str(),
                      t.pass() ? (t.differing == 0 ? "identical" : "ok") : "FAIL");
        out += line;
    }
    for (const auto& t : tensors) {
        if (!t.logits) continue;
        std::snprintf(line, sizeof(line),
                      "%s: top-1 agreement %lld/%lld rows, top-5 overlap mean %.3f (min %lld/5)\n",
                      t.name.c_str(), static_cast<long long>(t.logits->top1_agree),
                      static_cast<long long>(t.logits->rows), t.logits->top5_overlap,
                      static_cast<long long>(t.logits->top5_overlap_min));
        out += line;
    }
    if (!missing.empty()) {
        // Long lists keep both ends: where the candidate's coverage stops and whether the
        // model outputs (logits, mtp_logits: last in execution order) are among the missing.
        std::string names;
        for (size_t i = 0; i < missing.size(); ++i) {
            if (missing.size() > kMissingListed && i == kMissingListed / 2) {
                names += ", ... " + std::to_string(missing.size() - kMissingListed) + " more";
                i = missing.size() - kMissingListed / 2;
            }
            names += (names.empty() ? "" : ", ") + missing[i];
        }
        out += "missing in candidate (not compared): " + std::to_string(missing.size()) + " of " +
               std::to_string(golden_tensors) + " golden tensors: " + names + "\n";
    }
    if (first_divergence) {
        const TensorReport& t = tensors[*first_divergence];
        // The error statistics cover pairs where both sides are numbers, so a NaN or infinity
        // on one side only is named here; otherwise a lone NaN would read as "max abs error 0".
        char nonfinite[96] = "";
        if (t.nonfinite > 0) {
            std::snprintf(nonfinite, sizeof(nonfinite),
                          " (%lld of them NaN or infinity on one side only)",
                          static_cast<long long>(t.nonfinite));
        }
        std::snprintf(line, sizeof(line),
                      "first divergence: %s (order %lld): %lld of %lld elements outside "
                      "tolerance%s, max abs error %s\n",
                      t.name.c_str(), static_cast<long long>(t.order),
                      static_cast<long long>(t.mismatches), static_cast<long long>(t.elements),
                      nonfinite, fmt(t.max_abs).c_str());
    } else {
        std::snprintf(line, sizeof(line), "first divergence: none\n");
    }
    out += line;
    if (first_difference) {
        std::snprintf(line, sizeof(line), "first difference (any bit): %s\n",
                      tensors[*first_difference].name.c_str());
        out += line;
    }
    size_t failed = 0;
    for (const auto& t : tensors)
        failed += t.pass() ? 0 : 1;
    std::snprintf(line, sizeof(line), "result: %s (%zu of %zu tensors outside tolerance)\n",
                  pass() ? "PASS" : "FAIL", failed, tensors.size());
    out += line;
    return out;
}

}  // namespace dssim::golden
