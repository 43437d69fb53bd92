// `dssim check`: compares a backend's tensors (HDF5, safetensors, .npy, .npz) against a golden
// file and names the first tensor, in execution order, that is outside tolerance
// (docs/golden-and-check.md). Exit 0 within tolerance, 1 outside, 2 bad input.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "dssim/base.h"
#include "dssim/golden/golden.h"

namespace dssim::cli {

namespace {

struct CheckArgs {
    std::string golden;
    std::string candidate;
    std::string map;
    std::string profile;
    std::string profiles_file;
    double rtol = -1.0;
    double atol = -1.0;
    double atol_rms = -1.0;
    int threads = 0;
    bool json = false;
};

void check(const CheckArgs& a) {
    if (a.threads < 0) throw InputError("--threads: must be >= 1 (0: all hardware threads)");
    const int threads = a.threads == 0 ? hardware_threads() : a.threads;
    golden::Tolerance tol;
    const bool custom = a.rtol >= 0.0 || a.atol >= 0.0 || a.atol_rms >= 0.0;
    if (custom) {
        tol.profile = "custom";
        tol.rtol = std::max(a.rtol, 0.0);
        tol.atol = std::max(a.atol, 0.0);
        tol.atol_rms = std::max(a.atol_rms, 0.0);
    } else {
        const std::filesystem::path file = a.profiles_file.empty()
                                               ? golden::default_profiles_path()
                                               : std::filesystem::path(a.profiles_file);
        tol = golden::find_profile(golden::load_profiles(file),
                                   a.profile.empty() ? "exact" : a.profile);
    }
    const golden::GoldenFile g = golden::read_golden(a.golden);
    std::map<std::string, std::string> name_map;
    if (!a.map.empty()) name_map = golden::load_name_map(a.map);
    const golden::CheckReport report = golden::compare(g, golden::read_candidate(a.candidate),
                                                       name_map, tol, a.candidate, threads);
    if (a.json) {
        std::cout << report.to_json().dump(2) << "\n";
    } else {
        std::cout << report.table();
    }
    if (!report.pass()) throw ExitWith{1};
}

}  // namespace

void add_check_command(CLI::App& app) {
    auto args = std::make_shared<CheckArgs>();
    CLI::App* cmd = app.add_subcommand(
        "check",
        "Compare a backend's tensors against a golden file from `dssim golden`: per tensor max "
        "abs/rel error, ULP distance (p50/p99/max) in the golden's dtype, cosine similarity and "
        "mismatch count; top-1/top-5 agreement for logits and MTP draft logits; golden tensors "
        "the candidate lacks, listed as missing; the first diverging tensor in execution "
        "order. Exit 0 within tolerance, 1 outside, 2 bad input "
        "(docs/golden-and-check.md).");
    cmd->add_option("--golden", args->golden, "Golden HDF5 file written by `dssim golden`")
        ->required();
    cmd->add_option("--candidate", args->candidate,
                    "Backend tensors: .h5/.hdf5 (golden layout or flat datasets), .safetensors, "
                    ".npy (one tensor, named by the file stem) or .npz; names are golden tensor "
                    "names (step0/layers.1.attn_residual, logits, mtp_logits) unless --map "
                    "renames them")
        ->required();
    cmd->add_option("--map", args->map,
                    "JSON object mapping candidate tensor names to golden names, e.g. "
                    "{\"attn_out_l1\": \"step0/layers.1.attn_residual\"}");
    auto* profile = cmd->add_option(
        "--profile", args->profile,
        "Tolerance profile from configs/check-profiles.json: exact (default), bf16-backend, "
        "fp8-backend (derivations in docs/numerics.md, 'Tolerance profiles')");
    cmd->add_option("--profiles-file", args->profiles_file,
                    "Read tolerance profiles from this JSON file instead of "
                    "configs/check-profiles.json");
    auto* rtol = cmd->add_option("--rtol", args->rtol,
                                 "Custom relative tolerance: an element passes if |c-g| <= atol + "
                                 "atol_rms*rms(golden) + rtol*|g| (replaces --profile)");
    auto* atol = cmd->add_option("--atol", args->atol, "Custom absolute tolerance (default 0)");
    auto* atol_rms = cmd->add_option(
        "--atol-rms", args->atol_rms,
        "Custom absolute tolerance in units of the golden tensor's RMS (default 0)");
    for (CLI::Option* o : {rtol, atol, atol_rms})
        o->check(at_least(0));
    profile->excludes(rtol)->excludes(atol)->excludes(atol_rms);
    cmd->add_option("--threads", args->threads,
                    "Worker threads comparing tensors (default 0: all hardware threads); the "
                    "report is identical for any value")
        ->check(at_least(0));
    cmd->add_flag("--json", args->json, "Print one JSON document instead of the table");
    cmd->callback([args] { check(*args); });
}

}  // namespace dssim::cli
