// Subcommand registration for the dssim CLI. Each subcommand lives in its own cmd_<name>.cpp
// with an options struct, an add_<name>_command(CLI::App&) that declares its options, and a
// callback. Errors: throw dssim::InputError (exit 2); a finished check that failed throws
// ExitWith{1}.
#pragma once

#include <CLI/CLI.hpp>

namespace dssim::cli {

// Thrown by a command that ran to completion but must exit with a non-zero code.
struct ExitWith {
    int code;
};

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

}  // namespace dssim::cli
