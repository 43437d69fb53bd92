// Subcommand registration for the dssim CLI. Each subcommand lives in its own cmd_<name>.cpp
// with an options struct, an add_<name>_command(CLI::App&) that declares its options, and a
// callback. Errors: throw dssim::InputError (exit 2); a finished check that failed throws
// ExitWith{1}.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dssim::cli {

// Thrown by a command that ran to completion but must exit with a non-zero code.
struct ExitWith {
    int code;
};

// Option checks with one-line messages ("--rtol: must be >= 0 (got -1)"). A value that is not
// a number passes here and fails CLI11's conversion, which names the option too.
inline CLI::Validator at_least(double lo) {
    return CLI::Validator(
        [lo](std::string& v) -> std::string {
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            if (v.empty() || *end != 0 || x >= lo) return "";
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", lo);
            return "must be >= " + std::string(buf) + " (got " + v + ")";
        },
        ">=" + std::to_string(lo), "at_least");
}
// Unsigned integers: CLI11 would read "-1" into a uint64_t as 2^64-1.
inline CLI::Validator unsigned_integer() {
    return CLI::Validator(
        [](std::string& v) -> std::string {
            if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos) return "";
            return "expected an unsigned integer (0 to 18446744073709551615), got '" + v + "'";
        },
        "UINT", "unsigned_integer");
}

void add_numerics_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_golden_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_checkpoint_command(CLI::App& app);
void add_devices_command(CLI::App& app);
void add_graph_command(CLI::App& app);
void add_simulate_command(CLI::App& app);
void add_validate_command(CLI::App& app);
void add_replay_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);

}  // namespace dssim::cli
