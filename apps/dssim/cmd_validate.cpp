// `dssim validate`: DeepSeek's published H800 figures against dssim's predictions.
//   dssim validate [--json] [--case NAME] [--cases FILE|DIR] [--out FILE]
//   dssim validate --compare-devices [--json] [--case NAME]
// Exit 0 when every case expected to pass passes (known gaps and pending cases are reported,
// not failed), 1 when one does not, 2 for a bad case or deployment file.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "dssim/base/atomic_file.h"
#include "dssim/base/error.h"
#include "dssim/validation.h"

namespace dssim::cli {
namespace {

struct ValidateOptions {
    bool json = false;
    std::string case_name;
    std::string cases;
    std::string out;
    bool compare_devices = false;
};

// Exact name, or a prefix ending in '.' or '*' ("deepgemm.", "deepep.low_latency*").
bool selected(const std::string& name, const std::string& pattern) {
    if (pattern.empty() || name == pattern) return true;
    std::string prefix = pattern;
    if (prefix.back() == '*') {
        prefix.pop_back();
    } else if (prefix.back() != '.') {
        return false;
    }
    return name.rfind(prefix, 0) == 0;
}

void run_validate(const ValidateOptions& o) {
    const auto dir =
        o.cases.empty() ? validation::default_case_dir() : std::filesystem::path(o.cases);
    const std::vector<validation::Case> all = validation::load_cases(dir);
    std::vector<validation::Case> cases;
    for (const auto& c : all)
        if (selected(c.name, o.case_name)) cases.push_back(c);
    if (cases.empty()) {
        throw_input_error("", "--case", "no case matches '" + o.case_name + "'");
    }
    std::string text;
    bool ok = true;
    if (o.compare_devices) {
        const auto cmp = validation::compare_devices(cases);
        if (cmp.empty()) {
            throw_input_error("", "--case", "no deployment (serving or training) case selected");
        }
        text = o.json ? validation::comparison_to_json(cmp).dump(2) + "\n"
                      : validation::comparison_table(cmp);
    } else {
        const auto outcomes = validation::run_cases(cases);
        ok = validation::all_ok(outcomes);
        text = o.json ? validation::outcomes_to_json(outcomes).dump(2) + "\n"
                      : validation::outcomes_table(outcomes);
    }
    if (o.out.empty()) {
        std::fputs(text.c_str(), stdout);
    } else {
        write_file_atomic(o.out, text);
    }
    if (!ok) throw ExitWith{1};
}

}  // namespace

void add_validate_command(CLI::App& app) {
    auto opt = std::make_shared<ValidateOptions>();
    auto* cmd = app.add_subcommand(
        "validate",
        "Compare dssim's predictions with DeepSeek's published H800 figures (kernel tables and "
        "system throughput, configs/validation). Exit 0 when every case expected to pass is "
        "within its tolerance, 1 otherwise; known gaps and pending cases are reported, not "
        "failed.");
    cmd->add_flag("--json", opt->json, "Print the report as JSON on stdout");
    cmd->add_option("--case", opt->case_name,
                    "Run one case by name, or the cases whose names start with a prefix ending "
                    "in '.' or '*' (e.g. deepgemm.)");
    cmd->add_option("--cases", opt->cases,
                    "Case file or directory of case files (default configs/validation)");
    cmd->add_option("--out", opt->out, "Write the report to this file instead of stdout");
    cmd->add_flag("--compare-devices", opt->compare_devices,
                  "For the serving and training cases, print the prediction on every device in "
                  "configs/devices (FP8 layers run natively or as the device's documented "
                  "fallback)");
    cmd->callback([opt] { run_validate(*opt); });
}

}  // namespace dssim::cli
